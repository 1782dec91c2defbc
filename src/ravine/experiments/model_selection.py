"""Two more readings of the general guide, measured for :mod:`ravine.experiments.general_guide`.

**Model selection.** The lecture: do not choose a model by its score on the public test set —
split the training data into training and validation and choose by the validation loss, and
since one split can be lucky, choose by the mean over N folds (N-fold cross validation). Set-up:
diabetes (442 patients, the standardized target, mse); 30% held out once as the private test
set, never used to choose; models ``linear``, ``relu:units=4``, ``relu:units=16`` — close in
loss, so luck can change the choice; Adam η = 0.01, batch 64, 20 epochs, θ⁰ from seed 0. One
split: 20% of the rest held out, drawn with each of 8 seeds; K folds: K = 4, the folds drawn
with each of 3 seeds (K runs per draw, hence fewer draws); a draw's seed also seeds θ⁰ and the
shuffling, luck that one validation number carries as well. *Steadiness*: the share of the
draws that chose the most common model (1: the same every time). Held when the one split's
choice changes with the draw (at least 2 different models) and K folds' steadiness is higher.
A first set-up — models linear, 16 and 256 ReLUs, batch 32, 3 draws of each — chose linear
every time both ways, which shows nothing either way; the set-up above was taken instead,
with the same criterion. Each model's private-test loss (trained on everything a choice may
see) is reported, not judged: it is one more split.

**Mismatch.** Training and test data from different distributions. Set-up: digits, models
``linear``, ``relu:units=64``, ``deep:layers=2,units=64``, Adam η = 0.01, batch 32, 20 epochs;
20% held out; the held-out digits are also shown moved ``shift`` = 2 pixels to the right (a
quarter of the image's width; the uncovered columns blank). B: the cross-entropy of predicting
the training classes' frequencies (ln 10 ≈ 2.30 for balanced classes); T = 0.1·B, the guide's
"small". Held when every model's training loss is <= T, some model's loss on the held-out
digits as drawn is <= T (so neither model bias nor overfitting), and every model's loss on the
shifted digits is > T: no choice of model helps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from ..diagnose.guide import SMALL
from ..tasks import Task
from ..tasks import task as build_task
from ..training import cross_validate, split, train
from .base import torch_threads
from .wording import join, times

# --- model selection: one validation split against K folds --------------------------------

SELECTION: dict[str, Any] = {
    "task": "diabetes",
    "models": ("linear", "relu:units=4", "relu:units=16"),
    "private": 0.3,  # held out once, never used to choose: the lecture's private test set
    "private_seed": 1000,
    "validation": 0.2,  # the one split's share of the rest
    "folds": 4,
    "seeds": (0, 1, 2, 3, 4, 5, 6, 7),  # the one split's seeds
    "k_fold_seeds": (0, 1, 2),  # K folds cost K runs a seed
    "optimizer": "adam",
    "lr": 0.01,
    "batch_size": 64,
    "epochs": 20,
}
QUICK_SELECTION = {"folds": 3, "seeds": (0, 1, 2), "k_fold_seeds": (0, 1), "epochs": 5}


def _pool(spec: str, setting: dict[str, Any], seed: int) -> tuple[Task, Task]:
    """(the data a choice may see, the private test set) of the task with model ``spec``."""
    whole = build_task(setting["task"], seed=seed, model=spec)
    seen, private = split(whole.size, setting["private"], setting["private_seed"])
    return (
        replace(whole, inputs=whole.inputs[seen], targets=whole.targets[seen]),
        replace(whole, inputs=whole.inputs[private], targets=whole.targets[private]),
    )


def measure_selection(seed: int = 0, quick: bool = False) -> dict[str, Any]:
    """For each seed, each model's loss on one validation split and its mean over K folds;
    the model each way chooses; and each model's private-test loss after training on all the
    data a choice may see."""
    setting = {**SELECTION, **(QUICK_SELECTION if quick else {})}
    train_kwargs = {k: setting[k] for k in ("lr", "batch_size", "epochs")}
    single: dict[str, list[float]] = {}
    folds: dict[str, list[float]] = {}
    private: dict[str, float] = {}
    with torch_threads(1):
        for spec in setting["models"]:
            seen, held = _pool(spec, setting, seed)
            single[spec], folds[spec] = [], []
            for draw in setting["seeds"]:
                one = train(
                    seen,
                    setting["optimizer"],
                    validation=setting["validation"],
                    seed=draw,
                    **train_kwargs,
                )
                single[spec].append(one.final.val_loss)
            for draw in setting["k_fold_seeds"]:
                k_fold = cross_validate(
                    seen, setting["optimizer"], folds=setting["folds"], seed=draw, **train_kwargs
                )
                folds[spec].append(k_fold.mean("val_loss"))
            full = train(seen, setting["optimizer"], validation=0, seed=seed, **train_kwargs)
            with torch.no_grad():
                private[spec] = float(held.loss_fn(full.model.eval()(held.inputs), held.targets))
    models = list(setting["models"])

    def pick(losses: dict[str, list[float]], i: int) -> str:
        return min(models, key=lambda m: losses[m][i])

    return {
        **{k: list(v) if isinstance(v, tuple) else v for k, v in setting.items()},
        "single_split_val_loss": single,
        "k_fold_val_loss": folds,
        "private_loss": private,
        "single_split_choice": [pick(single, i) for i in range(len(setting["seeds"]))],
        "k_fold_choice": [pick(folds, i) for i in range(len(setting["k_fold_seeds"]))],
        "private_best": min(models, key=lambda m: private[m]),
    }


def steadiness(choices: list[str]) -> float:
    """The share of the seeds that chose the most common model (1: the same every time)."""
    return max(choices.count(c) for c in choices) / len(choices)


def selection_holds(n: dict[str, Any]) -> bool:
    """The one split's choice changes with the split, and K folds choose more steadily."""
    single, k_fold = n["single_split_choice"], n["k_fold_choice"]
    return len(set(single)) >= 2 and steadiness(k_fold) > steadiness(single)


