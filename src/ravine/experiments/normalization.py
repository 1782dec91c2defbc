"""Feature normalization makes the error surface round: plain gradient descent then needs a
handful of steps, where on the raw Pokémon data it needs millions.

Both losses are quadratics L(θ) = Σ_n (y_n − b − w·x_n)² with a constant Hessian H = 2A,
A = [[N, Σx], [Σx, Σx²]]. Gradient descent with a fixed η multiplies the error along the
eigenvector of eigenvalue λ by (1 − η·λ) per step, so it is stable for η < 2/λ_max and, at the
best fixed η = 2/(λ_max + λ_min), shrinks the whole error by ρ = (κ − 1)/(κ + 1) per step
(κ = λ_max/λ_min, the condition number): reducing it by 10⁻⁶ takes

    ln(10⁶) / −ln ρ ≈ κ·ln(10⁶)/2 steps.

On the raw data κ ≈ 3·10⁵ (millions of steps); with x standardized, H = 2N·I (κ = 1) and
η = 1/(2N) lands on the minimum in one step.

"Reached" means ‖θ^t − θ*‖ ≤ 10⁻⁶·‖θ^0 − θ*‖. The claim is reproduced when the normalized
surface has κ < 1.01 and GD reaches its minimum within 10 steps at η = 1/λ_max and at a fixed
η = 0.04, while on the raw data the estimate is at least 10⁶ steps and the measured GD, at its
best fixed η, is still at least 10% of the initial distance away after N steps.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..report.plots import plot_contour
from ..surfaces import Surface, Trajectory, descend, surface
from .base import Evidence, Result, conclude

NAME = "normalization"
TITLE = "Normalized features: a round bowl, a few steps"
CLAIM = (
    "The elongated valley is a property of the data, not of the problem: standardizing the "
    "input makes the Pokémon error surface a round bowl, on which plain gradient descent with "
    "one fixed η reaches the minimum in a few steps, where on the raw data it would need "
    "millions."
)

LECTURE = (
    "Feature Normalization (特征标准化): x̃_i^r ← (x_i^r − m_i)/σ_i, each dimension's mean "
    "m_i and standard deviation σ_i over the training set. When x's dimensions differ wildly "
    "in range, 斜率变化反差很大 (the slopes differ greatly) and 使用固定的 LR 训练效果很差 "
    "(a fixed η trains badly); normalizing changes the error surface itself instead of the "
    "optimizer."
)
COMMAND = "ravine descend pokemon-normalized --optimizer gd --lr 0.04 --steps 100 --plot bowl.png"
CAPTIONS = {
    "normalized-paths.png": (
        "With x standardized the contours are circles (drawn close up around the start and the "
        "minimum ★); every step is marked, up to the one at which the slower path arrives: one "
        "path (circles) lands on the minimum in a single step, the other (crosses, dashed) "
        "walks straight along the same line to it in a few, the last of them under the star."
    ),
    "raw-path.png": (
        "On the raw data the contours are long thin ellipses: even at its best fixed η, gradient "
        "descent's end point (■) after the whole run is still far from the minimum (★)."
    ),
}

REDUCTION = 1e-6  # "reached": the error shrank by this factor
FIXED_LR = 0.04  # a fixed η on the normalized surface, not tuned to it
FEW = 10  # the normalized surface must be reached within this many steps
MANY = 1e6  # the raw surface's estimate must be at least this many steps
FAR = 0.1  # after N steps, raw GD must still be this fraction of the initial distance away
NORMALIZED_STEPS = 100
STEPS, QUICK_STEPS = 100_000, 20_000  # N, GD on the raw data
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {
    "surface": "pokemon-normalized",
    "optimizer": "gd",
    "lr": FIXED_LR,
    "steps": NORMALIZED_STEPS,
}


def spectrum(s: Surface) -> tuple[float, float]:
    """(λ_min, λ_max) of the Hessian at the minimum, from its closed form."""
    low, high = torch.linalg.eigvalsh(s.hessian(_minimum(s))).tolist()
    return low, high


def steps_to_reach(trajectory: Trajectory, reduction: float = REDUCTION) -> list[int | None]:
    """For each run, the first step t with ‖θ^t − θ*‖ ≤ reduction·‖θ^0 − θ*‖ (None: never)."""
    error = torch.linalg.vector_norm(trajectory.theta - _minimum(trajectory.surface), dim=-1)
    reached = error <= reduction * error[0]
    return [int(r.int().argmax()) if bool(r.any()) else None for r in reached.unbind(-1)]


def measure(steps: int = STEPS) -> tuple[dict[str, Any], Trajectory, Trajectory]:
    """GD on the normalized surface (η = 1/λ_max and η = FIXED_LR) and on the raw one (best
    fixed η) for ``steps`` updates, and both Hessians' spectra."""
    raw, normalized = surface("pokemon"), surface("pokemon-normalized")
    raw_low, raw_high = spectrum(raw)
    norm_low, norm_high = spectrum(normalized)
    raw_kappa, norm_kappa = raw_high / raw_low, norm_high / norm_low

    one_step_lr = 1 / norm_high  # η = 1/(2N): 1 − η·λ = 0 for both eigenvalues
    round_bowl = descend(normalized, "gd", lr=[one_step_lr, FIXED_LR], steps=NORMALIZED_STEPS)
    best_lr = 2 / (raw_high + raw_low)  # the best fixed η for GD on a quadratic
    # ln ρ, ρ = (κ − 1)/(κ + 1) the error's factor per step at that η (log1p: ρ ≈ 1)
    log_rho = -math.log1p(2 / (raw_kappa - 1))
    valley = descend(raw, "gd", lr=best_lr, steps=steps)
    start_distance = float(torch.linalg.vector_norm(valley.theta[0, 0] - _minimum(raw)))
    one_step = torch.linalg.vector_norm(round_bowl.theta[1] - _minimum(normalized), dim=-1)
    numbers = {
        "reduction": REDUCTION,
        "pokemon": {
            "hessian_eigenvalues": [raw_low, raw_high],
            "condition_number": raw_kappa,
            "largest_stable_lr": 2 / raw_high,
            "lr": best_lr,
            "steps": steps,
            "distance_start": start_distance,
            "distance_final": float(valley.distance[0]),
            "distance_fraction_left": float(valley.distance[0]) / start_distance,
            "distance_final_predicted": start_distance * math.exp(steps * log_rho),  # d⁰·ρ^N
            "steps_to_reach_estimated": math.log(1 / REDUCTION) / -log_rho,
        },
        "pokemon_normalized": {
            "hessian_eigenvalues": [norm_low, norm_high],
            "condition_number": norm_kappa,
            "lr": [one_step_lr, FIXED_LR],
            "steps_to_reach": steps_to_reach(round_bowl),
            "distance_after_one_step": one_step.tolist(),
        },
        "criteria": {
            "condition_number_below": 1.01,
            "steps_at_most": FEW,
            "estimate_at_least": MANY,
            "distance_fraction_left_above": FAR,
        },
    }
    return numbers, round_bowl, valley


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """The four numbers the criterion of the module doc holds against its lines."""
    raw, norm, limits = numbers["pokemon"], numbers["pokemon_normalized"], numbers["criteria"]
    few = limits["steps_at_most"]
    reached = [s if s is not None else "never" for s in norm["steps_to_reach"]]
    return [
        Evidence(
            "normalized: condition number κ = λ_max/λ_min of the Hessian",
            norm["condition_number"],
            "",
            f"< {limits['condition_number_below']:g}",
            "κ = 1 is a round bowl: the gradient points at the minimum from everywhere",
            bool(norm["condition_number"] < limits["condition_number_below"]),
        ),
        Evidence(
            "normalized: steps of GD to shrink the error 10⁶× at η = 1/λ_max and at η = "
            f"{norm['lr'][1]:g}",
            ", ".join(str(s) for s in reached),
            "steps",
            f"≤ {few} each",
            "'a few steps': a handful, at the ideal η and at a round number not tuned to it",
            all(s is not None and s <= few for s in norm["steps_to_reach"]),
        ),
        Evidence(
            "raw: steps GD needs at its best fixed η, κ·ln(10⁶)/2",
            raw["steps_to_reach_estimated"],
            "steps",
            f"≥ {limits['estimate_at_least']:.0e}",
            "'millions': the error shrinks by (κ − 1)/(κ + 1) per step at the best fixed η",
            bool(raw["steps_to_reach_estimated"] >= limits["estimate_at_least"]),
        ),
        Evidence(
            f"raw: distance to θ* left after {raw['steps']:,} steps of GD, fraction of the start",
            raw["distance_fraction_left"],
            "",
            f"≥ {limits['distance_fraction_left_above']:g}",
            "the estimate checked by a run: thousands of times the normalized surface's few "
            "steps leave it a tenth of the way or more from the minimum",
            bool(raw["distance_fraction_left"] >= limits["distance_fraction_left_above"]),
        ),
    ]


