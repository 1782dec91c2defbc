"""The loss function changes how hard optimization is: MSE against cross-entropy for the same
two-parameter softmax classifier, from the same bad start.

With logits (w·x + b, 0), p = sigmoid(z), z = w·x + b, both losses are means over the points:

    MSE:            e = 2·(p − y)²,                       ∂e/∂z = 4·(p − y)·p·(1 − p)
    cross-entropy:  e = −y·ln p − (1 − y)·ln(1 − p),      ∂e/∂z = p − y

Where the outputs are confidently wrong (p ≈ 1 − y), MSE's factor p·(1 − p) ≈ 0 makes its
surface flat, while cross-entropy's gradient stays about as large as the error itself.

The gap left at step t is (L(θ^t) − L(θ*)) / (L(θ^0) − L(θ*)), for each loss with its own
minimum θ*. The surface part holds when, from (w, b) = (−6, −6), ‖∇L‖ of cross-entropy is at
least 10× that of MSE, and after the same budget of 1,000 GD updates with η = 1 MSE still has
more than half of its gap left while cross-entropy has less than 10⁻³.

**On a real network.** The digits task (:mod:`ravine.tasks.digits`: 1,797 images, 10 classes)
with its default model ``relu:units=64`` and the two losses of :mod:`ravine.tasks.losses`
(cross-entropy of softmax(z), and Σ_k (softmax(z)_k − one-hot_k)²), built with the same seed,
so both start from the same θ⁰ (checked: ``same_initial_parameters``). Both are trained by
:func:`ravine.training.train` with plain SGD (no momentum), η = ``DIGITS_LR``, batches of 32,
80 % of the images for training (45 updates per epoch), ``DIGITS_EPOCHS`` epochs. At the start
the outputs are nearly uniform, p ≈ 1/10, where MSE's gradient with respect to the logits,
2·J_softmax·(p − y), carries the softmax's small slopes (p_k(1 − p_k) ≈ 0.09), while
cross-entropy's is p − y itself; so with the same η MSE moves more slowly. The two losses have
different scales, so they are compared on a common one: the training accuracy, and each loss
relative to its initial value, L/L⁰. "Updates to accuracy a" is the update count at the end of
the first epoch whose accuracy on the whole training set is >= a (a resolution of one epoch).

The digits part holds when the two nets start from the same θ⁰ and, with SGD at η =
``DIGITS_LR``, cross-entropy reaches ``ACCURACY`` = 90 % training accuracy within the budget
while MSE either never does or takes at least ``DIGITS_FASTER`` = 2× as many updates. The claim
is reproduced when both parts hold.

Reported, not judged (full size only): SGD at the other η of ``DIGITS_RATES``, and Adam at
η = ``DIGITS_ADAM_LR``. Measured (about 5 s for both parts): at θ⁰ ‖∇L‖ is 0.253 for
cross-entropy and 0.0507 for MSE; at η = 0.1 cross-entropy is at 90 % after 180 updates and MSE
after 540; at η = 0.03, 495 against more than 900; the gap shrinks as η grows (η = 0.3: 90
against 180; η = 1: 90 against 135). With Adam, whose σ divides out the size of the gradient,
the two reach 90 % after the same number of updates (225): what makes MSE slower here is the
scale of its gradient, which an adaptive η makes up for. With seeds 1, 2 and 3 instead of 0
(η = 0.1) the digits part holds as well: 180–225 updates against 495–630.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..report.plots import plot_curves, save_figure  # (selects matplotlib's file backend)
from ..surfaces import Trajectory, descend, surface
from ..tasks import Task, task
from ..training import VALIDATION, Epoch, Run, split, train
from ..validation import require
from .base import Evidence, Result, conclude, outcome_of, torch_threads
from .batch_norm import before_training

NAME = "classification-loss"
TITLE = "Cross-entropy against MSE: the loss decides how hard optimization is"
CLAIM = (
    "For classification, minimizing cross-entropy is easier than minimizing the mean square "
    "error: where the classifier's outputs are confidently wrong, the MSE surface is nearly "
    "flat and gradient descent stalls on it, while cross-entropy keeps a large gradient there "
    "and descends to its minimum. On a real network, the same net from the same start reaches "
    "a given accuracy in fewer updates of the same gradient descent with cross-entropy."
)

LECTURE = (
    "Changing the loss function can change the difficulty of optimization (改变 loss 可以改变"
    "优化的难度). For classification, 交叉熵 (cross-entropy) e = −Σ ŷ_i ln y'_i is used rather "
    "than the mean square error (MSE) e = Σ (ŷ_i − y'_i)²: on the MSE surface, loss 很大的地方"
    "非常平坦 (where the loss is large it is very flat, the gradient small) and 很容易被 stuck "
    "(it is easily stuck); cross-entropy's surface is much better there."
)
COMMAND = "ravine descend classification-mse --optimizer gd --lr 1 --steps 1000 --plot mse.png"
CAPTIONS = {
    "surfaces.png": (
        "The two losses of the same classifier side by side, from the same start (●) in the "
        "corner where it is confidently wrong: the MSE surface is a flat plateau there and "
        "gradient descent has hardly left it after the budget (○), while on cross-entropy the "
        "slope is steep and the same number of updates reaches the minimum (★)."
    ),
    "gap-left.png": (
        "The fraction of the way down still to go, log scale: cross-entropy falls at once, "
        "MSE stays near 1 for thousands of updates before it finds the slope."
    ),
    "digits-accuracy.png": (
        "On the digits network with the same SGD, the cross-entropy curve (solid blue) climbs "
        "to 90% long before the MSE one (solid orange); with Adam (dashed) the two coincide: "
        "Adam's σ divides out the smaller gradient of MSE."
    ),
}

LR = 1.0  # η, the same for both losses
STEPS = 5000  # N: long enough for MSE to leave its plateau (≈ 3,400 updates); 0.3 s for both
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {"surface": "classification-mse", "optimizer": "gd", "lr": LR, "steps": STEPS}
BUDGET = 1000  # the updates after which the two are compared
RATIO = 10.0  # cross-entropy's ‖∇L(θ^0)‖ must be at least this many times MSE's
MSE_LEFT = 0.5  # MSE must have more than this fraction of its gap left after BUDGET updates
CE_LEFT = 1e-3  # cross-entropy must have less than this fraction left
LOSSES = {"mse": "classification-mse", "cross_entropy": "classification-ce"}

DIGITS_MODEL = "relu:units=64"
DIGITS_LOSSES = {"cross_entropy": "cross-entropy", "mse": "mse"}  # key → the task's loss name
DIGITS_LR = 0.1  # η of the judged SGD runs
DIGITS_RATES = (0.03, 0.1, 0.3, 1.0)  # SGD η at full size (DIGITS_LR judged, the rest reported)
DIGITS_ADAM_LR = 1e-3
DIGITS_EPOCHS, QUICK_DIGITS_EPOCHS = 20, 10  # 45 updates per epoch
DIGITS_BATCH = 32
DIGITS_SEED = 0
ACCURACY = 0.9  # training accuracy counted as "trained"
DIGITS_FASTER = 2.0  # MSE must need at least this many times cross-entropy's updates (or never)


def gap_left(trajectory: Trajectory) -> torch.Tensor:
    """(L(θ^t) − L(θ*)) / (L(θ^0) − L(θ*)), t = 0 … N."""
    minimum = trajectory.surface.loss(torch.tensor(trajectory.surface.minimum, dtype=torch.float64))
    loss = trajectory.loss[:, 0]
    return (loss - minimum) / (loss[0] - minimum)


def measure(
    lr: float = LR, steps: int = STEPS, budget: int = BUDGET
) -> tuple[dict[str, Any], dict[str, Trajectory]]:
    """GD with η = ``lr`` for ``steps`` updates on both losses from their common start."""
    require(1 <= budget <= steps, "budget", budget, f"in [1, steps = {steps}]")
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


def digits_task(key: str) -> Task:
    """The digits task with ``DIGITS_MODEL`` and the loss ``key`` ("cross_entropy" or "mse")."""
    require(key in DIGITS_LOSSES, "loss", key, f"one of {', '.join(DIGITS_LOSSES)}")
    return task("digits", seed=DIGITS_SEED, model=DIGITS_MODEL, loss=DIGITS_LOSSES[key])


def gradient_norm(net: Task, model: nn.Module) -> float:
    """‖∇L(θ)‖ of ``net``'s loss on its whole training split (the seeded 80 %)."""
    training, _ = split(net.size, VALIDATION, DIGITS_SEED)
    loss = net.loss_fn(model(net.inputs[training]), net.targets[training])
    gradients = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])
    return float(torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in gradients])))


