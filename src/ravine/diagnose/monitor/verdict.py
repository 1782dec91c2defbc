"""The doctor's reading of a recorded run: why the loss stopped falling.

The lecture's first warning is that *training stuck ≠ small gradient*: when the loss curve goes
flat, people assume θ sits at a critical point (‖∇L‖ ≈ 0), but often the norm of the gradient
is still large — θ is bouncing between the walls of a valley, and each step overshoots. The
two cases need opposite remedies; the numbers the recorder keeps tell them apart, and
:func:`diagnose_training` reads them.

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

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...validation import check_count, is_real, require

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
    loss, norm, cosine, steps = _per_step(loss, gradient_norm, gradient_cosine, steps, window)
    _check_thresholds(flat, large, small, grad_tol, diverge_factor)
    if critical is not None and not callable(critical):
        raise TypeError(f"critical must be a callable returning a critical point, got {critical!r}")

    floor = LOSS_FLOOR * abs(loss[0]) if np.isfinite(loss[0]) else 0.0  # the scale of L near 0
    evidence: dict[str, float] = {"window": float(window), "steps_recorded": float(len(loss))}
    checks: dict[str, bool] = {}
    # 1. diverged: non-finite, or far above the best loss
    diverged = _diverged(loss, norm, steps, window, diverge_factor, floor, evidence, checks)
    if diverged is not None:
        return diverged
    if len(loss) < window:  # (a divergence shows in fewer records; the rest needs the whole window)
        raise ValueError(
            f"diagnose needs at least window={window} recorded steps, got {len(loss)}; train "
            f"longer or pass a smaller window (>= {MIN_WINDOW})"
        )
    # the window's numbers, and what they say of the loss and the gradient
    evidence.update(_window_numbers(loss, norm, cosine, window, floor))
    change, now = evidence["relative_loss_change"], evidence["gradient_norm_now"]
    initial = evidence["gradient_norm_initial"]
    checks["flat"] = bool(abs(change) < flat)
    checks["gradient_small"] = bool(now < grad_tol or now < small * initial)
    checks["gradient_large"] = bool(now >= large * initial)
    checks["anticorrelated"] = bool(evidence["mean_gradient_cosine"] < 0)
    if checks["gradient_small"]:  # 2. near a critical point
        return _near_critical_point(critical, evidence, checks)
    oscillating = _oscillating(lr, hessian_max_eigenvalue, evidence, checks)  # 3. bouncing
    if oscillating is not None:
        return oscillating
    return _progressing(window, flat, evidence, checks)  # 4. nothing says stuck


def _check_thresholds(
    flat: float, large: float, small: float, grad_tol: float, diverge_factor: float
) -> None:
    """Each threshold of the stuck classifier in its domain (``small`` below ``large``)."""
    require(is_real(flat) and flat > 0, "flat", flat, "a number > 0")
    require(is_real(large) and large > 0, "large", large, "a number > 0")
    require(
        is_real(small) and 0 < small < large, "small", small, f"a number in (0, large={large!r})"
    )
    require(is_real(grad_tol) and grad_tol >= 0, "grad_tol", grad_tol, "a number >= 0")
    require(
        is_real(diverge_factor) and diverge_factor > 1,
        "diverge_factor",
        diverge_factor,
        "a number > 1",
    )


def _per_step(
    loss: Sequence[float] | np.ndarray,
    gradient_norm: Sequence[float] | np.ndarray,
    gradient_cosine: Sequence[float] | np.ndarray,
    steps: Sequence[int] | np.ndarray | None,
    window: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """L^t, ‖g^t‖, cos(g^t, g^{t−1}) as float64 arrays and the steps t, after checking that
    each has one value per recorded step and that ``window`` is a count >= 2."""
    check_count("window", window, MIN_WINDOW)
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
    return loss, norm, cosine, steps


def _diverged(
    loss: np.ndarray,
    norm: np.ndarray,
    steps: np.ndarray,
    window: int,
    diverge_factor: float,
    floor: float,
    evidence: dict[str, float],
    checks: dict[str, bool],
) -> Diagnosis | None:
    """1. Diverged: a loss or gradient norm is nan or inf, or the loss at the window's end sits
    above the divergence line of the best loss L* — η is too large for the curvature. The
    evidence names the step where the loss first crossed the line after L*."""
    n, part = len(loss), max(1, window // 4)
    finite = np.isfinite(loss) & np.isfinite(norm)
    clean = int(np.argmin(finite)) if not finite.all() else n  # first non-finite step
    prefix = loss[:clean]
    onset, risen = None, False
    if clean > 0:
        at_best = int(np.argmin(prefix))
        best = float(prefix[at_best])
        line = divergence_line(best, diverge_factor, floor)
        evidence["loss_best"] = best
        above = np.flatnonzero(prefix[at_best:] > line)
        onset = at_best + int(above[0]) if above.size else None
        risen = clean == n and float(np.median(loss[-part:])) > line
    checks["nonfinite"] = clean < n
    checks["risen"] = bool(risen)
    if not (clean < n or risen):
        return None
    evidence["loss_now"] = float(loss[-1])
    if clean < n:
        evidence["first_nonfinite_step"] = float(steps[clean])
    first = onset if onset is not None else clean
    if first >= n:  # risen in the tail around a late best: the first loss above the line
        first = int(np.flatnonzero(loss > line)[0])
    evidence["divergence_step"] = float(steps[first])
    remedy = REMEDIES["diverged"].format(divergence_step=int(steps[first]))
    return Diagnosis("diverged", evidence, remedy, checks)


def _window_numbers(
    loss: np.ndarray, norm: np.ndarray, cosine: np.ndarray, window: int, floor: float
) -> dict[str, float]:
    """What the window says: the mean loss of its start and end (their first and last
    q = window // 4 records) and its relative change, the median ‖g‖ of the run's first q
    records and of the window's end, and the mean cos(g^t, g^{t−1}) measured in the window."""
    n, part = len(loss), max(1, window // 4)
    recent = slice(n - window, n)
    head, tail = loss[recent][:part], loss[recent][-part:]
    start, end = float(head.mean()), float(tail.mean())
    scale = max(abs(start), floor, np.finfo(np.float64).tiny)
    initial = float(np.median(norm[:part]))
    now = float(np.median(norm[recent][-part:]))
    window_cosine = cosine[recent]
    known = window_cosine[np.isfinite(window_cosine)]
    return {
        "loss_start": start,
        "loss_end": end,
        "relative_loss_change": float((end - start) / scale),
        "gradient_norm_initial": initial,
        "gradient_norm_now": now,
        "gradient_norm_ratio": now / initial if initial > 0 else math.inf,
        "mean_gradient_cosine": float(known.mean()) if known.size else math.nan,
    }


def _near_critical_point(
    critical: Callable[[], Any] | None, evidence: dict[str, float], checks: dict[str, bool]
) -> Diagnosis:
    """2. Near a critical point: the gradient is small. Which kind — saddle point or local
    minimum — only the Hessian can say: ``critical()`` asks it, when given."""
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
            key = "hessian_gradient_norm" if name == "gradient_norm" else name
            evidence[key] = float(value)
    remedy = _critical_remedy(str(kind), evidence)
    return Diagnosis("near a critical point", evidence, remedy, checks, str(kind))


def _oscillating(
    lr: float | None,
    hessian_max_eigenvalue: float | Callable[[], float] | None,
    evidence: dict[str, float],
    checks: dict[str, bool],
) -> Diagnosis | None:
    """3. Oscillating: the loss is flat while the gradient stays large and flips direction — θ
    bounces between the walls of a valley, not stuck at a critical point. When λ_max is known
    the bounce must also overshoot: η·λ_max >= 2, since one step multiplies the distance to the
    valley's floor by |1 − η·λ_max|."""
    overshoots = True
    if hessian_max_eigenvalue is not None:
        if lr is None:
            raise ValueError("hessian_max_eigenvalue needs lr, the η of the steps; got lr=None")
        top = (
            hessian_max_eigenvalue() if callable(hessian_max_eigenvalue) else hessian_max_eigenvalue
        )
        one_number = (isinstance(top, torch.Tensor) and top.numel() == 1) or (
            isinstance(top, np.ndarray) and top.size == 1
        )
        top = float(top) if one_number else top  # λ_max as hessian_eigs returns it, or numpy's
        require(is_real(top), "hessian_max_eigenvalue", top, "a finite number")
        evidence.update(lr=float(lr), max_eigenvalue=float(top), lr_times_max_eigenvalue=lr * top)
        overshoots = bool(lr * top >= OVERSHOOT)
        checks["overshoots"] = overshoots
    if _bouncing(checks) and overshoots:
        return Diagnosis("oscillating", evidence, REMEDIES["oscillating"], checks)
    return None


def _progressing(
    window: int, flat: float, evidence: dict[str, float], checks: dict[str, bool]
) -> Diagnosis:
    """4. Progressing: nothing says stuck. The remedy still says what the numbers hint at: a
    bounce that does not overshoot (mini-batch noise), a large gradient that keeps its
    direction while the loss barely moves (η too small), a loss that rises."""
    if _bouncing(checks):
        remedy = REMEDIES["stable curvature"]
    elif checks["flat"] and checks["gradient_large"]:
        remedy = REMEDIES["creeping"]
    elif evidence["relative_loss_change"] >= flat:
        remedy = REMEDIES["rising"]
    else:
        remedy = REMEDIES["progressing"]
    return Diagnosis(
        "progressing", evidence, remedy.format(**{**evidence, "window": window}), checks
    )


def _bouncing(checks: dict[str, bool]) -> bool:
    """The loss is flat, the gradient large, successive gradients anti-correlated."""
    return checks["flat"] and checks["gradient_large"] and checks["anticorrelated"]


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


def divergence_line(best: float, factor: float, floor: float = 0.0) -> float:
    """The loss above which a run has diverged: L* + (factor − 1)·max(|L*|, floor), with L* the
    best loss so far (for L* > floor: factor × L*). ``floor`` (units of L) keeps the line above
    L* when L* is near 0."""
    return best + (factor - 1) * max(abs(best), floor)
