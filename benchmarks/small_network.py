"""A training update of a small network: ravine's default step against torch.optim's.

    python benchmarks/small_network.py [--updates 300] [--rounds 7] [--threads 1]

The networks of the lecture's homework and of ``ravine reproduce`` are small (hundreds to
thousands of parameters), where an update costs tens of microseconds of Python and
dispatch per tensor rather than passes over memory. Each row trains one network with a
ravine optimizer and with its torch.optim twin, the same hyperparameters and the default path
of each (ravine checks every gradient for nan/inf, torch does not), on the same batches of
scikit-learn's digits (batch 32), float32, CPU:

- ``digits MLP``: 64 → 64 → 64 → 10, ReLU, 9,034 parameters in 6 tensors;
- ``sinc``: 1 → 128 → 1, ReLU, 385 parameters in 4 tensors (the homework's network; regression
  on 200 points of sin(5πx)/(5πx), full batch);
- ``digits BN``: 64 → 32 → 32 → 32 → 32 → 10, each hidden layer Linear, BatchNorm, sigmoid (the
  batch-norm experiment's shape), 5,834 parameters in 18 tensors — enough small tensors for
  ravine's default CPU step to run them as lists.

One update is zero_grad, forward, loss, backward and ``step()``; the step alone is timed
inside the same loop. The two optimizers take turns, a run of ``--updates`` updates each, for
``--rounds`` rounds. Columns: medians over rounds of µs per update and per step, and
``update ratio`` / ``step ratio``, ravine's over torch's (the median of each round's ratio,
which cancels slow drifts of the machine's load). Prints a table, then one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
from sklearn.datasets import load_digits
from torch import nn

import ravine.optim as ravine_optim
from ravine.commands.arguments import reading, whole_number

OPTIMIZERS: dict[str, tuple[str, dict]] = {
    "Adam": ("Adam", {"lr": 1e-3}),
    "SGD, momentum 0.9": ("SGD", {"lr": 1e-2, "momentum": 0.9}),
    "SGD": ("SGD", {"lr": 1e-2}),
}


def digits_problem() -> tuple[
    nn.Module, Callable[[int], tuple[torch.Tensor, torch.Tensor]], nn.Module
]:
    inputs, labels = load_digits(return_X_y=True)
    x = torch.tensor(inputs, dtype=torch.float32) / 16
    y = torch.tensor(labels)
    model = nn.Sequential(
        nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    start = (len(x) // 32) * 32

    def batch(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        j = (i * 32) % start
        return x[j : j + 32], y[j : j + 32]

    return model, batch, nn.CrossEntropyLoss()


def sinc_problem() -> tuple[
    nn.Module, Callable[[int], tuple[torch.Tensor, torch.Tensor]], nn.Module
]:
    x = torch.linspace(-1, 1, 200).unsqueeze(1)
    y = torch.sinc(5 * x)
    model = nn.Sequential(nn.Linear(1, 128), nn.ReLU(), nn.Linear(128, 1))
    return model, lambda i: (x, y), nn.MSELoss()


def batch_norm_problem() -> tuple[
    nn.Module, Callable[[int], tuple[torch.Tensor, torch.Tensor]], nn.Module
]:
    _, batch, loss = digits_problem()  # its batches and loss, a network of its own
    layers: list[nn.Module] = []
    width = 64
    for _ in range(4):
        layers += [nn.Linear(width, 32), nn.BatchNorm1d(32), nn.Sigmoid()]
        width = 32
    return nn.Sequential(*layers, nn.Linear(32, 10)), batch, loss


PROBLEMS = {"digits MLP": digits_problem, "sinc": sinc_problem, "digits BN": batch_norm_problem}


def timed_run(problem, make_optimizer, updates: int) -> tuple[float, float]:
    """µs per update and per step over ``updates`` updates from the same start (seed 0)."""
    torch.manual_seed(0)
    model, batch, loss_fn = problem()
    optimizer = make_optimizer(model.parameters())
    stepping = 0.0
    begin = time.perf_counter()
    for i in range(updates):
        inputs, targets = batch(i)
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        before = time.perf_counter()
        optimizer.step()
        stepping += time.perf_counter() - before
    total = time.perf_counter() - begin
    return total / updates * 1e6, stepping / updates * 1e6


def measure(updates: int, rounds: int) -> list[dict]:
    rows = []
    for problem_name, problem in PROBLEMS.items():
        for label, (name, options) in OPTIMIZERS.items():
            ours = lambda p, n=name, o=options: getattr(ravine_optim, n)(p, **o)  # noqa: E731
            theirs = lambda p, n=name, o=options: getattr(torch.optim, n)(p, **o)  # noqa: E731
            timed_run(problem, ours, 20)  # warm both up
            timed_run(problem, theirs, 20)
            rounds_seen = []
            for _ in range(rounds):
                rounds_seen.append(
                    (timed_run(problem, ours, updates), timed_run(problem, theirs, updates))
                )
            rows.append(_row(problem_name, label, rounds_seen))
    return rows


def _row(problem: str, optimizer: str, rounds: list) -> dict:
    median = statistics.median
    return {
        "network": problem,
        "optimizer": optimizer,
        "ravine_update_us": median(r[0][0] for r in rounds),
        "torch_update_us": median(r[1][0] for r in rounds),
        "ravine_step_us": median(r[0][1] for r in rounds),
        "torch_step_us": median(r[1][1] for r in rounds),
        "update_ratio": median(r[0][0] / r[1][0] for r in rounds),
        "step_ratio": median(r[0][1] / r[1][1] for r in rounds),
    }


# torch's threads: 0 keeps its default
thread_count = reading(int, "a whole number", lambda v: v >= 0, "must be >= 0")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=whole_number, default=300)
    parser.add_argument("--rounds", type=whole_number, default=7)
    parser.add_argument(
        "--threads", type=thread_count, default=1, help="torch threads (0: its default)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = measure(args.updates, args.rounds)
    header = (
        f"{'network':<11} {'optimizer':<18} {'update µs ravine/torch':>23} {'ratio':>6} "
        f"{'step µs ravine/torch':>21} {'ratio':>6}"
    )
    print(header)
    for r in rows:
        updates = f"{r['ravine_update_us']:.0f} / {r['torch_update_us']:.0f}"
        steps = f"{r['ravine_step_us']:.0f} / {r['torch_step_us']:.0f}"
        print(
            f"{r['network']:<11} {r['optimizer']:<18} {updates:>23} {r['update_ratio']:>6.2f} "
            f"{steps:>21} {r['step_ratio']:>6.2f}"
        )
    print(
        json.dumps(
            {
                "threads": torch.get_num_threads(),
                "updates": args.updates,
                "rounds": args.rounds,
                "rows": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
