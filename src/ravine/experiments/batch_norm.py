"""Batch normalization on a real network: the same deep sigmoid net on the digits, with and
without BatchNorm, trained by plain SGD with the same η from the same initial weights.

Model: ``deep:layers=5,units=32,activation=sigmoid,norm=none|batch`` (:mod:`ravine.tasks.models`)
on the digits task (1,797 images, 10 classes, cross-entropy; chance ln 10 ≈ 2.30 nats). The two
nets are built with the same seed, so every Linear layer starts with the same weights (checked:
``same_linear_weights``); BatchNorm adds γ = 1, β = 0 per unit. Without it every sigmoid layer
shrinks the spread of its input (its slope is at most ¼ and PyTorch's initial weights are
uniform in ±1/√fan_in), so after five layers the output hardly depends on the image; with it
each layer's pre-activations are standardized over the batch,

    x̃_i = γ_i·(x_i − μ_i)/σ_i + β_i,   μ_i, σ_i the mean and standard deviation of unit i over the
                                         batch,

which is the lecture's feature normalization applied inside the network.

Training: :func:`ravine.training.train`, SGD (no momentum) with a fixed η, batches of 32, 80 % of
the images for training (1,438: 45 updates per epoch) and 20 % for validation, ``EPOCHS`` epochs,
for each η in ``SGD_RATES``; the loss on the whole training and validation sets is taken after
each epoch (evaluation mode: BatchNorm with its running statistics), and once before training.
"Updates to reach the level" is the update count at the end of the first epoch whose training
loss is <= ``LEVEL`` (a resolution of one epoch). Adam (η = ``ADAM_LR``) is trained the same
way and reported, not judged: it is there to show how much an adaptive σ makes up for the
surface.

The Hessian H of the cross-entropy over all trainable parameters, at the initial weights and
after training at η = ``LR``, on a fixed batch: the first ``HESSIAN_BATCH`` images of the
training split, with BatchNorm in training mode (batch statistics of that batch, as during
training; on a copy of the net, so its running statistics are untouched). From
:mod:`ravine.diagnose`: λ_max and λ_min by Lanczos (:func:`~ravine.diagnose.hessian_eigs`, to
10⁻⁴·‖H‖), and the eigenvalue density φ by stochastic Lanczos quadrature
(:func:`~ravine.diagnose.hessian_density`, ``DENSITY`` = (runs, steps), smoothed by
σ = 10⁻⁴·max |λ|). A Hessian with thousands of eigenvalues near 0 has no useful λ_max/λ_min;
the condition-number-like spread is

    κ = λ_max / mean |λ|,   mean |λ| = (1/P) Σ_i |λ_i| = ∫ |t| φ(t) dt,

how many times steeper the steepest direction is than the average one — the elongation of the
lecture's error-surface ellipses that forces a small fixed η. λ_max alone, the median and 90 %
quantile of |λ| and λ_max / |λ|_90% are reported too. (The median is not judged: where most
eigenvalues are within σ of 0 it measures the smoothing, and between quadrature settings,
(2, 40) to (8, 100), it moved by 20× with BatchNorm; the mean moved by 5 % with BatchNorm and
20 % without, and against the exact eigenvalues of a small net it is within 10 %.)

The claim is reproduced when

- the two nets start from the same Linear weights;
- at every η in the grid, the net with BatchNorm reaches ``LEVEL`` within the budget, and the
  net without it never does, or takes at least ``FASTER`` = 5× as many updates;
- κ with BatchNorm is at most 1/``SPREAD`` = 1/5 of κ without it at the initial weights, and
  smaller after training at η = ``LR``.

Measured at full size (``ravine reproduce``, about 20 s on one core): without BatchNorm SGD does
not leave the chance plateau (≈ 2.30 nats) within 900 updates at any η of {0.1, 0.3, 1, 3}; with
it the training loss is below 0.5 after 90–360 updates. At the initial weights κ is 664 without
and 40 with BatchNorm, although λ_max is larger with it (3.2 against 1.4, and λ_min = −2.6
against −0.09): BatchNorm raises the curvature of the many nearly flat directions (the early
layers, whose signal the sigmoids had squashed) far more than that of the steepest one. After
training κ is 508 without and 235 with. Adam, whose σ rescales each parameter's step, brings the
net without BatchNorm off the plateau but not to 0.5 nats in 900 updates; with it, in 540.
With seeds 1, 2 and 3 instead of 0 (η = 1 only) the criterion holds as well: with BatchNorm
90–135 updates, without never; κ at the start 518–674 against 29–34.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..diagnose import hessian_density, hessian_eigs

# (selects matplotlib's file backend)
from ..report.plots import LAMBDA_MAX, plot_curves, save_figure
from ..tasks import Task, task
from ..training import VALIDATION, Epoch, Run, split, train
from ..validation import check_range, require
from .base import Evidence, Result, conclude, torch_threads

NAME = "batch-norm"
TITLE = "Batch normalization: the same deep sigmoid network with and without it"
CLAIM = (
    "Normalizing the features inside the network (batch normalization) changes the error "
    "surface itself: a deep sigmoid network that plain gradient descent with a fixed learning "
    "rate cannot train becomes trainable with the same rate once every layer's inputs are "
    "normalized over the batch, and its curvature at the start is far less uneven across "
    "directions — the lecture's explanation, measured here beside the training, not shown to "
    "be its cause."
)
LECTURE = (
    "Batch Normalization: feature normalization x̃_i = (x_i − μ_i)/σ_i done inside the network, "
    "在一个 batch 上做 (over each batch), then x̃ = γ ⊙ x̃ + β. Where the inputs of a layer vary "
    "wildly, 斜率变化反差很大 (the slopes differ greatly) and a fixed η trains badly; "
    "normalizing 改变 error surface (changes the error surface) — 找到一个满意的 Error Surface "
    "(to get a friendlier one) — and Batch Normalization 训练速度会变快 (trains faster)."
)
COMMAND = (
    "ravine train --task digits --model deep:layers=5,units=32,activation=sigmoid,norm=batch "
    "--optimizer sgd --lr 1 --epochs 20 --plot batch-norm"
)
CAPTIONS = {
    "loss.png": (
        "Without BatchNorm (orange) the training loss (solid) and the validation loss (dashed, "
        "drawn on top) both stay on the chance level ln 10 ≈ 2.3 for the whole run; with "
        "BatchNorm (blue) both fall below 0.5 within a few epochs."
    ),
    "hessian-spread.png": (
        "Each eigenvalue's size against the largest, from the smallest to the largest: the "
        "higher a curve, the more even the curvature. With BatchNorm the curves lie higher: "
        "fewer nearly flat directions beside the steepest one."
    ),
    "adam-loss.png": (
        "The same two nets with Adam: its σ per parameter moves the net without BatchNorm off "
        "the chance level, but the net with BatchNorm still trains faster."
    ),
}

MODEL = "deep:layers=5,units=32,activation=sigmoid,norm={norm}"
NORMS = ("none", "batch")
LR = 1.0  # η of the main SGD run, whose curves and trained Hessian are shown
SGD_RATES, QUICK_SGD_RATES = (0.1, 0.3, 1.0, 3.0), (1.0,)
ADAM_LR = 1e-3
EPOCHS, QUICK_EPOCHS = 20, 10  # 45 updates per epoch
BATCH = 32
SEED = 0
LEVEL = 0.5  # nats: training loss counted as "trained" (chance: ln 10 ≈ 2.30)
FASTER = 5.0  # without BatchNorm: at least this many times the updates, or never
SPREAD = 5.0  # κ at the initial weights: with BatchNorm at most 1/SPREAD of without
HESSIAN_BATCH = 256
LANCZOS_TOL = 1e-4  # relative accuracy of λ_max, λ_min (of ‖H‖)
DENSITY, QUICK_DENSITY = (4, 60), (2, 40)  # stochastic Lanczos quadrature: (runs, steps)
SMOOTHING = 1e-4  # σ of the density, as a fraction of max |λ|
QUANTILES = (0.5, 0.9)


def digits_net(norm: str, seed: int = SEED) -> Task:
    """The digits task with the deep sigmoid net, ``norm`` "none" or "batch"."""
    require(norm in NORMS, "norm", norm, f"one of {', '.join(NORMS)}")
    return task("digits", seed=seed, model=MODEL.format(norm=norm))


def linear_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weights and biases of every nn.Linear of ``model``, in order."""
    return [
        p.detach() for m in model.modules() if isinstance(m, nn.Linear) for p in (m.weight, m.bias)
    ]


