"""Small batch v.s. large batch: the lecture's table, each row measured on the digits task.

The lecture's table (small batch / large batch):

    Speed for one update (no parallel)     Faster / Slower
    Speed for one update (with parallel)   Same / Same (not too large)
    Time for one epoch                     Slower / Faster
    Gradient                               Noisy / Stable
    Optimization                           Better / Worse
    Generalization                         Better / Worse

Task: digits (:func:`ravine.tasks.task`, 1,797 8×8 images, model ``relu:units=64``, 4,810
parameters, cross-entropy), the training loop's split (:func:`ravine.training.split`):
N = 1,438 training examples and 359 held out for validation. "Small" is B = ``SMALL`` (32),
"large" is the whole training set, B = N (full-batch gradient descent).

How each row is measured:

- **Update and epoch time.** For each B in ``TIMED`` (8, 32, 128, N), epochs of
  :func:`ravine.training.train` (optimizer ``gd``) with torch on 1 thread ("no parallel") and
  on every thread torch has ("with parallel"; the number of threads is reported — on a
  machine with two cores that is at most twice the arithmetic, little parallelism). The
  settings are interleaved over ``REPEATS`` rounds and the fastest epoch is kept, because
  other work on the machine can only slow an epoch down. Seconds per update = that epoch's
  update time / its updates; seconds per epoch = that epoch's update time (evaluation not
  included). "Same" means within a factor ``SAME`` (1.5). The update time of small batches
  on a CPU is mostly a fixed cost (Python, the optimizer step, the host sync of the loss), so
  the table also reports the largest B up to which every update costs at most ``SAME``× that
  of the smallest timed B. (B = 1 is not timed: its epoch of 1,438 updates costs seconds, and
  its update costs what B = 8's does.)
- **Gradient noise.** At the initial θ (seed 0), the full-batch gradient g over the N
  training examples and, for each B, ``BATCHES`` mini-batch gradients g_B of B examples drawn
  uniformly without replacement (each by backpropagation of that batch's mean loss):
  noise(B) = mean ‖g_B − g‖². Theory for sampling without replacement:
  E‖g_B − g‖² = (σ²/B)·(N − B)/(N − 1), σ² = (1/N)·Σ_n ‖g_n − g‖² from the N per-example
  gradients g_n.
- **Optimization and generalization.** B = ``SMALL`` and B = N, ``gd`` (θ ← θ − η·g_B),
  ``EPOCHS`` epochs each, for every η in ``LRS`` and every seed in ``SEEDS`` (the seed sets the
  initial θ and the shuffling; the split is the same). The lecture's claim is about tuned
  runs, so each batch size is compared at its own best η from the grid: the η with the lowest
  mean final training loss for the optimization row, and the one with the lowest mean final
  validation loss for the generalization row (chosen on the validation set it is judged on,
  the same for both sizes). A run that stops on a non-finite loss counts as infinitely bad.
  Equal epochs mean N/B times fewer updates for the large batch, so the large batch is also
  trained for as many updates as the small one made (``gd`` at its best η, seed 0), to tell
  how much of the difference is only the number of updates.

Each row of ``numbers["rows"]`` says the lecture's small/large, the measured small/large, its
unit, whether it holds here and a note saying why when it does not.

The claim is reproduced when the rows that measure the mechanics hold: the epoch takes longer
with the small batch than with the large one (with all threads), and the gradient is noisier
(noise(B) falls as B grows, to 0 at B = N, and each measured noise is within ``THEORY_TOL``
of the theory). The other four rows are measured and reported, not required: the update-time
rows depend on the hardware, and on a small, nearly separable task the optimization and
generalization rows depend on how long and how well each run is tuned.
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
from .base import Result, conclude, torch_threads

NAME = "batch-size"
TITLE = "Small batch v.s. large batch: speed, gradient noise, optimization, generalization"
CLAIM = (
    "Without parallel computing a small batch's update is faster; with it, an update costs "
    "about the same for any batch that is not too large, so an epoch takes longer with small "
    "batches. The small batch's gradient is noisy, the large batch's stable; and the noisy "
    "small batch optimizes better and generalizes better."
)

TASK = "digits"
SMALL = 32  # B of the small batch; the large batch is the whole training set
SIZES = (1, 8, 32, 128)  # plus N: the batch sizes whose gradient noise is measured
TIMED, QUICK_TIMED = (8, 32, 128), (32, 128)  # plus N: the batch sizes timed
REPEATS, QUICK_REPEATS = 3, 1  # interleaved timing rounds
FULL_EPOCHS = 5  # epochs timed per round for the full batch (one update each)
BATCHES, QUICK_BATCHES = 100, 30  # mini-batch gradients per B for the noise
LRS = (0.3, 1.0, 3.0)  # the η grid
EPOCHS, QUICK_EPOCHS = 30, 10
SEEDS, QUICK_SEEDS = (0, 1), (0,)
SAME = 1.5  # update times within this factor count as "the same"
THEORY_TOL = 0.25  # largest relative difference between measured and theoretical noise
LECTURE = {  # row → (small, large), the lecture's words
    "Speed for one update (no parallel)": ("Faster", "Slower"),
    "Speed for one update (with parallel)": ("Same", "Same (not too large)"),
    "Time for one epoch": ("Slower", "Faster"),
    "Gradient": ("Noisy", "Stable"),
    "Optimization": ("Better", "Worse"),
    "Generalization": ("Better", "Worse"),
}
MECHANICS = ("Time for one epoch", "Gradient")


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
                    run = train(
                        digits, "gd", lr=0.1, batch_size=b, epochs=FULL_EPOCHS if b == n else 1
                    )
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


def _final(run) -> dict[str, float]:
    """The last epoch's numbers, or infinitely bad ones for a run stopped on a non-finite loss
    (JSON cannot hold ∞, so the caller writes None for them)."""
    if run.stopped is not None or run.final is None:
        return {"train_loss": math.inf, "val_loss": math.inf, "train_acc": 0.0, "val_acc": 0.0}
    f = run.final
    return {
        "train_loss": f.train_loss,
        "val_loss": f.val_loss,
        "train_acc": f.train_metric,
        "val_acc": f.val_metric,
    }


def measure_training(
    digits: Task, large: int, lrs: tuple[float, ...], epochs: int, seeds: tuple[int, ...]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The η grid for B = SMALL and B = ``large`` (the whole training set), every seed; the
    best η of each by training and by validation loss; the large batch again for as many
    updates as the small one made. Returns the numbers and the per-epoch loss curves (seed 0,
    each size at its best η by validation loss)."""
    n = len(split(digits.size, VALIDATION, 0)[0])
    grid: dict[str, dict[str, dict[str, Any]]] = {}
    histories: dict[tuple[int, float], Any] = {}
    for b in (SMALL, large):
        grid[str(b)] = {}
        for lr in lrs:
            finals = []
            for seed in seeds:
                run = train(digits, "gd", lr=lr, batch_size=b, epochs=epochs, seed=seed)
                finals.append(_final(run))
                if seed == seeds[0]:
                    histories[(b, lr)] = run.history
            mean = {key: statistics.fmean(f[key] for f in finals) for key in finals[0]}
            grid[str(b)][f"{lr:g}"] = {**mean, "updates": epochs * math.ceil(n / b)}
    best: dict[str, dict[str, str]] = {}
    for b, by_lr in grid.items():
        best[b] = {
            "by_train_loss": min(by_lr, key=lambda lr: by_lr[lr]["train_loss"]),
            "by_val_loss": min(by_lr, key=lambda lr: by_lr[lr]["val_loss"]),
        }
    small_updates = grid[str(SMALL)][f"{lrs[0]:g}"]["updates"]
    lr_large = float(best[str(large)]["by_train_loss"])
    matched = _final(
        train(digits, "gd", lr=lr_large, batch_size=large, epochs=small_updates, seed=seeds[0])
    )
    curves = {}
    for b, label in ((SMALL, f"B = {SMALL}"), (large, f"B = {large} (full)")):
        lr = float(best[str(b)]["by_val_loss"])
        history = histories[(b, lr)]
        curves[f"{label}, η = {lr:g}, training"] = [e.train_loss for e in history]
        curves[f"{label}, η = {lr:g}, validation"] = [e.val_loss for e in history]
    numbers = {
        "optimizer": "gd",
        "epochs": epochs,
        "lrs": list(lrs),
        "seeds": list(seeds),
        "grid": {b: {lr: _json(v) for lr, v in by_lr.items()} for b, by_lr in grid.items()},
        "best_lr": best,
        "large_matched_updates": {"lr": lr_large, "updates": small_updates, **_json(matched)},
    }
    return numbers, curves


