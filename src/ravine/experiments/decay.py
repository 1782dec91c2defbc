"""Learning-rate decay removes Adagrad's bursts: η^t = η/√(t+1) on the Pokémon loss.

With the decay, the lecture's Adagrad step along parameter i is

    η^t/σ_i^t = (η/√(t+1)) / sqrt( Σ_{s≤t} (g_i^s)² / (t+1) ) = η / sqrt( Σ_{s≤t} (g_i^s)² ),

which can only shrink as t grows: when θ sits at the bottom and g_w is tiny, σ_w still falls,
but η^t falls as fast, so the step along the steep axis never grows back to the unstable size
that set off the bursts of :mod:`ravine.experiments.adagrad_bursts`.

The bursts are counted by that module's :func:`~ravine.experiments.adagrad_bursts.find_bursts`
(the one definition), on a run of the same length with the same η = 1. The claim is reproduced
when, with the decay, there are no bursts, the loss never goes up (no step raises L by more than
10⁻¹²·L), and θ ends within 1.0 of the minimum.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import schedules
from ..report.plots import plot_contour, plot_curves
from ..surfaces import Trajectory, descend, surface
from .adagrad_bursts import LR, adagrad_run, burst_numbers, loss_gap
from .base import Result, conclude

NAME = "decay"
TITLE = "Learning-rate decay: no more bursts"
CLAIM = (
    "Letting η shrink as training goes on, η^t = η/√(t+1), cures Adagrad's bursts: near the "
    "end the parameters are close to the minimum and the steps are kept small, so Adagrad "
    "settles into the minimum smoothly instead of being thrown out of it."
)

STEPS, QUICK_STEPS = 100_000, 70_000  # N (quick: 70,000 is past the arrival at ≈ 61,000)
RISE = 1e-12  # a step raises the loss if L^{t+1} − L^t > RISE·L^t
# the numbers of the fixed-η run quoted beside the decayed one
COMPARED = (
    "bursts",
    "arrival_step",
    "bursts_after_arrival",
    "largest_burst_w_error",
    "largest_burst_loss_gap",
    "loss_final",
    "distance_final",
)


def measure(steps: int = STEPS) -> tuple[dict[str, Any], Trajectory, Trajectory]:
    """The lecture's Adagrad with η^t = η/√(t+1), and without (the cached run of
    adagrad-bursts), for ``steps`` updates on the Pokémon loss."""
    schedule = schedules.inverse_sqrt()
    decayed = descend(surface("pokemon"), "lecture-adagrad", lr=LR, schedule=schedule, steps=steps)
    fixed = adagrad_run(steps, LR)
    loss = decayed.loss[:, 0]  # L(θ^t)
    rises = (loss[1:] - loss[:-1]) > RISE * loss[:-1]
    numbers: dict[str, Any] = {
        "optimizer": "lecture-adagrad",
        "lr": LR,
        "schedule": f"{schedule.spec}: η^t/η = {schedule.formula()}",
        "steps": steps,
        **burst_numbers(decayed),
        "loss_rises": int(rises.sum()),
        "loss_rise_tolerance": RISE,
    }
    without = burst_numbers(fixed)
    numbers["fixed_lr"] = {key: without[key] for key in COMPARED}
    return numbers, decayed, fixed


def holds(numbers: dict[str, Any]) -> bool:
    """No bursts, no rise of the loss, and ended within the arrival radius of θ*."""
    return bool(
        numbers["bursts"] == 0
        and numbers["loss_rises"] == 0
        and numbers["distance_final"] <= numbers["arrival_radius"]
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n, fixed = numbers, numbers["fixed_lr"]
    arrived = (
        f"came within {n['arrival_radius']:g} of the minimum at step {n['arrival_step']:,}"
        if n["arrival_step"] is not None
        else f"never came within {n['arrival_radius']:g} of the minimum"
    )
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: with η^t = η/√(t+1) Adagrad had "
        f"{n['bursts']} bursts and {n['loss_rises']} rises of the loss in {n['steps']:,} "
        f"updates, {arrived}, and ended {n['distance_final']:.3g} from the minimum (L − L* = "
        f"{n['loss_final'] - n['loss_minimum']:.3g}), where with the fixed η = {n['lr']:g} it "
        f"arrived at step {fixed['arrival_step']:,} but burst {fixed['bursts']} times "
        f"({fixed['bursts_after_arrival']} after arriving; L − L* up to "
        f"{fixed['largest_burst_loss_gap']:.3g})."
    )


def run(out: Path, quick: bool = False) -> Result:
    numbers, decayed, fixed = measure(QUICK_STEPS if quick else STEPS)
    paths = Path(NAME) / "pokemon-paths.png"
    plot_contour(
        decayed.surface,
        {
            f"Adagrad, η = {LR:g}": fixed.theta[:, 0].numpy(),
            f"Adagrad, η^t = {LR:g}/√(t+1)": decayed.theta[:, 0].numpy(),
        },
        out / paths,
        title="Adagrad on the Pokémon loss, with and without learning-rate decay",
        bounds=((-200.0, -100.0), (-5.0, 8.0)),
    )
    curves = Path(NAME) / "loss.png"
    plot_curves(
        {
            f"η = {LR:g} ({numbers['fixed_lr']['bursts']} bursts)": loss_gap(fixed).numpy(),
            f"η^t = {LR:g}/√(t+1) ({numbers['bursts']} bursts)": loss_gap(decayed).numpy(),
        },
        out / curves,
        title="Adagrad: the loss above the minimum, with and without decay",
        ylabel="L(θ) − L(θ*)",
        logy=True,
    )
    return conclude(__name__, numbers, [paths, curves])
