"""The schedule library: decay, warm-up and their mixtures, as multipliers of the base η.

Every schedule maps the step t = 0, 1, 2, … to η^t/η. Where torch.optim.lr_scheduler has the
same schedule, the values are its closed-form values (see each class for the differences).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from ..validation import NUMBER, check_count, check_positive, check_range
from .core import Schedule, check_milestones


def _half_cosine(fraction: float) -> float:
    """½·(1 + cos(π·fraction)): 1 at fraction 0, 0 at fraction 1."""
    return 0.5 * (1.0 + math.cos(math.pi * fraction))


def _check_optional_steps(steps: int | None) -> None:
    if steps is not None:
        check_count("steps", steps)


@dataclass(frozen=True, repr=False)
class Constant(Schedule):
    """η^t/η = value. ``steps`` only says how long it runs when joined."""

    value: float = 1.0
    steps: int | None = None
    name = "constant"

    def __post_init__(self) -> None:
        check_positive("value", self.value, noun=NUMBER)
        _check_optional_steps(self.steps)

    def at(self, t: int) -> float:
        return float(self.value)

    def formula(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True, repr=False)
class StepDecay(Schedule):
    """η^t/η = γ^⌊t / step_size⌋ — torch's StepLR."""

    step_size: int
    gamma: float = 0.1
    steps: int | None = None
    name = "step"

    def __post_init__(self) -> None:
        check_count("step_size", self.step_size)
        check_range("gamma", self.gamma, 0, 1, closed="(]")
        _check_optional_steps(self.steps)

    def at(self, t: int) -> float:
        return self.gamma ** (t // self.step_size)

    def formula(self) -> str:
        return f"{self.gamma:g}^⌊t/{self.step_size}⌋"


@dataclass(frozen=True, repr=False)
class MultiStep(Schedule):
    """η^t/η = γ^(number of milestones <= t) — torch's MultiStepLR."""

    milestones: tuple[int, ...]
    gamma: float = 0.1
    steps: int | None = None
    name = "multistep"

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", check_milestones(self.milestones))
        check_range("gamma", self.gamma, 0, 1, closed="(]")
        _check_optional_steps(self.steps)

    def at(self, t: int) -> float:
        return self.gamma ** bisect.bisect_right(self.milestones, t)

    def formula(self) -> str:
        return f"{self.gamma:g}^#{{m ∈ {list(self.milestones)} : m ≤ t}}"


@dataclass(frozen=True, repr=False)
class Exponential(Schedule):
    """η^t/η = γ^t — torch's ExponentialLR."""

    gamma: float
    steps: int | None = None
    name = "exponential"

    def __post_init__(self) -> None:
        check_range("gamma", self.gamma, 0, 1, closed="(]")
        _check_optional_steps(self.steps)

    def at(self, t: int) -> float:
        return self.gamma**t

    def formula(self) -> str:
        return f"{self.gamma:g}^t"


@dataclass(frozen=True, repr=False)
class InverseTime(Schedule):
    """η^t/η = 1/(1 + k·t): torch's Adagrad ``lr_decay`` (with t counted from 0)."""

    k: float = 1.0
    steps: int | None = None
    name = "inverse-time"

    def __post_init__(self) -> None:
        check_positive("k", self.k, noun=NUMBER)
        _check_optional_steps(self.steps)

    def at(self, t: int) -> float:
        return 1.0 / (1.0 + self.k * t)

    def formula(self) -> str:
        return f"1/(1 + {self.k:g}·t)"


@dataclass(frozen=True, repr=False)
class InverseSqrt(Schedule):
    """η^t/η = 1/√(t+1). With it, the lecture's Adagrad (σ = root *mean* square) becomes the
    classic one: η/√(t+1) / sqrt(Σ g²/(t+1)) = η / sqrt(Σ g²)."""

    steps: int | None = None
    name = "inverse-sqrt"

    def __post_init__(self) -> None:
        _check_optional_steps(self.steps)

    def at(self, t: int) -> float:
        return 1.0 / math.sqrt(t + 1)

    def formula(self) -> str:
        return "1/√(t+1)"


@dataclass(frozen=True, repr=False)
class Polynomial(Schedule):
    """η^t/η = end + (1 − end)·(1 − min(t, steps)/steps)^power — torch's PolynomialLR when
    end = 0. Holds ``end`` after ``steps``."""

    steps: int
    power: float = 1.0
    end: float = 0.0
    name = "polynomial"

    def __post_init__(self) -> None:
        check_count("steps", self.steps)
        check_positive("power", self.power, noun=NUMBER)
        check_range("end", self.end, 0, 1, closed="[)")

    def at(self, t: int) -> float:
        return self.end + (1 - self.end) * (1 - min(t, self.steps) / self.steps) ** self.power

    def formula(self) -> str:
        decay = f"(1 − min(t, {self.steps})/{self.steps})^{self.power:g}"
        return f"{self.end:g} + {1 - self.end:g}·{decay}"


@dataclass(frozen=True, repr=False)
class Cosine(Schedule):
    """η^t/η = end + (1 − end)·½(1 + cos(π·min(t, steps)/steps)) — torch's
    CosineAnnealingLR(T_max=steps, eta_min=end·η) up to ``steps``; after it ravine holds
    ``end`` where torch's recursion climbs back up."""

    steps: int
    end: float = 0.0
    name = "cosine"

    def __post_init__(self) -> None:
        check_count("steps", self.steps)
        check_range("end", self.end, 0, 1, closed="[)")

    def at(self, t: int) -> float:
        return self.end + (1 - self.end) * _half_cosine(min(t, self.steps) / self.steps)

    def formula(self) -> str:
        scale = "" if self.end == 0 else f"{self.end:g} + {1 - self.end:g}·"
        return f"{scale}½·(1 + cos(π·min(t, {self.steps})/{self.steps}))"


@dataclass(frozen=True, repr=False)
class CosineRestarts(Schedule):
    """Cosine from 1 down to ``end`` over a period that restarts, each period ``mult`` times
    longer than the last (SGDR) — torch's CosineAnnealingWarmRestarts(T_0=period,
    T_mult=mult, eta_min=end·η)."""

    period: int
    mult: int = 1
    end: float = 0.0
    steps: int | None = None
    name = "cosine-restarts"

    def __post_init__(self) -> None:
        check_count("period", self.period)
        check_count("mult", self.mult)
        check_range("end", self.end, 0, 1, closed="[)")
        _check_optional_steps(self.steps)

    def position(self, t: int) -> tuple[int, int]:
        """(steps into the current period, length of the current period)."""
        if self.mult == 1:
            return t % self.period, self.period
        # periods end at P·(mult^n − 1)/(mult − 1); find the n whose period holds t
        n = int(math.log(t / self.period * (self.mult - 1) + 1, self.mult))
        start = self.period * (self.mult**n - 1) // (self.mult - 1)
        if t < start:  # the float logarithm landed one period late
            n -= 1
            start = self.period * (self.mult**n - 1) // (self.mult - 1)
        elif t >= start + self.period * self.mult**n:  # … or one early
            start += self.period * self.mult**n
            n += 1
        return t - start, self.period * self.mult**n

    def at(self, t: int) -> float:
        into, length = self.position(t)
        return self.end + (1 - self.end) * _half_cosine(into / length)

    def formula(self) -> str:
        return f"½·(1 + cos(π·t_cur/T)), T = {self.period}·{self.mult}^restarts"


@dataclass(frozen=True, repr=False)
class LinearWarmup(Schedule):
    """η^t/η = start + (end − start)·min(t, steps)/steps: from ``start`` up to ``end`` over
    ``steps`` steps, then ``end`` — torch's LinearLR (which needs start > 0). With start > end
    it is torch's LinearLR decaying: a straight line down, and no warm-up."""

    steps: int
    start: float = 0.0
    end: float = 1.0
    name = "linear-warmup"

    def __post_init__(self) -> None:
        check_count("steps", self.steps)
        check_range("start", self.start, 0, math.inf, closed="[)")
        check_positive("end", self.end, noun=NUMBER)

    @property
    def warmup_end(self) -> int | None:
        return self.steps if self.end > self.start else None  # a line down warms nothing up

    def at(self, t: int) -> float:
        return self.start + (self.end - self.start) * min(t, self.steps) / self.steps

    def formula(self) -> str:
        change = self.end - self.start
        sign = "−" if change < 0 else "+"
        return f"{self.start:g} {sign} {abs(change):g}·min(t, {self.steps})/{self.steps}"


@dataclass(frozen=True, repr=False)
class Transformer(Schedule):
    """lrate = d_model^−0.5 · min(n^−0.5, n·warmup^−1.5) with n = t + 1 (Vaswani et al. 2017
    count step_num from 1): linear warm-up for ``warmup`` steps, then 1/√n decay. The peak is
    at t = warmup − 1. Use it with base η = 1 (as the paper) or scale it."""

    d_model: int = 512
    warmup: int = 4000
    steps: int | None = None
    name = "transformer"

    def __post_init__(self) -> None:
        check_count("d_model", self.d_model)
        check_count("warmup", self.warmup)
        _check_optional_steps(self.steps)

    @property
    def warmup_end(self) -> int:
        return self.warmup - 1

    def at(self, t: int) -> float:
        n = t + 1
        return self.d_model**-0.5 * min(n**-0.5, n * self.warmup**-1.5)

    def formula(self) -> str:
        return f"{self.d_model}^−0.5·min((t+1)^−0.5, (t+1)·{self.warmup}^−1.5)"


@dataclass(frozen=True, repr=False)
class WarmupCosine(Schedule):
    """Linear warm-up t/warmup for ``warmup`` steps, then cosine from 1 to ``end`` over the
    remaining ``steps − warmup`` steps."""

    warmup: int
    steps: int
    end: float = 0.0
    name = "warmup-cosine"

    def __post_init__(self) -> None:
        check_count("warmup", self.warmup, 0)
        check_count("steps", self.steps)
        if self.warmup >= self.steps:
            raise ValueError(
                f"warmup ({self.warmup}) must be shorter than the total steps ({self.steps})"
            )
        check_range("end", self.end, 0, 1, closed="[)")

    @property
    def warmup_end(self) -> int:
        return self.warmup

    def at(self, t: int) -> float:
        if t < self.warmup:
            return t / self.warmup
        decay = self.steps - self.warmup
        return self.end + (1 - self.end) * _half_cosine(min(t - self.warmup, decay) / decay)

    def formula(self) -> str:
        w, d = self.warmup, self.steps - self.warmup
        return f"t/{w} for t < {w}, then ½·(1 + cos(π·min(t−{w}, {d})/{d}))"


@dataclass(frozen=True, repr=False)
class OneCycle(Schedule):
    """Smith's one-cycle policy, as torch's OneCycleLR(total_steps=steps) computes it, in
    multiples of the peak rate: from 1/div_factor up to 1 at step pct_start·steps − 1, then
    down to 1/(div_factor·final_div_factor) at step steps − 1 (``three_phase``: back to
    1/div_factor first, then down). ``anneal`` is ``cos`` or ``linear``. After the last step
    ravine holds the final value (torch extrapolates one step, then raises)."""

    steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal: str = "cos"
    three_phase: bool = False
    name = "one-cycle"

    def __post_init__(self) -> None:
        check_count("steps", self.steps)
        check_range("pct_start", self.pct_start, 0, 1, closed="()")
        check_positive("div_factor", self.div_factor, noun=NUMBER)
        check_positive("final_div_factor", self.final_div_factor, noun=NUMBER)
        if self.anneal not in ("cos", "linear"):
            raise ValueError(f"anneal must be 'cos' or 'linear', got {self.anneal!r}")
        if not isinstance(self.three_phase, bool):
            raise ValueError(f"three_phase must be true or false, got {self.three_phase!r}")
        initial = 1.0 / self.div_factor
        low = initial / self.final_div_factor
        rise = float(self.pct_start * self.steps) - 1
        ends = (rise, 2 * rise, self.steps - 1) if self.three_phase else (rise, self.steps - 1)
        if not all(later > earlier for earlier, later in zip((0.0, *ends), ends, strict=False)):
            raise ValueError(
                f"pct_start must leave every phase at least one step: pct_start·steps = "
                f"{self.pct_start * self.steps:g} with steps={self.steps}, got "
                f"pct_start={self.pct_start!r}"
            )
        if self.three_phase:
            phases = (
                (rise, initial, 1.0),
                (2 * rise, 1.0, initial),
                (self.steps - 1, initial, low),
            )
        else:
            phases = ((rise, initial, 1.0), (self.steps - 1, 1.0, low))
        object.__setattr__(self, "_phases", phases)

    @property
    def warmup_end(self) -> int:
        return max(0, math.ceil(self._phases[0][0]))  # type: ignore[attr-defined]

    def at(self, t: int) -> float:
        t = min(t, self.steps - 1)
        start = 0.0
        for index, (end_step, high, low) in enumerate(self._phases):  # type: ignore[attr-defined]
            if t <= end_step or index == len(self._phases) - 1:  # type: ignore[attr-defined]
                fraction = (t - start) / (end_step - start)
                if self.anneal == "cos":
                    return low + (high - low) / 2.0 * (math.cos(math.pi * fraction) + 1)
                return (low - high) * fraction + high
            start = end_step
        raise AssertionError("unreachable")  # pragma: no cover

    def formula(self) -> str:
        peak = self._phases[0][0]  # type: ignore[attr-defined]
        return (
            f"1/{self.div_factor:g} → 1 at t={peak:g} → "
            f"1/{self.div_factor * self.final_div_factor:g} at t={self.steps - 1} ({self.anneal})"
        )