# --- mismatch: the validation set drawn from another distribution -------------------------

MISMATCH: dict[str, Any] = {
    "task": "digits",
    "models": ("linear", "relu:units=64", "deep:layers=2,units=64"),
    "shift": 2,  # pixels to the right: a quarter of the 8-pixel width
    "validation": 0.2,
    "optimizer": "adam",
    "lr": 0.01,
    "batch_size": 32,
    "epochs": 20,
}
QUICK_FRACTION = 4  # quick mode trains a quarter of the epochs


def shifted(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """8×8 digits (N, 64) moved ``pixels`` to the right, the left columns left blank."""
    grid = images.reshape(-1, 8, 8)
    moved = torch.zeros_like(grid)
    moved[:, :, pixels:] = grid[:, :, : 8 - pixels]
    return moved.reshape(-1, 64)


def measure_mismatch(seed: int = 0, quick: bool = False) -> dict[str, Any]:
    """Each model trained on digits; its training loss, its loss on validation digits as
    drawn, and on the same validation digits shifted; B = the cross-entropy of predicting the
    training classes' frequencies, T = SMALL·B."""
    setting = dict(
        MISMATCH, epochs=MISMATCH["epochs"] // QUICK_FRACTION if quick else MISMATCH["epochs"]
    )
    rows = []
    with torch_threads(1):
        for spec in setting["models"]:
            task = build_task(setting["task"], seed=seed, model=spec)
            train_idx, val_idx = split(task.size, setting["validation"], seed)
            run = train(
                task,
                setting["optimizer"],
                lr=setting["lr"],
                batch_size=setting["batch_size"],
                epochs=setting["epochs"],
                indices=(train_idx, val_idx),
                seed=seed,
            )
            moved = shifted(task.inputs[val_idx], setting["shift"])
            with torch.no_grad():
                shifted_loss = float(task.loss_fn(run.model.eval()(moved), task.targets[val_idx]))
            rows.append(
                {
                    "model": spec,
                    "parameters": task.parameters,
                    "train_loss": run.final.train_loss,
                    "val_loss": run.final.val_loss,
                    "shifted_val_loss": shifted_loss,
                }
            )
    counts = torch.bincount(task.targets[train_idx], minlength=10).double()
    frequencies = counts / counts.sum()
    baseline = float(-(frequencies * frequencies.log()).sum())  # cross-entropy of the priors
    return {
        **{k: list(v) if isinstance(v, tuple) else v for k, v in setting.items()},
        "baseline": baseline,
        "target": SMALL * baseline,
        "runs": rows,
    }


def mismatch_holds(n: dict[str, Any]) -> bool:
    """Every model small on training (<= T), some model small on validation as drawn, and
    every model large (> T) on the shifted validation: no choice of model helps."""
    runs, target = n["runs"], n["target"]
    return bool(
        all(r["train_loss"] <= target for r in runs)
        and min(r["val_loss"] for r in runs) <= target
        and min(r["shifted_val_loss"] for r in runs) > target
    )


def _share(choices: list[str]) -> str:
    counted = {c: choices.count(c) for c in dict.fromkeys(choices)}
    return join([f"{model} {times(count)}" for model, count in counted.items()])


def selection_text(n: dict[str, Any]) -> str:
    private = "; ".join(f"{m} {loss:.3g}" for m, loss in n["private_loss"].items())
    return (
        f"choosing among {join(n['models'])} on {n['task']}, one validation split chose "
        f"{_share(n['single_split_choice'])} over {len(n['seeds'])} splits (steadiness "
        f"{steadiness(n['single_split_choice']):.2g}) and {n['folds']}-fold validation chose "
        f"{_share(n['k_fold_choice'])} over {len(n['k_fold_seeds'])} fold draws (steadiness "
        f"{steadiness(n['k_fold_choice']):.2g}); on the private test set, never used to "
        f"choose: {private}"
    )


def mismatch_text(n: dict[str, Any]) -> str:
    runs = "; ".join(
        f"{r['model']} {r['train_loss']:.2g} / {r['val_loss']:.2g} / {r['shifted_val_loss']:.3g}"
        for r in n["runs"]
    )
    return (
        f"trained on {n['task']} and validated on the same digits moved {n['shift']} pixels, "
        f"training / validation as drawn / shifted validation loss were {runs} nats "
        f"(T = {n['target']:.3g})"
    )


def selection_caption(n: dict[str, Any]) -> str:
    """What the selection figure shows in this run: how to read it, and whether each way of
    validating chose the same model at every draw."""
    told = []
    for way, choices in (
        ("one split", n["single_split_choice"]),
        (f"{n['folds']}-fold validation", n["k_fold_choice"]),
    ):
        if len(set(choices)) == 1:
            told.append(f"{way} chose {choices[0]} at every draw")
        else:
            told.append(f"{way} changed its choice with the draw ({_share(choices)})")
    return (
        "Each line is one model's validation loss at each draw (a new random split, solid, or "
        "the mean over new folds, dashed; a colour per model); at a draw the lowest line of a "
        "kind is the model it chooses. "
        f"Here {told[0][:1].lower()}{told[0][1:]}, and {told[1]}."
    )


def _against(runs: list[dict[str, Any]], key: str, target: float) -> str:
    """Which models are at or below ``target`` on ``key``: every one, none, or which."""
    below = [r["model"] for r in runs if r[key] <= target]
    if len(below) == len(runs):
        return "every model is below T"
    if not below:
        return f"no model is below T (lowest {min(r[key] for r in runs):.2g})"
    above = [f"{r['model']} at {r[key]:.2g}" for r in runs if r[key] > target]
    return f"{join(below)} below T, {join(above)} above it"


def mismatch_caption(n: dict[str, Any]) -> str:
    """What the mismatch figure shows in this run: which models are below T on training and
    on validation as drawn, and how far above T the lowest is on the shifted digits."""
    runs, target = n["runs"], n["target"]
    lowest = min(r["shifted_val_loss"] for r in runs)
    shifted = (
        f"every model is far above it on the same digits moved {n['shift']} pixels (the "
        f"lowest {lowest:.3g}, {lowest / target:.0f}× T): no model choice closes that gap"
        if lowest > target
        else f"on the digits moved {n['shift']} pixels the lowest is {lowest:.3g}, below T"
    )
    training, drawn = (_against(runs, key, target) for key in ("train_loss", "val_loss"))
    return (
        f"Against T = {target:.2g} (the flat line): on training data {training}; on held-out "
        f"digits as drawn {drawn}; {shifted}."
    )
