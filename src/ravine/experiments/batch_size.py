"""Small batch v.s. large batch: the lecture's table, each row measured on the digits task.

The lecture's table (small batch / large batch): speed for one update without parallel
computation Faster / Slower, with it Same / Same (not too large); time for one epoch Slower /
Faster; gradient Noisy / Stable; optimization Better / Worse; generalization Better / Worse.

Task: digits (:func:`ravine.tasks.task`, 1,797 8×8 images, model ``relu:units=64``, 4,810
parameters, cross-entropy), the training loop's split (:func:`ravine.training.split`, seed 0):
N = 1,438 training examples, 359 held out. "Small" is B = ``SMALL`` (32), "large" B = N.

- **Update and epoch time.** For each B in ``TIMED`` (8, 32, 128, N), epochs of
  :func:`ravine.training.train` (``gd``) on 1 thread ("no parallel") and on every thread torch
  has ("with parallel"; on two cores, little parallelism), interleaved over ``REPEATS`` rounds,
  the fastest kept (other work can only slow an epoch). "Same" = within ``SAME`` (1.5×) either
  way. Evaluation is not timed. (B = 1 is not timed: its update costs what B = 8's does.)
- **Gradient noise.** At the initial θ (seed 0), the full-batch gradient g and ``BATCHES``
  mini-batch gradients g_B per B, drawn without replacement: noise(B) = mean ‖g_B − g‖²,
  against the theory E‖g_B − g‖² = (σ²/B)·(N − B)/(N − 1), σ² = (1/N)·Σ_n ‖g_n − g‖² from the
  N per-example gradients g_n; within ``THEORY_TOL``, falling with B, 0 at B = N.
- **Optimization and generalization**, under the lecture's own condition ("在两者 batch 上
  train 的效果相近，而 test 结果相差很大": similar training results, different test): for
  every seed of ``SEEDS`` (θ⁰ and the shuffling; the split is the same), ``gd`` with the same
  η = ``LR`` for both sizes, trained until the training loss over all N is <= ``TARGET``
  (cross-entropy 0.02: the right class at about 98% on average — the training set fitted),
  checked every ceil(N/32) updates, at most ``BUDGET`` updates. Optimization: updates needed
  (equal epochs would give the small batch N/B times more updates). Generalization: the
  validation loss at that point. Paired by seed, each holds when the small batch is better in
  every seed (a chance ordering passes with probability 2^−seeds, 1/16 for 4 seeds).

Each row of ``numbers["rows"]`` has the lecture's small/large, the measured small/large, its
unit, whether it holds here and a note saying why. Held when every row holds, partial when
some do, not held when none does.
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from torch.func import functional_call, grad, vmap

from ..report import plots  # (selects matplotlib's file backend)
from ..tasks import Task, task
from ..training import VALIDATION, split, train
from ..validation import WHOLE, check_count, require
from .base import MACHINE_THREADS, Evidence, Result, conclude, torch_threads
from .wording import plural, spread

NAME = "batch-size"
TITLE = "Small batch v.s. large batch: speed, gradient noise, optimization, generalization"
LECTURE = (
    "Small batch 的梯度 noisy, large batch 的 stable; 有并行计算 (with parallel computation) "
    "一次 update 的时间差不多, 所以大 batch 一个 epoch 更快; 小 batch 的 optimization 更好; "
    "在训练集上效果相近 (similar training loss) 时, 大 batch 的 test 较差 — 小 batch 的泛化性"
    "更好 (generalizes better)."
)
COMMAND = (
    "ravine train --task digits --optimizer gd --lr 1 --batch-size 1438 --epochs 300 --plot bs"
)
CAPTIONS = {
    "time.png": (
        "Seconds for one update (left) and one epoch (right) against the batch size, on one "
        "thread and on all: the lecture expects a flat line on the left with parallel "
        "computation, and a falling one on the right."
    ),
    "gradient-noise.png": (
        "How far a batch's gradient lands from the full gradient, against B: the dots follow "
        "the sampling line (σ²/B)(N−B)/(N−1) — small batches are noisy, B = N is exact."
    ),
    "loss.png": (
        "Left: every seed trained to the same training loss (dotted line). Right: each seed's "
        "validation loss there, small and large batch joined: the lecture expects every line "
        "to go up (the large batch worse)."
    ),
}
CLAIM = (
    "Without parallel computing a small batch's update is faster; with it, an update costs "
    "about the same for any batch that is not too large, so an epoch takes longer with small "
    "batches. The small batch's gradient is noisy, the large batch's stable; the noisy small "
    "batch optimizes better, and at a similar training loss the large batch tests worse."
)

TASK = "digits"
SMALL = 32  # B of the small batch; the large batch is the whole training set
SIZES = (1, 8, 32, 128)  # plus N: the batch sizes whose gradient noise is measured
TIMED, QUICK_TIMED = (8, 32, 128), (32, 128)  # plus N: the batch sizes timed
REPEATS, QUICK_REPEATS = 3, 1  # interleaved timing rounds
FULL_EPOCHS = 5  # epochs timed per round for the full batch (one update each)
BATCHES, QUICK_BATCHES = 100, 30  # mini-batch gradients per B for the noise
LR = 1.0  # η of gd, the same for both sizes: the batch is the only difference
TARGET, QUICK_TARGET = 0.02, 0.1  # the training loss both sizes are trained to
BUDGET, QUICK_BUDGET = 2700, 900  # at most this many updates (60 / 20 small-batch epochs)
SEEDS, QUICK_SEEDS = (0, 1, 2, 3), (0, 1)
SAME = 1.5  # update times within this factor count as "the same"
THEORY_TOL = 0.25  # largest relative difference between measured and theoretical noise
TABLE = {  # row → (small, large), the lecture's words
    "Speed for one update (no parallel)": ("Faster", "Slower"),
    "Speed for one update (with parallel)": ("Same", "Same (not too large)"),
    "Time for one epoch": ("Slower", "Faster"), "Gradient": ("Noisy", "Stable"),
    "Optimization": ("Better", "Worse"), "Generalization": ("Better", "Worse"),
}  # fmt: skip


def measure_time(
    digits: Task, sizes: list[int], threads: list[int], repeats: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Fastest seconds per update and per epoch of :func:`train` for each thread count and
    batch size: ``{threads: {B: {"update": s, "epoch": s}}}`` (keys as strings, for JSON).

    Each round times every (threads, B) once, in turn: one epoch for B < N, ``FULL_EPOCHS``
    one-update epochs for B = N; the minimum over rounds is kept."""
    n = len(split(digits.size, VALIDATION, 0)[0])
    best: dict[str, dict[str, dict[str, float]]] = {
        str(t): {str(b): {"update": math.inf, "epoch": math.inf} for b in sizes} for t in threads
    }
    for _ in range(repeats):
        for count in threads:
            with torch_threads(count):
                for b in sizes:
                    epochs = FULL_EPOCHS if b == n else 1
                    run = train(digits, "gd", lr=0.1, batch_size=b, epochs=epochs)
                    per_epoch = math.ceil(n / b)
                    slot = best[str(count)][str(b)]
                    for epoch in run.history:
                        slot["epoch"] = min(slot["epoch"], epoch.seconds)
                        slot["update"] = min(slot["update"], epoch.seconds / per_epoch)
    return best


