"""``ravine verify [--optimizer NAME ...] [--lr X] [--opt key=value ...] [--schedule SPEC]
[--steps N] [--dtype float32|float64] [--json]``: train a small network with ravine's optimizer
and with its torch.optim counterpart and print the largest relative gap between the two."""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import torch

from .. import schedules
from ..optim import catalog
from ..optim.equivalence import compare_with_torch
from .arguments import add_json, add_optimizer_arguments, add_steps, hyperparameters

NAME = "verify"
HELP = "train a small network with ravine and torch.optim and compare"

# Largest relative gap accepted between ravine and torch.optim (the tests use the same bars).
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The optimizer flags (``--optimizer`` repeatable), ``--steps``, ``--dtype``, ``--json``."""
    add_optimizer_arguments(parser, many=True)
    add_steps(parser, 100, "training steps (default 100)", metavar=None)
    parser.add_argument("--dtype", choices=sorted(TOLERANCE), default="float64")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Compare each named optimizer (default: every one with a torch.optim class) in turn,
    printing each line as it is measured; exit status 1 when any gap passes its bar."""
    names = args.optimizer or [n for n, e in catalog.CATALOG.items() if e.torch_class]
    found = []
    for comparison in comparisons(names, args):
        found.append(comparison)
        if not args.json:
            print(line(comparison), flush=True)
    if args.json:
        print(json.dumps(found, indent=2))
    return 0 if all(c["ok"] for c in found) else 1


def comparisons(names: list[str], args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """For each name, :func:`compare_with_torch`'s numbers, the bar for ``--dtype`` and whether
    the gap max |θ_ravine − θ_torch| / |θ_torch| stays within it (``ok``)."""
    dtype = getattr(torch, args.dtype)
    tolerance = TOLERANCE[args.dtype]
    for name in names:
        lr, options = hyperparameters(name, args.opt, args.lr)
        if lr is not None:
            options["lr"] = lr  # compare_with_torch gives both constructors the same options
        found = compare_with_torch(
            name, options, steps=args.steps, dtype=dtype, scheduler=scheduler_factory(args.schedule)
        )
        yield {**vars(found), "tolerance": tolerance, "ok": found.relative_error <= tolerance}


def scheduler_factory(
    schedule: schedules.Schedule | None,
) -> Callable[[torch.optim.Optimizer], schedules.Scheduler] | None:
    """Each optimizer gets its own Scheduler over its own copy of ``schedule`` (a metric-driven
    schedule keeps state, which must not be shared)."""
    if schedule is None:
        return None
    return lambda optimizer: schedules.Scheduler(optimizer, copy.deepcopy(schedule))


def line(comparison: dict[str, Any]) -> str:
    """One comparison as a line: both names, the gap, the bar and the verdict."""
    c = comparison
    verdict = "matches" if c["ok"] else "DIFFERS"
    torch_name = catalog.describe(c["name"])["torch"]
    return (
        f"{c['name']:<17} vs {torch_name:<22} {c['steps']} steps {c['dtype']}: "
        f"max relative gap {c['relative_error']:.2e} (bar {c['tolerance']:.0e})  {verdict}"
    )
