"""The general guide on real training runs: each of its verdicts — model bias, an optimization
issue, overfitting, fine — is constructed by training models of the lecture's family
(ravine.training.train on ravine.tasks tasks), and :func:`ravine.diagnose.guide.general_guide`
must name it from the measured final losses.

What "large" means is the guide's default: the target T = 0.1 · B, where B is the loss of
predicting the mean of the run's training targets (their variance: every task here is a
regression with the mean squared error). A gap of 10% or less between training losses is a
tie. The four cases (η, batch size B_s and epochs E at full size; quick mode trains E/2):

- **model bias** — sinc (200 points, 20% held out), Adam η = 0.005, B_s = 16, E = 150:
  ``linear`` (2 parameters), ``sigmoid:units=1`` (4) and ``deep:layers=2,units=1,
  activation=sigmoid`` (6). Each is a monotone function of x (a composition of monotone
  maps), and sin(5πx)/(5πx) rises and falls, so no choice of parameters fits it: the training
  loss stays near B for every size. Size: parameters.
- **fine** — the same three runs and ``deep:layers=3,units=32`` (ReLU, 2,209 parameters),
  trained the same way: the lecture's remedy for model bias, a more flexible model, fits sinc
  on both sets. Size: parameters.
- **optimization issue** — diabetes (442 patients, 20% held out), plain SGD η = 0.1,
  B_s = 64, E = 150: ``sigmoid:units=16`` (1 hidden layer) and ``deep:layers=8,units=16,
  activation=sigmoid`` (8 hidden layers), which could imitate it but whose gradient fades
  through eight sigmoids: it ends at about B while the shallow net roughly halves it.
  Size: hidden layers.
- **overfitting** — diabetes with 80% held out (88 training patients, 354 validation),
  Adam η = 0.01, B_s = 32, E = 150: ``linear`` (11 parameters) and ``relu:units=256``
  (3,073 parameters, 35 per training patient): the large net drives its training loss far
  below T while its validation loss stays near B. Size: parameters.

Every run uses seed 0 (initialization, split and shuffling). E was 300 at first and is 150
now (half the CPU time): at E = 150 and at E = 75 (quick), with seeds 0–3, each case got the
same verdict as at E = 300. At full size with seed 0 the margins were (E = 300 in brackets):
model bias, every training loss ≥ 0.98·B (0.93·B; T = 0.1·B); fine, the ReLU net at 0.0059·B
training and 0.0056·B validation (0.011·B, 0.012·B); optimization issue, 1.04·B for the deep
net against 0.48·B for the shallow one (1.05·B against 0.45·B), 2.2× where the guide asks
for more than 1.1×; overfitting, 0.024·B training against 1.06·B validation (0.0037·B
against 1.02·B). SGD's training loss is noisy from epoch to epoch, but not enough to decide
the optimization case: over the last fifth of the 150 epochs, on seeds 0–3, the shallow
net's training loss never rose above 0.6 and the deep net's never fell below 0.97 (B ≈ 1 on
the standardized target). In the diabetes cases the smaller models are read as model bias
themselves: a linear fit explains about half of the variance (R² ≈ 0.5), so no model here
gets the diabetes target within 0.1·B without overfitting, and their notes say so.

The guide's other two points are measured in :mod:`ravine.experiments.model_selection`:
choosing a model by N-fold validation rather than by one split (the public test set), and
mismatch, where the validation data come from another distribution.

The claim is held when all three parts hold: the guide, given each case's measured runs
(name, size, final training and validation loss) and B, returns that case's verdict for all
four cases; one split's choice changes with the draw while K folds choose more steadily; and
on shifted digits every model's loss stays above T while training and unshifted validation
losses are below it. Partial when some parts hold.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ..diagnose.guide import (
    MARGIN,
    SMALL,
    Guidance,
    RunSummary,
    general_guide,
    mean_prediction_loss,
)
from ..report.plots import NEUTRAL_COLORS, plot_curves
from ..tasks import task as build_task
from ..training import split, train
from .base import OPENING, Evidence, Result, conclude, outcome_of, torch_threads
from .model_selection import (
    measure_mismatch,
    measure_selection,
    mismatch_caption,
    mismatch_holds,
    mismatch_text,
    selection_caption,
    selection_holds,
    selection_text,
    steadiness,
)

NAME = "general-guide"
TITLE = "The general guide: model bias, optimization issue, overfitting — told from real runs"
CLAIM = (
    "Start from the loss on the training data. If it is large for every model size, the model "
    "is too simple (model bias); if a larger model that could imitate a smaller one ends with "
    "a higher training loss, the optimization failed (optimization issue). If the training "
    "loss is small but the validation loss is large, the model overfits; if both are small, "
    "it is fine."
)

LECTURE = (
    "機器學習任務攻略 (the general guide): a large training loss is model bias or an "
    "optimization issue; a small training loss with a large testing loss is overfitting or "
    "mismatch. Public and private leaderboards: a model chosen on the public set may not hold "
    "on the private one — 把 training data 分成 training data 和 validation data, 或用 N-折交叉"
    "驗證 (N-fold Cross Validation). Mismatch: 訓練數據和測試數據的分布 (distributions) 不一致 "
    "(training and test data differ in distribution)."
)
COMMAND = (
    "ravine train --task diabetes --model relu:units=4 --optimizer adam --lr 0.01 "
    "--batch-size 64 --epochs 20 --folds 4"
)
CAPTIONS = {  # selection's and mismatch's are replaced by ones that say what this run chose
    "model-bias.png": "Every tiny model's training loss stays near B, far above the target T.",
    "optimization-issue.png": (
        "The 8-layer net ends above the 1-layer net it could imitate: training failed, not "
        "the model's flexibility."
    ),
    "overfitting.png": (
        "The 256-unit net drives its training loss far below T while its validation loss "
        "stays near B."
    ),
    "fine.png": "The 3-layer ReLU net is below T on both sets.",
    "selection.png": (
        "One split's validation losses jump from draw to draw and cross each other, so the "
        "chosen model changes; the K-fold means are flatter and keep their order."
    ),
    "mismatch.png": (
        "Every model is below T on training data and on held-out digits as drawn, and far "
        "above it on the same digits moved two pixels: no model choice closes that gap."
    ),
}

SEED = 0
QUICK_FRACTION = 2  # quick mode trains E / 2 epochs (75, as before E was halved)

# One training setting per group of runs: the task, how much is held out, the optimizer.
SETTINGS: dict[str, dict[str, Any]] = {
    "sinc": {
        "task": "sinc",
        "validation": 0.2,
        "optimizer": "adam",
        "lr": 0.005,
        "batch_size": 16,
        "epochs": 150,
        "size_unit": "parameters",
    },
    "diabetes sgd": {
        "task": "diabetes",
        "validation": 0.2,
        "optimizer": "sgd",
        "lr": 0.1,
        "batch_size": 64,
        "epochs": 150,
        "size_unit": "hidden layers",
    },
    "diabetes small": {
        "task": "diabetes",
        "validation": 0.8,
        "optimizer": "adam",
        "lr": 0.01,
        "batch_size": 32,
        "epochs": 150,
        "size_unit": "parameters",
    },
}

# case (the verdict it is built to show) → (its setting, [(run name, model spec, hidden layers)])
TINY = [
    ("linear", "linear", 0),
    ("sigmoid ×1", "sigmoid:units=1", 1),
    ("sigmoid 1×1×1", "deep:layers=2,units=1,activation=sigmoid", 2),
]
CASES: dict[str, tuple[str, list[tuple[str, str, int]]]] = {
    "model bias": ("sinc", TINY),
    "optimization issue": (
        "diabetes sgd",
        [
            ("sigmoid, 1 layer of 16", "sigmoid:units=16", 1),
            ("sigmoid, 8 layers of 16", "deep:layers=8,units=16,activation=sigmoid", 8),
        ],
    ),
    "overfitting": (
        "diabetes small",
        [("linear", "linear", 0), ("ReLU, 256 units", "relu:units=256", 1)],
    ),
    "fine": ("sinc", [*TINY, ("ReLU, 3 layers of 32", "deep:layers=3,units=32", 3)]),
}


def train_one(setting: dict[str, Any], spec: str, epochs: int) -> dict[str, Any]:
    """Train ``spec`` under ``setting`` for ``epochs`` epochs; its numbers and its training and
    validation loss per epoch, epoch 0 being the initial model (losses in the task's units)."""
    task = build_task(setting["task"], seed=SEED, model=spec)
    started = time.perf_counter()
    run = train(
        task,
        setting["optimizer"],
        lr=setting["lr"],
        batch_size=setting["batch_size"],
        epochs=epochs,
        validation=setting["validation"],
        seed=SEED,
    )
    seconds = time.perf_counter() - started
    if run.final is None or run.stopped is not None:
        raise RuntimeError(f"{spec} on {setting['task']} stopped: {run.stopped}")
    train_idx, val_idx = split(task.size, setting["validation"], SEED)
    with torch.no_grad():  # epoch 0: the model train() starts from, task.model(SEED)
        start = task.model(SEED).eval()
        initial = [
            float(task.loss_fn(start(task.inputs[i]), task.targets[i]))
            for i in (
                train_idx,
                val_idx,
            )
        ]
    return {
        "model": spec,
        "parameters": task.parameters,
        "train_loss": run.final.train_loss,
        "val_loss": run.final.val_loss,
        "train_size": run.train_size,
        "val_size": run.val_size,
        "baseline": mean_prediction_loss(task.targets[train_idx]),
        "seconds": round(seconds, 3),
        "curves": {
            "train": [initial[0]] + [e.train_loss for e in run.history],
            "val": [initial[1]] + [e.val_loss for e in run.history],
        },
    }


def measure(quick: bool = False) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Train every case's runs (each (setting, model) once; "fine" reuses the model-bias runs)
    on one CPU thread, and read each case with the guide. Returns the numbers and the loss
    curves per case and run."""
    trained: dict[tuple[str, str], dict[str, Any]] = {}
    with torch_threads(1):  # these models are too small to gain from more
        for key, runs in CASES.values():
            setting = SETTINGS[key]
            epochs = setting["epochs"] // QUICK_FRACTION if quick else setting["epochs"]
            for _, spec, _ in runs:
                if (key, spec) not in trained:
                    trained[key, spec] = train_one(setting, spec, epochs)
    cases, curves = {}, {}
    for case, (key, runs) in CASES.items():
        setting = SETTINGS[key]
        by_depth = setting["size_unit"] == "hidden layers"
        measured = []
        for name, spec, layers in runs:
            numbers = dict(trained[key, spec])
            curves.setdefault(case, {})[name] = numbers.pop("curves")
            size = layers if by_depth else numbers["parameters"]
            measured.append({"name": name, "size": size, "hidden_layers": layers, **numbers})
        baseline = measured[0]["baseline"]  # the same training split for every run of a setting
        guidance = read(measured, baseline)
        cases[case] = {
            "task": setting["task"],
            "optimizer": setting["optimizer"],
            "lr": setting["lr"],
            "batch_size": setting["batch_size"],
            "epochs": setting["epochs"] // QUICK_FRACTION if quick else setting["epochs"],
            "validation": setting["validation"],
            "size_unit": setting["size_unit"],
            "baseline": baseline,
            "target": guidance.target,
            "runs": measured,
            "verdict": guidance.verdict,
            "deciding_run": guidance.run,
            "reason": guidance.reason,
            "notes": {note.name: note.verdict for note in guidance.notes},
        }
    numbers = {
        "seed": SEED,
        "quick": quick,
        "target_fraction_of_baseline": SMALL,
        "margin": MARGIN,
        "cases": cases,
        "selection": measure_selection(SEED, quick),
        "mismatch": measure_mismatch(SEED, quick),
    }
    return numbers, curves


def read(runs: list[dict[str, Any]], baseline: float) -> Guidance:
    """The guide's reading of measured runs (each with name, size, train_loss, val_loss)."""
    summaries = [RunSummary(r["name"], r["size"], r["train_loss"], r["val_loss"]) for r in runs]
    return general_guide(summaries, baseline=baseline)


def cases_hold(numbers: dict[str, Any]) -> bool:
    """The guide, rerun on each case's measured runs and B, names every case as built."""
    cases = numbers["cases"]
    return all(
        case in cases and read(cases[case]["runs"], cases[case]["baseline"]).verdict == case
        for case in CASES
    )


def parts(numbers: dict[str, Any]) -> dict[str, bool]:
    """Each part of the claim: the four cases, model selection, mismatch."""
    return {
        "cases": cases_hold(numbers),
        "selection": selection_holds(numbers["selection"]),
        "mismatch": mismatch_holds(numbers["mismatch"]),
    }


def holds(numbers: dict[str, Any]) -> bool:
    """Every part holds: the four cases are named, K folds choose more steadily than one split
    that changes its choice, and a shifted validation set defeats every model."""
    return all(parts(numbers).values())


def outcome(numbers: dict[str, Any]) -> str:
    """Held: every part; partial: some; not held: none."""
    held = list(parts(numbers).values())
    return outcome_of(held)


def _cases_text(numbers: dict[str, Any]) -> str:
    """One sentence per case: how it was built, its runs' losses in units of B, and what the
    guide named it."""
    sentences = []
    for case, n in numbers["cases"].items():
        b = n["baseline"]
        runs = "; ".join(
            f"{r['name']}: {r['train_loss'] / b:.3g}·B / {r['val_loss'] / b:.3g}·B"
            for r in n["runs"]
        )
        said = "named it" if n["verdict"] == case else f"said “{n['verdict']}” instead"
        sentences.append(
            f"Built as {case} ({n['task']}; training / validation loss — {runs}), the guide {said}."
        )
    return " ".join(sentences)


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    cases = numbers["cases"]
    named = sum(n["verdict"] == case for case, n in cases.items())
    return (
        f"{OPENING[outcome(numbers)]}: the guide named {named} of {len(CASES)} cases as built, "
        f"with T = {numbers['target_fraction_of_baseline']:g}·B (B: the loss of predicting the "
        f"mean of the training targets). {_cases_text(numbers)} Model selection: "
        f"{selection_text(numbers['selection'])}. Mismatch: "
        f"{mismatch_text(numbers['mismatch'])}."
    )


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    selection, mismatch = numbers["selection"], numbers["mismatch"]
    single, k_fold = selection["single_split_choice"], selection["k_fold_choice"]
    target = mismatch["target"]
    return [
        Evidence(
            "cases the guide named as built",
            sum(n["verdict"] == case for case, n in numbers["cases"].items()),
            f"of {len(CASES)}",
            f"all {len(CASES)}",
            "each case was built to be one verdict",
            cases_hold(numbers),
        ),
        Evidence(
            "models chosen by one validation split, over its seeds",
            len(set(single)),
            "different model" + ("" if len(set(single)) == 1 else "s"),
            "≥ 2",
            "the lecture: the model chosen on one split can be the wrong one",
            len(set(single)) >= 2,
        ),
        Evidence(
            "steadiness of the K-fold choice against one split's",
            [steadiness(k_fold), steadiness(single)],
            "share choosing the usual model",
            "K-fold higher",
            "the lecture: K folds average the luck of one split",
            steadiness(k_fold) > steadiness(single),
        ),
        Evidence(
            "lowest shifted-validation loss of any model",
            min(r["shifted_val_loss"] for r in mismatch["runs"]),
            "nats",
            f"> T = {target:.3g}",
            "T is the guide's 'small' (0.1 × chance's loss): no model reaching it means no "
            "choice of model helps",
            min(r["shifted_val_loss"] for r in mismatch["runs"]) > target,
        ),
        Evidence(
            "largest training loss, lowest validation loss as drawn",
            [
                max(r["train_loss"] for r in mismatch["runs"]),
                min(r["val_loss"] for r in mismatch["runs"]),
            ],
            "nats",
            f"both ≤ T = {target:.3g}",
            "small on training and on data as drawn: not model bias, not overfitting",
            max(r["train_loss"] for r in mismatch["runs"]) <= target
            and min(r["val_loss"] for r in mismatch["runs"]) <= target,
        ),
    ]


def run(out: Path, quick: bool = False) -> Result:
    """Full: the epochs of the module doc; quick: half of them."""
    numbers, curves = measure(quick)
    figures = []
    for case, n in numbers["cases"].items():
        series: dict[str, list[float]] = {}
        for name, curve in curves[case].items():
            series[f"{name}: training"] = curve["train"]
            series[f"{name}: validation"] = curve["val"]
        length = n["epochs"] + 1
        series[f"target T = {numbers['target_fraction_of_baseline']:g}·B"] = [n["target"]] * length
        figure = Path(NAME) / f"{case.replace(' ', '-')}.png"
        plot_curves(
            series,
            out / figure,
            title=(
                f"Built as {case}: {n['task']}, {n['optimizer']} η = {n['lr']:g} — the guide "
                f"says {n['verdict']}"
            ),
            xlabel="epoch",
            ylabel="loss (mse)",
            logy=True,
        )
        figures.append(figure)
    figures += draw_selection_and_mismatch(numbers, out)
    captions = {
        "selection.png": selection_caption(numbers["selection"]),
        "mismatch.png": mismatch_caption(numbers["mismatch"]),
    }
    return conclude(__name__, numbers, figures, captions)


def selection_styles(selection: dict[str, Any]) -> dict[str, dict[str, str]]:
    """selection.png's lines: a colour per model, solid for one split, dashed for K folds (with
    neutral colours alone, the sixth line was a darker copy of the first)."""
    styles = {}
    for model, color in zip(selection["single_split_val_loss"], NEUTRAL_COLORS, strict=False):
        styles[f"{model}: one split"] = {"color": color, "linestyle": "-"}
        styles[f"{model}: {selection['folds']} folds"] = {"color": color, "linestyle": "--"}
    return styles


def draw_selection_and_mismatch(numbers: dict[str, Any], out: Path) -> list[Path]:
    """selection.png: each model's validation loss per draw, one split and K folds;
    mismatch.png: each model's training, validation and shifted validation loss."""
    selection, mismatch = numbers["selection"], numbers["mismatch"]
    series = {f"{m}: one split": v for m, v in selection["single_split_val_loss"].items()}
    series |= {
        f"{m}: {selection['folds']} folds": v for m, v in selection["k_fold_val_loss"].items()
    }
    chosen = Path(NAME) / "selection.png"
    plot_curves(
        series,
        out / chosen,
        title=f"Choosing a model on {selection['task']}: the validation loss of each draw",
        xlabel="draw (seed of the split or of the folds)",
        ylabel="validation loss (mse)",
        styles=selection_styles(selection),
    )
    runs = mismatch["runs"]
    shifted = Path(NAME) / "mismatch.png"
    plot_curves(
        {
            "training": [r["train_loss"] for r in runs],
            "validation, as drawn": [r["val_loss"] for r in runs],
            f"validation, moved {mismatch['shift']} pixels": [r["shifted_val_loss"] for r in runs],
            f"T = {SMALL:g}·B": [mismatch["target"]] * len(runs),
        },
        out / shifted,
        title="Mismatch: " + ", ".join(f"{i} = {r['model']}" for i, r in enumerate(runs)),
        xlabel="model",
        ylabel="cross-entropy (nats)",
        logy=True,
    )
    return [chosen, shifted]
