"""Learning-rate decay removes Adagrad's bursts — at a price in speed — on the Pokémon loss.

The lecture's decay: η^t shrinks as t grows. Three decays of the lecture's Adagrad, η = 1:

- ``1/√(t+1)`` (``ravine.schedules.inverse_sqrt``), ``STEPS`` updates. The step along
  parameter i becomes

      η^t/σ_i^t = (η/√(t+1)) / sqrt( Σ_{s≤t} (g_i^s)² / (t+1) ) = η / sqrt( Σ_{s≤t} (g_i^s)² ),

  the classic Adagrad, whose steps can only shrink: when θ sits at the bottom and g_w is tiny,
  σ_w still falls, but η^t falls as fast, so the step along the steep axis never grows back
  to the unstable size that set off the bursts of :mod:`ravine.experiments.adagrad_bursts`.
- cosine to 0 over the run (``cosine:steps=N``) and step decay halving η every tenth of the
  run (``step:step_size=N/10,gamma=0.5``), ``SHORT_STEPS`` updates each: the decays used in
  practice, which keep η near its start for a while. Their pace is the common default (anneal
  over the whole run; ten halvings), fixed before any run, not chosen to pass.

The bursts are counted by :func:`~ravine.experiments.adagrad_bursts.find_bursts` (the one
definition), and compared with the fixed-η run of the same module over the same window of
updates. A decay runs *smoothly* when it has no bursts, the loss never goes up (no step raises
L by more than 10⁻¹²·L), and θ ends within 1.0 of the minimum. Its *cost* is how many times
later than the fixed-η run it first comes within 1.0 of the minimum.

The claim is held when every decay runs smoothly, partial when some do (and the others still
burst), not held when none does; ``holds`` is the lecture's own decay, 1/√(t+1), running
smoothly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import schedules
from ..report.plots import plot_contour, plot_curves, superscripts
from ..surfaces import Trajectory, descend, surface
from .adagrad_bursts import LR, adagrad_run, burst_numbers, loss_gap
from .base import OPENING, Evidence, Result, conclude, outcome_of
from .wording import plural, times

NAME = "decay"
TITLE = "Learning-rate decay: no more bursts, but a later arrival"
CLAIM = (
    "Letting η shrink as training goes on, η^t = η/√(t+1), cures Adagrad's bursts: near the "
    "end the parameters are close to the minimum and the steps are kept small, so Adagrad "
    "settles into the minimum smoothly instead of being thrown out of it."
)
LECTURE = (
    "Learning Rate Decay: 隨著參數不斷的 update, 讓 η 越來越小 (as the parameters are "
    "updated, make η smaller and smaller) — 「踩了一個煞車」 (it puts on the brakes); 加上 "
    "Learning Rate Decay, 就可以很平順的走到終點 (with decay Adagrad walks to the end "
    "smoothly): the bursts 左右亂噴 (spraying left and right) are multiplied by a tiny η."
)
COMMAND = (
    "ravine descend pokemon --optimizer lecture-adagrad --lr 1 --schedule inverse-sqrt "
    "--steps 100000 --plot decay.png"
)
CAPTIONS = {
    "pokemon-paths.png": (
        "With a fixed η Adagrad reaches the valley floor quickly and is then thrown up the "
        "steep walls again and again; with η/√(t+1) it creeps down without leaving the floor."
    ),
    # the two below are replaced by :func:`captions`, which says when this run's decays arrived
    "loss.png": (
        "The loss above the minimum on a log scale: each spike of the fixed-η curve is a "
        "burst; compare when the 1/√(t+1) curve comes near the minimum."
    ),
    "other-decays.png": (
        "Cosine and step decay keep η large at first: they burst while η^t is still large, "
        "like the fixed η over the same steps, and stop once η^t has shrunk."
    ),
}

STEPS, QUICK_STEPS = 100_000, 70_000  # N (quick: 70,000 is past the arrival at ≈ 61,000)
SHORT_STEPS, QUICK_SHORT_STEPS = 20_000, 10_000  # the cosine and step decays' runs
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {
    "surface": "pokemon",
    "optimizer": "lecture-adagrad",
    "lr": LR,
    "schedule": schedules.inverse_sqrt().spec,
    "steps": STEPS,
}
RISE = 1e-12  # a step raises the loss if L^{t+1} − L^t > RISE·L^t
# the numbers of the fixed-η run quoted beside the decayed one
COMPARED = (
    "bursts",
    "arrival_step",
    "bursts_after_arrival",
    "largest_burst_w_error",
    "largest_burst_loss_gap",
    "largest_burst_after_arrival_loss_gap",
    "loss_final",
    "distance_final",
)


def other_decays(steps: int) -> dict[str, schedules.Schedule]:
    """The practical decays over ``steps`` updates: cosine to 0, and halving every tenth."""
    return {
        "cosine": schedules.cosine(steps),
        "step": schedules.step(max(1, steps // 10), 0.5),
    }


def loss_rises(trajectory: Trajectory) -> int:
    """How many steps raise L by more than RISE·L."""
    loss = trajectory.loss[:, 0]  # L(θ^t)
    return int(((loss[1:] - loss[:-1]) > RISE * loss[:-1]).sum())


def later(arrival: int | None, fixed_arrival: int | None) -> float | None:
    """How many times later than the fixed η a decayed run arrives: arrival / fixed arrival
    (None when either never arrives)."""
    return None if arrival is None or not fixed_arrival else arrival / fixed_arrival


def smooth(row: dict[str, Any]) -> bool:
    """No bursts, no rise of the loss, and ended within the arrival radius of θ*."""
    return bool(
        row["bursts"] == 0
        and row["loss_rises"] == 0
        and row["distance_final"] <= row["arrival_radius"]
    )


def _decay_row(schedule: schedules.Schedule, steps: int, fixed: dict[str, Any]) -> dict[str, Any]:
    """One decay's numbers, with the fixed-η run's bursts over the same ``steps`` updates."""
    trajectory = descend(
        surface("pokemon"), "lecture-adagrad", lr=LR, schedule=schedule, steps=steps
    )
    row = burst_numbers(trajectory)
    fixed_arrival = fixed["arrival_step"]
    arrival = row["arrival_step"]
    return {
        "schedule": f"{schedule.spec}: η^t/η = {schedule.formula()}",
        "steps": steps,
        "bursts": row["bursts"],
        "last_burst_start": max(row["burst_starts"], default=None),
        "fixed_lr_bursts_same_window": sum(1 for s in fixed["burst_starts"] if s < steps),
        "arrival_radius": row["arrival_radius"],
        "arrival_step": arrival,
        "arrival_delay": later(arrival, fixed_arrival),
        "loss_rises": loss_rises(trajectory),
        "distance_final": row["distance_final"],
        "loss_gap_final": row["loss_final"] - row["loss_minimum"],
        "curve": loss_gap(trajectory),
    }


def measure(
    steps: int = STEPS, short_steps: int = SHORT_STEPS
) -> tuple[dict[str, Any], Trajectory, Trajectory, dict[str, Any]]:
    """The lecture's Adagrad with η^t = η/√(t+1) for ``steps`` updates, without decay (the
    cached run of adagrad-bursts), and with the other decays for ``short_steps``; the numbers,
    the two long trajectories and the other decays' loss curves."""
    schedule = schedules.inverse_sqrt()
    decayed = descend(surface("pokemon"), "lecture-adagrad", lr=LR, schedule=schedule, steps=steps)
    fixed = adagrad_run(steps, LR)
    without = burst_numbers(fixed)
    numbers: dict[str, Any] = {
        "optimizer": "lecture-adagrad",
        "lr": LR,
        "schedule": f"{schedule.spec}: η^t/η = {schedule.formula()}",
        "steps": steps,
        **burst_numbers(decayed),
        "loss_rises": loss_rises(decayed),
        "loss_rise_tolerance": RISE,
    }
    numbers["fixed_lr"] = {key: without[key] for key in COMPARED}
    arrival = numbers["arrival_step"]
    numbers["arrival_delay"] = later(arrival, without["arrival_step"])
    others, curves = {}, {"none": loss_gap(fixed)[: short_steps + 1]}
    for name, other in other_decays(short_steps).items():
        row = _decay_row(other, short_steps, without)
        curves[name] = row.pop("curve")
        others[name] = row
    numbers["other_decays"] = others
    return numbers, decayed, fixed, curves


