"""「用預設的就好」 — Adam's defaults against a small grid of other settings, on digits.

The lecture: PyTorch's Adam has hyperparameters, but its defaults (η = 1e-3, β1 = 0.9,
β2 = 0.999) are usually good enough, and tuning them by hand sometimes makes things worse.

Set-up, fixed before any run: digits (scikit-learn's 1,797 8×8 images, 20% held out),
``relu:units=32``, cross-entropy, batch ``BATCH`` = 32 (``ravine train``'s default), ``EPOCHS``
epochs, seed 0 for every run (the same θ⁰, split and batches). Grid: η ∈ {1e-4, 1e-3, 1e-2}
(a decade either side of the default), β1 ∈ {0.5, 0.9, 0.99}, β2 ∈ {0.99, 0.999} — 18
settings, the defaults among them. Measured: each setting's final validation loss and
accuracy.

The margin, stated before looking: the defaults *land near the best* when their validation
loss is at most (1 + ``MARGIN``) times the best of the grid, MARGIN = 0.1 — the same 10% the
general guide takes as a tie between two losses (:data:`ravine.diagnose.guide.MARGIN`).
Shown beside it: the defaults' β against the best β at the default η — how much of a gap
comes from η and how much from β. "Tuning can make it worse": the share of the grid with a
higher validation loss than the defaults'.

Held: the defaults land near the best. Partial: they do not, but more than half of the grid
is worse than them (a hand-picked setting is more likely to hurt than to help). Not held:
neither. The run length is short (a budget of seconds), which favours a larger η; the verdict
names the best setting, so a reader sees when that is why.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from ..diagnose.guide import MARGIN
from ..report.plots import plot_curves
from ..report.result import HELD, NOT_HELD, PARTIAL
from ..tasks import task as build_task
from ..training import train
from .base import OPENING, Evidence, Result, conclude, torch_threads

NAME = "adam-defaults"
TITLE = "Adam's defaults (η = 1e-3, β1 = 0.9, β2 = 0.999) against a grid of other settings"
CLAIM = (
    "Adam's hyperparameters rarely need tuning: PyTorch's defaults, η = 1e-3, β1 = 0.9, "
    "β2 = 0.999, give a result close to the best that tuning finds, and tuning by hand "
    "sometimes makes it worse."
)
LECTURE = (
    "optimizer 裡面也有一些 hyperparameter 需要人工決定, 但是你往往用預設的那一種參數就夠好了 "
    "(the optimizer's hyperparameters need deciding, but the defaults are usually good "
    "enough); 你自己調有時候會調到比較差的 (tuning them yourself sometimes makes it worse)."
)
COMMAND = (
    "ravine train --task digits --model relu:units=32 --optimizer adam --lr 1e-3 "
    "--opt betas=0.9,0.999 --epochs 10 --plot adam-defaults"
)
CAPTIONS = {
    "grid.png": (
        "Each setting's validation loss, best first (rank 1 = best), the defaults marked: "
        "where they stand among the settings run, and how far above the best they end."
    ),
}

MODEL, BATCH, EPOCHS, QUICK_EPOCHS, VALIDATION, SEED = "relu:units=32", 32, 10, 3, 0.2, 0
DEFAULTS = (1e-3, 0.9, 0.999)  # (η, β1, β2): torch.optim.Adam's
RATES, BETA1S, BETA2S = (1e-4, 1e-3, 1e-2), (0.5, 0.9, 0.99), (0.99, 0.999)


def grid(quick: bool = False) -> list[tuple[float, float, float]]:
    """(η, β1, β2) of every setting; quick: η only, at the default β."""
    if quick:
        return [(lr, DEFAULTS[1], DEFAULTS[2]) for lr in RATES]
    return list(itertools.product(RATES, BETA1S, BETA2S))


def measure(quick: bool = False) -> dict[str, Any]:
    """Train every setting of the grid from the same θ⁰; their final losses."""
    epochs = QUICK_EPOCHS if quick else EPOCHS
    task = build_task("digits", seed=SEED, model=MODEL)
    settings = []
    with torch_threads(1):
        for lr, beta1, beta2 in grid(quick):
            run = train(
                task,
                "adam",
                lr=lr,
                options={"betas": (beta1, beta2)},
                batch_size=BATCH,
                epochs=epochs,
                validation=VALIDATION,
                seed=SEED,
            )
            final = run.final
            settings.append(
                {
                    "lr": lr,
                    "beta1": beta1,
                    "beta2": beta2,
                    "train_loss": None if final is None else final.train_loss,
                    "val_loss": None if final is None else final.val_loss,
                    "val_accuracy": None if final is None else final.val_metric,
                }
            )
    return summarize(
        {
            "task": f"digits, {MODEL}, batch {BATCH}, {epochs} epochs, seed {SEED}",
            "epochs": epochs,
            "defaults": list(DEFAULTS),
            "margin": MARGIN,
            "settings": settings,
        }
    )


def _loss(setting: dict[str, Any]) -> float:
    return float("inf") if setting["val_loss"] is None else setting["val_loss"]


def _is_default(setting: dict[str, Any]) -> bool:
    return (setting["lr"], setting["beta1"], setting["beta2"]) == DEFAULTS


def summarize(numbers: dict[str, Any]) -> dict[str, Any]:
    """Add the best setting, the defaults' ratio to it and the share of the grid worse."""
    settings = numbers["settings"]
    best = min(settings, key=_loss)
    default = next(s for s in settings if _is_default(s))
    others = [s for s in settings if not _is_default(s)]
    same_rate = _other_betas(settings, default)
    return {
        **numbers,
        "best": best,
        "default": default,
        "rank": rank(settings),
        "ratio_to_best": _loss(default) / _loss(best),
        "ratio_to_best_at_default_lr": (
            _loss(default) / min(_loss(default), *map(_loss, same_rate)) if same_rate else None
        ),
        "worse_than_default": sum(_loss(s) > _loss(default) for s in others) / len(others),
    }


