"""Fat + short against thin + tall: with the same number of parameters, is the deeper network
the better one?

Set-up: the sinc regression (:mod:`ravine.tasks.sinc`: 200 points x ~ U[−1, 1],
y = sin(5πx)/(5πx), 20% held out for validation by ``ravine.training.split`` with the run's
seed), ReLU networks of about P ≈ 300 parameters (``SPECS``):

    1 hidden layer of 100 units    P = 3·100 + 1           = 301   (fat + short)
    2 hidden layers of 15 units    P = 15² + 4·15 + 1      = 286
    3 hidden layers of 11 units    P = 2·11² + 5·11 + 1    = 298   (thin + tall)

each trained from ``SEEDS`` (initialization and split) by full-batch Adam, η = ``LR``,
``UPDATES`` updates (quick mode a quarter), all seeds at once
(:func:`ravine.experiments.deep_networks.train_seeds`): the setting of ``ravine train --task
sinc --batch-size 160 --epochs UPDATES``. Losses are the mean squared error after the last
update, on the training and on the validation part of each seed's split.

The test (chosen before any run): the tall net *wins* on a set when its loss there is lower
than the fat net's in every seed — with 3 seeds, the simplest rule that one lucky start cannot
pass. Held: it wins on training and on validation; partial: it wins on one of them, or its
mean over seeds is lower on both without winning every seed; not held otherwise. The 2-layer
net is shown beside them, and decides nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from ..report.plots import save_figure  # (selects matplotlib's file backend)
from .base import OPENING, Evidence, Result, conclude, torch_threads
from .deep_networks import train_seeds

NAME = "fat-or-tall"
TITLE = "Fat + short or thin + tall: the same parameters, one layer or three"
CLAIM = (
    "With the same number of parameters, a deep network (thin + tall) fits better than a "
    "shallow one (fat + short): that is why the lecture's networks grow deeper, not wider."
)
LECTURE = (
    "为什么是深度学习而不是宽 (肥) 度学习? — why deep, and not fat, learning? The notes ask "
    "it when the networks grow deeper (AlexNet, GoogLeNet) and leave it for a later lecture, "
    "whose answer is that with as many parameters, thin + tall (瘦高, many layers) beats "
    "fat + short (矮胖, one wide layer)."
)
COMMAND = (
    "ravine train --task sinc --model deep:layers=3,units=11 --optimizer adam --lr 0.005 "
    "--batch-size 160 --epochs 2000 --seed 0 --plot tall"
)
CAPTIONS = {
    "curves.png": (
        "Training (solid) and validation (dashed) loss of the three networks of ~300 "
        "parameters, mean over seeds: which one ends lowest, and does validation follow training?"
    ),
    "final.png": (
        "The final losses, one dot per seed and a black bar at their mean: the tall net is "
        "better only if its dots lie below the fat net's in every seed."
    ),
}

SPECS = {  # name → (model spec, hidden layers)
    "fat: 1 layer × 100": ("relu:units=100", 1),
    "2 layers × 15": ("deep:layers=2,units=15", 2),
    "tall: 3 layers × 11": ("deep:layers=3,units=11", 3),
}
FAT, TALL = "fat: 1 layer × 100", "tall: 3 layers × 11"
SEEDS = (0, 1, 2)
LR = 0.005
UPDATES = 2000
QUICK_FRACTION = 4
VALIDATION = 0.2
EVERY = 20  # updates between recorded losses


def measure(quick: bool = False) -> dict[str, Any]:
    """Train every spec from every seed; per net its P, final losses per seed and mean curves."""
    updates = UPDATES // QUICK_FRACTION if quick else UPDATES
    nets = {}
    with torch_threads(1):
        for name, (spec, layers) in SPECS.items():
            run = train_seeds(
                "sinc", spec, SEEDS, lr=LR, updates=updates, validation=VALIDATION, every=EVERY
            )
            nets[name] = {
                "spec": spec,
                "hidden_layers": layers,
                "parameters": run.parameters,
                "train": run.train,
                "val": run.val,
                "curves": {k: [sum(r) / len(r) for r in v] for k, v in run.curves.items()},
            }
    return {"seeds": list(SEEDS), "lr": LR, "updates": updates, "every": EVERY, "nets": nets}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def wins(numbers: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Per set (train, val): the tall net lower in every seed, and lower on the mean."""
    fat, tall = numbers["nets"][FAT], numbers["nets"][TALL]
    return {
        part: {
            "every_seed": all(t < f for t, f in zip(tall[part], fat[part], strict=True)),
            "mean": _mean(tall[part]) < _mean(fat[part]),
        }
        for part in ("train", "val")
    }