def digits_summary(run: Run, start: Epoch) -> dict[str, Any]:
    """One run's curves (index e: after epoch e, 0 before training): training accuracy and
    L/L⁰; updates to ``ACCURACY`` and to L/L⁰ <= ½; the final accuracies."""
    history = [start, *run.history]
    initial = start.train_loss
    accuracy = [e.train_metric for e in history]
    relative = [e.train_loss / initial for e in history]
    return {
        "updates": run.updates,
        "updates_to_accuracy": next(
            (e.updates for e in run.history if e.train_metric >= ACCURACY), None
        ),
        "updates_to_half_loss": next(
            (e.updates for e in run.history if e.train_loss <= initial / 2), None
        ),
        "initial_loss": initial,
        "final_loss": history[-1].train_loss,
        "final_train_accuracy": history[-1].train_metric,
        "final_val_accuracy": history[-1].val_metric,
        "train_accuracy": accuracy,
        "relative_loss": relative,
        "stopped": None if run.stopped is None else str(run.stopped),
    }


def measure_digits(
    rates: tuple[float, ...] = DIGITS_RATES, epochs: int = DIGITS_EPOCHS, adam: bool = True
) -> dict[str, Any]:
    """Train the digits net with both losses from the same θ⁰: SGD at each η of ``rates``
    (which must include ``DIGITS_LR``), and Adam; deterministic, on one CPU thread."""
    if DIGITS_LR not in rates:
        raise ValueError(f"rates must include the judged η = {DIGITS_LR:g}, got {rates}")
    with torch_threads(1):  # a small net: more threads only contend; and reproducible
        nets = {key: digits_task(key) for key in DIGITS_LOSSES}
        starts = {key: nets[key].model(DIGITS_SEED) for key in DIGITS_LOSSES}
        same = all(
            torch.equal(a, b)
            for a, b in zip(
                starts["cross_entropy"].parameters(), starts["mse"].parameters(), strict=True
            )
        )
        before = {key: before_training(nets[key], starts[key], DIGITS_SEED) for key in nets}
        norms = {key: gradient_norm(nets[key], starts[key]) for key in nets}
        sgd = {
            f"{lr:g}": {
                key: digits_summary(
                    train(
                        nets[key],
                        "sgd",
                        lr=lr,
                        epochs=epochs,
                        batch_size=DIGITS_BATCH,
                        seed=DIGITS_SEED,
                    ),
                    before[key],
                )
                for key in DIGITS_LOSSES
            }
            for lr in rates
        }
        adam_runs = (
            {
                key: digits_summary(
                    train(
                        nets[key], "adam", lr=DIGITS_ADAM_LR, epochs=epochs, batch_size=DIGITS_BATCH
                    ),
                    before[key],
                )
                for key in DIGITS_LOSSES
            }
            if adam
            else None
        )
    return {
        "task": "digits",
        "model": DIGITS_MODEL,
        "same_initial_parameters": same,
        "gradient_norm_start": norms,
        "optimizer": "sgd",
        "lr": DIGITS_LR,
        "rates": list(rates),
        "epochs": epochs,
        "batch_size": DIGITS_BATCH,
        "seed": DIGITS_SEED,
        "accuracy_level": ACCURACY,
        "sgd": sgd,
        "adam_lr": DIGITS_ADAM_LR,
        "adam": adam_runs,
        "criteria": {"faster_at_least": DIGITS_FASTER},
    }


