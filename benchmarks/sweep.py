"""Sweeps over η at batch speed: the batched sweep against running the settings one by one.

    python benchmarks/sweep.py [--surface-runs 200] [--surface-steps 10000]
                               [--sinc-runs 16 64] [--sinc-steps 200] [--threads 1]

1. Gradient descent on `pokemon`, 200 η log-spaced from 1e-9 to 1e-6 × 10,000 steps:
   ravine.sweep.sweep (all η as the rows of one θ) against ravine.surfaces.descend once per
   η (timed on a sample of the η and scaled to all of them).
2. Adam on the sinc network (Linear(1,128)–ReLU–Linear(128,1), full batch on 200 points),
   16 and 64 η log-spaced from 1e-4 to 1e-1 × 200 steps: the sweep (stacked parameters,
   vmap over the gradient) against the ordinary loop run once per η (the task's model,
   ravine.optim.create, loss.backward(), step()), every η timed.

Throughput is settings × steps per second of wall time; both sides run in the same process,
one after the other, with the same number of torch threads (default 1: on a small shared
machine extra threads only wait for each other); each time is the fastest of 3 repeats. The
table also gives the largest relative gap between the two sides' final losses, on the
settings both ran. Prints a table, then one JSON document.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import torch

from ravine import tasks
from ravine.optim import catalog
from ravine.surfaces import descend, surface
from ravine.sweep import log_spaced, sweep

REPEATS = 3


def seconds(run):
    """The fastest of REPEATS wall times (the least disturbed by other work) and the value."""
    best = math.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - start)
    return best, value


def relative_gap(a: list[float], b: list[float]) -> float:
    """max |a − b| / max(|b|, tiny) over the pairs where both are finite."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if math.isfinite(x) and math.isfinite(y)]
    return max((abs(x - y) / max(abs(y), 1e-300) for x, y in pairs), default=0.0)


def surface_case(runs: int, steps: int, sample: int) -> dict:
    pokemon = surface("pokemon")
    lrs = log_spaced(1e-9, 1e-6, runs)
    sweep(pokemon, "gd", lrs=lrs[:2], steps=10)  # first-call costs out of the timing
    batched_s, batched = seconds(lambda: sweep(pokemon, "gd", lrs=lrs, steps=steps))
    picked = list(range(0, runs, max(1, runs // sample)))[:sample]

    def one_by_one():
        return [float(descend(pokemon, "gd", lr=lrs[i], steps=steps).loss[-1, 0]) for i in picked]

    sampled_s, finals = seconds(one_by_one)
    sequential_s = sampled_s * runs / len(picked)
    return row(
        f"pokemon, gd, {runs} η × {steps} steps",
        "descend once per η",
        runs,
        steps,
        batched_s,
        sequential_s,
        f"{len(picked)} of {runs} η timed, scaled",
        relative_gap([batched.final_loss[i].item() for i in picked], finals),
        int(batched.diverged.sum()),
    )


def ordinary_loop(task, lr: float, steps: int) -> float:
    """One setting as a user trains it; returns the final full-batch loss."""
    model = task.model()
    optimizer = catalog.create("adam", model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        task.loss(model).backward()
        optimizer.step()
    with torch.no_grad():
        return float(task.loss(model))


def sinc_case(runs: int, steps: int) -> dict:
    task = tasks.task("sinc")
    lrs = log_spaced(1e-4, 1e-1, runs)
    sweep(task, "adam", lrs=lrs[:2], steps=3)  # first-call costs out of the timing
    ordinary_loop(task, lrs[0], 3)
    batched_s, batched = seconds(lambda: sweep(task, "adam", lrs=lrs, steps=steps))
    sequential_s, finals = seconds(lambda: [ordinary_loop(task, lr, steps) for lr in lrs])
    return row(
        f"sinc net, adam, {runs} η × {steps} steps",
        "ordinary loop once per η",
        runs,
        steps,
        batched_s,
        sequential_s,
        f"all {runs} η timed",
        relative_gap(batched.final_loss.tolist(), finals),
        int(batched.diverged.sum()),
    )


def row(case, baseline, runs, steps, batched_s, sequential_s, timed, gap, diverged) -> dict:
    work = runs * steps
    return {
        "case": case,
        "settings": runs,
        "steps": steps,
        "batched_s": batched_s,
        "batched_settings_steps_per_s": work / batched_s,
        "baseline": baseline,
        "sequential_s": sequential_s,
        "sequential_settings_steps_per_s": work / sequential_s,
        "sequential_timed": timed,
        "speedup": sequential_s / batched_s,
        "final_loss_max_relative_gap": gap,
        "diverged_runs": diverged,
    }


def main() -> None:
    global REPEATS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surface-runs", type=int, default=200)
    parser.add_argument("--surface-steps", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=10, help="surface η timed one by one")
    parser.add_argument("--sinc-runs", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--sinc-steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timings kept: the fastest")
    args = parser.parse_args()
    REPEATS = args.repeats
    torch.set_num_threads(args.threads)

    rows = [surface_case(args.surface_runs, args.surface_steps, args.sample)]
    rows += [sinc_case(runs, args.sinc_steps) for runs in args.sinc_runs]

    print(f"{'case':<38} {'batched':>16} {'one by one':>16} {'speedup':>8}  gap")
    print(f"{'':<38} {'settings·steps/s':>16} {'settings·steps/s':>16}")
    for r in rows:
        print(
            f"{r['case']:<38} {r['batched_settings_steps_per_s']:>16.4g} "
            f"{r['sequential_settings_steps_per_s']:>16.4g} {r['speedup']:>7.1f}×  "
            f"{r['final_loss_max_relative_gap']:.1e}"
        )
    for r in rows:
        print(
            f"  {r['case']}: batched {r['batched_s']:.3g} s, {r['baseline']} "
            f"{r['sequential_s']:.3g} s ({r['sequential_timed']}); {r['diverged_runs']} diverged"
        )
    machine = {
        "repeats": REPEATS,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