def per_example_gradients(model: torch.nn.Module, digits: Task, idx: torch.Tensor) -> torch.Tensor:
    """g_n = ∇ℓ(θ; x_n, y_n) for each example n of ``idx``, flattened: (len(idx), P)."""
    params = {k: v.detach() for k, v in model.named_parameters()}

    def one(p, x, y):
        return digits.loss_fn(functional_call(model, p, (x.unsqueeze(0),)), y.unsqueeze(0))

    inputs, targets = digits.inputs[idx], digits.targets[idx]
    per_example = vmap(grad(one), in_dims=(None, 0, 0))(params, inputs, targets)
    return torch.cat([per_example[k].reshape(len(idx), -1) for k in params], dim=1)


def batch_gradient(model: torch.nn.Module, digits: Task, idx: torch.Tensor) -> torch.Tensor:
    """∇ of the mean loss over the examples ``idx``, by backpropagation, flattened (P,)."""
    model.zero_grad()
    digits.loss_fn(model(digits.inputs[idx]), digits.targets[idx]).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def noise_theory(sigma2: float, b: int, n: int) -> float:
    """E‖g_B − g‖² = (σ²/B)·(N − B)/(N − 1) for B of N examples drawn without replacement;
    σ² = (1/N)·Σ_n ‖g_n − g‖² (squared gradient units)."""
    require(1 <= b <= n, "batch size", b, f"in [1, {n}] (the N examples)")
    return sigma2 / b * (n - b) / (n - 1)