def surface_holds(numbers: dict[str, Any]) -> bool:
    """The surface part of the criterion (module doc)."""
    limits = numbers["criteria"]
    steep = numbers["gradient_norm_ratio"] >= limits["gradient_norm_ratio_at_least"]
    mse_stuck = numbers["mse"]["gap_left_at_budget"] > limits["mse_gap_left_above"]
    ce_done = (
        numbers["cross_entropy"]["gap_left_at_budget"] < limits["cross_entropy_gap_left_below"]
    )
    return bool(steep and mse_stuck and ce_done)


def digits_holds(digits: dict[str, Any]) -> bool:
    """The digits part of the criterion (module doc): same θ⁰; at η = DIGITS_LR cross-entropy
    reaches the accuracy level, and MSE never does or needs ``faster_at_least``× the updates."""
    if not digits["same_initial_parameters"]:
        return False
    row = digits["sgd"][f"{digits['lr']:g}"]
    ce, mse = row["cross_entropy"]["updates_to_accuracy"], row["mse"]["updates_to_accuracy"]
    if ce is None:
        return False
    return mse is None or mse >= digits["criteria"]["faster_at_least"] * ce


def holds(numbers: dict[str, Any]) -> bool:
    """The criterion of the module doc: the surface part and the digits part (numbers without
    a digits part do not reproduce the claim)."""
    digits = numbers.get("digits")
    return bool(surface_holds(numbers) and digits is not None and digits_holds(digits))


