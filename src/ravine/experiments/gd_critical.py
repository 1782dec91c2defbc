"""Plain gradient descent seldom reaches a critical point: on a real network the loss stops
falling while the gradient's norm ‖g‖ is still far from 0.

Network and data: the homework's sinc regression (:mod:`ravine.tasks.sinc`, float64) — one
hidden layer of 128 ReLU units, P = 385 parameters, 200 points, mean squared error — from the
initial weights of seed 0, trained by full-batch gradient descent θ ← θ − η·g for ``STEPS``
updates. η is set from the network itself, not tried for the result: λ_max, the largest
eigenvalue of the Hessian at θ⁰ (:func:`ravine.diagnose.hessian_eigs`), decides that GD is
stable at the start only for η < 2/λ_max. Two runs, one per rate:

- ``η = 1/λ_max``: half the limit, the step that would land on the bottom of the steepest
  direction of the quadratic in one update;
- ``η = 1.9/λ_max``: just under the limit, the largest η a student would keep.

Both runs share one batched forward and backward pass per step (the two copies of the network
are stacked), so they cost about one run.

**Stopped** (fixed before looking): the loss has stopped falling at the first step t ≥ W at
which its lowest value so far improved by less than REL relative to the lowest value W steps
earlier, (min_{s≤t−W} L − min_{s≤t} L) / min_{s≤t−W} L < REL, with W = ``WINDOW`` = 100 and
REL = ``RELATIVE`` = 10⁻⁴ — the curve is then flat to the eye on any plot of the run. The
lowest value so far is used because a loss that bounces does not stop falling by bouncing.

**Far from a critical point** (fixed before looking): ‖g‖ at the stop is above ``FAR`` = 1% of
‖g‖ at the start, and above the homework's line for a critical point, ‖g‖ < 10⁻³.

Outcome: held when every run stopped, each far from a critical point; partial when at least
one run stopped far from a critical point and no run stopped near one (a run still falling at
the end has not stopped: it says nothing about where GD stops); not held when no run stopped
far from a critical point, or one stopped near one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..diagnose import hessian_eigs
from ..diagnose.critical import GRAD_TOL
from ..report.plots import LAMBDA_MAX, plot_curves
from ..tasks import sinc_task
from .base import OPENING, Evidence, Result, conclude, torch_threads

NAME = "gd-critical"
TITLE = "Gradient descent on a real network stops before it reaches a critical point"
CLAIM = (
    "When the training loss stops going down, people guess the parameters are at a critical "
    "point, where the gradient is zero. On a real network trained by plain gradient descent, "
    "the loss stops falling while the norm of the gradient is still far from zero: what stops "
    "training is not a critical point."
)
LECTURE = (
    "训练卡住 (training stuck) ≠ 梯度很小 (small gradient)：loss 不再下降的时候，gradient 的 norm "
    "并没有真的变得很小。用一般的 gradient descent，其实走不到 critical point；多数时候 training "
    "在还没有走到 critical point 的时候，就已经停止了。"
)
COMMAND = (
    "ravine train --task sinc --optimizer gd --lr 0.046 --batch-size 200 --validation 0 "
    "--epochs 3000 --monitor --plot gd"
)
CAPTIONS = {  # replaced by :func:`captions`, which says what this run's curves did
    "loss-and-gradient.png": (
        "The lecture's two curves, loss (solid) and ‖g‖ (dashed), one panel per η; a dotted "
        "line marks where the loss stopped falling by the stated rule: look at ‖g‖ there."
    ),
    "gradient-norm.png": (
        "‖g‖ on a log scale against the homework's line for a critical point (10⁻³): how close "
        "does gradient descent come to it?"
    ),
}

WINDOW, RELATIVE = 100, 1e-4  # W, REL: the rule for "the loss has stopped falling"
FAR = 0.01  # ‖g‖ at the stop must exceed this fraction of ‖g‖ at the start
GREW = 2.0  # ‖g‖ at the stop over the run's smallest: a caption says ‖g‖ grew
FACTORS = (1.0, 1.9)  # η = factor / λ_max(θ⁰)
STEPS, QUICK_STEPS = 3000, 1500
SEED = 0


def _stacked(model: torch.nn.Module, copies: int) -> list[torch.Tensor]:
    """The sinc network's (w1, b1, w2, b2), each repeated ``copies`` times along a first axis."""
    first, _, second = model
    parts = (first.weight[:, 0], first.bias, second.weight[0], second.bias)
    return [p.detach().repeat(copies, 1).clone().requires_grad_() for p in parts]


