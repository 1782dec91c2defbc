"""RMSProp brakes: when the slope along a parameter steepens again after a flat stretch, its σ
rises at once, where Adagrad's, an average over the whole past, lags behind.

The two rules, per parameter i, with the same fixed η:

    Adagrad (lecture):  σ_i^t = sqrt( Σ_{s=0..t} (g_i^s)² / (t+1) )
    RMSProp (lecture):  σ_i^0 = |g_i^0|,  σ_i^t = sqrt( α·(σ_i^{t−1})² + (1 − α)·(g_i^t)² )

and θ_i^{t+1} = θ_i^t − η/σ_i^t · g_i^t. With α <= 3/4, RMSProp's σ_i^t >= sqrt(1 − α)·|g_i^t|
>= ½·|g_i^t| at every step: the brake is on in the very step the slope steepens. Adagrad's σ is
pulled down by every small gradient of the flat stretch, so its step η·|g|/σ is too long until
enough steep gradients have come in.

Set-up: the ``crescent`` surface from its own start (4, 4), ``STEPS`` updates each of
``lecture-adagrad`` and ``lecture-rmsprop`` (α = ``ALPHA``) with η = ``LR``. η = 0.05 is a
step of about 1% of the way to the minimum (an adaptive step moves each parameter by about η);
α = 0.5 weighs the newest g² as much as all the past (the lecture: make α small so σ follows
the newest gradient).

Measured on θ1, from each run's own path (g1^t = ∂L/∂θ1 at θ^t, the gradient step t uses):

- the flat stretch begins at the first step with |g1^t| < ``FLAT_BELOW`` · |g1^0|;
- the slope steepens again at the first later step t0 with |g1^t| >= ``STEEP_ABOVE`` · |g1^0|;
- the brake's delay: the number of steps from t0 until σ1^t >= ½·|g1^t| holds for good within
  the ``WINDOW`` steps from t0 (0: at once; ``unbraked_steps`` counts the steps with σ1^t below
  ½·|g1^t|, brake off);
- the largest step η·|g1^t|/σ1^t in the ``WINDOW`` steps from t0 (how far it is thrown).

The claim is reproduced when both paths steepen again and RMSProp's delay is shorter than
Adagrad's. A surface whose slope along θ1 never steepens again after a flat stretch cannot show
the claim: the verdict then says so, with the numbers, and it is not reproduced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..report.plots import plot_contour, plot_curves
from ..surfaces import Trajectory, descend, surface
from .base import Result, conclude

NAME = "rmsprop"
TITLE = "RMSProp: σ follows the newest gradient and brakes when the slope steepens"
CLAIM = (
    "Even along one parameter the slope can change as training moves: steep, then gentle, then "
    "steep again. Adagrad's σ averages every past gradient equally, so after a gentle stretch "
    "it stays small when the slope steepens and the step overshoots; RMSProp weights recent "
    "gradients more (a small α), so its σ grows as soon as the gradient does and the step is "
    "cut at once, like a brake."
)

SURFACE = "crescent"
LR = 0.05  # η, the same for both
ALPHA = 0.5  # RMSProp's α
STEPS = 600
FLAT_BELOW = 0.1  # flat: |g1| < 10% of |g1⁰|
STEEP_ABOVE = 0.25  # steep again: |g1| >= 25% of |g1⁰|
BRAKED = 0.5  # braked: σ1 >= ½·|g1|
WINDOW = 20  # the steps from t0 in which the delay and the largest step are measured
OPTIMIZERS = {"Adagrad": "lecture-adagrad", "RMSProp": "lecture-rmsprop"}


def brake_numbers(gradient: torch.Tensor, sigma: torch.Tensor, lr: float) -> dict[str, Any]:
    """The flat stretch, the steepening and the brake's delay along one parameter.

    ``gradient`` (N,) is g^t, the gradient step t used, and ``sigma`` (N,) the σ^t it divided
    by; ``lr`` is η. Step numbers count from 0; None where the event never happens.
    """
    slope = gradient.abs()  # |g^t|
    start = float(slope[0])
    flat = torch.nonzero(slope < FLAT_BELOW * start).flatten()
    flat_start = int(flat[0]) if len(flat) else None
    steep_again = None
    if flat_start is not None:
        later = torch.nonzero(slope[flat_start:] >= STEEP_ABOVE * start).flatten()
        steep_again = flat_start + int(later[0]) if len(later) else None
    delay = unbraked = largest_step = slope_peak = sigma_before = None
    if steep_again is not None:
        window = slice(steep_again, steep_again + WINDOW)
        loose = torch.nonzero(sigma[window] < BRAKED * slope[window]).flatten()  # σ < ½·|g|
        unbraked = len(loose)
        delay = int(loose[-1]) + 1 if len(loose) else 0
        largest_step = float((lr * slope[window] / sigma[window]).max())  # η·|g|/σ
        slope_peak = float(slope[window].max())
        sigma_before = float(sigma[steep_again - 1])
    after_flat = slope[flat_start:] if flat_start is not None else slope[:0]
    return {
        "slope_start": start,
        "flat_start": flat_start,
        "steep_again": steep_again,
        "flat_steps": None if steep_again is None else steep_again - flat_start,
        "slope_max_after_flat": float(after_flat.max()) if len(after_flat) else None,
        "sigma_before_steep": sigma_before,
        "slope_peak_after_steep": slope_peak,
        "brake_delay": delay,
        "unbraked_steps": unbraked,
        "largest_step_after_steep": largest_step,
    }


def runs(steps: int = STEPS) -> dict[str, Trajectory]:
    """Adagrad and RMSProp from the crescent's start, same η."""
    s = surface(SURFACE)
    return {
        label: descend(
            s,
            optimizer,
            lr=LR,
            options={"alpha": ALPHA} if optimizer == "lecture-rmsprop" else None,
            steps=steps,
        )
        for label, optimizer in OPTIMIZERS.items()
    }