def outcome(numbers: dict[str, Any]) -> str:
    """held: both parts; partial: one of the two; not held: neither."""
    digits = numbers.get("digits")
    parts = [surface_holds(numbers), digits is not None and digits_holds(digits)]
    return outcome_of(parts)


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """The surface part's three numbers, then the digits part's (when measured)."""
    n, limits = numbers, numbers["criteria"]
    mse, ce = n["mse"], n["cross_entropy"]
    rows = [
        Evidence(
            "surface: ‖∇L‖ of cross-entropy over ‖∇L‖ of MSE at the start",
            n["gradient_norm_ratio"],
            "×",
            f"≥ {limits['gradient_norm_ratio_at_least']:g}",
            "an order of magnitude: where the outputs are confidently wrong, MSE's slope carries "
            "the sigmoid's factor p·(1 − p) ≈ 0 and cross-entropy's does not",
            bool(n["gradient_norm_ratio"] >= limits["gradient_norm_ratio_at_least"]),
        ),
        Evidence(
            f"surface: MSE's gap to its minimum left after {n['budget']:,} updates",
            mse["gap_left_at_budget"],
            "",
            f"> {limits['mse_gap_left_above']:g}",
            "stuck on the plateau: more than half of the way down still to go",
            bool(mse["gap_left_at_budget"] > limits["mse_gap_left_above"]),
        ),
        Evidence(
            f"surface: cross-entropy's gap left after the same {n['budget']:,} updates",
            ce["gap_left_at_budget"],
            "",
            f"< {limits['cross_entropy_gap_left_below']:g}",
            "at the minimum: 99.9% of the way down with the same η and the same budget",
            bool(ce["gap_left_at_budget"] < limits["cross_entropy_gap_left_below"]),
        ),
    ]
    digits = n.get("digits")
    if digits is None:
        return rows
    row = digits["sgd"][f"{digits['lr']:g}"]
    faster = digits["criteria"]["faster_at_least"]
    level = f"{digits['accuracy_level']:.0%}"
    return [
        *rows,
        Evidence(
            "digits: both nets start from the same θ⁰",
            digits["same_initial_parameters"],
            "",
            "yes",
            "only then is the loss the one difference between the two runs",
            bool(digits["same_initial_parameters"]),
        ),
        Evidence(
            f"digits, SGD η = {digits['lr']:g}: updates to {level} training accuracy, "
            "cross-entropy / MSE",
            f"{_reached(row['cross_entropy'])} / {_reached(row['mse'])}",
            "updates",
            f"cross-entropy reaches it, MSE never or after ≥ {faster:g}× as many",
            "twice as many updates is a difference a training curve shows plainly, and more "
            "than the one-epoch resolution of the count can make",
            digits_holds({**digits, "same_initial_parameters": True}),
        ),
    ]


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
        + (digits_verdict(numbers["digits"]) if "digits" in numbers else "")
    )


