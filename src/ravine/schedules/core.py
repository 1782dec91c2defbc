"""What every schedule is, and the combinators that build new ones from old.

A schedule is η^t / η: a plain, picklable callable from the step t (an int counting from 0)
to a multiplier of the base learning rate — torch's LambdaLR convention. Its ``repr`` is its
spec and its formula, e.g. ``cosine:steps=100  [½·(1 + cos(π·min(t, 100)/100))]``.

``a >> b`` runs a for ``a.steps`` steps and then b, which sees steps counted from its own
start; ``a * b`` multiplies two schedules; ``0.1 * a`` scales one. Metric-driven schedules
(:mod:`ravine.schedules.metric`) keep what they observed in ``state_dict()``.
"""

from __future__ import annotations

import bisect
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ..validation import NUMBER, check_count, check_positive


class Schedule(ABC):
    """A multiplier of the base learning rate for every step t = 0, 1, 2, …

    Subclasses are frozen dataclasses whose fields are the schedule's parameters; ``name`` is
    the name used in specs (``cosine``), and ``steps`` (when the schedule has it) is how long
    it runs when joined with ``>>``.
    """

    name: ClassVar[str] = ""
    metric_driven: ClassVar[bool] = False

    @abstractmethod
    def at(self, t: int) -> float:
        """η^t/η at step t (an int >= 0, already checked by ``__call__``)."""

    @abstractmethod
    def formula(self) -> str:
        """The multiplier as a formula of t, with this schedule's numbers in it."""

    def __call__(self, t: int) -> float:
        check_count("step", t, 0)
        return self.at(t)

    @property
    def length(self) -> int | None:
        """Steps this schedule runs for when joined (its ``steps``), None when unbounded."""
        return getattr(self, "steps", None)

    @property
    def warmup_end(self) -> int | None:
        """The step where warm-up ends (the rate stops rising), None without warm-up."""
        return None

    def params(self) -> dict[str, Any]:
        """The parameters that rebuild this schedule, as given (defaults included)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}  # type: ignore[arg-type]

    @property
    def spec(self) -> str:
        """The spec that :func:`ravine.schedules.from_spec` turns back into this schedule
        (parameters left at their defaults are not written)."""
        defaults = {f.name: f.default for f in fields(self) if f.init}  # type: ignore[arg-type]
        shown = []
        for key, val in self.params().items():
            if val is None or val == defaults[key]:
                continue
            if isinstance(val, tuple):
                val = "[" + ",".join(_number(v) for v in val) + "]"
            elif isinstance(val, bool):
                val = str(val).lower()
            elif isinstance(val, (int, float)):
                val = _number(val)
            shown.append(f"{key}={val}")
        return f"{self.name}:{','.join(shown)}" if shown else self.name

    def __repr__(self) -> str:
        try:
            return f"{self.spec}  [{self.formula()}]"
        except ValueError:  # a product with a join has no spec, only its formula
            return f"[{self.formula()}]"

    @property
    def signature(self) -> str:
        """What identifies this schedule: its spec, or its formula when it has no spec."""
        try:
            return self.spec
        except ValueError:
            return self.formula()

    def values(self, steps: int) -> list[float]:
        """The multipliers of steps 0 … steps − 1."""
        return [self(t) for t in range(steps)]

    # --- what metric-driven schedules override ---------------------------------------------

    def observe(self, metric: float, step: int) -> None:
        """Take the metric measured at ``step``; only metric-driven schedules accept one."""
        raise ValueError(f"{self.spec} takes no metric; only resnet-warmup and plateau do")

    def state_dict(self) -> dict[str, Any]:
        """What the schedule has observed (empty: a plain schedule is a pure function of t)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{self.spec} keeps no state, got {sorted(state)}")

    # --- combinators -------------------------------------------------------------------------

    def __rshift__(self, other: Schedule) -> Join:
        return Join(_pieces(self) + _pieces(other))

    def __mul__(self, other: Schedule | float) -> Schedule:
        if isinstance(other, Schedule):
            return Product(self, other)
        factor = check_positive("factor", other, noun=NUMBER)
        if isinstance(self, Join):  # scale each piece: the same values, and a spec
            return Join(tuple(factor * piece for piece in self.pieces))
        return Scale(self, factor)

    __rmul__ = __mul__


def _pieces(schedule: Schedule) -> tuple[Schedule, ...]:
    return schedule.pieces if isinstance(schedule, Join) else (schedule,)


def _number(value: float) -> str:
    """A number as a spec writes it: every digit kept (repr), so the spec rebuilds it exactly."""
    return repr(value) if isinstance(value, float) else str(value)


