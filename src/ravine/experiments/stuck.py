"""Training stuck ≠ small gradient: on the valley, gradient descent with η = 10⁻² stops lowering
the loss while the gradient's norm stays large.

The valley L(w1, w2) = 400·log cosh(w1) + ½·w2² curves by 400 across its floor, so a step of
η = 10⁻² overshoots it (η·400 = 4 > 2): θ settles into bouncing between the two walls, at
w1 = ±w̄ where one step maps w̄ to −w̄,

    w̄ − η·400·tanh(w̄) = −w̄   ⇔   w̄ = (η·400/2)·tanh(w̄),

and there ∂L/∂w1 = 400·tanh(w̄) stays large while L stops changing.

The claim is reproduced when, over the last half of the N updates,

- the loss is flat: |L(θ^N) − L(θ^{N/2})| / L(θ^{N/2}) < 10⁻³, and
- the gradient is not small: min_{t ≥ N/2} ‖∇L(θ^t)‖ > 0.1·‖∇L(θ^0)‖.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..report.plots import plot_contour, plot_curves
from ..surfaces import Trajectory, descend, surface
from .base import Evidence, Result, conclude

NAME = "stuck"
TITLE = "Training stuck ≠ small gradient"
CLAIM = (
    "When the loss stops going down, the parameters need not be near a critical point: on a "
    "narrow convex valley, gradient descent with η = 10⁻² bounces from wall to wall, so the "
    "loss curve goes flat while the norm of the gradient stays large."
)

LECTURE = (
    "训练卡住 (training stuck) ≠ 梯度很小 (small gradient): when the loss 不再下降 (stops going "
    "down), people guess a critical point, but the gradient's norm 并没有真的变得很小 (has not "
    "really become small) — the parameters 在山谷的两个谷壁间不断的来回震荡 (oscillate between "
    "the two walls of the valley). The lecture's η is 10⁻²."
)
COMMAND = "ravine descend valley --optimizer gd --lr 1e-2 --steps 2000 --plot valley.png"
CAPTIONS = {
    "loss-and-gradient.png": (
        "The loss (solid, left axis) drops and then runs flat, while the gradient's norm "
        "(dashed, right axis) stays far above zero: the curve goes flat without a critical point."
    ),
    "valley-path.png": (
        "The path comes down and then jumps back and forth across the narrow valley, landing "
        "on each wall at the same width (w1 ≈ ±1.9) while the bounces slide down w2 from 8 to "
        "about 0: it moves alongside the floor but never drops onto it (w1 = 0), so it never "
        "reaches the minimum (★)."
    ),
}

FLAT = 1e-3  # largest relative change of L over the last half that counts as flat
LARGE = 0.1  # smallest ‖∇L‖ over the last half, as a fraction of ‖∇L(θ^0)‖, that counts as large
LR = 1e-2  # η, the lecture's
STEPS, QUICK_STEPS = 2000, 1000  # N
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {"surface": "valley", "optimizer": "gd", "lr": LR, "steps": STEPS}


def bounce_point(lr: float, steep: float) -> float:
    """w̄ > 0 with w̄ = (η·steep/2)·tanh(w̄): where GD bounces between the walls (0 when
    η·steep ≤ 2, i.e. when it does not overshoot). Solved by Newton's method."""
    half = lr * steep / 2
    if half <= 1:
        return 0.0
    w = half  # tanh(w̄) < 1, so w̄ < half: start above the root, where the function is convex
    for _ in range(100):
        f, df = w - half * math.tanh(w), 1 - half / math.cosh(w) ** 2
        step = f / df
        w -= step
        if abs(step) < 1e-15 * w:
            break
    return w


