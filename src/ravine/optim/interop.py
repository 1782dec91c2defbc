"""Switching between torch.optim and ravine: one algorithm's state_dict, read either way.

ravine's presets keep torch.optim's per-parameter state under torch's key names (``exp_avg``,
``exp_avg_sq``, ``sum``, ``momentum_buffer``, …), so most of a state_dict carries over as it is.
What differs, and what this module translates:

- the parameter groups: ravine's hold every hyperparameter its parts read, some of which
  torch's class of the same algorithm does not store because the algorithm fixes them
  (RMSprop's momentum has no dampening and no Nesterov term, SGD's weight decay is never
  decoupled, NAdam has no AMSGrad), and ``steps``, the group's step count that a schedule
  η^t reads; torch's hold its kernel choices (``foreach``, ``fused``, ``capturable``,
  ``differentiable``), which do not change the numbers and which ravine does not use;
- the state: torch.optim.SGD counts no steps, and torch.optim.Adagrad creates every
  parameter's state at construction;
- the dict: ravine's carries ``skipped_steps``; a dict without it is read as torch's.

So ``ravine_optimizer.load_state_dict(torch_optimizer.state_dict())`` works (the optimizer
calls :func:`as_ravine_state_dict`), and so does
``torch_optimizer.load_state_dict(ravine_optimizer.state_dict())``: torch keeps the groups'
extra keys without reading them and fills in its kernel choices. :func:`to_torch_state_dict`
gives the dict torch's class itself would save, without ravine's extras.

A dict of another algorithm, with another number of parameter groups or parameters, or with
state of other shapes is refused with a ValueError naming what differs, before anything is
loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from .base import scalar_dtype
from .update import apply_rule

# Group keys that choose torch's kernels; they do not change the numbers.
TORCH_KERNEL_KEYS = ("foreach", "fused", "capturable", "differentiable")

# Group keys every torch.optim algorithm reads, with the value torch assumes when a dict lacks one.
TORCH_ASSUMED = {"maximize": False}


@dataclass(frozen=True)
class TorchFormat:
    """How torch.optim's class of one algorithm keeps its state_dict.

    name: the class, ``"torch.optim.Adam"``.
    hyperparameters: the group keys of the algorithm's own hyperparameters. Every dict the
        class saves has them all; a dict that lacks one, or holds another algorithm's, is not
        this algorithm's.
    state: the keys of every non-empty per-parameter state entry (``step`` where the class
        counts steps); optional_state: those that only some hyperparameters create.
    assumed: group keys the class reads that older dicts may lack, with the value it assumes.
    fixed: ravine group keys with the value torch's algorithm always uses, whatever the dict
        holds (torch does not store them, or, for AdamW, overrides them on load).
    eager: the class creates every parameter's state at construction (Adagrad), so its dicts
        hold an entry for every parameter.
    """

    name: str
    hyperparameters: tuple[str, ...]
    state: tuple[str, ...]
    optional_state: tuple[str, ...] = ()
    assumed: Mapping[str, Any] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    eager: bool = False

    @property
    def counts_steps(self) -> bool:
        return "step" in self.state


SGD = TorchFormat(
    "torch.optim.SGD",
    ("momentum", "dampening", "nesterov"),
    state=(),
    optional_state=("momentum_buffer",),
    fixed={"decoupled_weight_decay": False},
)
ADAGRAD = TorchFormat(
    "torch.optim.Adagrad",
    ("lr_decay", "initial_accumulator_value", "eps"),
    state=("step", "sum"),
    fixed={"decoupled_weight_decay": False},
    eager=True,
)
RMSPROP = TorchFormat(
    "torch.optim.RMSprop",
    ("alpha", "eps", "momentum", "centered"),
    state=("step", "square_avg"),
    optional_state=("momentum_buffer", "grad_avg"),
    fixed={"decoupled_weight_decay": False, "dampening": 0.0, "nesterov": False},
)
ADAM = TorchFormat(
    "torch.optim.Adam",
    ("betas", "eps", "amsgrad"),
    state=("step", "exp_avg", "exp_avg_sq"),
    optional_state=("max_exp_avg_sq",),
    assumed={"decoupled_weight_decay": False},
)
ADAMW = replace(ADAM, name="torch.optim.AdamW", fixed={"decoupled_weight_decay": True})
RADAM = TorchFormat(
    "torch.optim.RAdam",
    ("betas", "eps"),
    state=("step", "exp_avg", "exp_avg_sq"),
    assumed={"decoupled_weight_decay": False},
)
NADAM = TorchFormat(
    "torch.optim.NAdam",
    ("betas", "eps", "momentum_decay"),
    state=("step", "mu_product", "exp_avg", "exp_avg_sq"),
    assumed={"decoupled_weight_decay": False},
    fixed={"amsgrad": False},
)
FORMATS = (SGD, ADAGRAD, RMSPROP, ADAM, ADAMW, RADAM, NADAM)

# Every algorithm's own hyperparameters: a group holding one its optimizer does not read is
# another algorithm's.
ALGORITHM_KEYS = frozenset(key for fmt in FORMATS for key in fmt.hyperparameters)


def torch_format(optimizer: torch.optim.Optimizer) -> TorchFormat | None:
    """The torch.optim format of a ravine optimizer's algorithm (its class's ``torch_format``),
    or None when torch.optim has no class of that algorithm."""
    return getattr(type(optimizer), "torch_format", None)


def is_torch_state_dict(state_dict: Mapping[str, Any]) -> bool:
    """True for a dict torch.optim saved: ravine's carry ``skipped_steps``, torch's do not."""
    return "skipped_steps" not in state_dict


def as_ravine_state_dict(optimizer: Any, state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The dict ``optimizer.load_state_dict`` loads: ravine's as it is, torch.optim's
    translated (:func:`from_torch_state_dict`), either one checked against the optimizer first.

    Raises ValueError when the dict holds another number of parameter groups or parameters,
    state of other shapes, or another algorithm's hyperparameters.
    """
    fmt = torch_format(optimizer)
    if fmt is not None and is_torch_state_dict(state_dict):
        return from_torch_state_dict(optimizer, state_dict)
    _check_counts(optimizer, state_dict)
    for index, (saved, group) in enumerate(
        zip(state_dict["param_groups"], optimizer.param_groups, strict=True)
    ):
        # torch's own load adds its kernel choices to ``defaults``: they are no hyperparameter
        missing = [
            key for key in optimizer.defaults if key not in saved and key not in TORCH_KERNEL_KEYS
        ]
        hint = _NOT_A_PRESET if fmt is None and is_torch_state_dict(state_dict) else ""
        _check_algorithm(optimizer, index, saved, group, missing, hint)
        if fmt is not None:
            _check_fixed(optimizer, fmt, index, saved)
    _check_shapes(optimizer, state_dict)
    _check_kept_state(optimizer, state_dict)
    return dict(state_dict)


