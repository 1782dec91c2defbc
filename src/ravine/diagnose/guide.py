"""The lecture's general guide: compare training runs of models of different sizes and say
what to fix — model bias, an optimization issue, overfitting — or that the model is fine.

The guide starts from the loss on the training data:

1. **The training loss is large.** Either the model is too simple — *model bias*: no setting of
   its parameters fits the data ("a needle in a haystack, but there is no needle"), so the
   training loss is large however well it is optimized — or the optimization failed —
   an *optimization issue*: a good setting exists, but training did not find it. The two are
   told apart by comparison: a larger (deeper) model can do whatever a smaller one does (the
   extra layers can copy their input), so when it ends with a *higher* training loss than a
   smaller model, the fault is the optimization, not the model.
2. **The training loss is small but the validation loss is large:** *overfitting*.
3. **Both are small:** *fine*.

**Inputs.** A :class:`RunSummary` per run: its ``name``, its ``size`` (how flexible the model
is — its number of parameters, or its depth; larger means it can imitate any smaller run),
its final training loss and its final validation loss (may be None; it is needed only for a
run whose training loss is small). What counts as "large" comes from the caller: ``target``,
the loss that counts as small, or ``baseline``, the loss of a model that learned nothing —
for the mean squared error, the loss of predicting the mean of the training targets, i.e.
their variance (:func:`mean_prediction_loss`).

**Thresholds** (all losses in the task's loss units):

- T, the target: ``target`` when given, else ``SMALL`` · ``baseline`` with SMALL = 0.1 — the
  run must remove 90% of the loss of predicting the mean (for the MSE: R² ≥ 0.9).
- The training loss is *small* when L_train ≤ T, *large* when L_train > T.
- The validation loss is *large* when L_val > T (the same line: "small" means the same on
  both sets).
- A run is *worse* than a smaller one when L_train > (1 + ``margin``) · L_train(smaller), with
  MARGIN = 0.1: a gap of 10% or less is read as a tie (two tries of one model differ by that
  much), and a tie is not evidence of a failed optimization.

**Per run** (its note says which rule fired, with the numbers):

- L_train > T, and some strictly smaller run s has L_train(r) > (1 + margin) · L_train(s):
  *optimization issue* (compared with the smaller run of lowest training loss);
- L_train > T otherwise: *model bias*;
- L_train ≤ T and L_val > T: *overfitting*;
- L_train ≤ T and L_val ≤ T: *fine*.

Runs of equal size are tries of the same model (other seeds, optimizers, learning rates); they
are not compared with each other.

**The verdict** is the verdict of the *deciding run*: among the runs of the largest size (the
most flexible model tried), the one with the lowest training loss (then the lowest validation
loss, then the first given) — the best that the most flexible model achieved. The other runs
are context: they show, in their notes, what the smaller models did.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..validation import check_nonnegative, check_positive

VERDICTS = ("model bias", "optimization issue", "overfitting", "fine")

SMALL = 0.1  # T = SMALL · baseline when no target is given
MARGIN = 0.1  # "worse than a smaller run" means a training loss more than (1 + MARGIN)× its

# The lecture's remedies, in its words.
REMEDIES = {
    "model bias": (
        "The model is too simple: no choice of its parameters fits the training data (a needle "
        "in a haystack, but there is no needle). Redesign the model to make it more flexible: "
        "more features, more neurons, more layers."
    ),
    "optimization issue": (
        "A larger model, which can do whatever the smaller one does, ends with a higher "
        "training loss: the optimization failed, not the model. Start from the shallower "
        "model, which is easier to optimize, and improve the optimization: another optimizer "
        "(momentum, an adaptive learning rate such as Adam), a better η and its schedule, "
        "normalization."
    ),
    "overfitting": (
        "The training loss is small but the validation loss is large: the model fits the "
        "training data and not the task. Get more training data (or make more by data "
        "augmentation), or constrain the model: fewer parameters or weight sharing, fewer "
        "features, early stopping, regularization, dropout."
    ),
    "fine": (
        "The training and validation losses are both small: the model is flexible enough, "
        "its training worked, and it generalizes to the validation data."
    ),
}


@dataclass(frozen=True)
class RunSummary:
    """One training run as the guide sees it: ``name``, ``size`` (parameters or depth — larger
    can imitate smaller), the final ``train_loss`` and ``val_loss`` (None without a
    validation set), in the task's loss units."""

    name: str
    size: float
    train_loss: float
    val_loss: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"run name must be non-empty text, got {self.name!r}")
        object.__setattr__(
            self, "size", float(check_positive(f"size of run {self.name!r}", self.size))
        )
        object.__setattr__(
            self, "train_loss", _checked_loss(f"train_loss of run {self.name!r}", self.train_loss)
        )
        if self.val_loss is not None:
            object.__setattr__(
                self, "val_loss", _checked_loss(f"val_loss of run {self.name!r}", self.val_loss)
            )

    @classmethod
    def from_run(cls, run: Any, *, size: float, name: str | None = None) -> RunSummary:
        """The summary of anything with ``final.train_loss`` and ``final.val_loss`` (a
        :class:`ravine.training.Run`, read without importing it); ``name`` defaults to the
        run's ``model_spec``. ValueError when the run has no final record."""
        final = getattr(run, "final", None)
        if final is None or not hasattr(final, "train_loss"):
            raise ValueError(
                f"run {name or getattr(run, 'model_spec', run)!r} has no final record with a "
                f"train_loss (did its first epoch finish?)"
            )
        if name is None:
            name = getattr(run, "model_spec", None) or f"size {size:g}"
        return cls(name, size, final.train_loss, getattr(final, "val_loss", None))