def _mass(grid: torch.Tensor, density: torch.Tensor) -> torch.Tensor:
    """φ(t)·Δt on the grid, checked: 1-D, same length >= 2, some positive mass."""
    if grid.dim() != 1 or grid.shape != density.shape or grid.numel() < 2:
        raise ValueError(
            f"grid and density must be 1-D of the same length >= 2, got shapes "
            f"{tuple(grid.shape)} and {tuple(density.shape)}"
        )
    mass = density.clamp(min=0) * (grid[1] - grid[0])
    if not float(mass.sum()) > 0:
        raise ValueError("the density has no positive mass on the grid")
    return mass


def magnitude_quantiles(
    grid: torch.Tensor, density: torch.Tensor, levels: tuple[float, ...] = QUANTILES
) -> list[float]:
    """|λ|_q for each q in ``levels``: the smallest |t| on ``grid`` with ∫_{|s| ≤ |t|} φ(s) ds
    >= q·∫ φ, for a density φ sampled on an evenly spaced grid (eigenvalue units)."""
    for q in levels:
        check_range("quantile levels", q, 0, 1, closed="(]")
    mass = _mass(grid, density)
    size, order = grid.abs().sort()
    cumulative = mass[order].cumsum(0) / mass.sum()
    return [float(size[int((cumulative >= q - 1e-12).nonzero()[0])]) for q in levels]