class _Composite(Schedule):
    """A schedule made of others: observing and saving pass through to its parts."""

    @abstractmethod
    def parts(self) -> tuple[Schedule, ...]:
        """The schedules this one is made of."""

    @property
    def metric_driven(self) -> bool:  # type: ignore[override]
        return any(p.metric_driven for p in self.parts())

    def observe(self, metric: float, step: int) -> None:
        if not self.metric_driven:
            super().observe(metric, step)
        for part in self.parts():
            if part.metric_driven:
                part.observe(metric, step)

    def state_dict(self) -> dict[str, Any]:
        return {str(i): p.state_dict() for i, p in enumerate(self.parts()) if p.metric_driven}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for i, part in enumerate(self.parts()):
            if part.metric_driven:
                part.load_state_dict(state.get(str(i), {}))


@dataclass(frozen=True, repr=False)
class Join(_Composite):
    """Pieces one after another: piece k runs for its ``steps`` from the sum of the earlier
    pieces' steps, and sees t counted from its own start. Every piece but the last needs
    ``steps``; the whole has ``steps`` when the last piece has."""

    pieces: tuple[Schedule, ...]

    def __post_init__(self) -> None:
        if len(self.pieces) < 2:
            raise ValueError("a join needs at least two pieces")
        for index, piece in enumerate(self.pieces[:-1]):
            if piece.length is None:
                raise ValueError(
                    f"piece {index + 1} ({piece.spec}) has no steps=, and every piece but the "
                    "last needs one to say where the next begins"
                )
        starts, total = [], 0
        for piece in self.pieces[:-1]:
            total += piece.length  # type: ignore[operator]
            starts.append(total)
        object.__setattr__(self, "_starts", tuple(starts))

    def parts(self) -> tuple[Schedule, ...]:
        return self.pieces

    def at(self, t: int) -> float:
        index = bisect.bisect_right(self._starts, t)  # type: ignore[attr-defined]
        start = self._starts[index - 1] if index else 0  # type: ignore[attr-defined]
        return self.pieces[index](t - start)

    @property
    def length(self) -> int | None:
        last = self.pieces[-1].length
        return None if last is None else self._starts[-1] + last  # type: ignore[attr-defined]

    @property
    def warmup_end(self) -> int | None:
        start = 0
        for piece in self.pieces:
            if piece.warmup_end is not None:
                return start + piece.warmup_end
            start += piece.length or 0
        return None

    @property
    def spec(self) -> str:
        return " >> ".join(piece.spec for piece in self.pieces)

    def formula(self) -> str:
        return " >> ".join(f"[{piece.formula()}]" for piece in self.pieces)


@dataclass(frozen=True, repr=False)
class Product(_Composite):
    """a(t)·b(t). Runs as long as the shorter of the two that have ``steps``."""

    left: Schedule
    right: Schedule

    def parts(self) -> tuple[Schedule, ...]:
        return (self.left, self.right)

    def at(self, t: int) -> float:
        return self.left(t) * self.right(t)

    @property
    def length(self) -> int | None:
        known = [s.length for s in self.parts() if s.length is not None]
        return min(known) if known else None

    @property
    def warmup_end(self) -> int | None:
        return self.left.warmup_end if self.left.warmup_end is not None else self.right.warmup_end

    @property
    def spec(self) -> str:
        return f"{_factor_spec(self.left)} * {_factor_spec(self.right)}"

    def formula(self) -> str:
        return f"({self.left.formula()})·({self.right.formula()})"


@dataclass(frozen=True, repr=False)
class Scale(_Composite):
    """factor·s(t), factor > 0 — e.g. a base learning rate times a multiplier."""

    schedule: Schedule
    factor: float

    def parts(self) -> tuple[Schedule, ...]:
        return (self.schedule,)

    def at(self, t: int) -> float:
        return self.factor * self.schedule(t)

    @property
    def length(self) -> int | None:
        return self.schedule.length

    @property
    def warmup_end(self) -> int | None:
        return self.schedule.warmup_end

    @property
    def spec(self) -> str:
        factor = _number(float(self.factor))
        if isinstance(self.schedule, Join):  # f·(a >> b) = f·a >> f·b
            return " >> ".join(f"{factor} * {piece.spec}" for piece in self.schedule.pieces)
        return f"{factor} * {self.schedule.spec}"

    def formula(self) -> str:
        return f"{float(self.factor):g}·({self.schedule.formula()})"


def _factor_spec(schedule: Schedule) -> str:
    if isinstance(schedule, Join):
        raise ValueError(
            f"a join ({schedule.spec}) inside a product has no spec; join products instead"
        )
    return schedule.spec


def check_milestones(value: Any) -> tuple[int, ...]:
    """Strictly increasing step numbers >= 1."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"milestones must be a list of steps, got {value!r}")
    milestones = tuple(value)
    for m in milestones:
        check_count("each milestone", m)
    if list(milestones) != sorted(set(milestones)):
        raise ValueError(f"milestones must be increasing, got {list(milestones)}")
    return milestones