@dataclass(frozen=True)
class RunNote:
    """The guide's reading of one run: its ``verdict``, the ``note`` quoting the numbers, and
    for an optimization issue the smaller run it lost to (``compared_with``)."""

    name: str
    verdict: str
    note: str
    compared_with: str | None = None


@dataclass(frozen=True)
class Guidance:
    """What the guide says: the ``verdict`` (one of :data:`VERDICTS`) of the deciding ``run``,
    the ``reason`` quoting its numbers, the lecture's ``remedy``, the ``evidence`` (the numbers
    the verdict was decided from), the threshold ``target`` T, and a note per run."""

    verdict: str
    run: str
    reason: str
    remedy: str
    evidence: dict[str, float]
    target: float
    notes: list[RunNote] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.verdict}: {self.reason} {self.remedy}"

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "run": self.run,
            "reason": self.reason,
            "remedy": self.remedy,
            "evidence": dict(self.evidence),
            "target": self.target,
            "notes": [vars(n) for n in self.notes],
        }


def mean_prediction_loss(targets: Sequence[float] | Any) -> float:
    """The mean squared error of predicting the mean of the targets, (1/N) Σ_n (y_n − ȳ)² (the
    targets' variance, in squared target units): the loss of a model that learned nothing, a
    ``baseline`` for :func:`general_guide` under the MSE. Accepts anything numpy can read (a tensor
    too); every element counts as one target value."""
    import numpy as np

    values = np.asarray(targets, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("targets must hold at least one value, got none")
    if not np.all(np.isfinite(values)):
        raise ValueError("targets must be finite, got nan or inf among them")
    return float(np.mean((values - values.mean()) ** 2))


def summaries(
    runs: Sequence[Any], sizes: Sequence[float], names: Sequence[str] | None = None
) -> list[RunSummary]:
    """:meth:`RunSummary.from_run` for each run, ``sizes[i]`` (and ``names[i]``) for run i;
    ValueError when the lengths differ."""
    runs, sizes = list(runs), list(sizes)
    if len(sizes) != len(runs):
        raise ValueError(f"got {len(runs)} runs but {len(sizes)} sizes; give one size per run")
    if names is not None and len(names) != len(runs):
        raise ValueError(f"got {len(runs)} runs but {len(names)} names; give one name per run")
    return [
        RunSummary.from_run(run, size=size, name=None if names is None else names[i])
        for i, (run, size) in enumerate(zip(runs, sizes, strict=True))
    ]


def general_guide(
    runs: Sequence[RunSummary],
    *,
    baseline: float | None = None,
    target: float | None = None,
    margin: float = MARGIN,
) -> Guidance:
    """The general guide over ``runs`` (see the module doc for every rule and threshold).

    ``target`` is T, the loss that counts as small; without it T = SMALL · ``baseline``, the
    loss of a model that learned nothing (e.g. :func:`mean_prediction_loss` of the training
    targets). ``margin``: a larger run is worse than a smaller one when its training loss is
    more than (1 + margin) times the smaller run's. Losses in the task's loss units.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("runs must hold at least one RunSummary, got none")
    for run in runs:
        if not isinstance(run, RunSummary):
            raise ValueError(
                f"runs must be RunSummary objects (RunSummary.from_run builds one from a "
                f"training run), got {type(run).__name__}"
            )
    seen: set[str] = set()
    for run in runs:
        if run.name in seen:
            raise ValueError(f"run names must be distinct, got {run.name!r} twice")
        seen.add(run.name)
    threshold = _target_loss(baseline, target)
    check_nonnegative("margin", margin)

    notes = [_verdict_of_run(run, runs, threshold, margin) for run in runs]
    largest = max(run.size for run in runs)
    candidates = [i for i, run in enumerate(runs) if run.size == largest]
    deciding = min(
        candidates,
        key=lambda i: (
            runs[i].train_loss,
            math.inf if runs[i].val_loss is None else runs[i].val_loss,
            i,
        ),
    )
    run, note = runs[deciding], notes[deciding]
    evidence = {"size": float(run.size), "train_loss": run.train_loss, "target": threshold}
    if run.val_loss is not None:
        evidence["val_loss"] = run.val_loss
    if baseline is not None:
        evidence["baseline"] = float(check_positive("baseline", baseline))
    if note.compared_with is not None:
        smaller = next(r for r in runs if r.name == note.compared_with)
        evidence["smaller_size"] = float(smaller.size)
        evidence["smaller_train_loss"] = smaller.train_loss
    ties = len(candidates) - 1
    reason = note.note
    if ties:
        reason = f"{reason} (the best of {len(candidates)} runs of the largest size, {largest:g})"
    return Guidance(
        verdict=note.verdict,
        run=run.name,
        reason=reason,
        remedy=REMEDIES[note.verdict],
        evidence=evidence,
        target=threshold,
        notes=notes,
    )


def _verdict_of_run(
    run: RunSummary, runs: list[RunSummary], target: float, margin: float
) -> RunNote:
    """One run's verdict by the per-run rules of the module doc."""
    if run.train_loss > target:
        smaller = [r for r in runs if r.size < run.size]
        best = min(smaller, key=lambda r: r.train_loss, default=None)
        if best is not None and run.train_loss > (1 + margin) * best.train_loss:
            return RunNote(
                run.name,
                "optimization issue",
                f"{run.name} (size {run.size:g}) ends with training loss {run.train_loss:.4g}, "
                f"above the target {target:.4g} and {_times(run.train_loss, best.train_loss)}× "
                f"that of the smaller {best.name} (size {best.size:g}, {best.train_loss:.4g}), "
                f"which it could imitate.",
                compared_with=best.name,
            )
        compared = (
            ""
            if best is None
            else (
                f"; no smaller run does better by more than {margin:.0%} (best: {best.name}, "
                f"{best.train_loss:.4g})"
            )
        )
        return RunNote(
            run.name,
            "model bias",
            f"{run.name} (size {run.size:g}) ends with training loss {run.train_loss:.4g}, "
            f"above the target {target:.4g}{compared}.",
        )
    if run.val_loss is None:
        raise ValueError(
            f"run {run.name!r} has a small training loss ({run.train_loss:.4g} <= target "
            f"{target:.4g}) but no validation loss: the guide needs one to tell overfitting "
            f"from fine"
        )
    if run.val_loss > target:
        return RunNote(
            run.name,
            "overfitting",
            f"{run.name} (size {run.size:g}) ends with training loss {run.train_loss:.4g}, "
            f"within the target {target:.4g}, but validation loss {run.val_loss:.4g}, "
            f"{_times(run.val_loss, run.train_loss)}× its training loss.",
        )
    return RunNote(
        run.name,
        "fine",
        f"{run.name} (size {run.size:g}) ends with training loss {run.train_loss:.4g} and "
        f"validation loss {run.val_loss:.4g}, both within the target {target:.4g}.",
    )


def _target_loss(baseline: float | None, target: float | None) -> float:
    """T: ``target``, else SMALL · ``baseline``; ValueError when neither is a positive number."""
    if baseline is not None:
        baseline = float(check_positive("baseline", baseline))
    if target is not None:
        return float(check_positive("target", target))
    if baseline is None:
        raise ValueError(
            "give baseline (the loss of a model that learned nothing, e.g. "
            "mean_prediction_loss of the training targets) or target (the loss that counts as "
            "small): the guide needs one to say what a large loss is"
        )
    return SMALL * baseline


def _times(a: float, b: float) -> str:
    """a/b as text, "∞" when b is 0."""
    return f"{a / b:.3g}" if b > 0 else "∞"


def _checked_loss(what: str, value: Any) -> float:
    """``value`` as a float, when it is a finite loss >= 0; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(
            f"{what} must be a finite number >= 0, got {value!r}: a run whose loss is not "
            f"finite has diverged; rerun it with a smaller η, or summarize its last finite epoch"
        )
    if value < 0:
        raise ValueError(
            f"{what} must be a finite number >= 0, got {value!r} (the guide compares ratios of "
            f"losses)"
        )
    return float(value)