def mean_magnitude(grid: torch.Tensor, density: torch.Tensor) -> float:
    """The mean of |λ| under a density φ on an evenly spaced grid, ∫ |t| φ(t) dt / ∫ φ(t) dt:
    for the Hessian's density, (1/P) Σ_i |λ_i| = tr|H| / P (eigenvalue units)."""
    mass = _mass(grid, density)
    return float((grid.abs() * mass).sum() / mass.sum())


def hessian_spectrum(
    net: Task, model: nn.Module, runs: int, steps: int
) -> tuple[dict[str, Any], list[float]]:
    """λ_max, λ_min, the mean |λ|, the |λ| quantiles and the spreads κ = λ_max / mean |λ| and
    λ_max / |λ|_90% of the cross-entropy's Hessian on the fixed batch (BatchNorm in training
    mode, on a copy of ``model``); and |λ|_q / λ_max for q = 0.01 %, 1 %, 2 %, …, 100 % (the
    figure; below about σ/λ_max = 10⁻⁴ the values are the smoothing's width, not H's)."""
    training, _ = split(net.size, VALIDATION, SEED)
    batch = training[:HESSIAN_BATCH]
    x, y = net.inputs[batch], net.targets[batch]
    probe = copy.deepcopy(model).train()  # batch statistics; running ones change on the copy
    values, _ = hessian_eigs(probe, net.loss_fn, x, y, k=1, which="both", tol=LANCZOS_TOL)
    top, bottom = float(values[0]), float(values[1])
    sigma = SMOOTHING * max(abs(top), abs(bottom))
    grid, density = hessian_density(
        probe, net.loss_fn, x, y, runs=runs, steps=steps, sigma=sigma, seed=SEED
    )
    percent = magnitude_quantiles(grid, density, tuple(max(p, 0.01) / 100 for p in range(101)))
    quantiles = magnitude_quantiles(grid, density, QUANTILES)
    typical = mean_magnitude(grid, density)
    with torch.no_grad():
        loss = float(net.loss_fn(probe(x), y))
    numbers = {
        "lambda_max": top,
        "lambda_min": bottom,
        "loss": loss,
        "smoothing": sigma,
        "mean_abs_lambda": typical,
        **{
            f"abs_lambda_{round(100 * q)}": value
            for q, value in zip(QUANTILES, quantiles, strict=True)
        },
        "spread": top / typical,
        "spread_90": top / quantiles[-1],
    }
    return numbers, [value / top for value in percent]


def before_training(net: Task, model: nn.Module, seed: int = SEED) -> Epoch:
    """Epoch 0: the loss and metric of the untrained ``model`` on the whole training and
    validation sets of the seeded split, in evaluation mode — what the training loop measures
    after each epoch."""
    training, held = split(net.size, VALIDATION, seed)
    model.eval()
    numbers: list[float | None] = []
    with torch.no_grad():
        for part in (training, held):
            outputs, targets = model(net.inputs[part]), net.targets[part]
            numbers.append(float(net.loss_fn(outputs, targets)))
            numbers.append(None if net.metric is None else net.metric(outputs, targets))
    model.train()
    train_loss, train_metric, val_loss, val_metric = numbers
    return Epoch(0, 0, float(train_loss), val_loss, train_metric, val_metric, 0.0)