_NOT_A_PRESET = (
    "; only ravine's torch-exact presets (SGD, Adagrad, RMSprop, Adam, AdamW, RAdam, NAdam) "
    "read torch.optim's state_dicts"
)


def from_torch_state_dict(optimizer: Any, state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """torch.optim's state_dict of the optimizer's algorithm as the ravine dict that continues
    exactly as torch would have.

    The groups keep their hyperparameters and lose torch's kernel choices; the keys torch's
    algorithm fixes get their fixed values; ``steps`` becomes the largest ``step`` of the
    group's parameters (0 for SGD, which counts none: a schedule given as a callable ``lr``
    then starts again from t = 0). ``skipped_steps`` is 0. Tensors are shared, not copied,
    as torch's own ``load_state_dict`` shares them.
    """
    fmt = _require_format(optimizer)
    _check_counts(optimizer, state_dict)
    for index, (saved, group) in enumerate(
        zip(state_dict["param_groups"], optimizer.param_groups, strict=True)
    ):
        missing = [key for key in fmt.hyperparameters if key not in saved]
        _check_algorithm(optimizer, index, saved, group, missing, "")
    _check_shapes(optimizer, state_dict)
    saved_state = state_dict["state"]
    groups, state = [], {}
    for index, saved in enumerate(state_dict["param_groups"]):
        translated = {
            key: value
            for key, value in saved.items()
            if key not in TORCH_KERNEL_KEYS and key != "steps"
        }
        translated["lr"] = _number(translated["lr"])
        if "betas" in translated:
            translated["betas"] = tuple(_number(b) for b in translated["betas"])
        for key, value in {**TORCH_ASSUMED, **fmt.assumed}.items():
            translated.setdefault(key, value)
        translated.update(fmt.fixed)
        steps = 0
        for position, param_id in enumerate(saved["params"]):
            entry = saved_state.get(param_id)
            if entry is None:
                continue
            _check_state_keys(optimizer, fmt, index, position, entry)
            entry = dict(entry)
            if fmt.counts_steps:
                step = float(entry["step"])
                steps = max(steps, int(step))
            else:  # torch does not count: a "step" here was left by a ravine dict it loaded
                entry.pop("step", None)
                step = 0.0
            if entry:
                entry["step"] = torch.tensor(step, dtype=scalar_dtype())
                state[param_id] = entry
        translated["steps"] = steps
        groups.append(translated)
    return {"state": state, "param_groups": groups, "skipped_steps": 0}


def to_torch_state_dict(optimizer: Any) -> dict[str, Any]:
    """The optimizer's state as torch.optim's class of its algorithm saves it.

    ``torch_optimizer.load_state_dict(ravine_optimizer.state_dict())`` works as well; this dict
    leaves out what torch would keep without reading (``steps``, ``skipped_steps``, the keys
    the algorithm fixes, SGD's ``step``) and, for Adagrad, holds the initial state of the
    parameters that have not been updated yet, as torch creates it. Tensors are shared.
    """
    fmt = _require_format(optimizer)
    saved = optimizer.state_dict()
    unstored = (
        key for key in fmt.fixed if key not in fmt.hyperparameters and key not in fmt.assumed
    )
    drop = {"steps", *unstored}
    groups = [
        {key: value for key, value in group.items() if key not in drop}
        for group in saved["param_groups"]
    ]
    state = {}
    for param_id, entry in saved["state"].items():
        entry = dict(entry)
        if not fmt.counts_steps:
            entry.pop("step", None)
        if entry:
            state[param_id] = entry
    if fmt.eager:
        for saved_group, group in zip(groups, optimizer.param_groups, strict=True):
            for param_id, param in zip(saved_group["params"], group["params"], strict=True):
                if param_id not in state:
                    entry = {"step": torch.tensor(0.0, dtype=scalar_dtype())}
                    optimizer.direction.init_state(param, entry, group)
                    optimizer.magnitude.init_state(param, entry, group)
                    state[param_id] = entry
    return {"state": state, "param_groups": groups}


# --- checks -----------------------------------------------------------------------------------


def _require_format(optimizer: Any) -> TorchFormat:
    fmt = torch_format(optimizer)
    if fmt is None:
        raise ValueError(
            f"{type(optimizer).__name__} has no torch.optim counterpart; only ravine's "
            "torch-exact presets (SGD, Adagrad, RMSprop, Adam, AdamW, RAdam, NAdam) translate "
            "state_dicts to and from torch.optim"
        )
    return fmt


def _where(optimizer: Any, group_index: int, position: int) -> str:
    names = optimizer.param_groups[group_index].get("param_names")
    where = f"group {group_index}, index {position}"
    return f"{names[position]!r} ({where})" if names else where


def _check_counts(optimizer: Any, state_dict: Mapping[str, Any]) -> None:
    """The same number of groups, and of parameters in each group."""
    for key in ("state", "param_groups"):
        if key not in state_dict:
            raise ValueError(
                f"a state_dict must hold 'state' and 'param_groups'; this one has "
                f"{sorted(map(str, state_dict))}"
            )
    saved_groups, groups = state_dict["param_groups"], optimizer.param_groups
    if len(saved_groups) != len(groups):
        raise ValueError(
            f"the state_dict has {len(saved_groups)} parameter group(s), the optimizer has "
            f"{len(groups)}"
        )
    for gi, (saved, group) in enumerate(zip(saved_groups, groups, strict=True)):
        if len(saved["params"]) != len(group["params"]):
            raise ValueError(
                f"parameter group {gi} of the state_dict holds {len(saved['params'])} "
                f"parameter(s), the optimizer's holds {len(group['params'])}"
            )


def _check_shapes(optimizer: Any, state_dict: Mapping[str, Any]) -> None:
    """Every state tensor but the scalars (``step``, NAdam's Π μ) shaped like its parameter."""
    scalars = set(optimizer.scalar_state)
    groups = zip(state_dict["param_groups"], optimizer.param_groups, strict=True)
    for gi, (saved, group) in enumerate(groups):
        for position, (param_id, param) in enumerate(
            zip(saved["params"], group["params"], strict=True)
        ):
            for key, value in state_dict["state"].get(param_id, {}).items():
                if key == "step" or key in scalars or not isinstance(value, torch.Tensor):
                    continue
                if value.shape != param.shape:
                    raise ValueError(
                        f"state {key!r} of parameter {_where(optimizer, gi, position)} has shape "
                        f"{tuple(value.shape)}, the parameter has shape {tuple(param.shape)}"
                    )


def _check_algorithm(
    optimizer: Any,
    index: int,
    saved: Mapping[str, Any],
    group: Mapping[str, Any],
    missing: list[str],
    hint: str,
) -> None:
    """Refuse a group that lacks a hyperparameter the optimizer reads, or holds one of another
    algorithm that the optimizer's group does not have."""
    foreign = sorted(key for key in saved if key in ALGORITHM_KEYS and key not in group)
    if not missing and not foreign:
        return
    parts = []
    if missing:
        parts.append("lacks " + ", ".join(map(repr, missing)))
    if foreign:
        parts.append("holds " + ", ".join(map(repr, foreign)))
    looks = _looks_like(saved)
    looks = f" (its hyperparameters are those of {looks})" if looks else ""
    raise ValueError(
        f"the state_dict is of another algorithm than {type(optimizer).__name__}'s: its "
        f"parameter group {index} {' and '.join(parts)}{looks}{hint}"
    )


def _check_fixed(optimizer: Any, fmt: TorchFormat, index: int, saved: Mapping[str, Any]) -> None:
    """Refuse a group whose value of a key the algorithm fixes is another (an Adam dict, with
    coupled weight decay, loaded into AdamW)."""
    for key, value in fmt.fixed.items():
        if key in saved and saved[key] != value:
            raise ValueError(
                f"the state_dict is of another algorithm than {type(optimizer).__name__}'s: its "
                f"parameter group {index} has {key}={saved[key]!r}, which {fmt.name} fixes at "
                f"{value!r}"
            )


def kept_state(optimizer: Any, group: Mapping[str, Any]) -> set[str]:
    """The state keys the optimizer keeps for a parameter it has updated, under ``group``'s
    hyperparameters: those its parts hold after one step of a one-number parameter (AMSGrad's
    running maximum only with ``amsgrad``, a momentum buffer only with momentum, …)."""
    param = torch.zeros(1, dtype=torch.float64)
    trial = dict(group)
    state: dict[str, Any] = {"step": torch.tensor(1.0, dtype=torch.float64)}
    optimizer.direction.init_state(param, state, trial)
    optimizer.magnitude.init_state(param, state, trial)
    lr = float(_number(trial["lr"]))
    apply_rule(
        param,
        torch.ones(1, dtype=torch.float64),
        state,
        trial,
        lr,
        1.0,
        optimizer.direction,
        optimizer.magnitude,
        optimizer.scale_first,
    )
    return set(state)


def _check_kept_state(optimizer: Any, state_dict: Mapping[str, Any]) -> None:
    """Refuse a dict in which a parameter's state lacks an entry the optimizer reads at its next
    step (a bare ``KeyError`` there, or a silently fresh buffer, otherwise)."""
    groups = zip(state_dict["param_groups"], optimizer.param_groups, strict=True)
    for gi, (saved, group) in enumerate(groups):
        hyperparameters = {k: v for k, v in saved.items() if k not in ("params", "param_names")}
        kept = kept_state(optimizer, {**group, **hyperparameters})
        for position, param_id in enumerate(saved["params"]):
            entry = state_dict["state"].get(param_id)
            if not entry:
                continue  # a parameter not updated yet: its state is created at its first step
            missing = sorted(kept - set(entry))
            if missing:
                raise ValueError(
                    f"the state of parameter {_where(optimizer, gi, position)} lacks "
                    f"{', '.join(map(repr, missing))}, which {type(optimizer).__name__} keeps "
                    "for every parameter it has updated; nothing was loaded"
                )


def _check_state_keys(
    optimizer: Any, fmt: TorchFormat, group_index: int, position: int, entry: Mapping[str, Any]
) -> None:
    if not entry:
        return
    known = {"step", *fmt.state, *fmt.optional_state}
    where = _where(optimizer, group_index, position)
    unknown = sorted(key for key in entry if key not in known)
    if unknown:
        raise ValueError(
            f"the state of parameter {where} holds {', '.join(map(repr, unknown))}, which "
            f"{fmt.name} does not keep (it keeps {', '.join(map(repr, sorted(known)))})"
        )
    missing = [key for key in fmt.state if key not in entry]
    if missing:
        raise ValueError(
            f"the state of parameter {where} lacks {', '.join(map(repr, missing))}, which "
            f"{fmt.name} keeps for every parameter it has updated"
        )


def _looks_like(group: Mapping[str, Any]) -> str:
    """The torch.optim algorithms whose hyperparameters a group holds, as "Adam/AdamW"."""
    own = {key for key in group if key in ALGORITHM_KEYS}
    names = [
        fmt.name.removeprefix("torch.optim.")
        for fmt in FORMATS
        if set(fmt.hyperparameters) <= own <= {*fmt.hyperparameters, *fmt.fixed}
    ]
    return "/".join(names)


def _number(value: Any) -> Any:
    """A one-element tensor hyperparameter (torch allows a tensor lr or β) as a float."""
    return float(value) if isinstance(value, torch.Tensor) else value