def descend_copies(
    rates: torch.Tensor, steps: int, seed: int = SEED
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch GD on the sinc network, one copy per η in ``rates``, from the same θ⁰:
    f(x) = Σ_k w2_k·ReLU(w1_k·x + b1_k) + b2, L = mean (f(x_n) − y_n)². Returns L(θ^t) and
    ‖g(θ^t)‖, each (steps + 1, runs)."""
    task = sinc_task(seed=seed)
    x, y = task.inputs[:, 0], task.targets[:, 0]
    w1, b1, w2, b2 = params = _stacked(task.model(), len(rates))
    losses = torch.empty(steps + 1, len(rates), dtype=torch.float64)
    norms = torch.empty_like(losses)
    for t in range(steps + 1):
        hidden = torch.relu(x[None, :, None] * w1[:, None, :] + b1[:, None, :])
        output = (hidden * w2[:, None, :]).sum(-1) + b2
        loss = ((output - y) ** 2).mean(-1)  # one L per copy
        gradients = torch.autograd.grad(loss.sum(), params)  # copies do not interact
        with torch.no_grad():
            losses[t] = loss
            norms[t] = torch.sqrt(sum((g * g).reshape(len(rates), -1).sum(-1) for g in gradients))
            if t == steps:
                break
            for p, g in zip(params, gradients, strict=True):
                p -= rates[:, None] * g  # θ ← θ − η·g
    return losses, norms


def stopped_at(losses: torch.Tensor, window: int = WINDOW, relative: float = RELATIVE):
    """The first t ≥ window with (min_{s≤t−W} L − min_{s≤t} L)/min_{s≤t−W} L < relative;
    None when the loss never stopped falling."""
    best = torch.cummin(losses, 0).values
    gain = (best[:-window] - best[window:]) / best[:-window]
    hits = torch.nonzero(gain < relative)
    return None if len(hits) == 0 else int(hits[0]) + window


def measure(steps: int = STEPS) -> tuple[dict[str, Any], torch.Tensor, torch.Tensor]:
    """λ_max(θ⁰), then GD at each η = factor/λ_max; the numbers of the stop."""
    task = sinc_task(seed=SEED)
    values, _ = hessian_eigs(
        task.model(), task.loss_fn, task.inputs, task.targets, k=1, which="largest"
    )
    top = float(values[0])  # λ_max(θ⁰)
    rates = torch.tensor([f / top for f in FACTORS], dtype=torch.float64)
    losses, norms = descend_copies(rates, steps)
    runs = []
    for index, factor in enumerate(FACTORS):
        stop = stopped_at(losses[:, index])
        start_norm = float(norms[0, index])
        at = (
            {}
            if stop is None
            else {
                "loss_at_stop": float(losses[stop, index]),
                "gradient_norm_at_stop": float(norms[stop, index]),
                "gradient_fraction_at_stop": float(norms[stop, index]) / start_norm,
                "loss_lowest_by_stop": float(losses[: stop + 1, index].min()),
                "loss_lowest_after_stop": float(losses[stop:, index].min()),
            }
        )
        runs.append(
            {
                "factor": factor,
                "lr": float(rates[index]),
                "stopped_at": stop,
                **at,
                "loss_start": float(losses[0, index]),
                "loss_final": float(losses[-1, index]),
                "gradient_norm_start": start_norm,
                "gradient_norm_final": float(norms[-1, index]),
                "gradient_norm_min": float(norms[:, index].min()),
            }
        )
    numbers = {
        "task": task.description,
        "parameters": task.parameters,
        "steps": steps,
        "lambda_max_start": top,
        "window": WINDOW,
        "relative": RELATIVE,
        "far_fraction": FAR,
        "critical_gradient_norm": GRAD_TOL,
        "runs": runs,
    }
    return numbers, losses, norms


def _far(run: dict[str, Any], numbers: dict[str, Any]) -> bool:
    """Stopped, with ‖g‖ above FAR·‖g⁰‖ and above the critical-point line."""
    return run["stopped_at"] is not None and (
        run["gradient_fraction_at_stop"] > numbers["far_fraction"]
        and run["gradient_norm_at_stop"] >= numbers["critical_gradient_norm"]
    )


def _near(run: dict[str, Any], numbers: dict[str, Any]) -> bool:
    return run["stopped_at"] is not None and not _far(run, numbers)


def outcome(numbers: dict[str, Any]) -> str:
    """Held, partial or not held, as the module doc says."""
    runs = numbers["runs"]
    if any(_near(r, numbers) for r in runs) or not any(_far(r, numbers) for r in runs):
        return "not held"
    return "held" if all(_far(r, numbers) for r in runs) else "partial"


def holds(numbers: dict[str, Any]) -> bool:
    """Every run stopped, each far from a critical point (the outcome is "held")."""
    return outcome(numbers) == "held"


def _describe(run: dict[str, Any], steps: int) -> str:
    eta = f"η = {run['factor']:g}/λ_max = {run['lr']:.3g}"
    if run["stopped_at"] is None:
        return (
            f"at {eta} the loss was still falling after {steps:,} steps (L = "
            f"{run['loss_final']:.3g}, ‖g‖ = {run['gradient_norm_final']:.3g}, "
            f"{run['gradient_norm_final'] / run['gradient_norm_start']:.1%} of its start)"
        )
    return (
        f"at {eta} the loss stopped falling at step {run['stopped_at']:,} (L = "
        f"{run['loss_at_stop']:.3g}) with ‖g‖ = {run['gradient_norm_at_stop']:.3g}, "
        f"{run['gradient_fraction_at_stop']:.1%} of its start {run['gradient_norm_start']:.3g}"
        f" (lowest loss by then {run['loss_lowest_by_stop']:.3g}, {_after(run)})"
    )


def _after(run: dict[str, Any]) -> str:
    """What the loss did after the stop: a run that bounces can fall again later."""
    later, before = run["loss_lowest_after_stop"], run["loss_lowest_by_stop"]
    if later < before * (1 - RELATIVE):
        return f"later lower again, to {later:.3g}"
    return "never lower afterwards"


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    texts = "; ".join(_describe(r, numbers["steps"]) for r in numbers["runs"])
    lowest = min(r["gradient_norm_min"] for r in numbers["runs"])
    return (
        f"{OPENING[outcome(numbers)]}: on the "
        f"sinc network (λ_max(θ⁰) = {numbers['lambda_max_start']:.3g}), {texts}; the smallest "
        f"‖g‖ of any step was {lowest:.2g}, against {numbers['critical_gradient_norm']:g} for a "
        "critical point."
    )


def _grew(run: dict[str, Any]) -> bool:
    """The run stopped with ‖g‖ more than GREW times the smallest ‖g‖ of the run: descent
    bouncing between the valley's walls, not settling."""
    return (
        run["stopped_at"] is not None
        and run["gradient_norm_at_stop"] > GREW * (run["gradient_norm_min"])
    )


def captions(numbers: dict[str, Any]) -> dict[str, str]:
    """The figures' captions, saying what this run's curves did: which runs stopped (and so
    have a dotted line), whether ‖g‖ was far from 0 there, whether it grew."""
    runs, critical = numbers["runs"], numbers["critical_gradient_norm"]
    names = {id(r): f"η = {r['factor']:g}/λ_max" for r in runs}
    stopped = [r for r in runs if r["stopped_at"] is not None]
    panels = "The lecture's two curves, loss (solid) and ‖g‖ (dashed), one panel per η. "
    if not stopped:
        panels += (
            f"In no panel did the loss stop falling within {numbers['steps']:,} steps by the "
            "stated rule, so none has a dotted line: this run does not show where gradient "
            "descent stops."
        )
    else:
        far = all(_far(r, numbers) for r in stopped)
        panels += (
            "A dotted line marks where the loss stopped falling by the stated rule ("
            + ", ".join(f"{names[id(r)]} at step {r['stopped_at']:,}" for r in stopped)
            + f"): look at ‖g‖ there, {'far from' if far else 'near'} 0."
        )
        if len(stopped) < len(runs):
            panels += " Without a dotted line, the loss was still falling at the end."
    bouncing = [names[id(r)] for r in runs if _grew(r)]
    if bouncing:
        panels += (
            f" At {' and '.join(bouncing)} the stop comes when descent starts bouncing between "
            "the valley's walls: the loss stalls and jumps while ‖g‖ grows."
        )
    lowest = min(r["gradient_norm_min"] for r in runs)
    above = "above" if lowest >= critical else "below"
    norm = (
        f"‖g‖ on a log scale against the homework's line for a critical point ({critical:g}): "
        f"gradient descent stays {above} it, its smallest ‖g‖ {lowest:.2g} "
        f"({lowest / critical:.3g}× the line)"
    )
    norm += f", and at {' and '.join(bouncing)} ‖g‖ grows as the loss stalls." if bouncing else "."
    return {"loss-and-gradient.png": panels, "gradient-norm.png": norm}


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    rows = []
    for run in numbers["runs"]:
        label = f"η = {run['factor']:g}/λ_max"
        stop = run["stopped_at"]
        rows.append(
            Evidence(
                f"{label}: step at which the loss stopped falling",
                "never" if stop is None else stop,
                "" if stop is None else "steps",
                threshold=f"within {numbers['steps']:,} steps",
                why=(
                    f"the lowest loss improved by < {numbers['relative']:g} (relative) over "
                    f"{numbers['window']} steps: a flat curve to the eye"
                ),
                holds=stop is not None,
            )
        )
        if stop is not None:
            rows.append(
                Evidence(
                    f"{label}: ‖g‖ where it stopped, as a fraction of ‖g‖ at the start",
                    round(run["gradient_fraction_at_stop"], 4),
                    threshold=f"> {numbers['far_fraction']:.0%} (and ‖g‖ ≥ 10⁻³)",
                    why=(
                        "a critical point needs g = 0; the homework counts ‖g‖ < 10⁻³ as "
                        "critical, and a gradient still a hundredth of its start is not that"
                    ),
                    holds=_far(run, numbers),
                )
            )
    return rows


def run(out: Path, quick: bool = False) -> Result:
    with torch_threads(1):
        numbers, losses, norms = measure(QUICK_STEPS if quick else STEPS)
    curves = Path(NAME) / "loss-and-gradient.png"
    _plot_curves(numbers, losses, norms, out / curves)
    log_norm = Path(NAME) / "gradient-norm.png"
    series = {
        f"‖g‖, η = {r['factor']:g}/{LAMBDA_MAX}": norms[:, i] for i, r in enumerate(numbers["runs"])
    }
    series["‖g‖ = 10⁻³ (critical)"] = [GRAD_TOL] * len(norms)
    plot_curves(
        {k: [float(v) for v in values] for k, values in series.items()},
        out / log_norm,
        title="Gradient norm of the sinc network under gradient descent",
        ylabel="‖g‖",
        logy=True,
    )
    return conclude(__name__, numbers, [curves, log_norm], captions=captions(numbers))


def _plot_curves(numbers, losses, norms, path: Path) -> None:
    """Loss (solid, left axis) and ‖g‖ (dashed, right axis) per run; the stop marked."""
    import matplotlib.pyplot as plt

    from ..report.plots import save_figure

    path.parent.mkdir(parents=True, exist_ok=True)
    runs = numbers["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(9.6, 3.6), dpi=100)
    for ax, index, run in zip(axes, range(len(runs)), runs, strict=True):
        ax.plot(losses[:, index].numpy(), color="#1f5fa8", linewidth=1.2, label="loss L")
        ax.set_ylabel("loss (mean squared error)")
        ax.set_xlabel("step t")
        twin = ax.twinx()
        twin.plot(norms[:, index].numpy(), "--", color="#c0392b", linewidth=1, label="‖g‖")
        twin.set_ylabel("‖g‖")
        twin.set_ylim(bottom=0)
        if run["stopped_at"] is not None:
            ax.axvline(run["stopped_at"], color="#555555", linestyle=":", linewidth=1)
        state = "no stop" if run["stopped_at"] is None else f"stopped at t = {run['stopped_at']}"
        ax.set_title(f"η = {run['factor']:g}/{LAMBDA_MAX} = {run['lr']:.3g}: {state}", fontsize=9)
        ax.grid(alpha=0.3)
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize=7, loc="upper right")
    save_figure(fig, path)