def summarize(run: Run, start: Epoch) -> dict[str, Any]:
    """The run's curves (index e: after epoch e, 0 before training) and updates to LEVEL."""
    reached = next((e.updates for e in run.history if e.train_loss <= LEVEL), None)
    final = run.history[-1] if run.history else None
    return {
        "updates": run.updates,
        "updates_to_level": reached,
        "train_loss": [start.train_loss, *(e.train_loss for e in run.history)],
        "val_loss": [start.val_loss, *(e.val_loss for e in run.history)],
        "final_train_loss": None if final is None else final.train_loss,
        "final_val_accuracy": None if final is None else final.val_metric,
        "stopped": None if run.stopped is None else str(run.stopped),
    }


def measure(
    rates: tuple[float, ...] = SGD_RATES,
    epochs: int = EPOCHS,
    density: tuple[int, int] = DENSITY,
    adam: bool = True,
) -> dict[str, Any]:
    """Train both nets with SGD at each η of ``rates`` (and Adam), measure the Hessians at the
    start and after the SGD run at η = LR (which must be in ``rates``); deterministic, on one
    CPU thread."""
    if LR not in rates:
        raise ValueError(f"rates must include the main η = {LR:g}, got {rates}")
    with torch_threads(1):  # these nets are too small to gain from more; and reproducible
        nets = {norm: digits_net(norm) for norm in NORMS}
        starts = {norm: nets[norm].model(SEED) for norm in NORMS}
        same = all(
            torch.equal(a, b)
            for a, b in zip(
                linear_weights(starts["none"]), linear_weights(starts["batch"]), strict=True
            )
        )
        start_losses = {norm: before_training(nets[norm], starts[norm]) for norm in NORMS}
        sgd: dict[str, dict[str, Any]] = {}
        trained: dict[str, nn.Module] = {}
        for lr in rates:
            row = {}
            for norm in NORMS:
                run = train(nets[norm], "sgd", lr=lr, epochs=epochs, batch_size=BATCH, seed=SEED)
                row[norm] = summarize(run, start_losses[norm])
                if lr == LR:
                    trained[norm] = run.model
            sgd[f"{lr:g}"] = row
        adam_runs = (
            {
                norm: summarize(
                    train(nets[norm], "adam", lr=ADAM_LR, epochs=epochs, batch_size=BATCH),
                    start_losses[norm],
                )
                for norm in NORMS
            }
            if adam
            else None
        )
        hessian: dict[str, dict[str, Any]] = {}
        curves: dict[str, dict[str, list[float]]] = {}
        for when, models in (("initial", starts), ("trained", trained)):
            hessian[when], curves[when] = {}, {}
            for norm in NORMS:
                hessian[when][norm], curves[when][norm] = hessian_spectrum(
                    nets[norm], models[norm], *density
                )
    return {
        "task": "digits",
        "model": MODEL,
        "parameters": {norm: nets[norm].parameters for norm in NORMS},
        "same_linear_weights": same,
        "optimizer": "sgd",
        "lr": LR,
        "rates": list(rates),
        "epochs": epochs,
        "batch_size": BATCH,
        "seed": SEED,
        "level": LEVEL,
        "sgd": sgd,
        "adam_lr": ADAM_LR,
        "adam": adam_runs,
        "hessian_batch": HESSIAN_BATCH,
        "hessian_mode": "training mode: batch statistics of the fixed batch",
        "density_runs_steps": list(density),
        "hessian": hessian,
        "spectrum_curves": curves,
        "criteria": {"faster_at_least": FASTER, "initial_spread_ratio_at_least": SPREAD},
    }


def _trains(row: dict[str, Any], limits: dict[str, Any]) -> bool:
    """At one η: BatchNorm reaches LEVEL, and without it never or ``faster_at_least``× later."""
    with_bn, without = row["batch"]["updates_to_level"], row["none"]["updates_to_level"]
    if with_bn is None:
        return False
    return without is None or without >= limits["faster_at_least"] * with_bn


