"""Optimizers by name, as every ravine command names them (``--optimizer adam --opt betas=…``).

``create("adam", params, lr=1e-3, betas=(0.9, 0.98))`` builds one; :func:`parse_options` turns
the command line's ``key=value`` strings into typed keyword arguments; :func:`describe` says
what m, σ and η an optimizer uses.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from . import interop, lecture, presets
from .optimizer import Optimizer

# Arguments of the torch signatures that choose torch's kernels; they are not ravine options
# (``fused`` is: it takes ravine's fast path).
_TORCH_KERNEL_ARGS = tuple(key for key in interop.TORCH_KERNEL_KEYS if key != "fused")


@dataclass(frozen=True)
class Entry:
    """One named optimizer: its class, the defaults the name changes, and a one-line summary."""

    name: str
    factory: type[Optimizer]
    summary: str
    overrides: dict[str, Any] = field(default_factory=dict)
    torch_class: type[torch.optim.Optimizer] | None = None  # the torch.optim it must match

    def defaults(self) -> dict[str, Any]:
        """Every option with its default (``lr`` included), in signature order."""
        values = {}
        for name, p in inspect.signature(self.factory).parameters.items():
            if name == "params" or name in _TORCH_KERNEL_ARGS:
                continue
            values[name] = self.overrides.get(name, p.default)
        return values


CATALOG: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry("gd", lecture.GD, "vanilla gradient descent", torch_class=torch.optim.SGD),
        Entry("sgd", presets.SGD, "torch.optim.SGD", torch_class=torch.optim.SGD),
        Entry(
            "momentum",
            presets.SGD,
            "torch.optim.SGD with heavy-ball momentum 0.9",
            {"momentum": 0.9},
            torch.optim.SGD,
        ),
        Entry("adagrad", presets.Adagrad, "torch.optim.Adagrad", torch_class=torch.optim.Adagrad),
        Entry("rmsprop", presets.RMSprop, "torch.optim.RMSprop", torch_class=torch.optim.RMSprop),
        Entry("adam", presets.Adam, "torch.optim.Adam", torch_class=torch.optim.Adam),
        Entry("adamw", presets.AdamW, "torch.optim.AdamW", torch_class=torch.optim.AdamW),
        Entry("radam", presets.RAdam, "torch.optim.RAdam", torch_class=torch.optim.RAdam),
        Entry("nadam", presets.NAdam, "torch.optim.NAdam", torch_class=torch.optim.NAdam),
        Entry(
            "lecture-momentum",
            lecture.Momentum,
            "the lecture's movement m = λ·m − η·g",
            torch_class=torch.optim.SGD,
        ),
        Entry("lecture-adagrad", lecture.Adagrad, "the lecture's Adagrad (root mean square)"),
        Entry("lecture-rmsprop", lecture.RMSProp, "the lecture's RMSProp (σ⁰ = |g⁰|)"),
    )
}


def entry(name: str) -> Entry:
    """The catalog entry for ``name``; ValueError listing the valid names otherwise."""
    if name not in CATALOG:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(CATALOG)}")
    return CATALOG[name]


def create(name: str, params: Iterable[Any], **options: Any) -> Optimizer:
    """Build the optimizer called ``name`` with ``options`` over its defaults.

    Unknown option names raise ValueError listing the valid ones; out-of-domain values raise
    the optimizer's own ValueError.
    """
    known = entry(name)
    defaults = known.defaults()
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(
            f"{name} has no option {', '.join(map(repr, unknown))}; "
            f"valid options: {', '.join(defaults)}"
        )
    return known.factory(params, **{**known.overrides, **options})


def parse_options(name: str, pairs: Iterable[str], lr_flag: str | None = "--lr") -> dict[str, Any]:
    """``["betas=0.9,0.98", "amsgrad=true"]`` → ``{"betas": (0.9, 0.98), "amsgrad": True}``.

    Each value is read as the type of the option's default: numbers, booleans
    (true/false/yes/no/1/0), pairs as two comma-separated numbers, text as given. A key given
    twice is refused, and so is η (``lr``): the command line sets it with ``lr_flag``, in one
    place only (``lr_flag`` None: ``lr`` is read like the others, for the caller to judge).
    """
    defaults = entry(name).defaults()
    valid = ", ".join(key for key in defaults if key != "lr")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key:
            raise ValueError(f"--opt {pair!r}: expected key=value, like momentum=0.9")
        if key == "lr" and lr_flag is not None:
            raise ValueError(f"lr is set with {lr_flag}, not --opt")
        if key not in defaults:
            raise ValueError(f"{name} has no option {key!r}; valid options: {valid}")
        if key in options:  # the last one silently winning hides a typo
            raise ValueError(f"--opt {key} is given twice; give each option once")
        options[key] = _parse_value(key, text, defaults[key])
    return options


def _parse_value(key: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise ValueError(f"--opt {key}={text}: expected true or false")
    if isinstance(default, tuple):
        parts = text.split(",")
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            values = ()
        if len(values) != len(default):
            example = ",".join(str(d) for d in default)
            raise ValueError(
                f"--opt {key}={text}: expected {len(default)} numbers separated by commas, "
                f"like {key}={example}"
            )
        return values
    if isinstance(default, (int, float)):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"--opt {key}={text}: expected a number") from None
    return text


def describe(name: str) -> dict[str, Any]:
    """What the named optimizer computes: its m, σ and default η, and every option's default."""
    known = entry(name)
    probe = known.factory([torch.zeros(1, requires_grad=True)], **known.overrides)
    defaults = known.defaults()
    return {
        "name": name,
        "class": f"{known.factory.__module__}.{known.factory.__qualname__}",
        "summary": known.summary,
        "direction": probe.direction.formula(),
        "magnitude": probe.magnitude.formula(),
        "lr": defaults["lr"],
        "options": {k: v for k, v in defaults.items() if k != "lr"},
        "torch": None if known.torch_class is None else f"torch.optim.{known.torch_class.__name__}",
    }
