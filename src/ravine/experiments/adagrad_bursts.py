"""Adagrad with a fixed η reaches the Pokémon minimum and then keeps bursting out of it along
the steep axis w.

The lecture's Adagrad,

    θ_i^{t+1} = θ_i^t − η/σ_i^t · g_i^t,   σ_i^t = sqrt( Σ_{s≤t} (g_i^s)² / (t+1) ),

adapts per parameter: a large σ_w (steep w) and a small σ_b (flat b) give the flat direction the
long steps GD lacks. But once θ sits on the valley floor, g_w is tiny, the mean of (g_w)²
dilutes as t grows, σ_w falls and the step η/σ_w grows — until the update is unstable along w:
the largest eigenvalue of diag(η/σ^t)·H (H = ∇²L) passes 2. θ is thrown up the steep wall, the
large gradients there raise σ_w again, and it falls back to the floor: a burst. Then it starts
over.

Burst (the one definition, used by :mod:`ravine.experiments.decay` too): with τ = 1.0 (in units
of w), a burst is a maximal run of consecutive steps t with |w^t − w*| > τ, counted only after
the first step at which |w^t − w*| ≤ τ (so the initial descent of the wall is not one); a run
still going at the last step counts. Its size is its largest |w^t − w*| and its largest
L(θ^t) − L(θ*).

Arrival: the first step with ‖θ^t − θ*‖ ≤ 1.0. The claim is reproduced when Adagrad arrives and
then bursts at least 3 times.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..report.plots import color_name, plot_contour, plot_curves, series_colors
from ..surfaces import Trajectory, descend, surface
from .base import Evidence, Result, conclude
from .wording import times

NAME = "adagrad-bursts"
TITLE = "Adagrad with a fixed η: close to the minimum, then bursts"
CLAIM = (
    "Adagrad gives the flat direction big steps and the steep one small steps, so it travels "
    "where gradient descent stalls; but with a fixed η, once it sits at the bottom the "
    "accumulated σ of the steep parameter shrinks, its steps grow, and it is flung up the steep "
    "wall again and again before σ catches up and it falls back."
)

LECTURE = (
    "有 Adagrad 以后 (with Adagrad) the flat direction's 步伐可以变大 (steps can grow), so it "
    "走到非常接近终点 (gets very close to the end) — 但是快走到终点的时候突然爆炸了 (but near "
    "the end it suddenly explodes): along the steep axis it has seen many small gradients, "
    "累积了很小的 σ (accumulated a small σ), the step grows and 就喷出去了 (it shoots out); "
    "up there the gradients are large, σ grows again and it comes back — 又累计一段时间以后又会喷 "
    "(and after a while it shoots out again)."
)
COMMAND = (
    "ravine descend pokemon --optimizer lecture-adagrad --lr 1 --steps 100000 --plot adagrad.png"
)
# the labels' first words name what is drawn: the colour of each comes from series_colors
PATH_LABEL, BURSTS_LABEL = "Adagrad", "its"
PATH_COLOR, BURSTS_COLOR = (color_name(c) for c in series_colors([PATH_LABEL, BURSTS_LABEL]))
CAPTIONS = {
    "pokemon-path.png": (
        f"The whole path ({PATH_COLOR}) comes up the steep wall and runs along the valley's "
        f"floor to the minimum (★); drawn over it, each burst ({BURSTS_COLOR}) is a spike up and "
        "down the steep axis w, and each one falls back to the floor."
    ),
    "loss.png": (
        "The loss above the minimum on a log scale: it falls by orders of magnitude, then jumps "
        "back up again and again — each spike is one burst, followed by a slow decay back down."
    ),
}

THRESHOLD = 1.0  # τ, in units of w
ARRIVAL = 1.0  # radius around θ*, in units of (b, w)
MIN_BURSTS = 3
LR = 1.0  # η, fixed
STEPS, QUICK_STEPS = 100_000, 70_000  # N; quick keeps 70,000 so decay can reuse the same run
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {"surface": "pokemon", "optimizer": "lecture-adagrad", "lr": LR, "steps": STEPS}
BURST_DEFINITION = (
    f"a maximal run of consecutive steps t with |w^t − w*| > {THRESHOLD}, counted after the "
    f"first step at which |w^t − w*| ≤ {THRESHOLD}; a run still going at the last step counts; "
    "its size is its largest |w^t − w*| and its largest L(θ^t) − L(θ*)"
)


@dataclass(frozen=True)
class Burst:
    """One burst: ``start`` its first step outside τ, ``end`` the first step back inside (N+1
    if the run ends outside), and its sizes."""

    start: int
    end: int
    peak_w_error: float  # max |w^t − w*| over the burst
    peak_loss_gap: float  # max L(θ^t) − L(θ*) over the burst


def find_bursts(
    trajectory: Trajectory,
    threshold: float = THRESHOLD,
    run: int = 0,
    loss: torch.Tensor | None = None,
) -> list[Burst]:
    """The bursts along w (the second parameter) of run ``run``, by the module's definition.
    ``loss``: L(θ^t) of that run, when already computed. θ* is the minimum nearest θ^t (the
    surface's only one, but ``saddle`` has two)."""
    theta, minimum = trajectory.theta[:, run], _minimum(trajectory)
    nearest = trajectory.surface.nearest_minimum(theta)  # θ* of each step (L(θ*) the same)
    w_error = (theta[:, 1] - nearest[:, 1]).abs()  # |w^t − w*|
    inside = w_error <= threshold
    if not bool(inside.any()):
        return []
    first = int(inside.int().argmax())
    outside = ~inside
    outside[:first] = False
    # run boundaries: +1 where a run starts, −1 where it ends (one past its last step)
    zero = torch.zeros(1, dtype=torch.int32)
    edges = torch.diff(outside.int(), prepend=zero, append=zero)
    starts = torch.nonzero(edges == 1).flatten().tolist()
    ends = torch.nonzero(edges == -1).flatten().tolist()
    at = trajectory.surface.loss
    gap = (at(theta) if loss is None else loss) - at(minimum)  # L(θ^t) − L(θ*)
    return [
        Burst(s, e, float(w_error[s:e].max()), float(gap[s:e].max()))
        for s, e in zip(starts, ends, strict=True)
    ]


def instability_onsets(trajectory: Trajectory, run: int = 0) -> list[int]:
    """Steps t at which the largest eigenvalue of diag(η^t/σ^t)·H passes 2 from below — where
    a step with the per-parameter learning rates η^t/σ_i^t stops being stable on the quadratic
    with Hessian H = ∇²L(θ*)."""
    h = trajectory.surface.hessian(_minimum(trajectory))
    p = trajectory.effective_lr[:, run]  # η^t/σ_i^t, (N, 2)
    # eigenvalues of P·H (similar to the symmetric P^½·H·P^½): tr/2 ± sqrt(tr²/4 − det)
    trace = p[:, 0] * h[0, 0] + p[:, 1] * h[1, 1]
    det = p[:, 0] * p[:, 1] * torch.linalg.det(h)
    largest = trace / 2 + torch.sqrt((trace * trace / 4 - det).clamp(min=0))
    unstable = largest > 2
    return (torch.nonzero(unstable[1:] & ~unstable[:-1]).flatten() + 1).tolist()


def arrival_step(trajectory: Trajectory, radius: float = ARRIVAL, run: int = 0) -> int | None:
    """The first step t with ‖θ^t − θ*‖ ≤ ``radius``; None if it never gets there."""
    distance = torch.linalg.vector_norm(trajectory.theta[:, run] - _minimum(trajectory), dim=-1)
    close = distance <= radius
    return int(close.int().argmax()) if bool(close.any()) else None


def adagrad_run(steps: int = STEPS, lr: float = LR) -> Trajectory:
    """The lecture's Adagrad with fixed η = ``lr`` on the Pokémon loss for ``steps`` updates
    (cached: :mod:`ravine.experiments.decay` compares with the same run; treat the result as
    read-only)."""
    return _cached_run(int(steps), float(lr))


@functools.lru_cache(maxsize=2)
def _cached_run(steps: int, lr: float) -> Trajectory:
    return descend(surface("pokemon"), "lecture-adagrad", lr=lr, steps=steps)


def burst_numbers(trajectory: Trajectory) -> dict[str, Any]:
    """What the bursts, the arrival and the end of a run measure (shared with decay)."""
    bursts = find_bursts(trajectory)
    arrived = arrival_step(trajectory)
    onsets = instability_onsets(trajectory)
    minimum = _minimum(trajectory)
    after = [b for b in bursts if arrived is not None and b.start > arrived]
    return {
        "burst_definition": BURST_DEFINITION,
        "burst_threshold": THRESHOLD,
        "bursts": len(bursts),
        "arrival_radius": ARRIVAL,
        "arrival_step": arrived,
        "bursts_after_arrival": len(after),
        "burst_starts": [b.start for b in bursts],
        "burst_lengths": [b.end - b.start for b in bursts],
        "burst_peak_w_error": [b.peak_w_error for b in bursts],
        "burst_peak_loss_gap": [b.peak_loss_gap for b in bursts],
        "largest_burst_w_error": max((b.peak_w_error for b in bursts), default=0.0),
        "largest_burst_loss_gap": max((b.peak_loss_gap for b in bursts), default=0.0),
        "largest_burst_start": max(bursts, key=lambda b: b.peak_w_error).start if bursts else None,
        "largest_burst_after_arrival_w_error": max((b.peak_w_error for b in after), default=0.0),
        "largest_burst_after_arrival_loss_gap": max((b.peak_loss_gap for b in after), default=0.0),
        "instability_onsets": len(onsets),
        "bursts_after_an_onset": _preceded(bursts, onsets),
        "loss_minimum": float(trajectory.surface.loss(minimum)),
        "loss_final": float(trajectory.loss[-1, 0]),
        "distance_start": float(torch.linalg.vector_norm(trajectory.theta[0, 0] - minimum)),
        "distance_final": float(trajectory.distance[0]),
        "final": trajectory.final[0].tolist(),
    }


def _minimum(trajectory: Trajectory) -> torch.Tensor:
    """θ*, in the trajectory's dtype."""
    return torch.tensor(trajectory.surface.minimum, dtype=trajectory.theta.dtype)


def _preceded(bursts: list[Burst], onsets: list[int]) -> int:
    """How many bursts have an instability onset between the previous burst's end and their
    start."""
    count, previous_end = 0, 0
    for burst in bursts:
        if any(previous_end <= t <= burst.start for t in onsets):
            count += 1
        previous_end = burst.end
    return count


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """Arrival, the bursts after it, and what set them off (context)."""
    n = numbers
    return [
        Evidence(
            f"first update within {n['arrival_radius']:g} of the minimum θ*",
            n["arrival_step"] if n["arrival_step"] is not None else "never",
            "updates",
            f"within the {n['steps']:,} updates",
            "the lecture's first half: with σ per parameter Adagrad travels the flat floor that "
            "gradient descent with η = 10⁻⁷ could not (see tiny-lr)",
            n["arrival_step"] is not None,
        ),
        Evidence(
            f"bursts after arriving (|w − w*| > {n['burst_threshold']:g} again)",
            n["bursts_after_arrival"],
            "bursts",
            f"≥ {n['min_bursts']}",
            "one excursion could be left over from the descent; the lecture describes a cycle "
            "that repeats (又会喷), so it has to happen again and again",
            n["bursts_after_arrival"] >= n["min_bursts"],
        ),
        Evidence(
            "bursts that began after the largest eigenvalue of diag(η/σ)·H passed 2",
            f"{n['bursts_after_an_onset']} of {n['bursts']}",
            "",
            "",
            "the lecture's explanation: σ_w shrinks until a step along w is unstable (η·λ/σ > 2, "
            "as for gradient descent), then it shoots out; shown beside the verdict, not part "
            "of its test",
            None,
        ),
        Evidence(
            "largest burst after arriving: |w − w*| and L − L*",
            f"{n['largest_burst_after_arrival_w_error']:.3g} and "
            f"{n['largest_burst_after_arrival_loss_gap']:.3g}",
            "",
            "",
            "how far up the steep wall the bursts are thrown once it sits at the bottom"
            + _largest_before(n),
            None,
        ),
    ]


def holds(numbers: dict[str, Any]) -> bool:
    """Arrived near θ*, then at least ``MIN_BURSTS`` bursts."""
    return all(e.holds for e in evidence(numbers) if e.holds is not None)


def _largest_before(numbers: dict[str, Any]) -> str:
    """Where the largest of all bursts began before the arrival: "; the largest of all
    (|w − w*| = …, L − L* = …) began at step …, before arriving"; else ""."""
    n = numbers
    start, arrived = n["largest_burst_start"], n["arrival_step"]
    if start is None or (arrived is not None and start > arrived):
        return ""
    return (
        f"; the largest of all (|w − w*| = {n['largest_burst_w_error']:.3g}, L − L* = "
        f"{n['largest_burst_loss_gap']:.3g}) began at step {start:,}, before arriving"
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n = numbers
    arrived = (
        f"came within {n['arrival_radius']:g} of the minimum at step {n['arrival_step']:,}"
        if n["arrival_step"] is not None
        else f"never came within {n['arrival_radius']:g} of the minimum"
    )
    reaching = (
        f", reaching |w − w*| up to {n['largest_burst_after_arrival_w_error']:.3g} and L − L* "
        f"up to {n['largest_burst_after_arrival_loss_gap']:.3g}"
        if n["bursts_after_arrival"]
        else ""
    )
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: the lecture's Adagrad with fixed "
        f"η = {n['lr']:g} {arrived} and then burst {times(n['bursts_after_arrival'])}"
        f"{reaching} ({n['bursts']} in all over {n['steps']:,} updates; a burst is |w − w*| > "
        f"{n['burst_threshold']:g}{_largest_before(n)}); {n['bursts_after_an_onset']} of "
        f"the {n['bursts']} bursts began after a step where the largest eigenvalue of "
        f"diag(η/σ)·H passed 2."
    )


def burst_segments(trajectory: Trajectory, run: int = 0) -> torch.Tensor:
    """The points θ^t of every burst of run ``run``, from the step before it leaves τ to the
    step it is back, each burst followed by a row of NaN — a plot breaks its line there, so
    the bursts are drawn as separate strokes over the whole path; shape (points, 2)."""
    theta = trajectory.theta[:, run]
    gap = torch.full((1, 2), float("nan"), dtype=theta.dtype)
    pieces = []
    for burst in find_bursts(trajectory, run=run):
        pieces += [theta[max(burst.start - 1, 0) : burst.end + 1], gap]
    return torch.cat(pieces) if pieces else gap


def loss_gap(trajectory: Trajectory) -> torch.Tensor:
    """L(θ^t) − L(θ*), floored at 10⁻¹²·L(θ*) for a log axis."""
    minimum = trajectory.surface.loss(_minimum(trajectory))
    return (trajectory.loss[:, 0] - minimum).clamp(min=1e-12 * float(minimum))


def run(out: Path, quick: bool = False) -> Result:
    steps = QUICK_STEPS if quick else STEPS
    trajectory = adagrad_run(steps, LR)
    numbers = {"optimizer": "lecture-adagrad", "lr": LR, "steps": steps, "min_bursts": MIN_BURSTS}
    numbers.update(burst_numbers(trajectory))
    path = Path(NAME) / "pokemon-path.png"
    plot_contour(
        trajectory.surface,
        {
            f"{PATH_LABEL}, η = {LR:g}, {steps:,} updates": trajectory.theta[:, 0].numpy(),
            f"{BURSTS_LABEL} {numbers['bursts']} bursts (|w − w*| > {THRESHOLD:g})": burst_segments(
                trajectory
            ).numpy(),
        },
        out / path,
        title="Adagrad on the Pokémon loss: the bursts go up and down the steep axis w",
        bounds=((-200.0, -100.0), (-5.0, 8.0)),
    )
    curve = Path(NAME) / "loss.png"
    plot_curves(
        {"L(θ) − L(θ*)": loss_gap(trajectory).numpy()},
        out / curve,
        title=f"Adagrad, η = {LR:g}: {numbers['bursts']} bursts",
        ylabel="loss above the minimum",
        logy=True,
    )
    return conclude(__name__, numbers, [path, curve])
