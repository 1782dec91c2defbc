"""Schedules that listen: the rate depends on a measured value, and what they observed is state.

Call ``observe(metric, step)`` after measuring (``ravine.schedules.Scheduler.step(metric)``
does it for you); ``state_dict()`` holds everything observed, so a resumed run continues with
the same rates.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

from ..validation import NUMBER, check_count, check_positive, check_range
from .core import Schedule, check_milestones


def _finite(metric: Any) -> float:
    value = float(metric)
    if not math.isfinite(value):
        raise ValueError(f"the observed metric must be finite, got {value!r}")
    return value


@dataclass(repr=False)
class ResNetWarmup(Schedule):
    """ResNet's warm-up (He et al. 2016, ResNet-110 on CIFAR-10): train at ``low`` until the
    training error falls below ``threshold``, then at ``high``, divided by 1/γ at each
    milestone step. Defaults: 0.01 → 0.1 once error < 0.8, then ×0.1 at steps 32k and 48k.

    The switch is taken from the step after the metric crossed; ``switched_at`` (state) is
    that step.
    """

    low: float = 0.01
    high: float = 0.1
    threshold: float = 0.8
    milestones: tuple[int, ...] = (32000, 48000)
    gamma: float = 0.1
    switched_at: int | None = field(default=None, init=False)
    name = "resnet-warmup"
    metric_driven = True

    def __post_init__(self) -> None:
        check_positive("low", self.low, noun=NUMBER)
        check_positive("high", self.high, noun=NUMBER)
        check_range("threshold", self.threshold, -math.inf, math.inf, closed="()")
        self.milestones = check_milestones(self.milestones)
        check_range("gamma", self.gamma, 0, 1, closed="(]")

    @property
    def warmup_end(self) -> int | None:
        return self.switched_at

    def observe(self, metric: float, step: int) -> None:
        value = _finite(metric)
        if self.switched_at is None and value < self.threshold:
            self.switched_at = step + 1

    def at(self, t: int) -> float:
        if self.switched_at is None or t < self.switched_at:
            return self.low
        return self.high * self.gamma ** bisect.bisect_right(self.milestones, t)

    def formula(self) -> str:
        return (
            f"{self.low:g} until the metric < {self.threshold:g}, then "
            f"{self.high:g}·{self.gamma:g}^#{{m ∈ {list(self.milestones)} : m ≤ t}}"
        )

    def state_dict(self) -> dict[str, Any]:
        return {"switched_at": self.switched_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.switched_at = state["switched_at"]


@dataclass(repr=False)
class Plateau(Schedule):
    """Reduce on plateau, as torch's ReduceLROnPlateau decides it: when the metric has not
    improved on its best by more than ``threshold`` (relative, or absolute with
    ``threshold_mode='abs'``) for more than ``patience`` observations, multiply the rate by
    ``factor`` (not below ``min_scale``), then wait ``cooldown`` observations. ``mode`` is
    ``min`` (a loss) or ``max`` (an accuracy). The multiplier depends on what was observed,
    not on t.
    """

    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    mode: str = "min"
    cooldown: int = 0
    min_scale: float = 0.0
    scale: float = field(default=1.0, init=False)
    best: float = field(default=math.inf, init=False)
    bad_epochs: int = field(default=0, init=False)
    cooldown_left: int = field(default=0, init=False)
    name = "plateau"
    metric_driven = True

    def __post_init__(self) -> None:
        check_range("factor", self.factor, 0, 1, closed="()")
        check_count("patience", self.patience, 0)
        check_range("threshold", self.threshold, 0, math.inf, closed="[)")
        if self.threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {self.threshold_mode!r}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        check_count("cooldown", self.cooldown, 0)
        check_range("min_scale", self.min_scale, 0, 1, closed="[]")
        self.best = math.inf if self.mode == "min" else -math.inf

    def _improves(self, value: float) -> bool:
        sign = 1.0 if self.mode == "min" else -1.0  # compare −metric in max mode
        if self.threshold_mode == "rel":
            return sign * value < sign * self.best * (1 - sign * self.threshold)
        return sign * value < sign * self.best - self.threshold

    def observe(self, metric: float, step: int) -> None:
        value = _finite(metric)
        if self._improves(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            self.scale = max(self.scale * self.factor, self.min_scale)
            self.cooldown_left, self.bad_epochs = self.cooldown, 0

    def at(self, t: int) -> float:
        return self.scale

    def formula(self) -> str:
        return f"{self.factor:g}^reductions after {self.patience} observations without improvement"

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("scale", "best", "bad_epochs", "cooldown_left")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
