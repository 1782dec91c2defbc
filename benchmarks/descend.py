"""Descent on error surfaces: one long run, and many runs at once, against a plain loop.

    python benchmarks/descend.py [--steps 100000] [--runs 1000] [--batch-steps 10000]

1. One run of the lecture's Adagrad (η = 1) on `pokemon` for 100,000 steps with
   ravine.surfaces.descend, against the plain loop a user would write: a 2-element
   Parameter, loss.backward(), ravine.optim.lecture.Adagrad.step() each step.
2. 1,000 learning rates × 10,000 steps of gradient descent on `pokemon`, vectorized (one
   tensor of 1,000 rows), against running descend once per learning rate (timed on a sample
   of runs and scaled to all of them).

Prints a table, then one JSON document. Targets: (1) ≤ 2 s, (2) ≤ 10 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ravine.optim import lecture
from ravine.surfaces import descend, surface


def seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def plain_loop(steps: int) -> None:
    """What one would write without ravine.surfaces: autograd and an optimizer step."""
    pokemon = surface("pokemon")
    theta = torch.nn.Parameter(torch.tensor(pokemon.start, dtype=torch.float64))
    optimizer = lecture.Adagrad([theta], lr=1.0)
    for _ in range(steps):
        optimizer.zero_grad()
        pokemon.loss(theta).backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--batch-steps", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=10, help="per-run loop runs timed")
    args = parser.parse_args()
    pokemon = surface("pokemon")

    descend(pokemon, "lecture-adagrad", lr=1.0, steps=1000)  # warm-up: first-call costs
    cold = seconds(lambda: descend(surface("pokemon"), "lecture-adagrad", lr=1.0, steps=args.steps))
    warm = min(
        seconds(lambda: descend(pokemon, "lecture-adagrad", lr=1.0, steps=args.steps))
        for _ in range(2)
    )
    loop_steps = max(1, args.steps // 10)
    loop = seconds(lambda: plain_loop(loop_steps)) * args.steps / loop_steps

    rates = torch.logspace(-9, -5, args.runs).tolist()
    batch = seconds(lambda: descend(pokemon, "gd", lr=rates, steps=args.batch_steps))
    sample = rates[:: max(1, args.runs // args.sample)][: args.sample]
    per_run = seconds(
        lambda: [descend(pokemon, "gd", lr=r, steps=args.batch_steps) for r in sample]
    ) * (args.runs / len(sample))

    rows = [
        {
            "case": f"lecture-adagrad, 1 run × {args.steps} steps",
            "ravine_s": warm,
            "ravine_first_call_s": cold,
            "baseline": "autograd + optimizer.step() loop",
            "baseline_s": loop,
            "speedup": loop / warm,
            "target_s": 2.0,
        },
        {
            "case": f"gd, {args.runs} learning rates × {args.batch_steps} steps",
            "ravine_s": batch,
            "baseline": "descend once per learning rate",
            "baseline_s": per_run,
            "speedup": per_run / batch,
            "target_s": 10.0,
        },
    ]
    for row in rows:
        print(
            f"{row['case']:<42} ravine {row['ravine_s']:6.2f} s (target ≤ {row['target_s']:g} s)"
            f"   {row['baseline']}: {row['baseline_s']:7.2f} s   ×{row['speedup']:.1f}"
        )
    print(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
