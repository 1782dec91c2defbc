"""The training monitor and the stuck classifier: record what each step did, then say why the
loss stopped falling.

The lecture's first warning is that *training stuck ≠ small gradient*: when the loss curve goes
flat, people assume θ sits at a critical point (‖∇L‖ ≈ 0), but often the norm of the gradient
is still large — θ is bouncing between the walls of a valley, and each step overshoots. The
two cases need opposite remedies, so the monitor records the numbers that tell them apart and
:meth:`Monitor.diagnose` reads them.

Attach it in two lines (the others are the usual loop)::

    monitor = Monitor(model, optimizer)            # 1: hooks on optimizer.step
    for x, y in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        monitor.step(loss)                         # 2: after optimizer.step()
    print(monitor.diagnose(window=100))

**Order.** The gradients g^t and θ^t are read by a hook that runs inside ``optimizer.step()``
just before the update (``register_step_pre_hook``), and θ^{t+1} by one just after it
(``register_step_post_hook``), so ``monitor.step(loss)`` may come anywhere after
``optimizer.step()`` — before or after ``zero_grad()``. Call it once per optimizer step, with the
loss L(θ^t) whose gradient that step used. Optimizers that evaluate a closure inside ``step``
(L-BFGS) are not supported: their gradients do not exist yet when the pre-hook runs.

**Each step records** (record t; norms are Euclidean, over every trainable parameter of the
model that the optimizer updates; a parameter without a gradient counts as a zero gradient):

- ``step``: t, the optimizer's step counted from 0; ``loss``: L(θ^t);
- ``gradient_norm``: ‖g^t‖, on every step;
- on every ``every``-th step (t = 0, k, 2k, …; default k = :data:`EVERY` = 8), exact there and
  nan on the others: ``gradient_cosine``: cos(g^t, g^{t−1}) = ⟨g^t, g^{t−1}⟩ /
  (‖g^t‖·‖g^{t−1}‖) — near −1 when the gradient flips back and forth across a valley (nan at
  t = 0); ``update_norm``: ‖Δθ^t‖ = ‖θ^{t+1} − θ^t‖; ``weight_norm``: ‖θ^t‖;
  ``update_ratio``: ‖Δθ^t‖ / ‖θ^t‖. ``every=1`` measures them on every step;
- per parameter (``layers=True``): the same five, as ``gradient_norm/<name>``,
  ``gradient_cosine/<name>``, ``update_norm/<name>``, ``weight_norm/<name>``,
  ``update_ratio/<name>`` (``<name>`` from ``model.named_parameters()``);
- for a ravine :class:`~ravine.optim.optimizer.Optimizer`, the distribution of the effective
  learning rates η^t/σ_i^t over every parameter entry i: ``effective_lr_min``, ``_q05``,
  ``_q25``, ``_median``, ``_q75``, ``_q95``, ``_max``, on every ``effective_lr_every``-th step
  (default :data:`EFFECTIVE_LR_EVERY` = 40; nan on the others). Min and max are exact; the
  quantiles come from a fixed uniform sample of :data:`EFFECTIVE_LR_SAMPLE` entries (exact
  when the model has fewer). Not recorded for torch.optim optimizers, nor for ``scale_first``
  rules (torch's RMSprop with momentum), where σ divides g before the momentum.

Records go to ``monitor.history`` (a list of dicts; :meth:`Monitor.series` and the properties
``loss``, ``gradient_norm``, … give numpy arrays), and optionally to a CSV file
(``csv=path``) and TensorBoard (``tensorboard=logdir``; needs ``pip install tensorboard``).

**Cost.** Every step: one fused pass over the gradients (``torch._foreach_norm``) and one host
sync, in ``monitor.step``. Every k-th step, four more: ⟨g^t, g^{t−1}⟩, ‖θ^t‖ and a copy of θ^t
before the update, ‖θ^t − θ^{t+1}‖ after it. g^{t−1} is kept by reference when ``zero_grad()``
sets gradients to None (torch's default) and copied when gradient buffers are reused in
place; the first time it is copied, and the next step's buffers tell which case this is.
Memory: one copy of θ, and of g while it waits one step. On a 1,055,242-parameter MLP
(batch 256, CPU, one thread) the defaults add about 1.5–2% to a training step and ``every=1``
about 7–10% (``benchmarks/monitor_overhead.py``). TensorBoard's ``add_scalar`` costs tens of
µs per number: ``log_every`` (and ``layers=False``) write less often.

**The guard** (``Monitor(model, optimizer, guard=True)`` or ``guard=Guard(explode=…,
keep_every=…)``) stops training, raising :class:`TrainingStopped`, at the first of: a non-finite
gradient, found by the pre-hook, which raises inside ``optimizer.step()`` before the update, so
θ^t and the optimizer's state stay as they were (whatever the optimizer's own ``nonfinite``
policy); a non-finite loss; a loss above the divergence line of the best loss so far, L* +
(explode − 1)·max(|L*|, 10⁻⁶·|L⁰|) (``explode`` × L* for positive losses; default 10, the
doctor's own line), found by ``monitor.step(loss)``. The exception names the step, the reason,
the first parameter (in ``model.named_parameters()`` order) whose gradient is non-finite, and
the doctor's verdict on the record so far. To restore, the guard copies θ, the model's buffers,
the optimizer's per-parameter state and its groups' hyperparameters before the update of every
``keep_every``-th step and keeps the latest copy whose loss turned out good;
:meth:`Monitor.restore` (or the exception's ``restore()``) puts them back bitwise and drops the
records from that step on, so the next ``optimizer.step()`` redoes that step. **Cost:** a
host sync in the pre-hook for the gradient check, and on a kept step one copy of θ and the
state (for Adam three times θ's size: on a 1,068,810-parameter MLP, CPU, one thread, about
0.6 ms, some 2% of its 30 ms training step); memory: two such copies, the one in flight and
the last good one (for Adam six times θ's size). ``keep_every=k`` copies k times less often,
at the price of going back up to k steps further.

**The stuck classifier** (:func:`diagnose_training`, :meth:`Monitor.diagnose`) reads the last
``window`` records. With ``q = window // 4``, the *start* and *end* of the window are its
first and last q records:

1. **diverged** — a loss or gradient norm is nan or inf, or the median loss of the window's
   end exceeds the best loss L* by more than (``diverge_factor`` − 1)·max(|L*|, 10⁻⁶·|L⁰|)
   (for positive losses: more than ``diverge_factor`` = 10 times the best). ``evidence``
   gives the step where the loss first crossed that line after L* (or was first non-finite).
2. **near a critical point** — the gradient is small: the median ‖g‖ of the window's end is
   below ``grad_tol`` (10⁻³) or below ``small`` (10⁻³) times the initial ‖g‖ (the median
   over the first q records of the run). With ``critical=`` the Hessian decides the ``kind``
   (saddle point or local minimum).
3. **oscillating** — all of: the loss is flat, |L_end − L_start| / |L_start| < ``flat``
   (10⁻²), with L_start, L_end the window's start and end means; the gradient is large,
   median ‖g‖ of the end ≥ ``large`` (0.1) times the initial ‖g‖; successive gradients are
   anti-correlated, the mean of the cos(g^t, g^{t−1}) measured in the window < 0; and, when
   λ_max is given (``hessian_max_eigenvalue``), η·λ_max ≥ 2 — the step overshoots that
   curvature, since one step multiplies the distance to the valley's floor by
   |1 − η·λ_max| ≥ 1.
4. **progressing** — anything else; the remedy says when the loss is falling only slowly.

The first that holds is the verdict.
"""