def _json(values: dict[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in values.items()}


def _inf(value: float | None) -> float:
    return math.inf if value is None else value


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
    lecture_small, lecture_large = LECTURE[row]
    return {
        "row": row,
        "lecture_small": lecture_small,
        "lecture_large": lecture_large,
        "measured_small": a,
        "measured_large": b,
        "unit": unit,
        "holds": bool(holds),
        "note": note,
    }


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
        f"{smallest} on 1 thread ({flat[many]} on {many}): a fixed cost per update (Python, the "
        f"optimizer step, reading the loss), not parallelism, makes moderate batches cost the same"
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
        f"the full batch's update took {ratio:.2g}× the small batch's (the same: within "
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
    matches = worst <= n["theory_tolerance"] and measured[large] <= 1e-12 * noise["sigma2"]
    return _row(
        "Gradient",
        measured[small],
        measured[large],
        "mean ‖g_B − g‖² at the initial θ",
        falling and matches,
        f"noise falls as B grows: {'yes' if falling else 'no'}; measured within {worst:.0%} of "
        f"(σ²/B)(N−B)/(N−1) for B < N (allowed {n['theory_tolerance']:.0%}); "
        f"{measured[large]:.2g} at B = N",
    )


def _training_rows(n: dict[str, Any]) -> list[dict[str, Any]]:
    """Optimization (training loss) and generalization (validation loss), each batch size at
    its own best η, with the large batch also given the small batch's number of updates."""
    small, large = str(n["small"]), str(n["large"])
    fit = n["training"]
    times = int(large) // int(small)  # how much larger the large batch is
    best, matched = fit["best_lr"], fit["large_matched_updates"]
    lr_s, lr_l = best[small]["by_train_loss"], best[large]["by_train_loss"]
    a = _inf(fit["grid"][small][lr_s]["train_loss"])
    b = _inf(fit["grid"][large][lr_l]["train_loss"])
    matched_loss = _inf(matched["train_loss"])
    optimization = _row(
        "Optimization",
        a,
        b,
        f"training loss after {fit['epochs']} epochs, best η each",
        a < b,
        f"η = {lr_s} for B = {small}, η = {lr_l} for B = N; after equal epochs the full batch "
        f"made {times}× fewer updates; given as many updates as the small batch "
        f"({matched['updates']:,}), its training loss was {matched_loss:.3g}, "
        f"{matched_loss / a:.2g}× the small batch's, so after equal epochs most of the "
        + ("difference is" if matched_loss < b - 0.5 * (b - a) else "difference is not")
        + " the number of updates",
    )
    lr_s, lr_l = best[small]["by_val_loss"], best[large]["by_val_loss"]
    small_fit, large_fit = fit["grid"][small][lr_s], fit["grid"][large][lr_l]
    a, b = _inf(small_fit["val_loss"]), _inf(large_fit["val_loss"])
    matched_val = _inf(matched["val_loss"])
    generalization = _row(
        "Generalization",
        a,
        b,
        f"validation loss after {fit['epochs']} epochs, best η each",
        a < b,
        f"η = {lr_s} for B = {small}, η = {lr_l} for B = N; validation accuracy "
        f"{small_fit['val_acc']:.3f} vs {large_fit['val_acc']:.3f}; the full batch given as "
        f"many updates: validation loss {matched_val:.3g}, {matched_val / a:.2g}× the small "
        f"batch's (accuracy {matched['val_acc']:.3f}), so after equal epochs most of the gap is "
        + (
            "the number of updates"
            if matched_val < b - 0.5 * (b - a)
            else "not the number of updates"
        ),
    )
    return [optimization, generalization]


def measure(quick: bool = False) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Every row's measurement (see the module doc); the numbers and the training curves."""
    digits = task(TASK)
    n = len(split(digits.size, VALIDATION, 0)[0])
    sizes = [*SIZES, n]
    parallel = torch.get_num_threads()
    threads = [1] if parallel == 1 else [1, parallel]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    timed = [*(QUICK_TIMED if quick else TIMED), n]
    timing = measure_time(digits, timed, threads, QUICK_REPEATS if quick else REPEATS)
    if parallel == 1:
        timing[str(parallel)] = timing["1"]
    with torch_threads(1):  # the same numbers on any machine
        noise = measure_noise(digits, sizes, QUICK_BATCHES if quick else BATCHES)
        training, curves = measure_training(
            digits,
            n,
            LRS,
            QUICK_EPOCHS if quick else EPOCHS,
            QUICK_SEEDS if quick else SEEDS,
        )
    numbers: dict[str, Any] = {
        "task": TASK,
        "model": digits.model_spec,
        "parameters": digits.parameters,
        "train_size": n,
        "small": SMALL,
        "large": n,
        "sizes": sizes,
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "threads_parallel": parallel,
        "same_factor": SAME,
        "theory_tolerance": THEORY_TOL,
        "time": timing,
        "noise": noise,
        "training": training,
    }
    numbers["rows"] = lecture_table(numbers)
    return numbers, curves


def holds(numbers: dict[str, Any]) -> bool:
    """The mechanics rows hold: an epoch of small batches takes longer, and their gradient
    is noisier, as the theory says (see the module doc). The other rows are reported only."""
    by_row = {row["row"]: row["holds"] for row in numbers["rows"]}
    return all(by_row[row] for row in MECHANICS)


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    parts = []
    for row in numbers["rows"]:
        parts.append(
            f"{row['row']}: lecture {row['lecture_small']}/{row['lecture_large']}, measured "
            f"{row['measured_small']:.3g}/{row['measured_large']:.3g} ({row['unit']}), "
            f"{'holds' if row['holds'] else 'does not hold'} ({row['note']})"
        )
    held = sum(row["holds"] for row in numbers["rows"])
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: small B = {numbers['small']} vs "
        f"large B = {numbers['large']} (the whole training set) on {numbers['task']}; "
        f"{held} of {len(numbers['rows'])} rows hold here (required: "
        f"{' and '.join(MECHANICS)}). " + "; ".join(parts) + "."
    )