def measure(lr: float = LR, steps: int = STEPS) -> tuple[dict[str, Any], Trajectory]:
    """GD with a fixed η on the valley for ``steps`` updates; the numbers the verdict uses."""
    valley = surface("valley")
    trajectory = descend(valley, "gd", lr=lr, steps=steps)
    loss = trajectory.loss[:, 0]  # L(θ^t), t = 0 … N
    norm = trajectory.gradient_norm[:, 0]  # ‖∇L(θ^t)‖
    w1 = trajectory.theta[:, 0, 0]
    half = steps // 2
    signs = torch.sign(w1[half:])
    numbers = {
        "surface": valley.name,
        "optimizer": "gd",
        "lr": lr,
        "steps": steps,
        "loss_start": float(loss[0]),
        "loss_half": float(loss[half]),
        "loss_final": float(loss[-1]),
        "loss_relative_change_last_half": float((loss[-1] - loss[half]).abs() / loss[half]),
        "gradient_norm_start": float(norm[0]),
        "gradient_norm_final": float(norm[-1]),
        "gradient_norm_min_last_half": float(norm[half:].min()),
        "gradient_fraction_last_half": float(norm[half:].min() / norm[0]),
        "w1_final": float(w1[-1]),
        "w1_bounce_predicted": bounce_point(lr, valley.steep),
        "w1_sign_changes_last_half": int((signs[1:] != signs[:-1]).sum()),
        "w2_final": float(trajectory.theta[-1, 0, 1]),
        "flat_threshold": FLAT,
        "large_gradient_fraction": LARGE,
    }
    return numbers, trajectory


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """The two numbers that decide the verdict, and where θ ended up (context)."""
    n = numbers
    tail = n["steps"] - n["steps"] // 2
    return [
        Evidence(
            f"change of the loss over the last {tail:,} updates, relative to the loss",
            n["loss_relative_change_last_half"],
            "",
            f"< {n['flat_threshold']:g}",
            f"a loss that moves by less than a thousandth of itself over {tail:,} updates is "
            "what a training curve shows as flat: training looks stuck",
            bool(n["loss_relative_change_last_half"] < n["flat_threshold"]),
        ),
        Evidence(
            f"smallest ‖∇L‖ over the last {tail:,} updates, as a fraction of ‖∇L(θ⁰)‖",
            n["gradient_fraction_last_half"],
            "",
            f"> {n['large_gradient_fraction']:g}",
            "at a critical point ‖∇L‖ would go to 0; a gradient that never drops below a tenth "
            "of its starting size is nowhere near one",
            bool(n["gradient_fraction_last_half"] > n["large_gradient_fraction"]),
        ),
        Evidence(
            "|w1| at the end, against the bouncing point w̄ = (η·400/2)·tanh(w̄)",
            f"{abs(n['w1_final']):.4g} (predicted {n['w1_bounce_predicted']:.4g})",
            "",
            "",
            "where a step of η overshoots the floor by exactly as much as it came: the two "
            "walls GD bounces between",
            None,
        ),
    ]


def holds(numbers: dict[str, Any]) -> bool:
    """The criterion: flat loss and large gradient over the last half (see the module doc)."""
    return all(e.holds for e in evidence(numbers) if e.holds is not None)


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n = numbers
    bouncing = n["w1_sign_changes_last_half"] > (n["steps"] - n["steps"] // 2) // 2
    where = (
        f"w1 bouncing between ±{abs(n['w1_final']):.4g} (predicted ±{n['w1_bounce_predicted']:.4g})"
        if bouncing
        else f"w1 settled at {n['w1_final']:.3g} and w2 at {n['w2_final']:.4g}"
    )
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: with η = {n['lr']:g} the loss "
        f"changed by a fraction {n['loss_relative_change_last_half']:.2g} over the last "
        f"{n['steps'] - n['steps'] // 2:,} of {n['steps']:,} updates (flat means < "
        f"{n['flat_threshold']:g}; L = {n['loss_final']:.4g}) while ‖∇L‖ stayed at least "
        f"{n['gradient_norm_min_last_half']:.4g}, {n['gradient_fraction_last_half']:.0%} of its "
        f"initial {n['gradient_norm_start']:.4g} (large means > "
        f"{n['large_gradient_fraction']:.0%}), {where}."
    )


def run(out: Path, quick: bool = False) -> Result:
    numbers, trajectory = measure(LR, QUICK_STEPS if quick else STEPS)
    curves = Path(NAME) / "loss-and-gradient.png"
    plot_curves(
        {"loss L(θ)": trajectory.loss[:, 0].numpy()},
        out / curves,
        title=f"Valley, gradient descent, η = {LR:g}: the loss goes flat, the gradient does not",
        ylabel="loss",
        right={"‖∇L(θ)‖": trajectory.gradient_norm[:, 0].numpy()},
        right_label="gradient norm",
    )
    path = Path(NAME) / "valley-path.png"
    plot_contour(
        trajectory.surface,
        {f"GD, η = {LR:g}": trajectory.theta[:, 0].numpy()},
        out / path,
        title="Bouncing between the valley's walls",
    )
    return conclude(__name__, numbers, [curves, path])