def _flatter(numbers: dict[str, Any]) -> bool:
    """κ at the start with BatchNorm at most 1/SPREAD of without, and smaller after training."""
    limits = numbers["criteria"]
    initial, trained = numbers["hessian"]["initial"], numbers["hessian"]["trained"]
    at_start = (
        initial["none"]["spread"]
        >= limits["initial_spread_ratio_at_least"] * initial["batch"]["spread"]
    )
    return bool(at_start and trained["batch"]["spread"] < trained["none"]["spread"])


def holds(numbers: dict[str, Any]) -> bool:
    """The criterion of the module doc, from the measured numbers."""
    limits = numbers["criteria"]
    return bool(
        numbers["same_linear_weights"]
        and all(_trains(row, limits) for row in numbers["sgd"].values())
        and _flatter(numbers)
    )


def outcome(numbers: dict[str, Any]) -> str:
    """held: the whole criterion; partial: same initial weights and BatchNorm trains where the
    plain net does not at some η, or the curvature part alone holds; not held: otherwise."""
    if holds(numbers):
        return "held"
    limits = numbers["criteria"]
    some = any(_trains(row, limits) for row in numbers["sgd"].values())
    return (
        "partial"
        if numbers["same_linear_weights"] and (some or _flatter(numbers))
        else ("not held")
    )


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """Same start; per η, the updates to LEVEL with and without; κ at the start and after."""
    n, limits = numbers, numbers["criteria"]
    faster = limits["faster_at_least"]
    budget = next(iter(n["sgd"].values()))["none"]["updates"]

    def count(updates: int | None) -> str:
        return f"{updates:,}" if updates is not None else f"not in {budget:,}"

    rows = [
        Evidence(
            "both nets start from the same Linear weights",
            n["same_linear_weights"],
            "",
            "yes",
            "only then is BatchNorm the one difference between the two runs",
            bool(n["same_linear_weights"]),
        )
    ]
    for lr, row in n["sgd"].items():
        rows.append(
            Evidence(
                f"SGD η = {lr}: updates to a training loss of {n['level']:g} nats, with / "
                "without BatchNorm",
                f"{count(row['batch']['updates_to_level'])} / "
                f"{count(row['none']['updates_to_level'])}",
                "updates",
                f"with reaches it; without never or after ≥ {faster:g}× as many",
                "'cannot train' against 'trainable': 0.5 nats is far below chance (2.30), and "
                "5× is more than the one-epoch resolution of the count",
                _trains(row, limits),
            )
        )
    initial, trained = n["hessian"]["initial"], n["hessian"]["trained"]
    spread = limits["initial_spread_ratio_at_least"]
    rows += [
        Evidence(
            "at the start: κ = λ_max / mean |λ| without over with BatchNorm",
            initial["none"]["spread"] / initial["batch"]["spread"],
            "×",
            f"≥ {spread:g}",
            "'far less uneven': the steepest direction stands out from the average one by a "
            "clearly smaller factor, beyond the few-% error of the estimate",
            bool(initial["none"]["spread"] >= spread * initial["batch"]["spread"]),
        ),
        Evidence(
            f"after training at η = {n['lr']:g}: κ with / without BatchNorm",
            f"{trained['batch']['spread']:,.0f} / {trained['none']['spread']:,.0f}",
            "",
            "with smaller",
            "the difference must not vanish once the net with BatchNorm has trained",
            bool(trained["batch"]["spread"] < trained["none"]["spread"]),
        ),
    ]
    return rows


def _reach(updates: int | None, budget: int) -> str:
    return f"{updates:,}" if updates is not None else f"more than {budget:,}"