def holds(numbers: dict[str, Any]) -> bool:
    """The tall net's loss is lower than the fat net's in every seed, training and validation."""
    return all(w["every_seed"] for w in wins(numbers).values())


def outcome(numbers: dict[str, Any]) -> str:
    """Held: wins both; partial: wins one, or lower on the mean on both; not held otherwise."""
    won = wins(numbers)
    if all(w["every_seed"] for w in won.values()):
        return "held"
    if any(w["every_seed"] for w in won.values()) or all(w["mean"] for w in won.values()):
        return "partial"
    return "not held"


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    nets, seeds = numbers["nets"], len(numbers["seeds"])
    listed = "; ".join(
        f"{name.replace(': ', ', ')} (P = {n['parameters']}): training "
        f"{_mean(n['train']):.2g}, validation {_mean(n['val']):.2g}"
        for name, n in nets.items()
    )
    beat = {
        p: sum(t < f for t, f in zip(nets[TALL][p], nets[FAT][p], strict=True))
        for p in ("train", "val")
    }
    spread = {
        name: f"{min(nets[name]['val']):.2g}–{max(nets[name]['val']):.2g}" for name in (FAT, TALL)
    }
    size = round(_mean([n["parameters"] for n in nets.values()]), -2)
    why = (
        f" — the seeds disagree: across seeds the fat net's validation loss spans "
        f"{spread[FAT]} and the tall net's {spread[TALL]}, so at about {size:.0f} parameters "
        "on sinc the random start matters as much as the shape"
        if any(0 < b < seeds for b in beat.values())
        else ""
    )
    return (
        f"{OPENING[outcome(numbers)]}: mean squared error over {seeds} seeds after "
        f"{numbers['updates']:,} Adam updates — {listed}; the tall net beat the fat one in "
        f"{beat['train']} of {seeds} seeds on training loss and in {beat['val']} of {seeds} on "
        f"validation loss{why}."
    )


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """Tall / fat mean loss on each set, and whether the tall net won every seed there."""
    nets, won = numbers["nets"], wins(numbers)
    items = []
    for part, label in (("train", "training"), ("val", "validation")):
        items.append(
            Evidence(
                f"{label} loss: thin + tall / fat + short (mean over seeds)",
                _mean(nets[TALL][part]) / _mean(nets[FAT][part]),
                "×",
                "< 1 in every seed",
                "3 seeds: winning every one is the simplest rule one lucky start cannot pass",
                won[part]["every_seed"],
            )
        )
    return items


def run(out: Path, quick: bool = False) -> Result:
    """Full: UPDATES Adam updates per net; quick: a quarter of them."""
    numbers = measure(quick)
    folder = out / NAME
    folder.mkdir(parents=True, exist_ok=True)
    figures = [
        _draw_curves(folder / "curves.png", numbers),
        _draw_final(folder / "final.png", numbers),
    ]
    return conclude(__name__, numbers, [f.relative_to(out) for f in figures])


def _draw_curves(path: Path, numbers: dict[str, Any]) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for color, (name, n) in zip(colors, numbers["nets"].items(), strict=False):
        steps = [i * numbers["every"] for i in range(len(n["curves"]["train"]))]
        steps[-1] = numbers["updates"]
        label = f"{name} (P = {n['parameters']})"
        ax.plot(steps, n["curves"]["train"], color=color, label=f"{label}: training")
        ax.plot(steps, n["curves"]["val"], "--", color=color, label=f"{label}: validation")
    ax.set_yscale("log")
    ax.set_xlabel("Adam update (full batch)")
    ax.set_ylabel("mean squared error")
    ax.set_title("sinc: fat + short against thin + tall at ~300 parameters", fontsize=9)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _draw_final(path: Path, numbers: dict[str, Any]) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.4), dpi=100, sharey=True)
    names = list(numbers["nets"])
    for ax, (part, label) in zip(axes, (("train", "training"), ("val", "validation")), strict=True):
        for index, name in enumerate(names):
            values = numbers["nets"][name][part]
            ax.plot([index] * len(values), values, "o", alpha=0.7)
            ax.plot([index - 0.2, index + 0.2], [_mean(values)] * 2, "k-")
        ax.set_xticks(
            range(len(names)),
            [n.replace(": ", "\n") + f"\nP = {numbers['nets'][n]['parameters']}" for n in names],
            fontsize=7,
        )
        ax.set_yscale("log")
        ax.set_title(f"final {label} loss, one dot per seed", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean squared error")
    return save_figure(fig, path)