def digits_verdict(digits: dict[str, Any]) -> str:
    """The digits part of the verdict, one sentence quoting the numbers."""
    level = digits["accuracy_level"]

    def reach(run: dict[str, Any]) -> str:
        updates = run["updates_to_accuracy"]
        return f"{updates:,}" if updates is not None else f"more than {run['updates']:,}"

    def pair(row: dict[str, dict[str, Any]]) -> str:
        return f"{reach(row['cross_entropy'])} against {reach(row['mse'])}"

    judged = digits["sgd"][f"{digits['lr']:g}"]
    ce, mse = judged["cross_entropy"], judged["mse"]
    others = "; ".join(
        f"η = {lr}: {pair(row)}" for lr, row in digits["sgd"].items() if lr != f"{digits['lr']:g}"
    )
    adam = (
        f"; with Adam (η = {digits['adam_lr']:g}) {pair(digits['adam'])}"
        if digits["adam"] is not None
        else ""
    )
    norms = digits["gradient_norm_start"]
    same = "the same" if digits["same_initial_parameters"] else "not the same"
    return (
        f" On the digits ({same} θ⁰ for both losses; ‖∇L(θ⁰)‖ "
        f"{norms['cross_entropy']:.3g} for cross-entropy, {norms['mse']:.3g} for MSE), SGD with "
        f"η = {digits['lr']:g} reached {level:.0%} training accuracy after "
        f"{reach(ce)} updates with cross-entropy and {reach(mse)} with MSE (after "
        f"{ce['updates']:,} updates: {ce['final_train_accuracy']:.1%} and "
        f"{mse['final_train_accuracy']:.1%}, L/L⁰ = {ce['relative_loss'][-1]:.2g} and "
        f"{mse['relative_loss'][-1]:.2g})"
        + (f"; not judged, cross-entropy against MSE at {others}" if others else "")
        + f"{adam}."
    )


NAMES = {"mse": "MSE", "cross_entropy": "cross-entropy"}


def _reached(run: dict[str, Any]) -> str:
    """A digits run's updates to ``ACCURACY``, or "not in N" when it never got there."""
    updates = run["updates_to_accuracy"]
    return f"{updates:,}" if updates is not None else f"not in {run['updates']:,}"


