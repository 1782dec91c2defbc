"""What the explorer lets a student choose, and the one check of a request's settings.

The rule is θ_i^{t+1} ← θ_i^t − (η^t/σ_i^t)·m_i^t. The page composes it from a direction m
(:data:`DIRECTIONS`) and a magnitude σ (:data:`MAGNITUDES`), each built from ravine's own parts
with the hyperparameters the page shows (λ, μ, β1, β2, α), or names a catalog optimizer
(:data:`NAMED`), which fills m, σ and those hyperparameters in. η is a number > 0 and η^t/η a
schedule spec (:func:`ravine.schedules.from_spec`), empty for a constant η.

:func:`settings` reads a request's JSON into :class:`Settings` or raises ValueError with one line
that names the value and what is allowed; nothing is computed before every value is checked.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import schedules
from ..optim import catalog
from ..optim.directions import (
    ExponentialAverage,
    Gradient,
    HeavyBall,
    LectureMomentum,
    NesterovAverage,
)
from ..optim.magnitudes import (
    LectureRMSProp,
    Rectified,
    RootMeanSquare,
    SecondMoment,
    SquareAverage,
    Unit,
)
from ..optim.optimizer import Optimizer
from ..surfaces import SURFACES, Composition
from ..validation import check_positive, check_range, is_real, require

MAX_STEPS = 100_000  # N: a 100,000-step run takes a few seconds; more would hold a worker
LR_RANGE = (1e-8, 10.0)  # the η slider's ends
TOLERANCE = 1e-3  # default: "within" = ‖θ^t − θ*‖ <= this fraction of ‖θ⁰ − θ*‖

# The hyperparameters the page shows: the control's symbol and label, the default, and the
# name the parts' own checks give it ("option"; their domains are checked by the parts).
PARAMETERS: dict[str, dict[str, Any]] = {
    "lambda": {"symbol": "λ", "label": "λ (lecture momentum)", "default": 0.9},
    "mu": {"symbol": "μ", "label": "μ (heavy ball)", "default": 0.9},
    "beta1": {"symbol": "β1", "label": "β1 (Adam's average)", "default": 0.9},
    "beta2": {"symbol": "β2", "label": "β2 (Adam's σ)", "default": 0.999},
    "alpha": {"symbol": "α", "label": "α (RMSProp)", "default": 0.9},
}
OPTION = {"lambda": "momentum", "mu": "momentum", "beta1": "betas[0]", "beta2": "betas[1]"}
OPTION["alpha"] = "alpha"

# m: key → (label, the hyperparameters it reads, its part)
DIRECTIONS: dict[str, tuple[str, tuple[str, ...], Callable[[dict], Any]]] = {
    "gradient": ("m = g (gradient)", (), lambda p: Gradient()),
    "lecture-momentum": (
        "lecture momentum: m = λ·m − η·g",
        ("lambda",),
        lambda p: LectureMomentum(p["lambda"]),
    ),
    "heavy-ball": ("heavy ball: b = μ·b + g", ("mu",), lambda p: HeavyBall(p["mu"])),
    "adam": ("Adam's average: m̂ of β1", ("beta1",), lambda p: ExponentialAverage(p["beta1"])),
    "nadam": ("NAdam: Nesterov average of β1", ("beta1",), lambda p: NesterovAverage(p["beta1"])),
}

# σ: key → (label, the hyperparameters it reads, its part)
MAGNITUDES: dict[str, tuple[str, tuple[str, ...], Callable[[dict], Any]]] = {
    "one": ("σ = 1", (), lambda p: Unit()),
    "lecture-rms": ("root mean square (lecture's Adagrad)", (), lambda p: RootMeanSquare()),
    "lecture-rmsprop": (
        "lecture RMSProp: σ² = α·σ² + (1−α)·g²",
        ("alpha",),
        lambda p: LectureRMSProp(p["alpha"]),
    ),
    "torch-rmsprop": (
        "torch's RMSprop: v of α, + ε",
        ("alpha",),
        lambda p: SquareAverage(p["alpha"]),
    ),
    "adam": ("Adam's σ: v̂ of β2, + ε", ("beta2",), lambda p: SecondMoment(p["beta2"])),
    "radam": ("RAdam: rectified v̂ of β2", ("beta2",), lambda p: Rectified(p["beta2"])),
}

# A catalog optimizer: its (m, σ) as the page shows them, and its options from the page's
# hyperparameters. Run by name, it gives the catalog's numbers exactly.
NAMED: dict[str, tuple[str, str, Callable[[dict], dict]]] = {
    "gd": ("gradient", "one", lambda p: {}),
    "lecture-momentum": ("lecture-momentum", "one", lambda p: {"momentum": p["lambda"]}),
    "momentum": ("heavy-ball", "one", lambda p: {"momentum": p["mu"]}),
    "lecture-adagrad": ("gradient", "lecture-rms", lambda p: {}),
    "lecture-rmsprop": ("gradient", "lecture-rmsprop", lambda p: {"alpha": p["alpha"]}),
    "rmsprop": ("gradient", "torch-rmsprop", lambda p: {"alpha": p["alpha"]}),
    "adam": ("adam", "adam", lambda p: {"betas": (p["beta1"], p["beta2"])}),
    "radam": ("adam", "radam", lambda p: {"betas": (p["beta1"], p["beta2"])}),
    "nadam": ("nadam", "adam", lambda p: {"betas": (p["beta1"], p["beta2"])}),
}


@dataclass(frozen=True)
class Settings:
    """One run, checked: hashable, so it keys the cache. ``optimizer`` is a catalog name or
    empty for the composition of ``direction`` and ``magnitude``; ``parameters`` holds the
    hyperparameters that the chosen parts read, as sorted (name, value) pairs."""

    surface: str
    optimizer: str
    direction: str
    magnitude: str
    parameters: tuple[tuple[str, float], ...]
    lr: float
    schedule: str
    steps: int
    start: tuple[float, float] | None
    tolerance: float = TOLERANCE

    def rule(self) -> str | Composition:
        """What :func:`ravine.surfaces.descend` runs: the catalog name, or the pair (m, σ)."""
        if self.optimizer:
            return self.optimizer
        values = dict(self.parameters)
        return DIRECTIONS[self.direction][2](values), MAGNITUDES[self.magnitude][2](values)

    def options(self) -> dict[str, Any] | None:
        """The catalog optimizer's options (None for a composition)."""
        return NAMED[self.optimizer][2](dict(self.parameters)) if self.optimizer else None

    def schedule_callable(self) -> schedules.Schedule | None:
        return schedules.from_spec(self.schedule) if self.schedule else None

    def with_lr(self, lr: float) -> Settings:
        return dataclasses.replace(self, lr=lr)


