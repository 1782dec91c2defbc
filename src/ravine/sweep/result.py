"""What a sweep measured: :class:`SweepResult`, the loss curves of R runs that differ only in η,
which of them diverged and which η was best.

A run diverged when its loss became inf or nan, or ended above the line

    L⁰ + (divergence − 1)·|L⁰|        (for a positive loss: ``divergence`` times where it started)

and the best setting is the η with the lowest final loss among the runs that did not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ..surfaces.library import nearest
from ..validation import is_count, require

# The divergence factor's default: the Monitor's, 10.
DIVERGENCE = 10.0


def divergence_line(initial_loss: float, divergence: float = DIVERGENCE) -> float:
    """L⁰ + (divergence − 1)·|L⁰|: a run whose loss ends above it (or becomes inf or nan)
    diverged; for a positive loss, ``divergence`` times where it started."""
    return initial_loss + (divergence - 1) * abs(initial_loss)


def diverged_runs(losses: torch.Tensor, line: float) -> tuple[torch.Tensor, torch.Tensor]:
    """For the losses (T, R) of R runs: which diverged (their loss became inf or nan, or ended
    above ``line``), (R,), and for each the first row whose loss was non-finite or above it."""
    bad = ~torch.isfinite(losses) | (losses > line)
    diverged = ~torch.isfinite(losses).all(dim=0) | (losses[-1] > line)
    return diverged, bad.to(torch.int64).argmax(dim=0)


@dataclass
class SweepResult:
    """What a sweep measured. R settings; K points of each loss curve.

    ``lrs`` (R): η of each setting. ``steps``: N, the updates each run took. ``curve_steps``
    (K): the steps t at which L(θ^t) was kept, 0 and N included; ``losses`` (K, R): L(θ^t) of
    each run there. ``final_loss`` (R): L(θ^N). ``diverged`` (R): the run's loss became inf or
    nan at a kept step, or ended above L⁰ + (``divergence`` − 1)·|L⁰| (for a positive loss:
    ``divergence`` times where it started); ``diverged_at`` (R): the first kept step where
    the loss was non-finite or above that line, else None. The best setting is the η with
    the lowest final loss among the runs that did not diverge (None when all did).
    ``parameters``: the final θ of every run stacked, name → (R, ...); ``state``: the
    optimizer's stacked state, name → {key: tensor}. ``seconds``: the sweep's wall time.
    ``interrupted``: why the sweep holds fewer η or steps than asked (None when it ran them
    all).
    """

    problem: str
    kind: str  # "surface" or "task"
    optimizer: str
    options: dict[str, Any]
    lrs: list[float]
    steps: int
    curve_steps: list[int]
    losses: torch.Tensor
    seconds: float
    schedule: str | None = None
    divergence: float = DIVERGENCE
    parameters: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    state: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    minima: tuple[tuple[float, float], ...] | None = None  # a surface's minima θ*
    interrupted: str | None = None

    @property
    def runs(self) -> int:
        """R, the number of settings."""
        return len(self.lrs)

    @property
    def initial_loss(self) -> float:
        """L(θ⁰), the same for every run."""
        return float(self.losses[0, 0])

    @property
    def final_loss(self) -> torch.Tensor:
        """L(θ^N) of each run, (R,)."""
        return self.losses[-1]

    @property
    def divergence_line(self) -> float:
        """L⁰ + (divergence − 1)·|L⁰|: a run that ends above it diverged."""
        return divergence_line(self.initial_loss, self.divergence)

    @property
    def diverged(self) -> torch.Tensor:
        """True for each run whose loss became inf or nan, or ended above the line, (R,)."""
        return diverged_runs(self.losses, self.divergence_line)[0]

    @property
    def diverged_at(self) -> list[int | None]:
        """Per run that diverged, the first kept step whose loss was non-finite or above the
        line (None for the others)."""
        diverged, first = diverged_runs(self.losses, self.divergence_line)
        return [
            self.curve_steps[k] if bad else None
            for bad, k in zip(diverged.tolist(), first.tolist(), strict=True)
        ]

    @property
    def best_index(self) -> int | None:
        """r of the setting with the lowest final loss among the runs that did not diverge."""
        final = self.final_loss.masked_fill(self.diverged, math.inf)
        if bool(self.diverged.all()):
            return None
        return int(torch.argmin(final))

    @property
    def best_lr(self) -> float | None:
        """η of the best setting (None when every run diverged)."""
        index = self.best_index
        return None if index is None else self.lrs[index]

    @property
    def best_loss(self) -> float | None:
        """The final loss of the best setting (None when every run diverged)."""
        index = self.best_index
        return None if index is None else float(self.final_loss[index])

    @property
    def final(self) -> torch.Tensor | None:
        """A surface's final θ of each run, (R, 2); None for a network."""
        return self.parameters.get("theta") if self.kind == "surface" else None

    @property
    def minimum(self) -> tuple[float, float] | None:
        """A surface's minimum θ* (the first, where it has several)."""
        return None if self.minima is None else self.minima[0]

    @property
    def distance(self) -> torch.Tensor | None:
        """A surface's distance from each run's final θ to its nearest minimum, (R,)."""
        if self.final is None or self.minima is None:
            return None
        return nearest(self.final, self.minima)[1]

    @property
    def settings_steps_per_second(self) -> float:
        """Throughput: R·N updates per second of the sweep's wall time."""
        return self.runs * self.steps / self.seconds if self.seconds > 0 else math.inf

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types; a non-finite number becomes None."""
        distance = self.distance
        final = self.final
        return {
            "problem": self.problem,
            "kind": self.kind,
            "optimizer": self.optimizer,
            "options": {k: _plain(v) for k, v in self.options.items()},
            "schedule": self.schedule,
            "steps": self.steps,
            "lrs": self.lrs,
            "initial_loss": _finite_or_none(self.initial_loss),
            "final_loss": [_finite_or_none(v) for v in self.final_loss.tolist()],
            "divergence": self.divergence,
            "diverged": self.diverged.tolist(),
            "diverged_at": self.diverged_at,
            "best": {
                "index": self.best_index,
                "lr": self.best_lr,
                "loss": _finite_or_none(self.best_loss),
            },
            "curve_steps": self.curve_steps,
            "losses": [[_finite_or_none(v) for v in row] for row in self.losses.T.tolist()],
            "final": None
            if final is None
            else [[_finite_or_none(v) for v in p] for p in final.tolist()],
            "minimum": None if self.minimum is None else list(self.minimum),
            "minima": None if self.minima is None else [list(p) for p in self.minima],
            "distance": None
            if distance is None
            else [_finite_or_none(v) for v in distance.tolist()],
            "seconds": self.seconds,
            "settings_steps_per_second": self.settings_steps_per_second,
            "interrupted": self.interrupted,
        }


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def single_run_parameters(result: SweepResult, index: int) -> dict[str, torch.Tensor]:
    """Run ``index``'s final parameters, name → tensor without the run axis (e.g. to load
    into the task's model with ``model.load_state_dict(..., strict=False)``)."""
    require(is_count(index) and 0 <= index < result.runs, "index", index, f"in [0, {result.runs})")
    return {name: p[index].clone() for name, p in result.parameters.items()}
