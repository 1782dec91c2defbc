"""The doctor's reading of a recorded run: why the loss stopped falling.

The lecture's first warning is that *training stuck ≠ small gradient*: when the loss curve goes
flat, people assume θ sits at a critical point (‖∇L‖ ≈ 0), but often the norm of the gradient
is still large — θ is bouncing between the walls of a valley, and each step overshoots; or η is
so small that θ crawls (the lecture's η = 10⁻⁷). The causes need opposite remedies; the numbers
the recorder keeps tell them apart, and :func:`diagnose_training` reads them.

**The stuck classifier** (:func:`diagnose_training`, :meth:`Monitor.diagnose`) reads the last
``window`` records. With ``q = window // 4``, the *start* and *end* of the window are its
first and last q records; they lie ``span`` = window − q steps apart. On a quadratic, gradient
descent multiplies the error along an eigenvector of curvature λ, and so that part of g, by
(1 − η·λ) per step: the signs below read that factor off the record.

- *flat*: |L_end − L_start| / |L_start| < ``flat`` (10⁻²), with L_start, L_end the mean loss
  of the window's start and end, or below twice the scatter of that difference,
  sqrt((var(start) + var(end))/q) / |L_start| (``relative_loss_noise``: mini-batch losses
  scatter, and a change within two standard errors is not measured); *rising*: the same change
  at or above that line.
- *kept* (the gradient is not shrinking): the median ‖g‖ of the window's end is at least half
  that of its start — θ is not closing in on a critical point within the window.
- *steady* / *flipping*: the mean cos(g^t, g^{t−1}) measured in the window is ≥ ½ / ≤ −½.
  Writing g = s + f with s the part that keeps its direction and f the part that flips, the
  cosine is (‖s‖² − ‖f‖²)/(‖s‖² + ‖f‖²): ≥ ½ when ‖s‖ ≥ √3·‖f‖, ≤ −½ when ‖f‖ ≥ √3·‖s‖ —
  then at least ¾ of ‖g‖² goes into crossing the valley and back. Independent mini-batch
  noise of size σ gives s²/(s² + σ²) ≥ 0 on average: a mean near 0 is noise, not a bounce.

The first that holds is the verdict:

1. **diverged** — a loss or gradient norm is nan or inf, or the median loss of the window's
   end exceeds the best loss L* by more than (``diverge_factor`` − 1)·max(|L*|, 10⁻⁶·|L⁰|)
   (for positive losses: more than ``diverge_factor`` = 10 times the best), or the loss is
   *rising*: with η·λ < 2 everywhere a gradient step can only lower a smooth loss, so a loss
   that climbs over a whole window means some direction's error grows by |1 − η·λ| > 1 per
   step. ``evidence`` gives the step where the loss first crossed the divergence line after
   L* (or was first non-finite; for a rising loss, the step of L*).
2. **crawling** — the loss is *flat* but the gradient is neither small (‖g‖ ≥ ``grad_tol``) nor
   shrinking (*kept*) and keeps its direction (*steady*) — or, where mini-batch noise holds
   the mean cosine in (0, ½), the loss has not moved since the run's first q records either
   (by ``flat``, or beyond twice the scatter of that difference, ``relative_loss_noise_run``,
   with both ends scattering as the window's end does); when λ_max is given, also
   η·λ_max < 2. Every step goes the right way and is far too short: at this pace the
   gradient would need more than ten windows to shrink a thousandfold
   (η too small, the lecture's η = 10⁻⁷).
3. **near a critical point** — the gradient is small: the median ‖g‖ of the window's end is
   below ``grad_tol`` (10⁻³) or below ``small`` (10⁻³) times the initial ‖g‖ (the median
   over the first q records of the run). With ``critical=`` the Hessian decides the ``kind``
   (saddle point or local minimum).
4. **oscillating** — the gradient is *flipping* and *kept*: its dominant part changes sign every
   step and does not die out within the window — θ bounces between the walls of a valley,
   even while other directions still make slow progress. When λ_max is given
   (``hessian_max_eigenvalue``), the bounce must also last along it: η·λ_max ≥ 1 and
   |1 − η·λ_max|^span ≥ ½ (η·λ_max ≥ 1.99 for a window of 100), i.e. η·λ_max ≈ 2 or above.
5. **progressing** — anything else: the loss falls by at least ``flat`` over the window, or
   (flat) nothing above explains it; the remedy says what the numbers hint at.
6. **undetermined** — only when the record lacks what would tell: the loss is flat and ‖g‖
   is missing (a log of the loss alone: a critical point, a bounce and a crawl all look
   alike), or ‖g‖ is neither small nor shrinking and cos(g^t, g^{t−1}) is missing (a bounce
   or a crawl).

``Diagnosis.missing`` names the evidence the record lacked: ``gradient_norm``,
``gradient_cosine``, ``lr``, ``max_eigenvalue``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ...validation import check_count, is_real, require
from .remedies import REMEDIES, flat_change

VERDICTS = (
    "progressing",
    "crawling",
    "oscillating",
    "near a critical point",
    "diverged",
    "undetermined",
)

# Thresholds of the stuck classifier (module docstring, "The stuck classifier").
FLAT = 1e-2  # |relative change of the loss over the window| below this: the loss is flat
LARGE = 0.1  # ‖g‖ at the window's end >= LARGE·‖g⁰‖: the gradient is still large
SMALL = 1e-3  # ‖g‖ at the window's end < SMALL·‖g⁰‖: the gradient is small
GRAD_TOL = 1e-3  # ‖g‖ at the window's end < GRAD_TOL (absolute): the gradient is small
DIVERGE_FACTOR = 10.0  # loss above DIVERGE_FACTOR × the best loss: diverged
OVERSHOOT = 2.0  # η·λ_max >= 2: gradient descent overshoots the curvature λ_max
KEPT = 0.5  # ‖g‖ at the window's end >= KEPT·‖g‖ at its start: the gradient is not shrinking
STEADY = 0.5  # mean cos(g^t, g^{t−1}) >= STEADY: the part of g that keeps its direction dominates
FLIPPING = -0.5  # mean cos(g^t, g^{t−1}) <= FLIPPING: the part of g that flips sign dominates
EVIDENCE = ("gradient_norm", "gradient_cosine", "lr", "max_eigenvalue")  # what may be missing
MIN_WINDOW = 2


def default_window(records: int) -> int:
    """The window a whole run is diagnosed over when none is given: its last half, at most 200
    records and at least :data:`MIN_WINDOW`."""
    return max(MIN_WINDOW, min(200, records // 2))


LOSS_FLOOR = 1e-6  # losses are compared on a scale of at least LOSS_FLOOR·|L⁰|

# --- the verdict ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    """Why the loss is (or is not) falling.

    ``verdict`` is one of :data:`VERDICTS`; ``evidence`` holds the numbers it was decided from
    (see :func:`diagnose_training`); ``checks`` which criteria held; ``remedy`` the lecture's
    remedy in a sentence or two; ``kind`` the critical point's kind when a Hessian check ran
    (e.g. ``"saddle point"``), else None; ``missing`` the evidence the record lacked (names
    from :data:`EVIDENCE`), so the verdict was decided without it.
    """

    verdict: str
    evidence: dict[str, float]
    remedy: str
    checks: dict[str, bool] = field(default_factory=dict)
    kind: str | None = None
    missing: tuple[str, ...] = ()

    def __str__(self) -> str:
        kind = f" ({self.kind})" if self.kind else ""
        return f"{self.verdict}{kind}: {self.remedy}"

    def to_json(self) -> dict[str, Any]:
        """verdict, kind, evidence (nan and inf as None), remedy and missing, for JSON."""
        return {
            "verdict": self.verdict,
            "kind": self.kind,
            "evidence": {
                k: v if not isinstance(v, float) or math.isfinite(v) else None
                for k, v in self.evidence.items()
            },
            "remedy": self.remedy,
            "missing": list(self.missing),
        }


def diagnose_training(
    loss: Sequence[float] | np.ndarray,
    gradient_norm: Sequence[float] | np.ndarray | None,
    gradient_cosine: Sequence[float] | np.ndarray | None,
    *,
    window: int = 100,
    steps: Sequence[int] | np.ndarray | None = None,
    lr: float | None = None,
    hessian_max_eigenvalue: float | Callable[[], float] | None = None,
    critical: Callable[[], Any] | None = None,
    update_ratio: Sequence[float] | np.ndarray | None = None,
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
            L per unit of θ, and a number in [−1, 1] or nan). ``gradient_norm`` or
            ``gradient_cosine`` None: not recorded (a log of less); the verdict is decided
            without it and ``missing`` says so.
        window: the number of most recent steps the verdict is about, >= 2. A run with fewer
            records is diagnosed only when it diverged; otherwise ValueError.
        steps: the step number of each value (default 0, 1, …), for ``divergence_step``.
        lr: η of the steps, needed with ``hessian_max_eigenvalue``.
        hessian_max_eigenvalue: λ_max, a number or a callable returning it: the largest
            curvature across the valley — for a bounce between two walls, at its floor (the
            midpoint of two successive iterates). Checked for ``oscillating`` and ``crawling``.
        critical: called when the gradient is small; returns an object with ``kind`` (a
            :class:`ravine.diagnose.critical.CriticalPoint`, or anything with that attribute and
            optionally ``min_eigenvalue``, ``max_eigenvalue``, ``minimum_ratio``,
            ``gradient_norm``).
        update_ratio: ‖Δθ^t‖/‖θ^t‖ per step (nan where not measured), or None: evidence only
            (its median over the window, ``update_ratio``: tiny in a crawl).
        flat, large, small, grad_tol, diverge_factor: the thresholds (module docstring).

    ``evidence`` holds ``window``, ``steps_recorded``, ``loss_start``, ``loss_end``,
    ``relative_loss_change``, ``loss_best``, ``gradient_norm_initial``, ``gradient_norm_now``,
    ``relative_loss_change_run`` (since the run's first records), ``relative_loss_noise``,
    ``relative_loss_noise_run`` (the scatter of the change since the run's first records),
    ``gradient_norm_ratio`` (now / initial), ``gradient_norm_window_ratio`` (the window's end
    / its start), ``mean_gradient_cosine``; when they apply ``update_ratio``,
    ``divergence_step``, ``first_nonfinite_step``, ``lr``, ``max_eigenvalue``,
    ``lr_times_max_eigenvalue`` and the critical point's numbers.
    """
    missing = [
        name
        for name, value in zip(EVIDENCE[:3], (gradient_norm, gradient_cosine, lr), strict=True)
        if value is None
    ]
    if hessian_max_eigenvalue is None:
        missing.append("max_eigenvalue")
    loss, norm, cosine, steps = _per_step(loss, gradient_norm, gradient_cosine, steps, window)
    _check_thresholds(flat, large, small, grad_tol, diverge_factor)
    if critical is not None and not callable(critical):
        raise TypeError(f"critical must be a callable returning a critical point, got {critical!r}")
    if hessian_max_eigenvalue is not None and not callable(hessian_max_eigenvalue):
        _max_eigenvalue(lr, hessian_max_eigenvalue, {})  # a bad number is refused even if unused

    floor = LOSS_FLOOR * abs(loss[0]) if np.isfinite(loss[0]) else 0.0  # the scale of L near 0
    evidence: dict[str, float] = {"window": float(window), "steps_recorded": float(len(loss))}
    checks: dict[str, bool] = {}
    given = {
        "recorded": gradient_norm is not None,
        "lr": lr,
        "hessian_max_eigenvalue": hessian_max_eigenvalue,
        "critical": critical,
        "flat": flat,
        "large": large,
        "small": small,
        "grad_tol": grad_tol,
        "diverge_factor": diverge_factor,
    }
    found = _decide(loss, norm, cosine, steps, window, floor, given, evidence, checks)
    if update_ratio is not None:  # ‖Δθ‖/‖θ‖: evidence only
        ratios = np.asarray(update_ratio, dtype=np.float64).reshape(-1)[-window:]
        known = ratios[np.isfinite(ratios)]
        found.evidence["update_ratio"] = float(np.median(known)) if known.size else math.nan
    return replace(found, missing=tuple(missing))