def _plot_time(numbers: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8), dpi=100)
    for ax, key, label in zip(axes, ("update", "epoch"), ("one update", "one epoch"), strict=True):
        for threads, by_size in sorted(numbers["time"].items(), key=lambda item: int(item[0])):
            sizes = sorted(int(b) for b in by_size)
            word = "1 thread (no parallel)" if threads == "1" else f"{threads} threads"
            ax.plot(sizes, [by_size[str(b)][key] for b in sizes], "o-", label=word)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size B")
        ax.set_ylabel("seconds")
        ax.set_title(f"Time for {label} (fastest of the rounds)", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    plots.save_figure(fig, path)


def _plot_noise(numbers: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    noise = numbers["noise"]
    sizes = [b for b in numbers["sizes"] if b < noise["train_size"]]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    ax.plot(sizes, [noise["measured"][str(b)] for b in sizes], "o", label="measured")
    dense = sorted({*range(1, noise["train_size"], 7), *sizes})
    n, sigma2 = noise["train_size"], noise["sigma2"]
    ax.plot(dense, [noise_theory(sigma2, b, n) for b in dense], "-", label="(σ²/B)(N−B)/(N−1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("E‖g_B − g‖²")
    ax.set_title(
        f"Gradient noise at the initial θ ({noise['batches']} batches per B; 0 at B = N = {n})",
        fontsize=9,
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    plots.save_figure(fig, path)


def run(out: Path, quick: bool = False) -> Result:
    """Full: B ∈ {8, 32, 128, N} timed in 3 rounds, 100 batches per B for the noise, η ∈
    {0.3, 1, 3} × seeds {0, 1} × 30 epochs; quick: B ∈ {32, 128, N} timed once, 30 batches,
    η ∈ {0.3, 1, 3} × seed 0 × 10 epochs."""
    numbers, curves = measure(quick)
    timing = Path(NAME) / "time.png"
    _plot_time(numbers, out / timing)
    noise = Path(NAME) / "gradient-noise.png"
    _plot_noise(numbers, out / noise)
    losses = Path(NAME) / "loss.png"
    plots.plot_curves(
        curves,
        out / losses,
        title=f"Small v.s. large batch on {TASK}: loss after each epoch (seed 0)",
        xlabel="epoch (0 = after the first)",
        ylabel="cross-entropy",
        logy=True,
    )
    return conclude(__name__, numbers, [timing, noise, losses])