def settings(request: Any) -> Settings:
    """The checked :class:`Settings` of a request's JSON object; ValueError with one line if a
    value is missing, unknown or out of its domain."""
    require(isinstance(request, dict), "the request", type(request).__name__, "a JSON object")
    known = {field.name for field in dataclasses.fields(Settings)} | {"parameters"}
    unknown = sorted(set(request) - known - {"format"})
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}; valid: {', '.join(sorted(known))}")
    name = request.get("surface")
    require(name in SURFACES, "surface", name, f"one of {', '.join(SURFACES)}")
    optimizer = request.get("optimizer") or ""
    if optimizer:
        require(optimizer in NAMED, "optimizer", optimizer, f"one of {', '.join(NAMED)}")
        direction, magnitude = NAMED[optimizer][:2]
    else:
        direction, magnitude = request.get("direction"), request.get("magnitude")
        require(direction in DIRECTIONS, "m", direction, f"one of {', '.join(DIRECTIONS)}")
        require(magnitude in MAGNITUDES, "σ", magnitude, f"one of {', '.join(MAGNITUDES)}")
    parameters = _parameters(request.get("parameters", {}), direction, magnitude)
    lr = check_positive("η", request.get("lr"))
    steps = request.get("steps")
    require(
        isinstance(steps, int) and not isinstance(steps, bool) and 1 <= steps <= MAX_STEPS,
        "N (steps)",
        steps,
        f"a whole number from 1 to {MAX_STEPS:,}",
    )
    spec = request.get("schedule") or ""
    require(isinstance(spec, str), "schedule", spec, "a schedule spec (text)")
    spec = spec.strip()
    if spec:
        schedules.from_spec(spec)  # a malformed spec raises its own one-line ValueError
    tolerance = request.get("tolerance", TOLERANCE)
    check_range("within (tolerance)", tolerance, 0, 1, closed="(]")
    found = Settings(
        name, optimizer, direction, magnitude, parameters, float(lr), spec, steps,
        _start(request.get("start")), float(tolerance),
    )  # fmt: skip
    _build_check(found)
    return found