def _decide(loss, norm, cosine, steps, window, floor, given, evidence, checks) -> Diagnosis:
    """The verdicts of the module docstring, in order; ``given`` holds the thresholds, ``lr``,
    ``hessian_max_eigenvalue``, ``critical`` and which series were recorded."""
    recorded = given["recorded"]
    diverged = _diverged(  # 1. diverged: non-finite, or far above the best loss
        loss,
        norm if recorded else None,
        steps,
        window,
        given["diverge_factor"],
        floor,
        evidence,
        checks,
    )
    if diverged is not None:
        return diverged
    if len(loss) < window:  # (a divergence shows in fewer records; the rest needs the whole window)
        smaller = (  # a smaller window only where one would do
            f" or pass a smaller window (>= {MIN_WINDOW})" if len(loss) >= MIN_WINDOW else ""
        )
        raise ValueError(
            f"diagnose needs at least window={window} recorded steps, got {len(loss)}; train "
            f"longer{smaller}"
        )
    # the window's numbers, and what they say of the loss and the gradient
    evidence.update(_window_numbers(loss, norm, cosine, window, floor))
    change, now = evidence["relative_loss_change"], evidence["gradient_norm_now"]
    initial, cos = evidence["gradient_norm_initial"], evidence["mean_gradient_cosine"]
    band = max(given["flat"], 2 * evidence["relative_loss_noise"])  # flat, or within the noise
    checks["flat"] = bool(abs(change) < band)
    checks["rising"] = bool(change >= band)
    checks["gradient_small"] = bool(now < given["grad_tol"] or now < given["small"] * initial)
    checks["gradient_large"] = bool(now >= given["large"] * initial)
    checks["gradient_kept"] = bool(evidence["gradient_norm_window_ratio"] >= KEPT)
    checks["steady"] = bool(cos >= STEADY)
    band_run = max(given["flat"], 2 * evidence["relative_loss_noise_run"])
    checks["no_progress"] = bool(abs(evidence["relative_loss_change_run"]) < band_run)
    checks["anticorrelated"] = bool(cos <= FLIPPING)
    if checks["rising"]:  # 1. diverged: the loss climbs
        return _rising(loss, steps, window, evidence, checks)
    asked: list[float | None] = []  # λ_max, asked for once and only where a verdict needs it

    def top() -> float | None:
        if not asked:
            asked.append(_max_eigenvalue(given["lr"], given["hessian_max_eigenvalue"], evidence))
        return asked[0]

    crawling = _crawling(window, given["grad_tol"], top, evidence, checks)  # 2. too short steps
    if crawling is not None:
        return crawling
    if checks["gradient_small"]:  # 3. near a critical point
        return _near_critical_point(given["critical"], evidence, checks)
    oscillating = _oscillating(window, top, evidence, checks)  # 4. bouncing
    if oscillating is not None:
        return oscillating
    cannot_tell = not recorded or (not np.isfinite(cos) and checks["gradient_kept"])
    if checks["flat"] and cannot_tell:  # 6. the record lacks what would tell
        lacking = "‖g‖" if not recorded else "cos(g^t, g^{t−1})"
        remedy = REMEDIES["undetermined"].format(
            **{**evidence, "window": window}, lacking=lacking, change=flat_change(evidence)
        )
        return Diagnosis("undetermined", evidence, remedy, checks)
    return _progressing(window, given["flat"], evidence, checks)  # 5. nothing says stuck


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
    gradient_norm: Sequence[float] | np.ndarray | None,
    gradient_cosine: Sequence[float] | np.ndarray | None,
    steps: Sequence[int] | np.ndarray | None,
    window: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """L^t, ‖g^t‖, cos(g^t, g^{t−1}) as float64 arrays (nan where not recorded) and the steps
    t, after checking that each has one value per recorded step and that ``window`` is a count
    >= 2."""
    check_count("window", window, MIN_WINDOW)
    loss = np.asarray(loss, dtype=np.float64).reshape(-1)
    n = len(loss)
    norm, cosine = (
        np.full(n, math.nan) if a is None else np.asarray(a, dtype=np.float64).reshape(-1)
        for a in (gradient_norm, gradient_cosine)
    )
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
    norm: np.ndarray | None,
    steps: np.ndarray,
    window: int,
    diverge_factor: float,
    floor: float,
    evidence: dict[str, float],
    checks: dict[str, bool],
) -> Diagnosis | None:
    """1. Diverged: a loss or gradient norm is nan or inf, or the loss at the window's end sits
    above the divergence line of the best loss L* — η is too large for the curvature. The
    evidence names the step where the loss first crossed the line after L*. ``norm`` None: ‖g‖
    was not recorded."""
    n, part = len(loss), max(1, window // 4)
    finite = np.isfinite(loss) & (True if norm is None else np.isfinite(norm))
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
    q = window // 4 records) and its relative change, over the window and since the run's first
    q records; the median ‖g‖ of the run's first q records, of the window's start and of its
    end, and the mean cos(g^t, g^{t−1}) measured in
    the window (nan where ‖g‖ or the cosine was not recorded)."""
    n, part = len(loss), max(1, window // 4)
    recent = slice(n - window, n)
    head, tail = loss[recent][:part], loss[recent][-part:]
    start, end = float(head.mean()), float(tail.mean())
    scale = max(abs(start), floor, np.finfo(np.float64).tiny)
    # the scatter of the two means (mini-batch losses): a change within 2 of it is not measured
    noise = math.sqrt((head.var() + tail.var()) / part)
    first = float(loss[:part].mean())  # the run's first q records
    first_scale = max(abs(first), floor, np.finfo(np.float64).tiny)
    # and of the change since the run's first q records, taken as scattering as the losses do
    # now: a transient at the start (a spike that came back down) does not count as noise
    noise_run = math.sqrt(2 * tail.var() / part)
    initial = float(np.median(norm[:part]))
    now = float(np.median(norm[recent][-part:]))
    before = float(np.median(norm[recent][:part]))
    window_cosine = cosine[recent]
    known = window_cosine[np.isfinite(window_cosine)]
    return {
        "loss_start": start,
        "loss_end": end,
        "relative_loss_change": float((end - start) / scale),
        "relative_loss_change_run": float((end - first) / first_scale),
        "relative_loss_noise": float(noise / scale),
        "relative_loss_noise_run": float(noise_run / first_scale),
        "gradient_norm_initial": initial,
        "gradient_norm_now": now,
        "gradient_norm_ratio": _ratio(now, initial),
        "gradient_norm_window_ratio": _ratio(now, before),
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


def _rising(
    loss: np.ndarray,
    steps: np.ndarray,
    window: int,
    evidence: dict[str, float],
    checks: dict[str, bool],
) -> Diagnosis:
    """1. Diverged, under way: the loss rose over the window. ``divergence_step`` is the step of
    the lowest loss before the window's end."""
    at_best = int(np.argmin(loss))
    evidence["loss_now"] = float(loss[-1])
    evidence["divergence_step"] = float(steps[at_best])
    remedy = REMEDIES["rising"].format(
        **{**evidence, "window": window, "divergence_step": int(steps[at_best])}
    )
    return Diagnosis("diverged", evidence, remedy, checks)


def _max_eigenvalue(
    lr: float | None,
    hessian_max_eigenvalue: float | Callable[[], float] | None,
    evidence: dict[str, float],
) -> float | None:
    """λ_max as a float (asked of the callable once), with η and η·λ_max into the evidence; None
    when not given."""
    if hessian_max_eigenvalue is None:
        return None
    if lr is None:
        raise ValueError("hessian_max_eigenvalue needs lr, the η of the steps; got lr=None")
    top = hessian_max_eigenvalue() if callable(hessian_max_eigenvalue) else hessian_max_eigenvalue
    one_number = (isinstance(top, torch.Tensor) and top.numel() == 1) or (
        isinstance(top, np.ndarray) and top.size == 1
    )
    top = float(top) if one_number else top  # λ_max as hessian_eigs returns it, or numpy's
    require(is_real(top), "hessian_max_eigenvalue", top, "a finite number")
    evidence.update(lr=float(lr), max_eigenvalue=float(top), lr_times_max_eigenvalue=lr * top)
    return float(top)


def _crawling(
    window: int,
    grad_tol: float,
    top: Callable[[], float | None],
    evidence: dict[str, float],
    checks: dict[str, bool],
) -> Diagnosis | None:
    """2. Crawling: the loss is flat while the gradient is not small, does not shrink and keeps
    its direction — each step goes the right way and is far too short (η too small). When
    λ_max is known (``top()``), η·λ_max < 2: no direction is overshot."""
    not_tiny = bool(evidence["gradient_norm_now"] >= grad_tol)
    # under mini-batch noise the cosine of a crawl is s²/(s² + σ²) and can sit below ½: then a
    # loss that has not moved since the run began says the steps are too short
    steady = checks["steady"] or (evidence["mean_gradient_cosine"] > 0 and checks["no_progress"])
    if not (checks["flat"] and not_tiny and checks["gradient_kept"] and steady):
        return None
    curvature, room = top(), ""
    if curvature is not None:
        checks["below_overshoot"] = bool(evidence["lr_times_max_eigenvalue"] < OVERSHOOT)
        if not checks["below_overshoot"]:
            return None
        if curvature > 0:
            room = (
                f" (η·λ_max = {evidence['lr_times_max_eigenvalue']:.3g} where λ_max was "
                f"measured: η up to about {OVERSHOOT / curvature:.3g} keeps that direction "
                "from overshooting)"
            )
    remedy = REMEDIES["crawling"].format(
        **{**evidence, "window": window}, room=room, change=flat_change(evidence)
    )
    return Diagnosis("crawling", evidence, remedy, checks)


def _oscillating(
    window: int,
    top: Callable[[], float | None],
    evidence: dict[str, float],
    checks: dict[str, bool],
) -> Diagnosis | None:
    """4. Oscillating: the gradient's larger part flips sign every step and does not die out
    within the window — θ bounces between the walls of a valley, not stuck at a critical point.
    When λ_max is known the bounce must last along it: η·λ_max ≥ 1 and
    |1 − η·λ_max|^span ≥ ½, span = window − window // 4 (the factor by which one step scales
    the distance to the valley's floor, over the steps between the window's start and end)."""
    if not _bouncing(checks):
        return None
    if top() is not None:
        product, span = evidence["lr_times_max_eigenvalue"], window - max(1, window // 4)
        checks["overshoots"] = bool(product >= 1 and abs(1 - product) ** span >= KEPT)
        if not checks["overshoots"]:
            return None
    return Diagnosis("oscillating", evidence, REMEDIES["oscillating"], checks)


def _progressing(
    window: int, flat: float, evidence: dict[str, float], checks: dict[str, bool]
) -> Diagnosis:
    """5. Progressing: nothing says stuck. The remedy still says what the numbers hint at: a
    bounce that the curvature given does not explain, or a flat loss under a noisy gradient."""
    if _bouncing(checks):
        remedy = REMEDIES["stable curvature"]
    elif checks["flat"]:
        remedy = REMEDIES["stalled"]
    else:
        remedy = REMEDIES["progressing"]
    words = remedy.format(**{**evidence, "window": window}, change=flat_change(evidence))
    return Diagnosis("progressing", evidence, words, checks)


def _bouncing(checks: dict[str, bool]) -> bool:
    """The gradient's flipping part dominates (mean cosine ≤ −½) and neither dies out within the
    window nor is small next to where it started."""
    return checks["anticorrelated"] and checks["gradient_kept"] and checks["gradient_large"]


def _ratio(top: float, bottom: float) -> float:
    """top/bottom; inf when only bottom is 0, nan when either is unknown."""
    if not (math.isfinite(top) and math.isfinite(bottom)):
        return math.nan
    return top / bottom if bottom > 0 else math.inf


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