def holds(numbers: dict[str, Any]) -> bool:
    """The lecture's decay, 1/√(t+1), runs smoothly (see :func:`smooth`)."""
    return smooth(numbers)


def outcome(numbers: dict[str, Any]) -> str:
    """Held: every decay runs smoothly; partial: some do; not held: none."""
    rows = [smooth(numbers), *(smooth(r) for r in numbers["other_decays"].values())]
    return outcome_of(rows)


def _delay(value: float | None) -> str:
    if value is None:
        return "never arrived"
    if value == 1:
        return "the same step as the fixed η"
    shown = f"{value:.3g}" if f"{value:.3g}" != "1" else f"{value:.5g}"
    return f"{shown}× the fixed η's steps"


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """Per decay: its bursts (against none) and its arrival (shown, the price it pays)."""
    n, fixed = numbers, numbers["fixed_lr"]
    why_bursts = (
        "the lecture says decay walks to the end 平順 (smoothly): one burst is a step thrown "
        "out of the valley floor"
    )
    rows = [
        Evidence(
            "bursts with η/√(t+1)",
            n["bursts"],
            f"in {n['steps']:,} updates",
            "0",
            why_bursts,
            smooth(n),
        ),
        Evidence("bursts with a fixed η", fixed["bursts"], f"in {n['steps']:,} updates"),
        Evidence(
            "arrival with η/√(t+1), against the fixed η",
            n["arrival_delay"],
            "× the fixed η's steps",
            why="the price of decay: shown, not judged",
        ),
    ]
    for name, row in n["other_decays"].items():
        rows.append(
            Evidence(
                f"bursts with {name} decay",
                row["bursts"],
                f"in {row['steps']:,} updates (fixed η: {row['fixed_lr_bursts_same_window']})",
                "0",
                why_bursts,
                smooth(row),
            )
        )
        rows.append(
            Evidence(
                f"arrival with {name} decay, against the fixed η",
                row["arrival_delay"],
                "× the fixed η's steps",
                why="the price of decay: shown, not judged",
            )
        )
    return rows