def measure_noise(digits: Task, sizes: list[int], batches: int, seed: int = 0) -> dict[str, Any]:
    """Gradient noise at the initial θ of seed ``seed``: measured mean ‖g_B − g‖² over
    ``batches`` random batches per B, and the theory (see the module doc)."""
    check_count("batches", batches, 2, noun=WHOLE)
    train_idx, _ = split(digits.size, VALIDATION, seed)
    n = len(train_idx)
    model = digits.model(seed).to(torch.float64)  # float64: the differences are small
    inputs = digits.inputs.to(torch.float64)
    wide = replace(digits, inputs=inputs)
    full = batch_gradient(model, wide, train_idx)  # g
    each = per_example_gradients(model, wide, train_idx)  # g_n
    sigma2 = float(((each - full) ** 2).sum(1).mean())  # σ²
    draw = torch.Generator().manual_seed(seed + 2)
    measured, theory = {}, {}
    for b in sizes:
        if b > n:
            raise ValueError(f"batch size {b} is larger than the {n} training examples")
        picks = [train_idx[torch.randperm(n, generator=draw)[:b]] for _ in range(batches)]
        values = [float(((batch_gradient(model, wide, p) - full) ** 2).sum()) for p in picks]
        measured[str(b)] = statistics.fmean(values)
        theory[str(b)] = noise_theory(sigma2, b, n)
    return {
        "train_size": n,
        "full_gradient_norm": float(full.norm()),
        "sigma2": sigma2,
        "batches": batches,
        "measured": measured,
        "theory": theory,
    }


def train_to_loss(
    digits: Task, batch: int, seed: int, target: float, budget: int, check: int
) -> dict[str, Any]:
    """``gd`` (θ ← θ − η·g_B, η = ``LR``) in shuffled batches of ``batch`` from the model of
    ``seed`` (the split is seed 0's for every run, so the seeds differ only in θ⁰ and the
    shuffling) until the mean training loss over all N examples is <= ``target``, checked
    every ``check`` updates, or ``budget`` updates are spent. Returns the updates made, the
    losses and accuracies on the training and validation sets at the stop, and the training
    loss at each check (the curve)."""
    train_idx, val_idx = split(digits.size, VALIDATION, 0)
    x, y = digits.inputs[train_idx], digits.targets[train_idx]
    model = digits.model(seed)
    params = list(model.parameters())
    shuffle = torch.Generator().manual_seed(seed)

    def measured(idx: torch.Tensor) -> tuple[float, float]:
        with torch.no_grad():
            out = model(digits.inputs[idx])
            loss = float(digits.loss_fn(out, digits.targets[idx]))
            return loss, float((out.argmax(1) == digits.targets[idx]).float().mean())

    updates, curve, loss = 0, [], math.inf  # loss: at the last check
    while updates < budget and loss > target:
        for chunk in torch.randperm(len(train_idx), generator=shuffle).split(batch):
            g_b = torch.autograd.grad(digits.loss_fn(model(x[chunk]), y[chunk]), params)
            with torch.no_grad():
                for p, g in zip(params, g_b, strict=True):
                    p -= LR * g  # θ ← θ − η·g_B
            updates += 1
            if updates % check == 0:
                loss = measured(train_idx)[0]
                curve.append(loss if math.isfinite(loss) else None)
                if not loss > target or updates >= budget:  # reached, diverged (nan) or spent
                    break
        if math.isnan(loss) or (updates % check == 0 and math.isinf(loss)):
            break
    (train_loss, train_acc), (val_loss, val_acc) = measured(train_idx), measured(val_idx)
    finite = math.isfinite(train_loss) and math.isfinite(val_loss)
    return {
        "seed": seed,
        "reached": finite and train_loss <= target,
        "updates": updates,
        "train_loss": train_loss if finite else None,
        "train_acc": train_acc,
        "val_loss": val_loss if finite else None,
        "val_acc": val_acc,
        "curve": curve,
    }