def _pair(row: dict[str, Any], budget: int) -> str:
    """Updates to the level with BatchNorm against without, and the final loss without."""
    return (
        f"{_reach(row['batch']['updates_to_level'], budget)} against "
        f"{_reach(row['none']['updates_to_level'], budget)} (final loss without: "
        f"{row['none']['final_train_loss']:.3g})"
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n = numbers
    budget = n["sgd"][f"{n['lr']:g}"]["none"]["updates"]
    per_rate = "; ".join(f"η = {lr}: {_pair(row, budget)}" for lr, row in n["sgd"].items())
    h = n["hessian"]

    def spectrum(when: str) -> str:
        a, b = h[when]["none"], h[when]["batch"]
        return (
            f"κ = λ_max / mean |λ| = {a['spread']:,.0f} without and {b['spread']:,.0f} with "
            f"(λ_max {a['lambda_max']:.3g} and {b['lambda_max']:.3g})"
        )

    adam = ""
    if n["adam"] is not None:
        adam = f" Adam (η = {n['adam_lr']:g}, not judged): {_pair(n['adam'], budget)}."
    same = "the same" if n["same_linear_weights"] else "not the same"
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: the same 5-layer sigmoid net on "
        f"the digits ({same} initial Linear weights with and without BatchNorm), SGD with a "
        f"fixed η, updates to a training loss of {n['level']:g} nats with BatchNorm against "
        f"without — {per_rate}. On the fixed batch, at the start {spectrum('initial')}; after "
        f"training at η = {n['lr']:g}, {spectrum('trained')}.{adam}"
    )


def plot_losses(row: dict[str, Any], path: Path, *, title: str) -> Path:
    """Training (solid, wide, underneath) and validation (dashed, with markers, on top) loss
    after each epoch, one colour per net: where the two curves of a net coincide, as on the
    chance plateau, both stay visible."""
    import matplotlib.pyplot as plt

    colours = {"none": "#e07b00", "batch": "#1f5fa8"}
    label = {"none": "no BatchNorm", "batch": "BatchNorm"}
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    for norm in NORMS:
        ax.plot(
            row[norm]["train_loss"],
            "-",
            color=colours[norm],
            linewidth=3.2,
            alpha=0.45,
            zorder=2,
            label=f"training, {label[norm]}",
        )
        ax.plot(
            row[norm]["val_loss"],
            "--",
            marker="o",
            markersize=3,
            fillstyle="none",
            color=colours[norm],
            linewidth=1.2,
            zorder=3,
            label=f"validation, {label[norm]}",
        )
    ax.axhline(
        math.log(10), color="#999999", linewidth=0.8, linestyle=":", zorder=1, label="chance, ln 10"
    )
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    def plain(value: float, _: int) -> str:  # 0.2, 0.5, 1, 2: not 2×10⁻¹; only 1, 2, 3, 5
        leading = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0
        return f"{value:g}" if round(leading, 6) in (1, 2, 3, 5) else ""

    ax.yaxis.set_major_formatter(FuncFormatter(plain))
    ax.yaxis.set_minor_formatter(FuncFormatter(plain))
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return save_figure(fig, path)


def run(out: Path, quick: bool = False) -> Result:
    """Full: SGD at four η and Adam, 20 epochs each; quick: SGD at η = 1 only, 10 epochs, a
    coarser density."""
    if quick:
        numbers = measure(QUICK_SGD_RATES, QUICK_EPOCHS, QUICK_DENSITY, adam=False)
    else:
        numbers = measure()
    label = {"none": "no BatchNorm", "batch": "BatchNorm"}
    loss = Path(NAME) / "loss.png"
    plot_losses(
        numbers["sgd"][f"{LR:g}"],
        out / loss,
        title=f"Digits, 5 sigmoid layers of 32, SGD η = {LR:g}, batches of {BATCH}",
    )
    spectrum = Path(NAME) / "hessian-spread.png"
    curves = numbers["spectrum_curves"]
    plot_curves(
        {
            f"{label[norm]}, {when}": curves[when][norm]
            for when in ("initial", "trained")
            for norm in NORMS
        },
        out / spectrum,
        title=(
            f"Hessian on {HESSIAN_BATCH} images (batch statistics): |λ| by percentile, over "
            f"{LAMBDA_MAX} (smoothed by 10⁻⁴ of max |λ|)"
        ),
        xlabel="percentile of the eigenvalues by |λ|",
        ylabel=f"|λ| / {LAMBDA_MAX}",
        logy=True,
    )
    figures = [loss, spectrum]
    if numbers["adam"] is not None:
        adam = Path(NAME) / "adam-loss.png"
        plot_curves(
            {f"training, {label[norm]}": numbers["adam"][norm]["train_loss"] for norm in NORMS},
            out / adam,
            title=f"The same nets with Adam, η = {ADAM_LR:g}",
            xlabel="epoch",
            ylabel="cross-entropy (nats)",
            logy=True,
        )
        figures.append(adam)
    return conclude(__name__, numbers, figures)