def _other_text(name: str, row: dict[str, Any]) -> str:
    bursts = (
        "no bursts"
        if row["bursts"] == 0
        else f"{plural(row['bursts'], 'burst')} (the last starting at step "
        f"{row['last_burst_start']:,}; fixed η: {row['fixed_lr_bursts_same_window']} in the "
        f"same {row['steps']:,} updates)"
    )
    return f"{name} decay over {row['steps']:,} updates had {bursts} and {_arrival(row)}"


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n, fixed = numbers, numbers["fixed_lr"]
    arrived = (
        f"came within {n['arrival_radius']:g} of the minimum at step {n['arrival_step']:,} "
        f"({_delay(n['arrival_delay'])})"
        if n["arrival_step"] is not None
        else f"never came within {n['arrival_radius']:g} of the minimum"
    )
    others = "; ".join(_other_text(name, row) for name, row in n["other_decays"].items())
    bursts = "no bursts" if n["bursts"] == 0 else plural(n["bursts"], "burst")
    rises = "no rise" if n["loss_rises"] == 0 else plural(n["loss_rises"], "rise")
    fixed_arrived = (
        "never arrived"
        if fixed["arrival_step"] is None
        else f"arrived at step {fixed['arrival_step']:,}"
    )
    reaching = (
        f", reaching L − L* up to {fixed['largest_burst_after_arrival_loss_gap']:.3g}"
        if fixed["bursts_after_arrival"]
        else ""
    )
    return (
        f"{OPENING[outcome(n)]}: with η^t = η/√(t+1) Adagrad had {bursts} and {rises} of the "
        f"loss in {n['steps']:,} updates, {arrived}, and ended {n['distance_final']:.3g} from "
        f"the minimum (L − L* = {n['loss_final'] - n['loss_minimum']:.3g}), where with the "
        f"fixed η = {n['lr']:g} it {fixed_arrived} but burst {times(fixed['bursts'])} "
        f"({fixed['bursts_after_arrival']} after arriving{reaching}); {others}."
    )


