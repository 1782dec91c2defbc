"""The loss function changes how hard optimization is: MSE against cross-entropy for the same
two-parameter softmax classifier, from the same bad start.

With logits (w·x + b, 0), p = sigmoid(z), z = w·x + b, both losses are means over the points:

    MSE:            e = 2·(p − y)²,                       ∂e/∂z = 4·(p − y)·p·(1 − p)
    cross-entropy:  e = −y·ln p − (1 − y)·ln(1 − p),      ∂e/∂z = p − y

Where the outputs are confidently wrong (p ≈ 1 − y), MSE's factor p·(1 − p) ≈ 0 makes its
surface flat, while cross-entropy's gradient stays about as large as the error itself.

The gap left at step t is (L(θ^t) − L(θ*)) / (L(θ^0) − L(θ*)), for each loss with its own
minimum θ*. The claim is reproduced when, from (w, b) = (−6, −6), ‖∇L‖ of cross-entropy is at
least 10× that of MSE, and after the same budget of 1,000 GD updates with η = 1 MSE still has
more than half of its gap left while cross-entropy has less than 10⁻³.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..report.plots import plot_contour, plot_curves
from ..surfaces import Trajectory, descend, surface
from .base import Result

NAME = "classification-loss"
TITLE = "Cross-entropy against MSE: the loss decides how hard optimization is"
CLAIM = (
    "For classification, minimizing cross-entropy is easier than minimizing the mean square "
    "error: where the classifier's outputs are confidently wrong, the MSE surface is nearly "
    "flat and gradient descent stalls on it, while cross-entropy keeps a large gradient there "
    "and descends to its minimum."
)

LR = 1.0  # η, the same for both losses
STEPS = 5000  # N: long enough for MSE to leave its plateau (≈ 3,400 updates); 0.3 s for both
BUDGET = 1000  # the updates after which the two are compared
RATIO = 10.0  # cross-entropy's ‖∇L(θ^0)‖ must be at least this many times MSE's
MSE_LEFT = 0.5  # MSE must have more than this fraction of its gap left after BUDGET updates
CE_LEFT = 1e-3  # cross-entropy must have less than this fraction left
LOSSES = {"mse": "classification-mse", "cross_entropy": "classification-ce"}


def gap_left(trajectory: Trajectory) -> torch.Tensor:
    """(L(θ^t) − L(θ*)) / (L(θ^0) − L(θ*)), t = 0 … N."""
    minimum = trajectory.surface.loss(torch.tensor(trajectory.surface.minimum, dtype=torch.float64))
    loss = trajectory.loss[:, 0]
    return (loss - minimum) / (loss[0] - minimum)


def measure(
    lr: float = LR, steps: int = STEPS, budget: int = BUDGET
) -> tuple[dict[str, Any], dict[str, Trajectory]]:
    """GD with η = ``lr`` for ``steps`` updates on both losses from their common start."""
    if not 1 <= budget <= steps:
        raise ValueError(f"budget must be in [1, steps = {steps}], got {budget}")
    numbers: dict[str, Any] = {"lr": lr, "steps": steps, "budget": budget}
    trajectories = {}
    for key, name in LOSSES.items():
        s = surface(name)
        trajectory = descend(s, "gd", lr=lr, steps=steps)
        trajectories[key] = trajectory
        left = gap_left(trajectory)
        closed = left <= CE_LEFT
        norm = trajectory.gradient_norm[:, 0]  # ‖∇L(θ^t)‖
        numbers[key] = {
            "surface": name,
            "start": list(s.start),
            "minimum": list(s.minimum),
            "gradient_start": s.gradient(torch.tensor(s.start, dtype=torch.float64)).tolist(),
            "gradient_norm_start": float(norm[0]),
            "gradient_norm_at_budget": float(norm[budget]),
            "loss_start": float(trajectory.loss[0, 0]),
            "loss_at_budget": float(trajectory.loss[budget, 0]),
            "loss_minimum": float(s.loss(torch.tensor(s.minimum, dtype=torch.float64))),
            "gap_left_at_budget": float(left[budget]),
            "steps_to_gap_left_1e-3": int(closed.int().argmax()) if bool(closed.any()) else None,
            "distance_final": float(trajectory.distance[0]),
        }
    numbers["gradient_norm_ratio"] = (
        numbers["cross_entropy"]["gradient_norm_start"] / numbers["mse"]["gradient_norm_start"]
    )
    numbers["criteria"] = {
        "gradient_norm_ratio_at_least": RATIO,
        "mse_gap_left_above": MSE_LEFT,
        "cross_entropy_gap_left_below": CE_LEFT,
    }
    return numbers, trajectories


def holds(numbers: dict[str, Any]) -> bool:
    """The criterion of the module doc."""
    limits = numbers["criteria"]
    steep = numbers["gradient_norm_ratio"] >= limits["gradient_norm_ratio_at_least"]
    mse_stuck = numbers["mse"]["gap_left_at_budget"] > limits["mse_gap_left_above"]
    ce_done = (
        numbers["cross_entropy"]["gap_left_at_budget"] < limits["cross_entropy_gap_left_below"]
    )
    return bool(steep and mse_stuck and ce_done)


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    mse, ce = numbers["mse"], numbers["cross_entropy"]

    def when(steps: int | None) -> str:
        return f"{steps:,}" if steps is not None else f"more than {numbers['steps']:,}"

    def left(fraction: float) -> str:
        return "none (to rounding)" if abs(fraction) < 1e-12 else f"{fraction:.1e}"

    w, b = mse["start"]
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: at (w, b) = ({w:g}, {b:g}) ‖∇L‖ "
        f"is {mse['gradient_norm_start']:.3g} for MSE and {ce['gradient_norm_start']:.3g} for "
        f"cross-entropy ({numbers['gradient_norm_ratio']:.1f}×); after {numbers['budget']:,} "
        f"updates with η = {numbers['lr']:g}, MSE sits at L = {mse['loss_at_budget']:.4g} "
        f"(minimum {mse['loss_minimum']:.3g}) with {mse['gap_left_at_budget']:.0%} of its gap "
        f"left and ‖∇L‖ = {mse['gradient_norm_at_budget']:.2g}, cross-entropy at "
        f"L = {ce['loss_at_budget']:.4g} with {left(ce['gap_left_at_budget'])} left; closing 99.9% "
        f"of the gap took {when(ce['steps_to_gap_left_1e-3'])} updates with cross-entropy and "
        f"{when(mse['steps_to_gap_left_1e-3'])} with MSE."
    )


def run(out: Path, quick: bool = False) -> Result:
    # Both runs together take a fraction of a second: quick mode keeps the full size.
    numbers, trajectories = measure(LR, STEPS, BUDGET)
    reproduced = holds(numbers)
    curves = Path(NAME) / "gap-left.png"
    plot_curves(
        {
            "MSE": gap_left(trajectories["mse"]).clamp(min=1e-16).numpy(),
            "cross-entropy": gap_left(trajectories["cross_entropy"]).clamp(min=1e-16).numpy(),
        },
        out / curves,
        title=f"GD, η = {LR:g}, from (−6, −6): the fraction of the loss gap still to close",
        ylabel="(L − L*) / (L⁰ − L*)",
        logy=True,
    )
    paths = Path(NAME) / "mse-path.png"
    plot_contour(
        trajectories["mse"].surface,
        {f"GD on MSE, η = {LR:g}, {STEPS:,} updates": trajectories["mse"].theta[:, 0].numpy()},
        out / paths,
        title="The MSE surface: flat where the outputs are confidently wrong",
    )
    return Result(
        name=NAME,
        title=TITLE,
        claim=CLAIM,
        reproduced=reproduced,
        verdict=verdict(numbers, reproduced),
        numbers=numbers,
        figures=[curves, paths],
    )