def holds(numbers: dict[str, Any]) -> bool:
    """The criterion of the module doc."""
    return all(e.holds for e in evidence(numbers) if e.holds is not None)


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    raw, norm = numbers["pokemon"], numbers["pokemon_normalized"]
    (one, fixed), (one_steps, fixed_steps) = norm["lr"], norm["steps_to_reach"]
    low, high = raw["hessian_eigenvalues"]

    def count(steps: int | None) -> str:
        if steps is None:
            return f"more than {NORMALIZED_STEPS} steps"
        return f"{steps} step{'' if steps == 1 else 's'}"

    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: normalized, the Hessian's "
        f"eigenvalues are {norm['hessian_eigenvalues'][0]:.6g} and "
        f"{norm['hessian_eigenvalues'][1]:.6g} (κ = {norm['condition_number']:.6g}) and GD "
        f"reaches the minimum (error ÷ {1 / numbers['reduction']:.0e}) in {count(one_steps)} "
        f"with η = {one:g} and {count(fixed_steps)} with η = {fixed:g}; on the raw data they are "
        f"{low:.4g} and {high:.4g} (κ = {raw['condition_number']:.4g}), so even the best fixed "
        f"η = {raw['lr']:.3g} needs ≈ {raw['steps_to_reach_estimated']:.3g} steps, and after "
        f"{raw['steps']:,} steps it is still {raw['distance_final']:.3g} from the minimum "
        f"({raw['distance_fraction_left']:.0%} of the start; predicted "
        f"{raw['distance_final_predicted']:.3g})."
    )