def run(out: Path, quick: bool = False) -> Result:
    numbers, decayed, fixed, curves = measure(
        QUICK_STEPS if quick else STEPS, QUICK_SHORT_STEPS if quick else SHORT_STEPS
    )
    paths = Path(NAME) / "pokemon-paths.png"
    plot_contour(
        decayed.surface,
        {
            f"Adagrad, η = {LR:g}": fixed.theta[:, 0].numpy(),
            superscripts(f"Adagrad, η^t = {LR:g}/√(t+1)"): decayed.theta[:, 0].numpy(),
        },
        out / paths,
        title="Adagrad on the Pokémon loss, with and without learning-rate decay",
        bounds=((-200.0, -100.0), (-5.0, 8.0)),
    )
    loss = Path(NAME) / "loss.png"
    plot_curves(
        {
            f"η = {LR:g} ({plural(numbers['fixed_lr']['bursts'], 'burst')})": loss_gap(
                fixed
            ).numpy(),
            superscripts(f"η^t = {LR:g}/√(t+1) ({plural(numbers['bursts'], 'burst')})"): (
                loss_gap(decayed).numpy()
            ),
        },
        out / loss,
        title="Adagrad: the loss above the minimum, with and without decay",
        ylabel="L(θ) − L(θ*)",
        logy=True,
    )
    others = Path(NAME) / "other-decays.png"
    rows = numbers["other_decays"]
    plot_curves(
        {
            f"η = {LR:g}, no decay": curves["none"].numpy(),
            **{
                superscripts(
                    f"{name}: {rows[name]['schedule']} ({plural(rows[name]['bursts'], 'burst')})"
                ): curve.numpy()
                for name, curve in curves.items()
                if name != "none"
            },
        },
        out / others,
        title=superscripts(
            "Adagrad with the decays used in practice: bursts while η^t is still large"
        ),
        ylabel="L(θ) − L(θ*)",
        logy=True,
    )
    return conclude(__name__, numbers, [paths, loss, others], captions=captions(numbers))


def captions(numbers: dict[str, Any]) -> dict[str, str]:
    """The two loss figures' captions, saying when this run's decays arrived (within the
    arrival radius of θ*) against the fixed η."""
    radius = numbers["arrival_radius"]
    if numbers["arrival_step"] is None:
        arrived = f"never comes within {radius:g} of the minimum"
    else:
        arrived = (
            f"comes within {radius:g} of the minimum only at step {numbers['arrival_step']:,} "
            f"({_delay(numbers['arrival_delay'])})"
        )
    others = [f"{name} decay {_arrival(row)}" for name, row in numbers["other_decays"].items()]
    return {
        "loss.png": (
            "The loss above the minimum on a log scale: each spike of the fixed-η curve is a "
            f"burst; the 1/√(t+1) curve has {plural(numbers['bursts'], 'burst')} but "
            f"{arrived}."
        ),
        "other-decays.png": (
            "Cosine and step decay keep η large at first: they burst while η^t is still "
            "large, like the fixed η over the same steps, and stop once η^t has shrunk. "
            f"Here {' and '.join(others)}."
        ),
    }


def _arrival(row: dict[str, Any]) -> str:
    """When a decayed run came within the arrival radius, against the fixed η."""
    if row["arrival_step"] is None:
        return "never arrived"
    return f"arrived at step {row['arrival_step']:,} ({_delay(row['arrival_delay'])})"