def _parameters(given: Any, direction: str, magnitude: str) -> tuple[tuple[str, float], ...]:
    require(isinstance(given, dict), "parameters", given, "an object of numbers")
    used = DIRECTIONS[direction][1] + MAGNITUDES[magnitude][1]
    values = {}
    for key in used:
        value = given.get(key, PARAMETERS[key]["default"])
        require(is_real(value), PARAMETERS[key]["symbol"], value, "a finite number")
        values[key] = float(value)
    return tuple(sorted(values.items()))


def _start(start: Any) -> tuple[float, float] | None:
    if start is None:
        return None
    ok = isinstance(start, (list, tuple)) and len(start) == 2 and all(map(is_real, start))
    require(ok, "start", start, "two finite numbers [θ1, θ2]")
    return float(start[0]), float(start[1])


def _build_check(found: Settings) -> None:
    """Build the rule once on a dummy θ: the parts check their hyperparameters (α in (0, 1),
    β in [0, 1), ...); their one-line message is given the page's name of the value (β1, not
    betas[0])."""
    theta = torch.zeros(1, 2, dtype=torch.float64)
    try:
        rule = found.rule()
        if isinstance(rule, str):
            catalog.create(rule, [theta], lr=found.lr, **(found.options() or {}))
        else:
            Optimizer([theta], found.lr, *rule)
    except ValueError as error:
        raise ValueError(_in_page_names(str(error), found)) from None


def _in_page_names(message: str, found: Settings) -> str:
    """A part's message with its option's name (``momentum``, ``betas[0]``) replaced by the
    symbol of the page's control that set it (μ or λ, β1). The chosen m and σ read each
    option from one control, so the name says which."""
    for key, _ in found.parameters:
        option = OPTION[key] + " must "
        if message.startswith(option):
            return PARAMETERS[key]["symbol"] + " must " + message[len(option) :]
    return message


def choices() -> dict[str, Any]:
    """What the page's menus offer: surfaces, m, σ, hyperparameters, named optimizers (with the
    m, σ and η they fill in) and schedules (with their parameters' defaults)."""
    named = {}
    for name, (direction, magnitude, _) in NAMED.items():
        named[name] = {
            "direction": direction,
            "magnitude": magnitude,
            "lr": catalog.entry(name).defaults()["lr"],
            "summary": catalog.entry(name).summary,
        }
    return {
        "surfaces": {
            name: {"description": cls().description, "labels": list(cls().labels)}
            for name, cls in SURFACES.items()
        },
        "directions": {k: {"label": v[0], "reads": list(v[1])} for k, v in DIRECTIONS.items()},
        "magnitudes": {k: {"label": v[0], "reads": list(v[1])} for k, v in MAGNITUDES.items()},
        "parameters": PARAMETERS,
        "named": named,
        "schedules": _schedule_templates(),
        "max_steps": MAX_STEPS,
        "lr_range": list(LR_RANGE),
        "tolerance": TOLERANCE,
    }


def _schedule_templates() -> dict[str, str]:
    """Each schedule of the library that is a function of t alone, as a spec with its
    parameters written out (required ones set to an example the student edits)."""
    examples = {"steps": 1000, "step_size": 1000, "milestones": "[1000,2000]", "gamma": 0.999}
    examples["period"] = 1000
    examples.update({"warmup": 100, "d_model": 512, "total_steps": 1000, "max_lr": 1.0})
    templates = {}
    for name, cls in schedules.SCHEDULES.items():
        if cls.__module__.endswith(".metric") or name == "constant":
            continue  # these follow a measured metric, not the step alone; constant is η
        parts = []
        for field in dataclasses.fields(cls):
            if not field.init:
                continue
            if (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                parts.append(f"{field.name}={examples.get(field.name, 1)}")
            elif field.default is not None and field.name != "steps":
                parts.append(f"{field.name}={_spec_value(field.default)}")
        template = name + (":" + ",".join(parts) if parts else "")
        try:
            schedules.from_spec(template)
        except ValueError:
            continue
        templates[name] = template
    return templates


def _spec_value(value: Any) -> str:
    """A parameter's value as a spec writes it: true/false, 0.3 (not 0.30000000000000004)."""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def lr_grid(per_decade: int = 8) -> list[float]:
    """The η slider's positions: 10^(k/per_decade) from 1e-8 to 10."""
    low, high = (round(math.log10(v) * per_decade) for v in LR_RANGE)
    return [10 ** (k / per_decade) for k in range(low, high + 1)]
