"""More layers eventually overfit: the training loss keeps falling with depth, while the loss
on data the network has not seen turns up.

The lecture's table (from its slides, not in the notes: its viewer-count data, loss in
thousands of viewers, 2017–2020 for training, 2021 for testing):

    layers     1      2      3      4
    training   0.28k  0.18k  0.14k  0.10k
    testing    0.43k  0.39k  0.38k  0.44k     ← the 4th layer: better on training, worse on test

Set-up here: the diabetes regression (:mod:`ravine.tasks.diabetes`: 442 patients, 10
standardized measurements, standardized target, so predicting the mean costs ≈ 1), 20% held
out for validation by ``ravine.training.split`` with the run's seed; ReLU networks
``deep:layers=L,units=32`` for L in ``DEPTHS`` (P = 385 + 1,056·(L − 1)), each trained from
``SEEDS`` by full-batch Adam, η = ``LR``, ``UPDATES`` updates (quick mode a quarter), all
seeds at once (:func:`ravine.experiments.deep_networks.train_seeds`): the setting of
``ravine train --task diabetes --batch-size 354 --epochs UPDATES``. Losses: mean squared
error after the last update, averaged over seeds.

The test (chosen before any run): (a) *training falls with depth*: the deepest net's training
loss is below the 1-layer net's, and no deeper net's is more than ``NOISE`` (1.25×) above the
previous one's (a rise that small, in a mean of 3 runs, is a tie); (b) *validation turns up*:
the deepest net's validation loss is above the best shallower net's by at least ``TURN``
(10%) — the lecture's 4th layer was 16% worse on its test data than its 3rd (0.44k against
0.38k), and 10% is clear of a tie between means of 3 runs. Held: both; partial: one; not held:
neither.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch

from ..report.plots import save_figure  # (selects matplotlib's file backend)
from ..tasks import task as build_task
from ..training import split
from .base import OPENING, Evidence, Result, conclude, outcome_of, torch_threads
from .deep_networks import train_seeds
from .wording import plural

NAME = "more-layers"
TITLE = "More layers: better on training data, eventually worse on unseen data (overfitting)"
CLAIM = (
    "Each added layer lowers the loss on the training data, but past some depth the loss on "
    "data the network has not seen rises again: the deeper network overfits."
)
LECTURE = (
    "层数越多, 参数越多 (more layers, more parameters); 当层数变多了, 就会 overfitting (过拟合): "
    "in the lecture's table 1 → 3 layers improve on training and testing data, and the 4th "
    "layer is better on training data (0.10k) but worse on unseen data (0.44k against 0.38k)."
)
COMMAND = (
    "ravine train --task diabetes --model deep:layers=5,units=32 --optimizer adam --lr 0.01 "
    "--batch-size 354 --epochs 500 --seed 0 --plot deep"
)
CAPTIONS = {
    "depth.png": (
        "The lecture's table as a plot: final training loss (solid) and validation loss "
        "(dashed) against the number of hidden layers, one dot per seed, the line their mean. "
        "In the lecture's table training falls with every layer while validation stops falling "
        "and rises: look whether each line here does."
    ),
    "curves.png": (
        "Loss during training for each depth, mean over seeds: look where each dashed "
        "(validation) line is lowest, and whether it turns up while its solid (training) line "
        "keeps falling — overfitting along the updates rather than along the depth."
    ),
}

DEPTHS = (1, 2, 3, 4, 5)
UNITS = 32
SEEDS = (0, 1, 2)
LR = 0.01
UPDATES = 500
QUICK_FRACTION = 4
VALIDATION = 0.2
EVERY = 10
NOISE = 1.25
TURN = 1.10
TRAIN_PATIENTS = 354  # 442 less the 20% held out


def measure(quick: bool = False) -> dict[str, Any]:
    """Train every depth from every seed; per depth its P, final losses per seed, mean curves."""
    updates = UPDATES // QUICK_FRACTION if quick else UPDATES
    nets = []
    with torch_threads(1):
        for depth in DEPTHS:
            spec = f"deep:layers={depth},units={UNITS}"
            run = train_seeds(
                "diabetes",
                spec,
                SEEDS,
                lr=LR,
                updates=updates,
                validation=VALIDATION,
                every=EVERY,
                dtype=torch.float32,
            )
            nets.append(
                {
                    "layers": depth,
                    "spec": spec,
                    "parameters": run.parameters,
                    "train": run.train,
                    "val": run.val,
                    "curves": {k: [sum(r) / len(r) for r in v] for k, v in run.curves.items()},
                }
            )
            lowest = min(nets[-1]["curves"]["val"])  # in time: where validation turned
            nets[-1]["lowest_val"] = lowest
            at = nets[-1]["curves"]["val"].index(lowest)  # records: every EVERY, and the last
            nets[-1]["lowest_val_update"] = min(at * EVERY, updates)
    return {
        "seeds": list(SEEDS),
        "lr": LR,
        "updates": updates,
        "every": EVERY,
        "nets": nets,
        "straight_line_val": straight_line(SEEDS),
    }


def straight_line(seeds: tuple[int, ...]) -> float:
    """For context: the validation loss of the least-squares linear model y = b + Σ_j w_j·x_j
    (no hidden layer, fitted exactly on each seed's training part), mean over seeds."""
    diabetes = build_task("diabetes")
    x = torch.cat([diabetes.inputs, torch.ones(diabetes.size, 1)], 1).double()
    y = diabetes.targets.double()
    losses = []
    for seed in seeds:
        train, val = split(diabetes.size, VALIDATION, seed)
        weights = torch.linalg.lstsq(x[train], y[train]).solution
        losses.append(float(((x[val] @ weights - y[val]) ** 2).mean()))
    return sum(losses) / len(losses)


def _means(numbers: dict[str, Any], part: str) -> list[float]:
    return [sum(n[part]) / len(n[part]) for n in numbers["nets"]]


def parts(numbers: dict[str, Any]) -> dict[str, bool]:
    """(a) training falls with depth, (b) the deepest net's validation loss turns up."""
    train, val = _means(numbers, "train"), _means(numbers, "val")
    falls = train[-1] < train[0] and all(b <= NOISE * a for a, b in pairwise(train))
    return {"training falls": falls, "validation turns up": val[-1] >= TURN * min(val[:-1])}


def holds(numbers: dict[str, Any]) -> bool:
    """Training loss falls with depth and the deepest net's validation loss turns up."""
    return all(parts(numbers).values())


def outcome(numbers: dict[str, Any]) -> str:
    """Held: both parts; partial: one; not held: neither."""
    return outcome_of(parts(numbers).values())


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    train, val = _means(numbers, "train"), _means(numbers, "val")
    layers = [n["layers"] for n in numbers["nets"]]
    best = layers[val.index(min(val[:-1]))]
    shown = parts(numbers)
    line = numbers["straight_line_val"]
    why = (
        ""
        if shown["validation turns up"] or val[0] <= line
        else f". Every depth is already past the turn: even 1 layer ({val[0]:.2g}) is worse on "
        f"validation than a straight line fitted by least squares ({line:.2g}), so the "
        f"{numbers['updates']} updates let each net memorize its {TRAIN_PATIENTS} training "
        "patients and there is no better shallow net for a deeper one to fall behind"
        + _turn_in_time(numbers)
    )
    return (
        f"{OPENING[outcome(numbers)]}: after {numbers['updates']} Adam updates, mean over "
        f"{len(numbers['seeds'])} seeds, for {layers[0]}…{layers[-1]} layers the training loss "
        f"was {', '.join(f'{t:.2g}' for t in train)} "
        f"({'falls' if shown['training falls'] else 'does not fall'} with depth) and the "
        f"validation loss {', '.join(f'{v:.2g}' for v in val)}: the deepest is "
        f"{val[-1] / min(val[:-1]):.2f}× the best shallower ({best} layer"
        f"{'s' if best > 1 else ''}), "
        f"{'it turns up' if shown['validation turns up'] else f'short of the {TURN:g}× turn'}"
        f"{why}."
    )


def _turn_in_time(numbers: dict[str, Any]) -> str:
    """The turn seen along the updates instead: each depth's lowest mean validation loss and
    the update it came at (empty when the numbers do not have them)."""
    nets = numbers["nets"]
    if not all("lowest_val" in n for n in nets):
        return ""
    lows = "; ".join(
        f"{plural(n['layers'], 'layer')}: {n['lowest_val']:.2g} at update "
        f"{n['lowest_val_update']:,}"
        for n in nets
    )
    return (
        f"; the turn shows in time instead: the validation loss was lowest early ({lows}), "
        "then rose while training kept falling"
    )


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """Training loss deepest / 1 layer, and validation loss deepest / best shallower."""
    train, val = _means(numbers, "train"), _means(numbers, "val")
    shown = parts(numbers)
    return [
        Evidence(
            f"training loss: {len(train)} layers / 1 layer (mean over seeds)",
            train[-1] / train[0],
            "×",
            f"< 1, and no step up over {NOISE:g}×",
            "the lecture's table falls with every layer; a rise under 25% in a mean of 3 runs "
            "is a tie",
            shown["training falls"],
        ),
        Evidence(
            f"validation loss: {len(val)} layers / best shallower (mean over seeds)",
            val[-1] / min(val[:-1]),
            "×",
            f"≥ {TURN:g}",
            "the lecture's 4th layer was 16% worse on unseen data than its 3rd; 10% is clear of "
            "a tie between means of 3 runs",
            shown["validation turns up"],
        ),
        Evidence(
            "validation loss of a straight line (least squares), for context",
            numbers["straight_line_val"],
            "",
            "",
            "a net whose validation loss is above a straight line's has already overfitted",
            None,
        ),
    ]


def run(out: Path, quick: bool = False) -> Result:
    """Full: UPDATES Adam updates per depth; quick: a quarter of them."""
    numbers = measure(quick)
    folder = out / NAME
    folder.mkdir(parents=True, exist_ok=True)
    figures = [
        _draw_depth(folder / "depth.png", numbers),
        _draw_curves(folder / "curves.png", numbers),
    ]
    return conclude(__name__, numbers, [f.relative_to(out) for f in figures])


def _draw_depth(path: Path, numbers: dict[str, Any]) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    layers = [n["layers"] for n in numbers["nets"]]
    for part, label, style in (("train", "training", "-"), ("val", "validation", "--")):
        (line,) = ax.plot(layers, _means(numbers, part), style + "o", label=f"{label} (mean)")
        for n in numbers["nets"]:
            ax.plot([n["layers"]] * len(n[part]), n[part], ".", color=line.get_color(), alpha=0.5)
    ax.axhline(
        numbers["straight_line_val"],
        color="tab:gray",
        linestyle=":",
        label="straight line: validation",
    )
    ax.set_yscale("log")
    ax.set_xticks(layers)
    ax.set_xlabel(f"hidden layers of {UNITS} ReLUs")
    ax.set_ylabel("mean squared error (standardized)")
    ax.set_title("diabetes: more layers — training keeps falling, validation turns up?", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _draw_curves(path: Path, numbers: dict[str, Any]) -> Path:
    fig, ax = plt.subplots(figsize=(7.2, 4.8), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for color, n in zip(colors, numbers["nets"], strict=False):
        steps = [i * numbers["every"] for i in range(len(n["curves"]["train"]))]
        steps[-1] = numbers["updates"]
        label = f"{n['layers']} layer{'s' if n['layers'] > 1 else ''} (P = {n['parameters']})"
        ax.plot(steps, n["curves"]["train"], color=color, label=f"{label}: training")
        ax.plot(steps, n["curves"]["val"], "--", color=color, label=f"{label}: validation")
    ax.set_yscale("log")
    ax.set_xlabel("Adam update (full batch)")
    ax.set_ylabel("mean squared error (standardized)")
    ax.set_title("diabetes: loss during training, by depth", fontsize=9)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
