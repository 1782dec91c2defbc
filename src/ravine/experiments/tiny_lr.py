"""A learning rate small enough not to bounce is too small to travel: η = 10⁻⁷ for 100,000
updates on the Pokémon regression.

The Pokémon loss L(b, w) = Σ_n (y_n − b − w·x_n)² is a quadratic with Hessian H = 2A; its
eigenvalues λ_min ≈ 5.6 and λ_max ≈ 1.7·10⁶ differ by the condition number κ ≈ 3·10⁵. Gradient
descent shrinks the error along an eigenvector of H by (1 − η·λ) per update, so with
η = 10⁻⁷ it comes down the steep wall (along w, η·λ_max ≈ 0.17) in tens of updates but moves
along the flat floor (along b) by the factor (1 − η·λ_min)^N ≈ e^{−0.056} in N = 100,000 —
and would need ln(100)/(η·λ_min) ≈ 8·10⁶ updates to close 99% of the distance.

The same happens on the valley (curvature 400 across, 1 along): with η = 10⁻⁷, w1 decreases
monotonically — no bouncing — while w2 moves by only about 1%.

The claim is reproduced when, after N updates,

- on the Pokémon loss, |w − w*| has shrunk by at least 90% (it came down the wall) but the
  distance ‖θ − θ*‖ is still at least half the initial one (it stalled far from θ*), and
- on the valley, w1 never increased and w2 is still at least 95% of its start.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..report.plots import plot_contour
from ..surfaces import Trajectory, descend, surface
from .base import Evidence, Result, conclude

NAME = "tiny-lr"
TITLE = "η = 10⁻⁷: no bouncing, but stalled far from the minimum"
CLAIM = (
    "Making η small enough to stop the bouncing does not fix training: with η = 10⁻⁷, gradient "
    "descent slides down the steep direction and then crawls so slowly along the flat "
    "direction that 100,000 updates leave most of the way to the minimum still to go."
)

LECTURE = (
    "调到 10⁻⁷ 以后,终於不再震盪了 (at η = 10⁻⁷ it finally stops oscillating): it slides down "
    "the steep wall and turns left along the valley, 但是这个训练永远走不到终点 (but this "
    "training never reaches the end) — 十万个点 (100,000 updates) and still not near the "
    "minimum. So learning rate cannot be one-size-fits-all (学习率不能一体适用): different "
    "parameters need different learning rates."
)
COMMAND = "ravine descend pokemon --optimizer gd --lr 1e-7 --steps 100000 --plot pokemon.png"
CAPTIONS = {
    "pokemon-path.png": (
        "The path drops straight down the steep wall (along w) in a few updates, then hardly "
        "moves along the flat floor (along b): its end (■) is still far from the minimum (★)."
    ),
    "valley-path.png": (
        "The same η on the valley: no zigzag any more — w1 comes down smoothly — but the path "
        "barely leaves its starting w2."
    ),
}

LR = 1e-7  # η, the lecture's
STEPS, QUICK_STEPS = 100_000, 20_000  # N: the lecture's; quick mode's (the claim holds there too)
CAME_DOWN = 0.1  # |w − w*| must shrink below this fraction of its start
STALLED = 0.5  # ‖θ − θ*‖ must stay above this fraction of its start
VALLEY_W2_KEPT = 0.95  # the valley's w2 must stay above this fraction of its start
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {"surface": "pokemon", "optimizer": "gd", "lr": LR, "steps": STEPS}


def measure(lr: float = LR, steps: int = STEPS) -> tuple[dict[str, Any], Trajectory, Trajectory]:
    """GD with η = ``lr`` for ``steps`` updates on the Pokémon loss and on the valley."""
    pokemon = surface("pokemon")
    trajectory = descend(pokemon, "gd", lr=lr, steps=steps)
    theta = trajectory.theta[:, 0]  # θ^t = (b, w), t = 0 … N
    minimum = torch.tensor(pokemon.minimum, dtype=theta.dtype)  # θ* = (b*, w*)
    distance = torch.linalg.vector_norm(theta - minimum, dim=-1)  # ‖θ^t − θ*‖
    w_error = (theta[:, 1] - minimum[1]).abs()  # |w^t − w*|
    # λ_min, λ_max of H = ∇²L (constant: L is quadratic)
    low, high = torch.linalg.eigvalsh(pokemon.hessian(minimum)).tolist()
    tail = steps - steps // 10  # the last 10% of the updates start here
    w_side = torch.sign(theta[:, 1] - minimum[1])

    valley = surface("valley")
    creep = descend(valley, "gd", lr=lr, steps=steps)
    w1, w2 = creep.theta[:, 0, 0], creep.theta[:, 0, 1]
    numbers = {
        "lr": lr,
        "steps": steps,
        "start": list(pokemon.start),
        "minimum": list(pokemon.minimum),
        "final": theta[-1].tolist(),
        "distance_start": float(distance[0]),
        "distance_final": float(distance[-1]),
        "distance_fraction_left": float(distance[-1] / distance[0]),
        "w_error_start": float(w_error[0]),
        "w_error_final": float(w_error[-1]),
        "w_error_fraction_left": float(w_error[-1] / w_error[0]),
        "w_crossed_minimum": int((w_side[1:] != w_side[:-1]).sum()),
        "loss_start": float(trajectory.loss[0, 0]),
        "loss_final": float(trajectory.loss[-1, 0]),
        "loss_minimum": float(pokemon.loss(minimum)),
        "moved_last_tenth": float(torch.linalg.vector_norm(theta[-1] - theta[tail])),
        "hessian_eigenvalues": [low, high],
        "condition_number": high / low,
        "largest_stable_lr": 2 / high,
        "updates_to_close_99_percent": math.log(100) / (lr * low),
        "valley_w1_never_increased": bool((w1[1:] <= w1[:-1]).all()),
        "valley_w1_final": float(w1[-1]),
        "valley_w2_start": float(w2[0]),
        "valley_w2_final": float(w2[-1]),
        "valley_w2_fraction_left": float(w2[-1] / w2[0]),
        "criteria": {
            "w_error_fraction_left_below": CAME_DOWN,
            "distance_fraction_left_above": STALLED,
            "valley_w2_fraction_left_above": VALLEY_W2_KEPT,
        },
    }
    return numbers, trajectory, creep


def _updates(steps: int) -> str:
    """The run's number of updates, and whether it is the lecture's (a quick run does fewer)."""
    if steps == STEPS:
        return f"the lecture's {STEPS:,} updates"
    return f"this run's {steps:,} updates (the lecture's: {STEPS:,})"


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """The four numbers that decide the verdict, and the updates it would need (context)."""
    n, limits = numbers, numbers["criteria"]
    came_down = limits["w_error_fraction_left_below"]
    stalled = limits["distance_fraction_left_above"]
    kept = limits["valley_w2_fraction_left_above"]
    return [
        Evidence(
            "Pokémon: |w − w*| left after the run, as a fraction of its start",
            n["w_error_fraction_left"],
            "",
            f"< {came_down:g}",
            "the steep direction must have been travelled (90% of it): η is not too small to "
            "move where the gradient is large",
            bool(n["w_error_fraction_left"] < came_down),
        ),
        Evidence(
            "Pokémon: ‖θ − θ*‖ left after the run, as a fraction of its start",
            n["distance_fraction_left"],
            "",
            f"> {stalled:g}",
            f"more than half the way still to go after {_updates(n['steps'])}: training has "
            "not reached the end in any useful sense",
            bool(n["distance_fraction_left"] > stalled),
        ),
        Evidence(
            "valley: w1 never went back up",
            n["valley_w1_never_increased"],
            "",
            "yes",
            "a single increase would be a bounce off the far wall; the lecture's point is that "
            "10⁻⁷ is small enough to stop the bouncing",
            bool(n["valley_w1_never_increased"]),
        ),
        Evidence(
            "valley: w2 left after the run, as a fraction of its start",
            n["valley_w2_fraction_left"],
            "",
            f"> {kept:g}",
            "along the flat floor (curvature 1) the step η·1 shrinks w2 by only 1 − 10⁻⁷ per "
            "update; moving less than 5% of the way is no progress",
            bool(n["valley_w2_fraction_left"] > kept),
        ),
        Evidence(
            "updates GD would need to close 99% of the way on the Pokémon loss, ln(100)/(η·λ_min)",
            n["updates_to_close_99_percent"],
            "updates",
            "",
            f"the flat floor's curvature λ_min sets the pace: "
            f"{n['updates_to_close_99_percent'] / n['steps']:.0f} times this run's budget",
            None,
        ),
    ]


def holds(numbers: dict[str, Any]) -> bool:
    """The criterion of the module doc: down the wall, stalled far away, no bouncing."""
    return all(e.holds for e in evidence(numbers) if e.holds is not None)


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n = numbers
    b, w = n["final"]
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: after {n['steps']:,} updates with "
        f"η = {n['lr']:g}, GD on the Pokémon loss came down the wall (|w − w*| "
        f"{n['w_error_start']:.3g} → {n['w_error_final']:.3g}) but ended at (b, w) = "
        f"({b:.2f}, {w:.3f}), still {n['distance_final']:.1f} from the minimum (of "
        f"{n['distance_start']:.1f} at the start; L = {n['loss_final']:.4g} vs "
        f"{n['loss_minimum']:.4g} at θ*), moving {n['moved_last_tenth']:.3g} in its last "
        f"{n['steps'] // 10:,} updates and needing ≈ "
        f"{n['updates_to_close_99_percent']:.2g} updates to close 99% of the way; on the valley w1 "
        f"{'never' if n['valley_w1_never_increased'] else 'sometimes'} went back up and w2 went "
        f"only from {n['valley_w2_start']:.3g} to {n['valley_w2_final']:.3g}."
    )


def run(out: Path, quick: bool = False) -> Result:
    steps = QUICK_STEPS if quick else STEPS
    numbers, trajectory, creep = measure(LR, steps)
    pokemon_path = Path(NAME) / "pokemon-path.png"
    plot_contour(
        trajectory.surface,
        {f"GD, η = {LR:g}, {steps:,} updates": trajectory.theta[:, 0].numpy()},
        out / pokemon_path,
        title="Pokémon regression: down the steep wall, then stalled on the flat floor",
    )
    valley_path = Path(NAME) / "valley-path.png"
    plot_contour(
        creep.surface,
        {f"GD, η = {LR:g}, {steps:,} updates": creep.theta[:, 0].numpy()},
        out / valley_path,
        title="Valley: no more bouncing, and hardly any way along the floor",
    )
    return conclude(__name__, numbers, [pokemon_path, valley_path])