def _other_betas(settings: list[dict[str, Any]], default: dict[str, Any]) -> list[dict[str, Any]]:
    """The settings run at the defaults' η with another β (none in quick mode)."""
    return [s for s in settings if s["lr"] == default["lr"] and not _is_default(s)]


def rank(settings: list[dict[str, Any]]) -> int:
    """The defaults' place when the settings are ordered by validation loss: 1 = best."""
    ranked = sorted(settings, key=_loss)
    return next(i for i, s in enumerate(ranked, start=1) if _is_default(s))


def near_best(numbers: dict[str, Any]) -> bool:
    return numbers["ratio_to_best"] <= 1 + numbers["margin"]


def holds(numbers: dict[str, Any]) -> bool:
    """The defaults' validation loss is within (1 + MARGIN)× the grid's best."""
    return bool(near_best(numbers))


def outcome(numbers: dict[str, Any]) -> str:
    """Held: near the best; partial: not, but more than half the grid is worse; else not."""
    if near_best(numbers):
        return HELD
    return PARTIAL if numbers["worse_than_default"] > 0.5 else NOT_HELD


def _name(setting: dict[str, Any]) -> str:
    return f"η = {setting['lr']:g}, β1 = {setting['beta1']:g}, β2 = {setting['beta2']:g}"


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    worse = numbers["worse_than_default"]
    return [
        Evidence(
            "the defaults' validation loss, against the grid's best",
            numbers["ratio_to_best"],
            "× the best",
            f"≤ {1 + numbers['margin']:g}",
            "10% is the project's tie between two losses (the general guide's margin), "
            "fixed before the runs",
            near_best(numbers),
        ),
        Evidence(
            "settings of the grid worse than the defaults",
            worse,
            "of the others",
            "> 0.5 (for a partial hold)",
            "if most hand-picked settings do worse, tuning is more likely to hurt than help",
            worse > 0.5,
        ),
        Evidence("the best setting", _name(numbers["best"]), why="shown, not judged"),
        *_beta_evidence(numbers),
    ]


def _beta_evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """The defaults' β against the best other β at their η — where another β ran there."""
    if numbers["ratio_to_best_at_default_lr"] is None:
        return []
    return [
        Evidence(
            f"the defaults' β against the best β at η = {numbers['default']['lr']:g}",
            numbers["ratio_to_best_at_default_lr"],
            "× the best",
            why="shown, not judged: how much of the gap is η and how much β",
        )
    ]


def _betas(numbers: dict[str, Any]) -> str:
    """What the run measured of β at the defaults' η; nothing where no other β ran there."""
    default, settings = numbers["default"], numbers["settings"]
    same_rate = _other_betas(settings, default)
    if not same_rate:
        return ""
    best = min(same_rate, key=_loss)
    if _loss(best) >= _loss(default):
        return (
            f", and at η = {default['lr']:g} none of the {len(same_rate)} other β did better "
            f"than the defaults' β1 = {default['beta1']:g}, β2 = {default['beta2']:g}"
        )
    return (
        f", and at η = {default['lr']:g} the defaults' loss was "
        f"{numbers['ratio_to_best_at_default_lr']:.3g}× that of the best β there "
        f"(β1 = {best['beta1']:g}, β2 = {best['beta2']:g}: {_loss(best):.3g})"
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    default, best, settings = numbers["default"], numbers["best"], numbers["settings"]
    others = [s for s in settings if not _is_default(s)]
    worse = sum(_loss(s) > _loss(default) for s in others)
    return (
        f"{OPENING[outcome(numbers)]}: on {numbers['task']}, Adam's defaults ended with "
        f"validation loss {_loss(default):.3g} (accuracy {default['val_accuracy']:.3g}), "
        f"rank {numbers['rank']} of {len(settings)} (1 = best), "
        f"{numbers['ratio_to_best']:.3g}× the best — "
        f"{_name(best)}: {_loss(best):.3g} (accuracy {best['val_accuracy']:.3g}) — where "
        f"{1 + numbers['margin']:g}× counts as near; {worse} of the {len(others)} other "
        f"settings ({numbers['worse_than_default']:.0%}) did worse than the defaults"
        f"{_betas(numbers)}."
    )


def caption(numbers: dict[str, Any]) -> str:
    """The figure's caption, with the run's own count of settings and the defaults' rank."""
    return (
        f"Each of the {len(numbers['settings'])} settings' validation loss, best first "
        f"(rank 1 = best), the defaults marked at rank {numbers['rank']}: where they stand "
        "among the settings run, and how far above the best they end."
    )


def run(out: Path, quick: bool = False) -> Result:
    """Full: the 18 settings, 10 epochs each; quick: the three η at the default β, 3 epochs."""
    numbers = measure(quick)
    figure = Path(NAME) / "grid.png"
    losses = sorted(_loss(s) for s in numbers["settings"])
    position = numbers["rank"] - 1
    plot_curves(
        {
            "validation loss, settings best first": losses,
            f"{1 + numbers['margin']:g} × the best": [losses[0] * (1 + numbers["margin"])]
            * len(losses),
        },
        out / figure,
        title=f"Adam on {numbers['task']}: {len(losses)} settings of (η, β1, β2)",
        xlabel="rank of the setting (1 = best)",
        ylabel="validation loss (cross-entropy)",
        logy=True,
        points={
            f"the defaults (rank {numbers['rank']})": [
                loss if i == position else float("nan") for i, loss in enumerate(losses)
            ]
        },
        start=1,
    )
    return conclude(__name__, numbers, [figure], captions={figure.name: caption(numbers)})