def _minimum(s: Surface) -> torch.Tensor:
    return torch.tensor(s.minimum, dtype=torch.float64)


def _steps_shown(steps_to_reach: list[int | None]) -> int:
    """The last step drawn on the round bowl: the one at which the slower path reached the
    minimum, or every step (``NORMALIZED_STEPS``) if a path never did."""
    if any(steps is None for steps in steps_to_reach):
        return NORMALIZED_STEPS
    return max(steps_to_reach)


def _around(start: torch.Tensor, s: Surface, margin: float = 0.1):
    """A square window just around ``start`` and the minimum (a tenth of their distance on
    each side): the steps near the minimum stay apart."""
    low, high = torch.minimum(start, _minimum(s)), torch.maximum(start, _minimum(s))
    pad = margin * float((high - low).max())
    return tuple((float(a) - pad, float(b) + pad) for a, b in zip(low, high, strict=True))


def run(out: Path, quick: bool = False) -> Result:
    numbers, round_bowl, valley = measure(QUICK_STEPS if quick else STEPS)
    (one, fixed), steps = numbers["pokemon_normalized"]["lr"], numbers["pokemon"]["steps"]
    bowl = Path(NAME) / "normalized-paths.png"
    # the two paths run along the same line: every step marked, each path its own marker
    # (circles, then crosses), up to the step the slower one arrives (all of them if one never)
    shown = _steps_shown(numbers["pokemon_normalized"]["steps_to_reach"])
    plot_contour(
        round_bowl.surface,
        {
            f"GD, η = 1/(2N) = {one:g}": round_bowl.theta[: shown + 1, 0].numpy(),
            f"GD, η = {fixed:g}": round_bowl.theta[: shown + 1, 1].numpy(),
        },
        out / bowl,
        title=f"Standardized x: a round bowl, the minimum in a few steps (1 to {shown} marked)",
        bounds=_around(round_bowl.theta[0, 0], round_bowl.surface),
        steps=True,
    )
    raw = Path(NAME) / "raw-path.png"
    # At this η the steep component flips sign every step, so θ^t zigzags across the valley;
    # the even steps θ^{2k} trace the path without the zigzag (and draw 100× faster).
    label = f"GD, best fixed η = {numbers['pokemon']['lr']:.3g}, {steps:,} steps (θ at even t)"
    plot_contour(
        valley.surface,
        {label: valley.theta[::2, 0].numpy()},
        out / raw,
        title="Raw x: GD at its best fixed η, still far from the minimum",
    )
    return conclude(__name__, numbers, [bowl, raw])