def plot_surfaces(trajectories: dict[str, Trajectory], budget: int, path: Path) -> Path:
    """The MSE and the cross-entropy surface side by side, as the lecture shows them: filled
    contours of L(w, b) over the same window, each with gradient descent's path from the
    common start, solid for the first ``budget`` updates (○ where it is then), dotted after."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=100)
    for ax, key in zip(axes, ("mse", "cross_entropy"), strict=True):
        trajectory = trajectories[key]
        s = trajectory.surface
        (x0, x1), (y0, y1) = s.bounds
        xs = torch.linspace(x0, x1, 200, dtype=torch.float64)
        ys = torch.linspace(y0, y1, 200, dtype=torch.float64)
        loss = s.loss(torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)).numpy()
        filled = ax.contourf(xs.numpy(), ys.numpy(), loss, levels=24, cmap="viridis")
        fig.colorbar(filled, ax=ax, label=f"{NAMES[key]} loss L(w, b)")
        theta = trajectory.theta[:, 0].numpy()
        ax.plot(
            theta[budget:, 0],
            theta[budget:, 1],
            ":",
            color="#ffd166",
            linewidth=1.6,
            label=f"after update {budget:,}",
            zorder=3,
        )
        ax.plot(
            theta[: budget + 1, 0],
            theta[: budget + 1, 1],
            "-",
            color="white",
            linewidth=2.0,
            label=f"GD, η = {LR:g}, first {budget:,} updates",
            zorder=4,
        )
        ax.plot(
            *theta[budget],
            "o",
            markerfacecolor="none",
            markeredgecolor="white",
            markersize=10,
            markeredgewidth=2,
            zorder=5,
        )
        ax.plot(
            *theta[0],
            "o",
            color="black",
            markeredgecolor="white",
            markersize=7,
            label="start",
            zorder=5,
        )
        ax.plot(
            *s.minimum,
            "*",
            color="#c0392b",
            markeredgecolor="white",
            markersize=15,
            label="minimum",
            zorder=5,
        )
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel(s.labels[0])
        ax.set_ylabel(s.labels[1])
        ax.set_title(f"{NAMES[key]}", fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(
        "The same classifier, two losses: MSE is flat where the outputs are confidently wrong",
        fontsize=10,
    )
    return save_figure(fig, path)


def plot_digits(digits: dict[str, Any], path: Path) -> Path:
    """Training accuracy after each epoch (left) and L/L⁰ (right) of the digits nets: one
    colour per loss, solid for SGD, dashed with markers for Adam (drawn on top, so where the
    two Adam runs coincide both stay visible)."""
    import matplotlib.pyplot as plt

    colours = {"cross_entropy": "#1f5fa8", "mse": "#e07b00"}
    judged = digits["sgd"][f"{digits['lr']:g}"]
    runs = [(f"SGD η = {digits['lr']:g}", judged, "-", None, 2.0, 2)]
    if digits["adam"] is not None:
        runs.append((f"Adam η = {digits['adam_lr']:g}", digits["adam"], "--", "o", 1.2, 3))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=100)
    for ax, quantity in ((left, "train_accuracy"), (right, "relative_loss")):
        for label, row, style, marker, width, order in runs:
            for key in ("cross_entropy", "mse"):
                ax.plot(
                    row[key][quantity],
                    linestyle=style,
                    marker=marker,
                    markersize=3,
                    fillstyle="none",
                    linewidth=width,
                    color=colours[key],
                    zorder=order,
                    label=f"{label}, {NAMES[key]}",
                )
        ax.set_xlabel(f"epoch ({judged['cross_entropy']['updates'] // digits['epochs']} updates)")
        ax.grid(alpha=0.3)
    left.axhline(digits["accuracy_level"], color="#999999", linewidth=0.8, linestyle=":")
    left.set_ylabel("training accuracy")
    left.legend(fontsize=7, loc="lower right")
    right.set_ylabel("loss / initial loss, L/L⁰")
    right.set_ylim(bottom=0)
    fig.suptitle(f"Digits, {digits['model']}, the same θ⁰ for both losses", fontsize=10)
    return save_figure(fig, path)


def run(out: Path, quick: bool = False) -> Result:
    """The surface part at full size always (a fraction of a second); the digits part at full
    size trains SGD at four η and Adam for 20 epochs, quick only SGD at η = DIGITS_LR for 10."""
    numbers, trajectories = measure(LR, STEPS, BUDGET)
    if quick:
        numbers["digits"] = measure_digits((DIGITS_LR,), QUICK_DIGITS_EPOCHS, adam=False)
    else:
        numbers["digits"] = measure_digits()
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
    surfaces = Path(NAME) / "surfaces.png"
    (out / surfaces).parent.mkdir(parents=True, exist_ok=True)
    plot_surfaces(trajectories, BUDGET, out / surfaces)
    figure = Path(NAME) / "digits-accuracy.png"
    plot_digits(numbers["digits"], out / figure)
    return conclude(__name__, numbers, [surfaces, curves, figure])