from __future__ import annotations

import copy
import csv as _csv
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..optim.optimizer import Optimizer as RuleOptimizer

VERDICTS = ("progressing", "oscillating", "near a critical point", "diverged")

# Thresholds of the stuck classifier (module docstring, "The stuck classifier").
FLAT = 1e-2  # |relative change of the loss over the window| below this: the loss is flat
LARGE = 0.1  # ‖g‖ at the window's end >= LARGE·‖g⁰‖: the gradient is still large
SMALL = 1e-3  # ‖g‖ at the window's end < SMALL·‖g⁰‖: the gradient is small
GRAD_TOL = 1e-3  # ‖g‖ at the window's end < GRAD_TOL (absolute): the gradient is small
DIVERGE_FACTOR = 10.0  # loss above DIVERGE_FACTOR × the best loss: diverged
OVERSHOOT = 2.0  # η·λ_max >= 2: gradient descent overshoots the curvature λ_max
MIN_WINDOW = 2


def default_window(records: int) -> int:
    """The window a whole run is diagnosed over when none is given: its last half, at most 200
    records and at least :data:`MIN_WINDOW`."""
    return max(MIN_WINDOW, min(200, records // 2))


LOSS_FLOOR = 1e-6  # losses are compared on a scale of at least LOSS_FLOOR·|L⁰|

EVERY = 8  # ‖Δθ‖, ‖θ‖ and cos(g^t, g^{t−1}) are measured on every EVERY-th step
EFFECTIVE_LR_EVERY = 40  # η^t/σ_i^t is sampled on every EFFECTIVE_LR_EVERY-th step
EFFECTIVE_LR_SAMPLE = 16_384  # entries of η/σ the quantiles are computed from
EFFECTIVE_LR_QUANTILES = (
    ("q05", 0.05),
    ("q25", 0.25),
    ("median", 0.5),
    ("q75", 0.75),
    ("q95", 0.95),
)
EFFECTIVE_LR_KEYS = tuple(
    ["effective_lr_min"]
    + [f"effective_lr_{q}" for q, _ in EFFECTIVE_LR_QUANTILES]
    + ["effective_lr_max"]
)
LAYER_KEYS = ("gradient_norm", "gradient_cosine", "update_norm", "weight_norm", "update_ratio")

REMEDIES = {
    "diverged": (
        "The loss blew up at step {divergence_step}: η is too large for the surface's "
        "curvature (η·λ_max > 2 makes every step overshoot further). Restart from before that "
        "step with a smaller η, a warm-up (small η first, as ResNet and the Transformer do), "
        "or an adaptive σ (Adam, RAdam)."
    ),
    "oscillating": (
        "The loss is flat while the gradient stays large and flips direction: θ is bouncing "
        "between the walls of a valley, not stuck at a critical point. Give each parameter its "
        "own step η/σ_i (Adagrad, RMSProp, Adam) so the steep direction takes small steps, or "
        "lower η or let it decay (learning-rate decay) so the bouncing dies out."
    ),
    "near a critical point": (
        "The gradient is close to 0: θ is near a critical point. Check the Hessian "
        "(diagnose(critical=...)): a saddle point is escaped along the eigenvector of a "
        "negative eigenvalue (or with momentum or a smaller batch); at a local minimum, a "
        "loss still too high points at the model, not the optimizer."
    ),
    "saddle point": (
        "θ is near a saddle point: the Hessian has a negative eigenvalue λ_min = "
        "{min_eigenvalue:.3g}, and a step along its eigenvector u lowers the loss by about "
        "½|λ_min|·‖u‖². Step along u (escape_direction), or use momentum or a smaller batch, "
        "whose noise also carries θ off the saddle."
    ),
    "local minimum": (
        "θ is near a local minimum: every Hessian eigenvalue is positive (λ_min = "
        "{min_eigenvalue:.3g}). If the loss is low enough, training is done — watch the "
        "validation loss; if it is still too high, the model is too simple (model bias: more "
        "features, a larger network) or needs another start, since in many dimensions true "
        "local minima are rare."
    ),
    "local maximum": (
        "θ is near a local maximum: every Hessian eigenvalue is negative, so any small step "
        "lowers the loss; perturb θ (or use momentum) to leave it."
    ),
    "not critical": (
        "The gradient is small next to where it started, but the Hessian check does not count "
        "θ as a critical point (‖g‖ above its tolerance): θ is on a gentle slope, still moving; "
        "keep training, or raise η if the steps are too small to matter."
    ),
    "progressing": (
        "The loss changed by {relative_loss_change:+.2%} over the last {window} steps and "
        "nothing says stuck: keep training."
    ),
    "creeping": (
        "The loss changed by only {relative_loss_change:+.2%} over the last {window} steps "
        "although the gradient is large and keeps its direction (mean cosine "
        "{mean_gradient_cosine:.2f}): η is too small along this direction. Raise η, or give "
        "each parameter its own η/σ_i (Adagrad, RMSProp, Adam) so gentle slopes get larger steps."
    ),
    "stable curvature": (
        "The loss is flat and the gradient large and flipping, but η·λ_max = "
        "{lr_times_max_eigenvalue:.3g} < 2, so the steps do not overshoot that curvature: the "
        "flips are likely mini-batch noise. A larger batch or a decaying η steadies them."
    ),
    "rising": (
        "The loss rose by {relative_loss_change:+.2%} over the last {window} steps without "
        "blowing up: η may be too large; lower it or add a warm-up before it diverges."
    ),
}


# --- the verdict ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    """Why the loss is (or is not) falling.

    ``verdict`` is one of :data:`VERDICTS`; ``evidence`` holds the numbers it was decided from
    (see :func:`diagnose_training`); ``checks`` which criteria held; ``remedy`` the lecture's
    remedy in a sentence or two; ``kind`` the critical point's kind when a Hessian check ran
    (e.g. ``"saddle point"``), else None.
    """

    verdict: str
    evidence: dict[str, float]
    remedy: str
    checks: dict[str, bool] = field(default_factory=dict)
    kind: str | None = None

    def __str__(self) -> str:
        kind = f" ({self.kind})" if self.kind else ""
        return f"{self.verdict}{kind}: {self.remedy}"


def diagnose_training(
    loss: Sequence[float] | np.ndarray,
    gradient_norm: Sequence[float] | np.ndarray,
    gradient_cosine: Sequence[float] | np.ndarray,
    *,
    window: int = 100,
    steps: Sequence[int] | np.ndarray | None = None,
    lr: float | None = None,
    hessian_max_eigenvalue: float | Callable[[], float] | None = None,
    critical: Callable[[], Any] | None = None,
    flat: float = FLAT,
    large: float = LARGE,
    small: float = SMALL,
    grad_tol: float = GRAD_TOL,
    diverge_factor: float = DIVERGE_FACTOR,
) -> Diagnosis:
    """Classify a run from its per-step L(θ^t), ‖g^t‖ and cos(g^t, g^{t−1}) (the functional core
    of :meth:`Monitor.diagnose`; the criteria are in the module docstring).

    Args:
        loss, gradient_norm, gradient_cosine: one value per step, oldest first (units of L, of
            L per unit of θ, and a number in [−1, 1] or nan).
        window: the number of most recent steps the verdict is about, >= 2. A run with fewer
            records is diagnosed only when it diverged; otherwise ValueError.
        steps: the step number of each value (default 0, 1, …), for ``divergence_step``.
        lr: η of the steps, needed with ``hessian_max_eigenvalue``.
        hessian_max_eigenvalue: λ_max, a number or a callable returning it: the largest
            curvature across the valley — for a bounce between two walls, at its floor (the
            midpoint of two successive iterates). Checked only for ``oscillating``.
        critical: called when the gradient is small; returns an object with ``kind`` (a
            :class:`ravine.diagnose.critical.CriticalPoint`, or anything with that attribute and
            optionally ``min_eigenvalue``, ``max_eigenvalue``, ``minimum_ratio``,
            ``gradient_norm``).
        flat, large, small, grad_tol, diverge_factor: the thresholds (module docstring).

    ``evidence`` holds ``window``, ``steps_recorded``, ``loss_start``, ``loss_end``,
    ``relative_loss_change``, ``loss_best``, ``gradient_norm_initial``, ``gradient_norm_now``,
    ``gradient_norm_ratio``, ``mean_gradient_cosine``; when they apply ``divergence_step``,
    ``first_nonfinite_step``, ``lr``, ``max_eigenvalue``, ``lr_times_max_eigenvalue`` and the
    critical point's numbers.
    """
    _check_window(window)
    loss, norm, cosine = (
        np.asarray(a, dtype=np.float64).reshape(-1) for a in (loss, gradient_norm, gradient_cosine)
    )
    n = len(loss)
    if len(norm) != n or len(cosine) != n:
        raise ValueError(
            "loss, gradient_norm and gradient_cosine must have one value per step, got "
            f"{n}, {len(norm)} and {len(cosine)}"
        )
    if n == 0:
        raise ValueError("diagnose needs recorded steps, got none")
    steps = np.arange(n) if steps is None else np.asarray(steps).reshape(-1)
    if len(steps) != n:
        raise ValueError(f"steps must have one value per step ({n}), got {len(steps)}")
    _check_number(flat, "flat", "a number > 0", lambda v: v > 0)
    _check_number(large, "large", "a number > 0", lambda v: v > 0)
    _check_number(small, "small", f"a number in (0, large={large!r})", lambda v: 0 < v < large)
    _check_number(grad_tol, "grad_tol", "a number >= 0", lambda v: v >= 0)
    _check_number(diverge_factor, "diverge_factor", "a number > 1", lambda v: v > 1)
    if critical is not None and not callable(critical):
        raise TypeError(f"critical must be a callable returning a critical point, got {critical!r}")

    part = max(1, window // 4)
    recent = slice(n - window, n)
    finite = np.isfinite(loss) & np.isfinite(norm)
    evidence: dict[str, float] = {"window": float(window), "steps_recorded": float(n)}
    checks: dict[str, bool] = {}

    # 1. diverged: non-finite, or far above the best loss
    clean = int(np.argmin(finite)) if not finite.all() else n  # first non-finite step
    prefix = loss[:clean]
    floor = LOSS_FLOOR * abs(loss[0]) if np.isfinite(loss[0]) else 0.0
    onset = None
    if clean > 0:
        at_best = int(np.argmin(prefix))
        best = float(prefix[at_best])
        line = divergence_line(best, diverge_factor, floor)
        evidence["loss_best"] = best
        above = np.flatnonzero(prefix[at_best:] > line)
        onset = at_best + int(above[0]) if above.size else None
        risen = clean == n and float(np.median(loss[-part:])) > line
    else:
        risen = False
    checks["nonfinite"] = clean < n
    checks["risen"] = bool(risen)
    if clean < n or risen:
        evidence["loss_now"] = float(loss[-1])
        if clean < n:
            evidence["first_nonfinite_step"] = float(steps[clean])
        first = onset if onset is not None else clean
        if first >= n:  # risen in the tail around a late best: the first loss above the line
            first = int(np.flatnonzero(loss > line)[0])
        evidence["divergence_step"] = float(steps[first])
        remedy = REMEDIES["diverged"].format(divergence_step=int(steps[first]))
        return Diagnosis("diverged", evidence, remedy, checks)

    if n < window:  # (a divergence shows in fewer records; the rest needs the whole window)
        raise ValueError(
            f"diagnose needs at least window={window} recorded steps, got {n}; train longer or "
            f"pass a smaller window (>= {MIN_WINDOW})"
        )

    # the window's numbers
    head, tail = loss[recent][:part], loss[recent][-part:]
    start, end = float(head.mean()), float(tail.mean())
    scale = max(abs(start), floor, np.finfo(np.float64).tiny)
    change = float((end - start) / scale)
    initial = float(np.median(norm[:part]))
    now = float(np.median(norm[recent][-part:]))
    window_cosine = cosine[recent]
    known = window_cosine[np.isfinite(window_cosine)]
    mean_cosine = float(known.mean()) if known.size else math.nan
    evidence.update(
        loss_start=start,
        loss_end=end,
        relative_loss_change=change,
        gradient_norm_initial=initial,
        gradient_norm_now=now,
        gradient_norm_ratio=now / initial if initial > 0 else math.inf,
        mean_gradient_cosine=mean_cosine,
    )
    checks["flat"] = bool(abs(change) < flat)
    checks["gradient_small"] = bool(now < grad_tol or now < small * initial)
    checks["gradient_large"] = bool(now >= large * initial)
    checks["anticorrelated"] = bool(mean_cosine < 0)

    # 2. near a critical point
    if checks["gradient_small"]:
        if critical is None:
            return Diagnosis(
                "near a critical point", evidence, REMEDIES["near a critical point"], checks
            )
        point = critical()
        kind = getattr(point, "kind", None)
        if kind is None:
            raise TypeError(f"critical() must return an object with a kind, got {point!r}")
        for name in ("gradient_norm", "min_eigenvalue", "max_eigenvalue", "minimum_ratio"):
            value = getattr(point, name, None)
            if isinstance(value, numbers.Real):
                evidence[name if name != "gradient_norm" else "hessian_gradient_norm"] = float(
                    value
                )
        return Diagnosis(
            "near a critical point",
            evidence,
            _critical_remedy(str(kind), evidence),
            checks,
            str(kind),
        )

    # 3. oscillating
    overshoots = True
    if hessian_max_eigenvalue is not None:
        if lr is None:
            raise ValueError("hessian_max_eigenvalue needs lr, the η of the steps; got lr=None")
        top = (
            hessian_max_eigenvalue() if callable(hessian_max_eigenvalue) else hessian_max_eigenvalue
        )
        top = float(top) if isinstance(top, (torch.Tensor, np.ndarray)) and top.size == 1 else top
        _check_number(top, "hessian_max_eigenvalue", "a finite number", lambda v: True)
        evidence.update(lr=float(lr), max_eigenvalue=float(top), lr_times_max_eigenvalue=lr * top)
        overshoots = bool(lr * top >= OVERSHOOT)
        checks["overshoots"] = overshoots
    bouncing = checks["flat"] and checks["gradient_large"] and checks["anticorrelated"]
    if bouncing and overshoots:
        return Diagnosis("oscillating", evidence, REMEDIES["oscillating"], checks)

    # 4. progressing
    if bouncing:
        remedy = REMEDIES["stable curvature"]
    elif checks["flat"] and checks["gradient_large"]:
        remedy = REMEDIES["creeping"]
    elif change >= flat:
        remedy = REMEDIES["rising"]
    else:
        remedy = REMEDIES["progressing"]
    return Diagnosis(
        "progressing", evidence, remedy.format(**{**evidence, "window": window}), checks
    )


def _critical_remedy(kind: str, evidence: dict[str, float]) -> str:
    """The remedy for a critical point of this kind ("saddle point", "local minimum", …)."""
    text = kind.lower()
    values = {"min_eigenvalue": evidence.get("min_eigenvalue", math.nan)}
    for word, key in (
        ("saddle", "saddle point"),
        ("not critical", "not critical"),
        ("minim", "local minimum"),
        ("maxim", "local maximum"),
    ):
        if word in text:
            return REMEDIES[key].format(**values)
    return REMEDIES["near a critical point"]


# --- the guard --------------------------------------------------------------------------------


def divergence_line(best: float, factor: float, floor: float = 0.0) -> float:
    """The loss above which a run has diverged: L* + (factor − 1)·max(|L*|, floor), with L* the
    best loss so far (for L* > floor: factor × L*). ``floor`` (units of L) keeps the line above
    L* when L* is near 0."""
    return best + (factor - 1) * max(abs(best), floor)


@dataclass(frozen=True)
class Guard:
    """What stops a guarded :class:`Monitor` (``Monitor(model, optimizer, guard=Guard(...))``).

    Args:
        explode: stop when a loss exceeds the divergence line of the best loss so far, L* +
            (explode − 1)·max(|L*|, 10⁻⁶·|L⁰|) — for positive losses, ``explode`` × L* — the
            doctor's own line (default :data:`DIVERGE_FACTOR` = 10). A number > 1, or None to
            stop only on non-finite numbers.
        keep_every: copy θ and the optimizer's state every this many steps (an integer >= 1;
            default 1). :meth:`Monitor.restore` goes back to the last copy whose loss was good,
            at most ``keep_every`` steps before the stop; a larger k copies less often.

    A non-finite gradient always stops the step before its update; a non-finite loss always
    stops training.
    """

    explode: float | None = DIVERGE_FACTOR
    keep_every: int = 1

    def __post_init__(self) -> None:
        if self.explode is not None:
            _check_number(self.explode, "explode", "a number > 1 or None", lambda v: v > 1)
        _check_count(self.keep_every, "keep_every", 1)


class TrainingStopped(FloatingPointError):
    """A guarded :class:`Monitor` stopped training.

    ``step`` is the monitor's step t that was stopped; ``reason`` says why; ``loss`` is L(θ^t)
    (None when the step was stopped before its loss was recorded); ``parameter`` names the first
    parameter (in ``model.named_parameters()`` order) with a non-finite gradient, or is None;
    ``diagnosis`` is the doctor's verdict on the record so far; ``restored_step`` is the step
    :meth:`restore` goes back to (None when no good state was kept). ``restore()`` is
    :meth:`Monitor.restore`.
    """

    def __init__(
        self,
        monitor: Monitor,
        step: int,
        reason: str,
        diagnosis: Diagnosis,
        *,
        loss: float | None = None,
        parameter: str | None = None,
    ) -> None:
        self.monitor, self.step, self.reason, self.diagnosis = monitor, step, reason, diagnosis
        self.loss, self.parameter = loss, parameter
        kept = monitor._guard_good
        self.restored_step = None if kept is None else kept.step
        back = (
            "No state to go back to: no kept step had a good loss before this one."
            if kept is None
            else "To go back: monitor.restore() (or this exception's restore()) puts back θ and "
            f"the optimizer's state of step {kept.step}, the last kept step with a good loss."
        )
        super().__init__(
            f"training stopped at step {step}: {reason}; the doctor says {diagnosis.verdict}: "
            f"{diagnosis.remedy} {back}"
        )

    def restore(self) -> int:
        """Put back the last good state (:meth:`Monitor.restore`); returns its step."""
        return self.monitor.restore()


@dataclass
class _Kept:
    """A copy of what an update changes, taken before the update of ``step``: θ and the model's
    buffers, the optimizer's per-parameter state, its groups' hyperparameters."""

    step: int
    targets: list[torch.Tensor]  # every parameter the optimizer updates, the model's buffers
    tensors: list[torch.Tensor]  # their copies
    state: dict[torch.Tensor, dict[str, Any]]
    groups: list[dict[str, Any]]
    skipped_steps: int | None


# --- the monitor ------------------------------------------------------------------------------


class Monitor:
    """Record every optimizer step of ``model`` and diagnose the run (see the module docstring).

    Args:
        model: the network; its trainable parameters that ``optimizer`` updates are watched,
            named by ``model.named_parameters()``.
        optimizer: any ``torch.optim.Optimizer``; with a ravine
            :class:`~ravine.optim.Optimizer` the effective learning rates are recorded too.
        csv: a path: write one row per record there (a header of the record's keys first).
        tensorboard: a log directory: write every number of a record as a TensorBoard scalar
            (needs the ``tensorboard`` package).
        effective_lr_every: sample η^t/σ_i^t every this many steps (an integer >= 0; 0: never).
        layers: record per-parameter numbers too (``gradient_norm/<name>``, …).
        log_every: write every this many records to the CSV file and TensorBoard (>= 1); the
            history in memory always has every record.
        guard: stop training on a non-finite gradient or loss or an exploding loss, raising
            :class:`TrainingStopped`, and keep the last good state for :meth:`restore` (module
            docstring, "The guard"): True (a :class:`Guard` with its defaults), a Guard, or
            None/False (default: no guard, nothing is checked or copied).

    Call :meth:`close` (or use ``with Monitor(...) as monitor:``) to remove the hooks and close
    the files.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        csv: str | Path | None = None,
        tensorboard: str | Path | None = None,
        every: int = EVERY,
        effective_lr_every: int = EFFECTIVE_LR_EVERY,
        layers: bool = True,
        log_every: int = 1,
        guard: bool | Guard | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        _check_count(every, "every", 1)
        _check_count(effective_lr_every, "effective_lr_every", 0)
        _check_count(log_every, "log_every", 1)
        if not isinstance(layers, bool):
            raise ValueError(f"layers must be True or False, got {layers!r}")
        if guard is not None and not isinstance(guard, (bool, Guard)):
            raise ValueError(
                "guard must be True, False, None or a Guard(explode=..., keep_every=...), got "
                f"{guard!r}"
            )
        named = list(model.named_parameters())
        trainable = [(name, p) for name, p in named if p.requires_grad]
        if not trainable:
            raise ValueError(
                f"model has no trainable parameters (requires_grad=True): {len(named)} "
                "parameters, none trainable; the Monitor records gradients and updates of "
                "trainable parameters"
            )
        updated = {id(p) for group in optimizer.param_groups for p in group["params"]}
        watched = [(name, p) for name, p in trainable if id(p) in updated]
        if not watched:
            raise ValueError(
                f"none of the model's {len(trainable)} trainable parameters is in the "
                "optimizer's param_groups; pass the optimizer that updates this model"
            )
        self.model, self.optimizer = model, optimizer
        self.names = [name for name, _ in watched]
        self.parameters = [p for _, p in watched]
        self.every, self.layers, self.log_every = every, layers, log_every
        self.history: list[dict[str, float]] = []

        self._rule = isinstance(optimizer, RuleOptimizer) and not optimizer.scale_first
        self.effective_lr_every = effective_lr_every if self._rule else 0
        self._offsets = (
            dict(zip(self.parameters, self._sample_offsets(), strict=True))
            if self.effective_lr_every
            else {}
        )

        self._snapshot = [torch.empty_like(p, requires_grad=False) for p in self.parameters]
        self._kept: list[torch.Tensor] | None = None  # g^{t−1}, for the step after it
        self._kept_norms: list[torch.Tensor] = []  # ‖g_p^{t−1}‖
        self._kept_step = -2  # the t − 1 of _kept
        self._copy_gradients = False  # gradient buffers are reused in place: keep copies
        self._reuse_known = False  # whether the loop reuses its gradient buffers is known yet
        self._kept_ptrs: list[int] | None = None  # where the copied g^{t−1} lived, to find out
        self._copies: list[torch.Tensor] | None = None  # the copies' buffers
        self._before: tuple | None = None  # what the pre-hook read
        self._pending: tuple | None = None  # the step's numbers, awaiting the loss
        self._sampling = False  # η/σ is sampled on this step
        self._count = 0  # optimizer steps seen
        self.guard = Guard() if guard is True else guard or None
        self._guard_good: _Kept | None = None  # the last kept state whose loss was good
        self._guard_pending: _Kept | None = None  # kept before the update in flight
        self._guard_spare: _Kept | None = None  # a copy's tensors, to reuse
        self._guard_best: float | None = None  # L*, over the records folded in so far
        self._guard_seen = 0  # records folded into L*

        self.columns = self._columns()
        # gradient_norm/<name>, gradient_cosine/<name>, update_norm/…, weight_norm/…, update_ratio/…
        self._layer_keys = [tuple(f"{key}/{name}" for key in LAYER_KEYS) for name in self.names]
        self._csv_file = self._csv_writer = self._tensorboard = None
        if csv is not None:
            self._csv_file = open(csv, "w", newline="")  # closed by close()
            self._csv_writer = _csv.writer(self._csv_file)
            self._csv_writer.writerow(self.columns)
            self._csv_file.flush()
        if tensorboard is not None:
            self._tensorboard = _summary_writer(tensorboard)
        self._handles = [
            optimizer.register_step_pre_hook(self._before_step),
            optimizer.register_step_post_hook(self._after_step),
        ]

    # --- the hooks ----------------------------------------------------------------------------

    @torch.no_grad()
    def _before_step(self, optimizer, args, kwargs) -> None:
        """Inside optimizer.step(), before the update: ‖g^t‖; on a detailed step also
        ⟨g^t, g^{t−1}⟩, ‖θ^t‖ and a copy of θ^t."""
        t, params = self._count, self.parameters
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        grads = [g.to_dense() if g.is_sparse else g for g in grads]
        norms = torch._foreach_norm(grads)  # ‖g_p^t‖
        if self.guard is not None:  # (may raise: before anything has changed)
            self._guard_before(t, grads, norms)
        dots = weights = None
        if t % self.every == 0:
            kept = self._kept if self._kept_step == t - 1 else None
            if kept is not None and self._kept_ptrs is not None:  # the first comparison decides
                reused = any(g.data_ptr() == q for g, q in zip(grads, self._kept_ptrs, strict=True))
                self._copy_gradients, self._reuse_known, self._kept_ptrs = reused, True, None
            elif kept is not None and not self._copy_gradients:
                if any(g.data_ptr() == q.data_ptr() for g, q in zip(grads, kept, strict=True)):
                    # zero_grad(set_to_none=False), accumulation or bucket views: g^{t−1} was
                    # overwritten in place; from now on it is copied
                    self._copy_gradients, kept = True, None
            if kept is not None:
                pairs = zip(grads, kept, strict=True)
                dots = [torch.dot(g.reshape(-1), q.reshape(-1)) for g, q in pairs]
                dots += self._kept_norms  # ‖g_p^{t−1}‖
            weights = torch._foreach_norm(params)  # ‖θ_p^t‖
            torch._foreach_copy_(self._snapshot, params)  # θ^t
        self._before = (t, norms, weights, dots)
        self._kept = None
        if (t + 1) % self.every == 0:  # g^t is needed at step t + 1
            if self._reuse_known and not self._copy_gradients:
                self._kept = grads  # by reference: zero_grad() replaces them by new tensors
            else:  # copied — and, the first time, compared with the next gradients' buffers
                if self._copies is None:
                    self._copies = [torch.empty_like(g) for g in grads]
                torch._foreach_copy_(self._copies, grads)
                self._kept = self._copies
                if not self._reuse_known:
                    self._kept_ptrs = [g.data_ptr() for g in grads]
            self._kept_norms, self._kept_step = norms, t
        if self.effective_lr_every:  # (set on every step: a step that raised left it set)
            self._sampling = t % self.effective_lr_every == 0
            optimizer.sigma_record = _SigmaSample(self._offsets) if self._sampling else None

    @torch.no_grad()
    def _after_step(self, optimizer, args, kwargs) -> None:
        """Inside optimizer.step(), after the update: ‖θ^t − θ^{t+1}‖ on a detailed step, and
        η^t/σ_i^t on a sampled one; the numbers wait for monitor.step(loss)."""
        if self._before is None:
            return  # a step whose pre-hook did not run: nothing to record
        t, norms, weights, dots = self._before
        self._before = None
        values = list(norms)
        if weights is not None:
            torch._foreach_sub_(self._snapshot, self.parameters)  # θ^t − θ^{t+1} = −Δθ^t
            values += weights + torch._foreach_norm(self._snapshot)  # ‖θ_p^t‖, ‖Δθ_p^t‖
            if dots is not None:
                values += dots
        summary = None
        if self._sampling:
            summary = self._effective_lr_summary(optimizer.sigma_record)
            optimizer.sigma_record, self._sampling = None, False
        self._pending = (t, values, weights is not None, dots is not None, summary)
        self._count += 1

    def _effective_lr_summary(self, record: _SigmaSample | None) -> list[float]:
        """[min, q05, q25, median, q75, q95, max] of η^t/σ_i^t over every parameter entry i:
        min and max exact, the quantiles from the fixed sample of entries."""
        if record is None or any(p not in record for p in self.parameters):
            return [math.nan] * len(EFFECTIVE_LR_KEYS)  # a skipped step, a missing gradient
        rates, extremes, picked = zip(*(record[p] for p in self.parameters), strict=True)
        sigma = torch.cat(picked).double().cpu().numpy()
        lows, highs = torch.stack(extremes).double().cpu().numpy().T  # min σ, max σ
        rates = np.asarray(rates, dtype=np.float64)
        with np.errstate(divide="ignore"):  # σ = 0: an infinite effective learning rate
            sample = np.repeat(rates, [len(x) for x in picked]) / sigma  # η^t/σ_i^t
            smallest, largest = float(np.min(rates / highs)), float(np.max(rates / lows))
        return [smallest, *_quantiles(sample), largest]

    def _sample_offsets(self) -> list[torch.Tensor | None]:
        """Fixed entries of each parameter the effective-lr quantiles are read from: all of them
        when the model has at most EFFECTIVE_LR_SAMPLE, else that many drawn uniformly (seed 0)."""
        sizes = [p.numel() for p in self.parameters]
        total = sum(sizes)
        if total <= EFFECTIVE_LR_SAMPLE:
            return [None] * len(sizes)
        generator = torch.Generator().manual_seed(0)
        picks = torch.randint(total, (EFFECTIVE_LR_SAMPLE,), generator=generator).sort().values
        ends = torch.tensor(sizes).cumsum(0)
        owner = torch.bucketize(picks, ends, right=True)
        starts = ends - torch.tensor(sizes)
        return [(picks[owner == i] - starts[i]).to(p.device) for i, p in enumerate(self.parameters)]

    # --- the record ---------------------------------------------------------------------------

    def step(self, loss: torch.Tensor | float) -> dict[str, float]:
        """Record the step just taken: ``loss`` is L(θ^t), the loss whose gradient
        ``optimizer.step()`` used (a number or a one-element tensor). Returns the record."""
        if self._pending is None:
            raise RuntimeError(
                "monitor.step(loss) needs an optimizer.step() since the last monitor.step(): "
                "call it once per step, after optimizer.step()"
                + (" (the last optimizer.step() did not complete)" if self._before else "")
            )
        t, tensors, detailed, cosines, summary = self._pending
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                raise ValueError(
                    f"loss must be one number, got a tensor of shape {tuple(loss.shape)}"
                )
            values = torch.stack([loss.detach().reshape(()), *tensors]).tolist()
        elif isinstance(loss, numbers.Real) and not isinstance(loss, bool):
            values = [float(loss), *torch.stack(tensors).tolist()]
        else:
            raise TypeError(f"loss must be a number or a one-element tensor, got {loss!r}")
        self._pending = None  # (the .tolist() above is the step's one host sync)
        record = self._record(t, values, detailed, cosines, summary)
        self.history.append(record)
        if len(self.history) % self.log_every == 0:
            self._write(record)
        if self.guard is not None:  # (may raise: the record is kept, the verdict reads it)
            self._guard_after(t, record["loss"])
        return record

    def _record(
        self,
        t: int,
        values: list[float],
        detailed: bool,
        cosines: bool,
        summary: list[float] | None,
    ) -> dict[str, float]:
        """The record of step t from L^t and the per-parameter numbers: ‖g_p^t‖, and on a
        detailed step ‖θ_p^t‖, ‖Δθ_p^t‖, ⟨g_p^t, g_p^{t−1}⟩, ‖g_p^{t−1}‖."""
        count = len(self.parameters)
        nan = [math.nan] * count
        g, w, u, d, h = (values[1 + i * count : 1 + (i + 1) * count] for i in range(5))
        if not detailed:
            w = u = nan
        if not cosines:
            d = h = nan
        gradient, weight, update = _norm(g), _norm(w), _norm(u)
        record: dict[str, float] = {
            "step": t,
            "loss": values[0],
            "gradient_norm": gradient,
            "gradient_cosine": _ratio(sum(d), gradient * _norm(h)),  # cos(g^t, g^{t−1})
            "update_norm": update,
            "weight_norm": weight,
            "update_ratio": _ratio(update, weight),  # ‖Δθ^t‖/‖θ^t‖
        }
        if self.effective_lr_every:
            record.update(zip(EFFECTIVE_LR_KEYS, summary or nan[:1] * 7, strict=True))
        if self.layers:
            for keys, gi, wi, ui, di, hi in zip(self._layer_keys, g, w, u, d, h, strict=True):
                record[keys[0]] = gi
                record[keys[1]] = _ratio(di, gi * hi)
                record[keys[2]] = ui
                record[keys[3]] = wi
                record[keys[4]] = _ratio(ui, wi)
        return record

    def _columns(self) -> list[str]:
        columns = [
            "step",
            "loss",
            "gradient_norm",
            "gradient_cosine",
            "update_norm",
            "weight_norm",
            "update_ratio",
        ]
        if self.effective_lr_every:
            columns += EFFECTIVE_LR_KEYS
        if self.layers:
            columns += [f"{key}/{name}" for name in self.names for key in LAYER_KEYS]
        return columns

    def _write(self, record: dict[str, float]) -> None:
        if self._csv_writer is not None:
            self._csv_writer.writerow([record[key] for key in self.columns])
            self._csv_file.flush()
        if self._tensorboard is not None:
            step = record["step"]
            for key in self.columns[1:]:
                value = record[key]
                if math.isfinite(value) or key == "loss":
                    self._tensorboard.add_scalar(key, value, step)

    # --- reading it back ----------------------------------------------------------------------

    def series(self, key: str) -> np.ndarray:
        """The values of one record key over the history, oldest first (float64)."""
        if key not in self.columns:
            raise KeyError(f"no record key {key!r}; the keys are: {', '.join(self.columns)}")
        return np.array([record[key] for record in self.history], dtype=np.float64)

    @property
    def steps(self) -> np.ndarray:
        return self.series("step").astype(np.int64)

    @property
    def loss(self) -> np.ndarray:
        """L(θ^t) per record."""
        return self.series("loss")

    @property
    def gradient_norm(self) -> np.ndarray:
        """‖g^t‖ per record."""
        return self.series("gradient_norm")

    @property
    def gradient_cosine(self) -> np.ndarray:
        """cos(g^t, g^{t−1}) per record (nan on the first)."""
        return self.series("gradient_cosine")

    @property
    def update_norm(self) -> np.ndarray:
        """‖Δθ^t‖ per record."""
        return self.series("update_norm")

    @property
    def update_ratio(self) -> np.ndarray:
        """‖Δθ^t‖/‖θ^t‖ per record."""
        return self.series("update_ratio")

    def diagnose(
        self,
        window: int = 100,
        *,
        critical: Callable[[], Any] | tuple | None = None,
        hessian_max_eigenvalue: float | Callable[[], float] | None = None,
        flat: float = FLAT,
        large: float = LARGE,
        small: float = SMALL,
        grad_tol: float = GRAD_TOL,
        diverge_factor: float = DIVERGE_FACTOR,
    ) -> Diagnosis:
        """Why the loss is (not) falling over the last ``window`` records (criteria in the module
        docstring; :func:`diagnose_training` documents ``evidence``).

        ``critical`` decides the kind of a critical point when the gradient is small: a callable
        returning a :class:`~ravine.diagnose.critical.CriticalPoint` (or anything with ``kind``),
        or a tuple ``(loss_fn, inputs, targets)``, which calls
        ``classify_critical_point(model, loss_fn, inputs, targets, grad_tol=grad_tol)`` at θ now.
        ``hessian_max_eigenvalue`` is λ_max (a number or a callable); η is the optimizer's
        largest group ``lr`` (for σ = 1, plain gradient descent, the test η·λ_max ≥ 2 is exact).
        """
        if isinstance(critical, tuple):
            critical = self._hessian_check(critical, grad_tol)
        lr = max(float(group["lr"]) for group in self.optimizer.param_groups)
        return diagnose_training(
            self.loss,
            self.gradient_norm,
            self.gradient_cosine,
            window=window,
            steps=self.steps,
            lr=lr,
            hessian_max_eigenvalue=hessian_max_eigenvalue,
            critical=critical,
            flat=flat,
            large=large,
            small=small,
            grad_tol=grad_tol,
            diverge_factor=diverge_factor,
        )

    def _hessian_check(self, batch: tuple, grad_tol: float) -> Callable[[], Any]:
        if len(batch) != 3:
            raise ValueError(
                f"critical must be a callable or a tuple (loss_fn, inputs, targets), got a tuple "
                f"of {len(batch)}"
            )
        loss_fn, inputs, targets = batch

        def check() -> Any:
            from .critical import classify_critical_point  # imported only when needed

            return classify_critical_point(self.model, loss_fn, inputs, targets, grad_tol=grad_tol)

        return check

    # --- saving and resuming ------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to record on as if it had never stopped: the history, the
        step count t, and g^{t−1} with its per-parameter norms while the next step's
        cos(g^t, g^{t−1}) still needs them (copies; one gradient at most). Take it after
        ``monitor.step(loss)`` and save it with ``torch.save`` beside the model's and the
        optimizer's; it loads with ``torch.load(path, weights_only=True)``.
        """
        if self._pending is not None:
            raise RuntimeError(
                "state_dict() between optimizer.step() and monitor.step(loss) would lose the "
                f"record of step {self._pending[0]}: call monitor.step(loss) first"
            )
        kept = None if self._kept is None else [g.detach().clone() for g in self._kept]
        return {
            "names": list(self.names),
            "columns": list(self.columns),
            "history": [dict(record) for record in self.history],
            "steps": self._count,
            "kept_gradients": kept,  # g^{t−1}, or None when no step needs it
            "kept_norms": [] if kept is None else [n.clone() for n in self._kept_norms],
            "kept_step": self._kept_step,  # the t − 1 of kept_gradients
            "copy_gradients": self._copy_gradients,
            "reuse_known": self._reuse_known,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Go on from a saved :meth:`state_dict`, in a fresh Monitor (no step recorded yet) of
        the same parameter names and record keys (``layers``, and ``effective_lr_every`` with a
        ravine optimizer, as saved). The loaded records are written again to this Monitor's
        CSV file, which it began anew; TensorBoard keeps the earlier event files in its log
        directory, so nothing is written there again."""
        if self._count or self.history or self._pending is not None:
            raise RuntimeError(
                f"load_state_dict needs a Monitor that has recorded nothing; this one has seen "
                f"{self._count} steps: build a fresh Monitor to resume into"
            )
        keys = {"names", "columns", "history", "steps", "kept_gradients", "kept_norms"}
        missing = sorted((keys | {"kept_step", "copy_gradients"}) - set(state_dict))
        if missing:
            raise ValueError(f"not a Monitor state_dict: it lacks {', '.join(missing)}")
        if list(state_dict["names"]) != self.names:
            raise ValueError(
                f"this state was saved by a Monitor of the parameters {state_dict['names']}, "
                f"but this one watches {self.names}"
            )
        if list(state_dict["columns"]) != self.columns:
            differ = sorted(set(state_dict["columns"]) ^ set(self.columns))
            raise ValueError(
                f"this state's records have other keys than this Monitor's ({', '.join(differ)} "
                "in one of them only): build it with the saved layers and effective_lr_every"
            )
        kept, norms = state_dict["kept_gradients"], state_dict["kept_norms"]
        if kept is not None:  # g^{t−1} and ‖g_p^{t−1}‖, on the parameters' devices
            kept = [g.to(p.device) for g, p in zip(kept, self.parameters, strict=True)]
            norms = [n.to(p.device) for n, p in zip(norms, self.parameters, strict=True)]
        self._kept, self._kept_norms = kept, list(norms)
        self._kept_step = int(state_dict["kept_step"])
        self._copy_gradients = bool(state_dict["copy_gradients"])
        self._reuse_known = bool(state_dict.get("reuse_known", False))
        self._count = int(state_dict["steps"])
        self.history = [dict(record) for record in state_dict["history"]]
        if self._csv_writer is not None:
            for index, record in enumerate(self.history, start=1):
                if index % self.log_every == 0:  # the rows the saved Monitor wrote
                    self._csv_writer.writerow([record[key] for key in self.columns])
            self._csv_file.flush()

    # --- the guard ----------------------------------------------------------------------------

    def _guard_before(self, t: int, grads: list[torch.Tensor], norms: list[torch.Tensor]) -> None:
        """In the pre-hook, before the update: stop on a non-finite gradient (raising here, inside
        optimizer.step(), means the update never runs), else copy θ^t and the optimizer's state
        on a kept step."""
        if not bool(torch.isfinite(torch.stack(norms)).all()):  # the guard's one host sync
            for name, g in zip(self.names, grads, strict=True):
                finite = torch.isfinite(g)
                if not bool(finite.all()):
                    bad = int(finite.numel() - finite.sum())
                    reason = (
                        f"non-finite gradient in parameter {name!r} ({bad} of {g.numel()} "
                        "entries are nan or inf), so the update was not applied and the loss "
                        "of this step was not recorded"
                    )
                    norm = _norm([float(n) for n in norms])
                    self._stop(t, reason, parameter=name, gradient_norm=norm)
            # every entry finite, only a norm overflowed: not a reason to stop
        if t % self.guard.keep_every == 0:
            reuse = self._guard_pending or self._guard_spare
            self._guard_pending = self._keep(t, reuse)
            self._guard_spare = None

    def _guard_after(self, t: int, loss: float) -> None:
        """In monitor.step(loss): stop on a non-finite or exploding L(θ^t); else L(θ^t) is good,
        and the copy taken before step t's update becomes the one to restore."""
        pending, self._guard_pending = self._guard_pending, None
        for record in self.history[self._guard_seen : len(self.history) - 1]:  # L* before t
            if math.isfinite(record["loss"]):
                best = self._guard_best
                self._guard_best = record["loss"] if best is None else min(best, record["loss"])
        self._guard_seen = len(self.history) - 1
        best, explode = self._guard_best, self.guard.explode
        reason = None
        if not math.isfinite(loss):
            reason = f"the loss is {loss}"
        elif explode is not None and best is not None:
            first = self.history[0]["loss"]
            floor = LOSS_FLOOR * abs(first) if math.isfinite(first) else 0.0
            line = divergence_line(best, explode, floor)
            if loss > line:
                reason = (
                    f"the loss exploded: {loss:.6g} is above {line:.6g}, the divergence line "
                    f"(explode={explode:g}) over the best loss so far, {best:.6g}"
                )
        if reason is not None:
            self._guard_spare = pending or self._guard_spare
            self._stop(t, reason, loss=loss)
        if pending is not None and pending.step == t:
            self._guard_spare, self._guard_good = self._guard_good, pending

    def _stop(
        self,
        t: int,
        reason: str,
        *,
        loss: float | None = None,
        parameter: str | None = None,
        gradient_norm: float | None = None,
    ) -> None:
        """Raise TrainingStopped with the doctor's verdict on the record so far (a step stopped
        before its loss was recorded counts with loss nan and its gradient norm)."""
        losses, norms = list(self.loss), list(self.gradient_norm)
        cosines, steps = list(self.gradient_cosine), list(self.steps)
        if loss is None:
            losses, norms = [*losses, math.nan], [*norms, gradient_norm]
            cosines, steps = [*cosines, math.nan], [*steps, t]
        window = default_window(len(losses))
        diagnosis = diagnose_training(
            losses,
            norms,
            cosines,
            window=window,
            steps=steps,
            diverge_factor=self.guard.explode or DIVERGE_FACTOR,
        )
        raise TrainingStopped(self, t, reason, diagnosis, loss=loss, parameter=parameter)

    def _guarded_tensors(self) -> list[torch.Tensor]:
        """What an update (and the forward pass before it) changes: every parameter the
        optimizer updates and the model's buffers (batch-norm statistics)."""
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        return params + list(self.model.buffers())

    @torch.no_grad()
    def _keep(self, t: int, reuse: _Kept | None) -> _Kept:
        """Copy θ^t, the model's buffers, the optimizer's state and hyperparameters, into the
        tensors of ``reuse`` wherever they fit."""
        targets = self._guarded_tensors()
        old = reuse.tensors if reuse is not None and len(reuse.tensors) == len(targets) else []
        tensors = [
            b if _fits(b, x) else torch.empty_like(x)
            for b, x in zip(old or [None] * len(targets), targets, strict=True)
        ]
        destinations, sources = list(tensors), list(targets)
        state: dict[torch.Tensor, dict[str, Any]] = {}
        for param, entries in self.optimizer.state.items():
            previous = reuse.state.get(param, {}) if reuse is not None else {}
            saved: dict[str, Any] = {}
            for key, value in entries.items():
                if isinstance(value, torch.Tensor):
                    buffer = previous.get(key)
                    saved[key] = buffer if _fits(buffer, value) else torch.empty_like(value)
                    destinations.append(saved[key])
                    sources.append(value)
                else:
                    saved[key] = copy.deepcopy(value)
            state[param] = saved
        _copy_all(destinations, sources)
        groups = [
            {key: value for key, value in group.items() if key != "params"}
            for group in self.optimizer.param_groups
        ]
        skipped = getattr(self.optimizer, "skipped_steps", None)
        return _Kept(t, targets, tensors, state, groups, skipped)

    @torch.no_grad()
    def restore(self) -> int:
        """Put back what the guard kept before the update of the last kept step s whose loss was
        good: θ, the model's buffers, the optimizer's per-parameter state and its groups'
        hyperparameters (η included), bit for bit, and this monitor's record up to step s − 1.
        Returns s; the next ``optimizer.step()`` redoes step s (take a smaller η first, say).

        Records from step s on are dropped (the CSV file and TensorBoard keep what was
        written). The buffers are those of when step s's update began, after its forward pass:
        a redone step s counts its batch in batch-norm's running statistics twice. Groups added
        after s keep their hyperparameters; an LR scheduler's own count is not the monitor's to
        restore. Needs a guarded monitor with a good state kept.
        """
        if self.guard is None:
            raise RuntimeError(
                "restore() needs a guarded Monitor: Monitor(model, optimizer, guard=True)"
            )
        kept = self._guard_good
        if kept is None:
            raise RuntimeError(
                "nothing to restore: no kept step has had a good loss yet (with "
                f"keep_every={self.guard.keep_every}, copies are taken on steps 0, "
                f"{self.guard.keep_every}, …)"
            )
        optimizer = self.optimizer
        destinations, sources = list(kept.targets), list(kept.tensors)
        for param in [p for p in optimizer.state if p not in kept.state]:
            del optimizer.state[param]  # it had no state yet at step s
        for param, saved in kept.state.items():
            current = optimizer.state[param]
            for key in [k for k in current if k not in saved]:
                del current[key]
            for key, value in saved.items():
                now = current.get(key)
                if not isinstance(value, torch.Tensor):
                    current[key] = copy.deepcopy(value)
                elif _fits(now, value):  # in place: views of the state stay views
                    destinations.append(now)
                    sources.append(value)
                else:
                    current[key] = value.clone()
        _copy_all(destinations, sources)
        for group, saved in zip(optimizer.param_groups, kept.groups, strict=False):
            group.update(saved)
        if kept.skipped_steps is not None:
            optimizer.skipped_steps = kept.skipped_steps
        self.history = [record for record in self.history if record["step"] < kept.step]
        self._count = kept.step
        self._before = self._pending = self._guard_pending = None
        self._kept, self._kept_norms, self._kept_step = None, [], -2
        self._guard_best, self._guard_seen = None, 0
        if self.effective_lr_every:
            self._sampling = False
            optimizer.sigma_record = None
        return kept.step

    # --- the end ------------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the hooks and close the CSV file and the TensorBoard writer."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if isinstance(self.optimizer, RuleOptimizer):
            self.optimizer.sigma_record = None
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv_file = self._csv_writer = None
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<Monitor of {len(self.parameters)} parameters, {len(self.history)} records, "
            f"effective lr every {self.effective_lr_every or 'never'}>"
        )


# --- helpers ----------------------------------------------------------------------------------


class _SigmaSample(dict):
    """The ``sigma_record`` a Monitor gives a ravine Optimizer on a sampled step. The optimizer
    stores (η^t, σ^t) per parameter; this dict keeps only what the summary needs — η^t,
    (min σ, max σ) and σ at the sampled entries — so each σ^t is freed as soon as its
    parameter's update is done, as it is without a monitor."""

    def __init__(self, offsets: dict[torch.Tensor, torch.Tensor | None]) -> None:
        super().__init__()
        self._offsets = offsets  # parameter → its sampled entries (None: all of them)

    def __setitem__(self, param: torch.Tensor, value: tuple) -> None:
        if param not in self._offsets:
            return  # a parameter the monitor does not watch
        lr, sigma = value
        if sigma is None:  # σ = 1
            sigma = torch.ones((), dtype=param.dtype, device=param.device)
        flat = torch.broadcast_to(sigma, param.shape).reshape(-1)
        offsets = self._offsets[param]
        picked = flat.clone() if offsets is None else flat[offsets]
        super().__setitem__(param, (float(lr), torch.stack(torch.aminmax(flat)), picked))


def _summary_writer(logdir: str | Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:  # tensorboard is an optional dependency
        raise ImportError(
            "Monitor(tensorboard=...) needs the tensorboard package, which is not installed: "
            "pip install tensorboard (or pip install 'ravine[tensorboard]')"
        ) from error
    return SummaryWriter(log_dir=str(logdir))


def _quantiles(values: np.ndarray) -> list[float]:
    """The EFFECTIVE_LR_QUANTILES of ``values``, interpolated linearly between order statistics
    (numpy's default method; one sort is faster than numpy's partition for several levels)."""
    ordered = np.sort(values)
    levels = np.array([q for _, q in EFFECTIVE_LR_QUANTILES]) * (len(ordered) - 1)
    return np.interp(levels, np.arange(len(ordered)), ordered).tolist()


def _fits(buffer: torch.Tensor | None, value: torch.Tensor) -> bool:
    """True when ``buffer`` can take a copy of ``value`` in place."""
    return (
        isinstance(buffer, torch.Tensor)
        and buffer.shape == value.shape
        and buffer.dtype == value.dtype
        and buffer.device == value.device
    )


def _copy_all(destinations: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    """destination ← source for each pair, in one fused call."""
    if destinations:
        torch._foreach_copy_(destinations, sources)


def _norm(values: list[float]) -> float:
    """sqrt(Σ x²): the norm of all parameters from the norms of each."""
    return math.sqrt(sum(x * x for x in values))


def _ratio(top: float, bottom: float) -> float:
    """top/bottom; nan when bottom is 0 (inf when only bottom is)."""
    if bottom == 0:
        return math.nan if top == 0 else math.inf
    return top / bottom


def _check_window(window: Any) -> None:
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < MIN_WINDOW:
        raise ValueError(f"window must be an integer >= {MIN_WINDOW}, got {window!r}")


def _check_count(value: Any, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_number(value: Any, name: str, domain: str, ok: Callable[[float], bool]) -> None:
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (real and math.isfinite(value) and ok(float(value))):
        raise ValueError(f"{name} must be {domain}, got {value!r}")