def _theta1(trajectory: Trajectory) -> tuple[torch.Tensor, torch.Tensor]:
    """(g1^t, σ1^t) for t = 0 … N−1."""
    gradient = trajectory.surface.gradient(trajectory.theta[:-1, 0])[:, 0]
    return gradient, trajectory.sigma[:, 0, 0]


def measure(steps: int = STEPS) -> tuple[dict[str, Any], dict[str, Trajectory]]:
    trajectories = runs(steps)
    numbers: dict[str, Any] = {
        "surface": SURFACE,
        "start": list(trajectories["Adagrad"].theta[0, 0].tolist()),
        "lr": LR,
        "alpha": ALPHA,
        "steps": steps,
        "flat_below": FLAT_BELOW,
        "steep_above": STEEP_ABOVE,
        "braked": BRAKED,
        "window": WINDOW,
    }
    for label, trajectory in trajectories.items():
        gradient, sigma = _theta1(trajectory)
        measured = brake_numbers(gradient, sigma, LR)
        measured["distance_final"] = float(trajectory.distance[0])
        numbers[label.lower()] = measured
    return numbers, trajectories


def _delay(measured: dict[str, Any]) -> float:
    """The brake's delay; infinite when the slope never steepened."""
    if measured["steep_again"] is None:
        return float("inf")
    return float(measured["brake_delay"])


def holds(numbers: dict[str, Any]) -> bool:
    """Both paths steepen again after a flat stretch, and RMSProp brakes sooner."""
    adagrad, rmsprop = numbers["adagrad"], numbers["rmsprop"]
    if adagrad["steep_again"] is None or rmsprop["steep_again"] is None:
        return False
    return _delay(rmsprop) < _delay(adagrad)


def _describe(label: str, m: dict[str, Any], numbers: dict[str, Any]) -> str:
    if m["flat_start"] is None:
        return (
            f"{label}'s |g1| never fell below {numbers['flat_below']:g}·|g1⁰| "
            f"= {numbers['flat_below'] * m['slope_start']:.3g}"
        )
    if m["steep_again"] is None:
        return (
            f"{label}'s |g1| fell below {numbers['flat_below'] * m['slope_start']:.3g} at step "
            f"{m['flat_start']} and never rose back to "
            f"{numbers['steep_above'] * m['slope_start']:.3g} (at most "
            f"{m['slope_max_after_flat']:.3g})"
        )
    return (
        f"{label}: steepened at step {m['steep_again']} after {m['flat_steps']} flat steps, "
        f"σ1 = {m['sigma_before_steep']:.3g} before it against |g1| up to "
        f"{m['slope_peak_after_steep']:.3g}, {m['unbraked_steps']} steps with the brake off, "
        f"largest step along θ1 {m['largest_step_after_steep']:.3g}"
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    adagrad, rmsprop = numbers["adagrad"], numbers["rmsprop"]
    head = "Reproduced" if reproduced else "Not reproduced"
    if adagrad["steep_again"] is None or rmsprop["steep_again"] is None:
        return (
            f"{head}: on {numbers['surface']} (η = {numbers['lr']:g}, α = {numbers['alpha']:g}) "
            f"there is no steepening after a flat stretch to brake for — "
            f"{_describe('Adagrad', adagrad, numbers)}; {_describe('RMSProp', rmsprop, numbers)}."
        )
    return (
        f"{head}: on {numbers['surface']} with η = {numbers['lr']:g}, when the slope along θ1 "
        f"steepened again RMSProp's σ1 (α = {numbers['alpha']:g}) reached ½|g1| for good after "
        f"{_delay(rmsprop):g} steps and Adagrad's after {_delay(adagrad):g} — "
        f"{_describe('Adagrad', adagrad, numbers)}; {_describe('RMSProp', rmsprop, numbers)}."
    )


def run(out: Path, quick: bool = False) -> Result:
    """Full and quick are the same size (two runs of 600 updates of two parameters)."""
    numbers, trajectories = measure(STEPS)
    # show the steps up to a while after the later steepening (all of them if there is none)
    events = [numbers[label.lower()]["steep_again"] for label in OPTIMIZERS]
    shown = STEPS if None in events else min(STEPS, max(events) + 4 * WINDOW)
    figures = []
    for label, trajectory in trajectories.items():
        gradient, sigma = _theta1(trajectory)
        slope, sigma = gradient.abs()[:shown], sigma[:shown]
        figure = Path(NAME) / f"{label.lower()}-sigma.png"
        plot_curves(
            {"|g1^t|": slope.tolist(), "σ1^t": sigma.tolist()},
            out / figure,
            title=f"{label} on {SURFACE} (η = {LR:g}): σ1 against |g1|; dashed: the step along θ1",
            ylabel="|g1|, σ1",
            logy=True,
            right={"η·|g1|/σ1": (LR * slope / sigma).tolist()},
            right_label="step along θ1",
        )
        figures.append(figure)
    figure = Path(NAME) / "paths.png"
    plot_contour(
        trajectories["Adagrad"].surface,
        {label: t.theta[:, 0].tolist() for label, t in trajectories.items()},
        out / figure,
        title=f"{SURFACE}: Adagrad and RMSProp (α = {ALPHA:g}), η = {LR:g}, {STEPS} updates",
    )
    figures.append(figure)
    return conclude(__name__, numbers, figures)