def measure_training(
    digits: Task, large: int, seeds: tuple[int, ...], target: float, budget: int
) -> dict[str, Any]:
    """B = ``SMALL`` and B = ``large`` trained to the same training loss ``target``, every seed;
    checked every ceil(N/SMALL) updates (one small-batch epoch) for both."""
    check = math.ceil(large / SMALL)
    runs = {
        str(b): [train_to_loss(digits, b, seed, target, budget, check) for seed in seeds]
        for b in (SMALL, large)
    }
    return {"optimizer": "gd", "lr": LR, "seeds": list(seeds), "target": target,
            "budget": budget, "check": check, "runs": runs}  # fmt: skip


def same_cost(by_size: dict[str, dict[str, float]], factor: float) -> int:
    """The largest B such that every timed batch size up to it took at most ``factor`` times
    the smallest one's time per update."""
    sizes = sorted(by_size, key=int)
    base = by_size[sizes[0]]["update"]
    largest = int(sizes[0])
    for b in sizes[1:]:
        if by_size[b]["update"] > factor * base:
            break
        largest = int(b)
    return largest


def lecture_table(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    """The lecture's table with the measured small/large and whether each row holds here, in
    the lecture's order (see the module doc for how each row is measured)."""
    return [
        *_update_speed_rows(numbers),
        _epoch_time_row(numbers),
        _gradient_row(numbers),
        *_training_rows(numbers),
    ]


def _row(row: str, a: float, b: float, unit: str, holds: bool, note: str) -> dict[str, Any]:
    """One row of the table: the lecture's words, the measured small ``a`` and large ``b`` in
    ``unit``, whether it holds here and why (``note``)."""
    small, large = TABLE[row]
    return {"row": row, "lecture_small": small, "lecture_large": large, "measured_small": a,
            "measured_large": b, "unit": unit, "holds": bool(holds), "note": note}  # fmt: skip


def _update_speed_rows(n: dict[str, Any]) -> list[dict[str, Any]]:
    """Speed for one update, on 1 thread (no parallel) and on all of them (with parallel)."""
    small, large = str(n["small"]), str(n["large"])
    one, many = "1", str(n["threads_parallel"])
    time_, same = n["time"], n["same_factor"]
    times = int(large) // int(small)  # how much larger the large batch is
    smallest = min(time_[one], key=int)
    load = "" if n["load_average"] is None else f" (load average {n['load_average']:.2g})"
    flat = {t: same_cost(time_[t], same) for t in (one, many)}
    fixed = (
        f"every timed B from {smallest} up to {flat[one]} cost within {same:g}× of B = "
        f"{smallest} on 1 thread (up to {flat[many]} on {many} threads): a fixed cost per update "
        "(Python, the optimizer step, reading the loss), not parallelism, makes moderate batches "
        "cost the same"
    )
    a, b = time_[one][small]["update"], time_[one][large]["update"]
    alone = _row(
        "Speed for one update (no parallel)",
        a,
        b,
        "seconds per update, 1 thread",
        a < b,
        f"the full batch's update took {b / a:.2g}× the small batch's, for {times}× the "
        f"examples; {fixed}",
    )
    a, b = time_[many][small]["update"], time_[many][large]["update"]
    ratio = b / a
    alike = 1 / same <= ratio <= same
    parallel = _row(
        "Speed for one update (with parallel)",
        a,
        b,
        f"seconds per update, {many} threads",
        alike,
        f"the full batch's update took {ratio:.3g}× the small batch's (the same: within "
        f"{same:g}× either way); "
        + (
            f"{many} threads on {n['cpu_count']} cores{load} are too little parallel hardware "
            f"to absorb a batch {times}× larger"
            if ratio > same
            else f"the large batch was faster per update: the small batch's update took "
            f"{a / time_[one][small]['update']:.2g}× as long on {many} threads as on 1, so "
            f"threads waiting on each other (or on other work on the machine{load}) cost more "
            f"than they gave"
            if ratio < 1 / same
            else f"with {many} threads on {n['cpu_count']} cores"
        ),
    )
    return [alone, parallel]


def _epoch_time_row(n: dict[str, Any]) -> dict[str, Any]:
    """Time for one epoch, with all threads."""
    small, large = str(n["small"]), str(n["large"])
    one, many = "1", str(n["threads_parallel"])
    time_ = n["time"]
    a, b = time_[many][small]["epoch"], time_[many][large]["epoch"]
    updates = -(-n["train_size"] // int(small))
    return _row(
        "Time for one epoch",
        a,
        b,
        f"seconds per epoch, {many} threads",
        a > b,
        f"{updates} updates of B = {small} took {a / b:.2g}× the one full-batch update "
        f"(1 thread: {time_[one][small]['epoch'] / time_[one][large]['epoch']:.2g}×)",
    )


def _gradient_row(n: dict[str, Any]) -> dict[str, Any]:
    """Gradient: the noise falls as B grows and follows the sampling theory."""
    small, large = str(n["small"]), str(n["large"])
    noise = n["noise"]
    measured, theory = noise["measured"], noise["theory"]
    keys = sorted(measured, key=int)
    falling = all(measured[i] > measured[j] for i, j in pairwise(keys))
    off = {k: abs(measured[k] - theory[k]) / theory[k] for k in keys if theory[k] > 0}  # B < N
    worst = max(off.values()) if off else 0.0
    zero = measured[large] <= 1e-12 * noise["sigma2"]  # the full batch's gradient is g itself
    matches = worst <= n["theory_tolerance"] and zero
    return _row(
        "Gradient",
        measured[small],
        measured[large],
        "mean ‖g_B − g‖² at the initial θ",
        falling and matches,
        f"the noise {'falls' if falling else 'does not fall steadily'} as B grows; measured "
        f"within {worst:.0%} of (σ²/B)(N−B)/(N−1) for B < N (allowed "
        f"{n['theory_tolerance']:.0%}); "
        + ("0 to rounding at B = N" if zero else f"{measured[large]:.2g} at B = N, not 0"),
    )


def _training_rows(n: dict[str, Any]) -> list[dict[str, Any]]:
    """Optimization (updates to reach the target training loss) and generalization (validation
    loss there), paired by seed: each holds when the small batch is better in every seed."""
    fit = n["training"]
    small, large = fit["runs"][str(n["small"])], fit["runs"][str(n["large"])]
    both = [(s, g) for s, g in zip(small, large, strict=True) if s["reached"] and g["reached"]]
    seeds, missed = len(small), len(small) - len(both)
    lost = f"; {plural(missed, 'seed')} where a size missed the target count against the claim"

    def better(small: list[float], large: list[float]) -> tuple[bool, str]:
        count = sum(a < b for a, b in zip(small, large, strict=True))
        return count == seeds, f"small better in {count} of {seeds} seeds, paired (needed: all)"

    su, lu = [s["updates"] for s, _ in both], [g["updates"] for _, g in both]
    fewer, said = better(su, lu)
    optimization = _row(
        "Optimization",
        statistics.fmean(su) if su else math.inf,
        statistics.fmean(lu) if lu else math.inf,
        f"updates to reach training loss {fit['target']:g}",
        fewer,
        f"{said}: "
        + (f"updates {spread(su)} vs {spread(lu)}{lost if missed else ''}" if both else "none")
        + "; after equal epochs the small batch makes N/B times as many updates, so the "
        "comparison is made at equal training loss",
    )
    sv, lv = [s["val_loss"] for s, _ in both], [g["val_loss"] for _, g in both]
    worse, said = better(sv, lv)
    sa, la = [s["val_acc"] for s, _ in both], [g["val_acc"] for _, g in both]
    generalization = _row(
        "Generalization",
        statistics.fmean(sv) if sv else math.inf,
        statistics.fmean(lv) if lv else math.inf,
        f"validation loss at training loss ≤ {fit['target']:g}",
        worse,
        f"{said}: "
        + (
            f"validation loss {spread(sv)} vs {spread(lv)}, accuracy {spread(sa)} vs "
            f"{spread(la)}, training loss at the stop "
            f"{spread([s['train_loss'] for s, _ in both])} vs "
            f"{spread([g['train_loss'] for _, g in both])}{lost if missed else ''}"
            if both
            else "no seed brought both sizes to the target"
        ),
    )
    return [optimization, generalization]


def measure(quick: bool = False) -> dict[str, Any]:
    """Every row's measurement (see the module doc)."""
    digits = task(TASK)
    n = len(split(digits.size, VALIDATION, 0)[0])
    sizes = [*SIZES, n]
    parallel = MACHINE_THREADS  # the experiments run on one thread; here every one torch has
    threads = [1] if parallel == 1 else [1, parallel]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    timed = [*(QUICK_TIMED if quick else TIMED), n]
    timing = measure_time(digits, timed, threads, QUICK_REPEATS if quick else REPEATS)
    if parallel == 1:
        timing[str(parallel)] = timing["1"]
    with torch_threads(1):  # the same numbers on any machine
        noise = measure_noise(digits, sizes, QUICK_BATCHES if quick else BATCHES)
        size = (QUICK_SEEDS, QUICK_TARGET, QUICK_BUDGET) if quick else (SEEDS, TARGET, BUDGET)
        training = measure_training(digits, n, *size)
    numbers: dict[str, Any] = {
        "task": TASK, "model": digits.model_spec, "parameters": digits.parameters,
        "train_size": n, "small": SMALL, "large": n, "sizes": sizes,
        "cpu_count": os.cpu_count(), "load_average": load, "threads_parallel": parallel,
        "same_factor": SAME, "theory_tolerance": THEORY_TOL,
        "time": timing, "noise": noise, "training": training,
    }  # fmt: skip
    numbers["rows"] = lecture_table(numbers)
    return numbers


def holds(numbers: dict[str, Any]) -> bool:
    """Every row of the lecture's table holds here."""
    return all(row["holds"] for row in numbers["rows"])


def outcome(numbers: dict[str, Any]) -> str:
    """held (every row), partial (some rows), not held (none)."""
    count = sum(row["holds"] for row in numbers["rows"])
    return "held" if count == len(numbers["rows"]) else "partial" if count else "not held"


NOISE_LABEL = r"$\mathrm{E}\,\Vert g_B - g\Vert^2$"  # the noise axis, drawn as math

WHY = {  # row → why its measured line is the lecture's
    "Speed for one update (no parallel)": "without parallel hardware, B examples cost B times one",
    "Speed for one update (with parallel)": "the lecture: parallel hardware makes a batch that "
    "is not too large cost about one example's time; 'same' = within 1.5× either way",
    "Time for one epoch": "an epoch is N/B updates: if an update costs the same, fewer is faster",
    "Gradient": "a batch of B samples has noise (σ²/B)(N−B)/(N−1), 0 at B = N",
    "Optimization": "equal training loss is the lecture's condition; seeds paired, so 'better "
    "in every one of {seeds}' would happen by chance 1 time in {chance}",
    "Generalization": "the lecture's condition: similar training loss, then compare the "
    "held-out loss; every one of {seeds} seeds, paired, so chance passes 1 time in {chance}",
}


def why(row: str, numbers: dict[str, Any]) -> str:
    """Why ``row``'s line is the lecture's, with the run's number of seeds and the chance
    (1 in 2^seeds) that a coin-flip ordering is better in every one of them."""
    seeds = len(numbers["training"]["seeds"])
    return WHY[row].format(seeds=seeds, chance=f"{2**seeds:,}")


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    return [
        Evidence(
            row["row"],
            f"{row['measured_small']:.3g} vs {row['measured_large']:.3g}",
            row["unit"],
            f"small {row['lecture_small']}, large {row['lecture_large']}",
            f"{why(row['row'], numbers)} — {row['note']}",
            row["holds"],
        )
        for row in numbers["rows"]
    ]


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    rows = numbers["rows"]
    held = [row["row"] for row in rows if row["holds"]]
    head = "Reproduced" if reproduced else "Partly reproduced" if held else "Not reproduced"
    parts = [
        f"{row['row']}, lecture {row['lecture_small']}/{row['lecture_large']}: "
        f"{row['measured_small']:.3g} vs {row['measured_large']:.3g} {row['unit']} — "
        f"{'holds' if row['holds'] else 'does not hold here'}: {row['note']}"
        for row in rows
    ]
    return (
        f"{head}: {len(held)} of {len(rows)} rows of the lecture's table hold here (small B = "
        f"{numbers['small']} vs large B = {numbers['large']}, the whole training set, on "
        f"{numbers['task']}). " + "; ".join(parts) + "."
    )


def _plot_time(numbers: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8), dpi=100)
    for ax, key, label in zip(axes, ("update", "epoch"), ("one update", "one epoch"), strict=True):
        for threads, by_size in sorted(numbers["time"].items(), key=lambda item: int(item[0])):
            sizes = sorted(int(b) for b in by_size)
            word = "1 thread (no parallel)" if threads == "1" else f"{threads} threads"
            ax.plot(sizes, [by_size[str(b)][key] for b in sizes], "o-", label=word)
        ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="seconds")
        ax.set_title(f"Time for {label} (fastest of the rounds)", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    plots.save_figure(fig, path)


def _plot_noise(numbers: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    noise = numbers["noise"]
    sizes = [b for b in numbers["sizes"] if b < noise["train_size"]]
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=100)
    ax.plot(sizes, [noise["measured"][str(b)] for b in sizes], "o", label="measured")
    dense = sorted({*range(1, noise["train_size"], 7), *sizes})
    n, sigma2 = noise["train_size"], noise["sigma2"]
    ax.plot(dense, [noise_theory(sigma2, b, n) for b in dense], "-", label="(σ²/B)(N−B)/(N−1)")
    ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel=NOISE_LABEL)
    ax.set_title(
        f"Gradient noise at the initial θ ({noise['batches']} batches per B; 0 at B = N = {n})",
        fontsize=9,
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    plots.save_figure(fig, path)


def _plot_training(numbers: dict[str, Any], path: Path) -> None:
    """Left: training loss against updates, every seed, both sizes, the target as a line.
    Right: each seed's validation loss at the target, small and large joined by a line."""
    import matplotlib.pyplot as plt

    fit = numbers["training"]
    sizes = ((str(numbers["small"]), "#1f5fa8"), (str(numbers["large"]), "#c0392b"))
    names = {str(numbers["small"]): f"B = {numbers['small']}", str(numbers["large"]): "B = N"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.0), dpi=100)
    for b, color in sizes:
        for index, seed_run in enumerate(fit["runs"][b]):
            curve = [(fit["check"] * (i + 1), v) for i, v in enumerate(seed_run["curve"]) if v]
            if curve:
                label = f"{names[b]}, η = {fit['lr']:g}" if index == 0 else None
                left.plot(*zip(*curve, strict=True), color=color, linewidth=1, label=label)
    left.axhline(fit["target"], color="#333333", linestyle=":", label="target training loss")
    left.set(yscale="log", xlabel="updates", ylabel="training loss (cross-entropy)")
    left.set_title("Trained to the same training loss, every seed", fontsize=10)
    for small_run, large_run in zip(*(fit["runs"][b] for b, _ in sizes), strict=True):
        if small_run["reached"] and large_run["reached"]:
            values = [small_run["val_loss"], large_run["val_loss"]]
            right.plot([0, 1], values, "-", color="#999999", linewidth=0.8)
            right.scatter([0, 1], values, color=[c for _, c in sizes], zorder=3)
    right.set_xticks([0, 1], labels=[names[b] for b, _ in sizes])
    right.set_xlim(-0.5, 1.5)
    right.set_ylabel("validation loss at the target")
    right.set_title("Generalization: one line per seed (up = large worse)", fontsize=10)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    plots.save_figure(fig, path)


def run(out: Path, quick: bool = False) -> Result:
    """Full: B ∈ {8, 32, 128, N} timed in 3 rounds, 100 batches per B for the noise, seeds
    0–3 trained to training loss 0.02; quick: B ∈ {32, 128, N} timed once, 30 batches, seeds
    0–1 trained to 0.1."""
    numbers = measure(quick)
    figures = [Path(NAME) / name for name in ("time.png", "gradient-noise.png", "loss.png")]
    for draw, figure in zip((_plot_time, _plot_noise, _plot_training), figures, strict=True):
        (out / figure).parent.mkdir(parents=True, exist_ok=True)
        draw(numbers, out / figure)
    return conclude(__name__, numbers, figures)
