"""η^t of a parameter group whose ``lr`` is a callable: the one place a ravine optimizer reads it.

A ravine optimizer accepts ``lr`` as a number or as a callable ``t -> η^t`` (a ravine schedule
times a base η, or any function of the step). The callable is kept in the group under
``lr_schedule`` and called with the number of steps the group has taken (``steps``, 0 before the
first); ``group["lr"]`` always holds η of the group's next step, so torch's LR schedulers, which
read and write ``group["lr"]``, keep their meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..validation import is_real, require

LearningRate = float | Callable[[int], float]

SCHEDULE = "lr_schedule"  # the group key holding a callable η^t
STEPS = "steps"  # the group key counting the steps the group has taken (t of the next step)


def attach_schedule(group: dict[str, Any]) -> None:
    """Move a callable ``group["lr"]`` to ``lr_schedule`` and put its value at the group's next
    step in ``lr``; a number stays in ``lr``, and so does a 1-element tensor, as the same
    tensor: torch's way to compile an optimizer's step under a schedule that fills it in place
    (the compiled step reads it, and no new η is a new constant to recompile for).

    Raises ValueError naming ``lr`` when it is neither a finite number >= 0 (or a 1-element
    tensor holding one) nor a callable."""
    lr = group["lr"]
    if isinstance(lr, torch.Tensor):
        require(lr.numel() == 1, "lr", lr, "a number or a 1-element tensor")
        lr = float(lr)  # its value is checked below; the tensor stays in the group
    if callable(lr):
        group[SCHEDULE] = lr
        group["lr"] = next_rate(group)
        return
    group.setdefault(SCHEDULE, None)
    domain = "a finite number >= 0 or a callable step -> learning rate"
    require(is_real(lr), "lr", lr, domain)
    require(lr >= 0, "lr", lr, domain)


def next_rate(group: dict[str, Any]) -> float:
    """η^t for the group's next step, t = ``group["steps"]``: the schedule's value, or ``lr``.

    Raises ValueError when the schedule's value is not a finite number >= 0."""
    schedule = group.get(SCHEDULE)
    if schedule is None:
        return group["lr"]
    step = group.get(STEPS, 0)
    value = schedule(step)
    value = float(value) if isinstance(value, torch.Tensor) else value
    require(
        is_real(value) and value >= 0,
        f"lr schedule value at step {step}",
        value,
        "a finite number >= 0",
    )
    return float(value)


def show_next_rate(group: dict[str, Any]) -> None:
    """Put η^t of the group's next step in ``lr`` (torch's convention). A schedule that fails or
    is out of its domain there is left for that step to call again and refuse, before it
    changes anything: the step that needs the value is the one that reports it."""
    if group.get(SCHEDULE) is not None:
        try:
            group["lr"] = next_rate(group)
        except Exception:  # reported by the step that uses it
            pass
