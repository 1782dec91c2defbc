"""Overhead of the training Monitor: a training step of a ~1M-parameter MLP with and without it.

    python benchmarks/monitor_overhead.py [--repeats 500] [--batch 256] [--threads 1]

One step is zero_grad, forward, cross-entropy, backward, ``optimizer.step()`` (ravine's Adam)
and, for the monitored rows, ``monitor.step(loss)``. Each configuration trains its own copy
of the same MLP (512 → 1024 → 512 → 10, 1,055,242 parameters, float32, CPU) on the same random
batch; the configurations take turns step by step, in a rotating order, so all of them see the
same machine load. Rows:

- ``monitor``: ``Monitor(model, optimizer)`` with its defaults (in memory, per-layer numbers,
  ‖Δθ‖ and cos(g^t, g^{t−1}) every 8th step, effective learning rates every 40th) — the
  configuration the ≤ 3% budget is for;
- ``monitor, every=1``: ‖Δθ‖, ‖θ‖ and the cosine on every step;
- ``monitor, effective_lr_every=1``: the distribution of η/σ on every step;
- ``monitor + csv``, ``monitor + tensorboard``: the defaults, also writing every record to a
  CSV file or every number as a TensorBoard scalar (when tensorboard is installed).

Columns: the median step time; ``ratio``, its ratio to the plain step's median; ``p25``, the
ratio of first quartiles (the steps the machine was quiet for); ``paired``, the median over
rounds of each step's time over the plain step's in the same round, which cancels slow drifts
of the load — ``overhead_ratio`` in the JSON. ``--threads`` sets torch's intra-op threads
(default 1: on a shared machine multi-threaded kernels wait on busy cores and their times
scatter; 0 keeps torch's default). Prints a table, then one JSON document.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from ravine.diagnose.monitor import Monitor
from ravine.optim import Adam

WIDTHS = (512, 1024, 512, 10)


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(WIDTHS)):
        layers.append(nn.Linear(a, b))
        if i < len(WIDTHS) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Run:
    """One configuration: its own model, optimizer and (maybe) monitor, and its step times."""

    def __init__(self, name: str, monitor_options: dict | None) -> None:
        self.name = name
        self.model = mlp()
        self.optimizer = Adam(self.model.parameters(), lr=1e-3)
        self.monitor = (
            None
            if monitor_options is None
            else Monitor(self.model, self.optimizer, **monitor_options)
        )
        self.times: list[float] = []

    def step(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        start = time.perf_counter()
        self.optimizer.zero_grad()
        loss = nn.functional.cross_entropy(self.model(inputs), targets)
        loss.backward()
        self.optimizer.step()
        if self.monitor is not None:
            self.monitor.step(loss)
        return time.perf_counter() - start


def _quartile(times: list[float]) -> float:
    """The first quartile: the step time when the machine was quiet."""
    return statistics.quantiles(times, n=4)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=500, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    out = Path(tempfile.mkdtemp(prefix="ravine-monitor-bench-"))
    configs: dict[str, dict | None] = {
        "plain": None,
        "monitor": {},
        "monitor, every=1": {"every": 1},
        "monitor, effective_lr_every=1": {"effective_lr_every": 1},
        "monitor + csv": {"csv": out / "monitor.csv"},
    }
    if importlib.util.find_spec("tensorboard") is not None:
        configs["monitor + tensorboard"] = {"tensorboard": out / "tb"}
    runs = [Run(name, options) for name, options in configs.items()]
    parameters = sum(p.numel() for p in runs[0].model.parameters())

    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(args.batch, WIDTHS[0], generator=generator)
    targets = torch.randint(WIDTHS[-1], (args.batch,), generator=generator)
    for _ in range(args.warmup):
        for run in runs:
            run.step(inputs, targets)
    for i in range(args.repeats):
        shift = i % len(runs)
        for run in runs[shift:] + runs[:shift]:  # rotate who goes first
            run.times.append(run.step(inputs, targets))

    plain = runs[0].times
    rows = []
    print(f"{'configuration':<34} {'median ms':>10} {'ratio':>7} {'p25':>7} {'paired':>7}")
    for run in runs:
        median = statistics.median(run.times)
        ratio = median / statistics.median(plain)
        quiet = _quartile(run.times) / _quartile(plain)
        # each step against the plain step of the same round: slow drifts of the load cancel
        paired = statistics.median(t / p for t, p in zip(run.times, plain, strict=True))
        rows.append(
            {
                "name": run.name,
                "median_s": median,
                "ratio": ratio,
                "p25_ratio": quiet,
                "paired_ratio": paired,
            }
        )
        print(f"{run.name:<34} {median * 1e3:10.3f} {ratio:7.4f} {quiet:7.4f} {paired:7.4f}")
        if run.monitor is not None:
            run.monitor.close()
    print(
        json.dumps(
            {
                "parameters": parameters,
                "batch": args.batch,
                "dtype": "float32",
                "threads": torch.get_num_threads(),
                "repeats": args.repeats,
                "optimizer": "ravine.optim.Adam",
                "rows": rows,
                "overhead_ratio": rows[1]["paired_ratio"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
