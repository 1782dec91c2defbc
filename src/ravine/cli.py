"""The ``ravine`` command. Thin: it parses arguments and calls the library.

ravine optimizers [--json]
ravine verify [--optimizer NAME ...] [--lr X] [--opt key=value ...] [--steps N]
              [--dtype float32|float64] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import torch

from .optim import catalog
from .optim.equivalence import compare_with_torch

# Largest relative gap accepted between ravine and torch.optim (the tests use the same bars).
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}


def add_optimizer_arguments(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """``--optimizer NAME``, ``--lr X`` and repeated ``--opt key=value``, as every command has."""
    names = ", ".join(catalog.CATALOG)
    if many:
        parser.add_argument(
            "--optimizer",
            action="append",
            metavar="NAME",
            help=f"optimizer to use, repeatable (default: all); one of {names}",
        )
    else:
        parser.add_argument("--optimizer", metavar="NAME", required=True, help=f"one of {names}")
    parser.add_argument("--lr", type=float, metavar="X", help="learning rate η")
    parser.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an optimizer hyperparameter, repeatable (e.g. --opt betas=0.9,0.98)",
    )


def optimizer_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments that ``--lr`` and ``--opt`` give the optimizer ``name``."""
    options = catalog.parse_options(name, args.opt)
    if args.lr is not None:
        options["lr"] = args.lr
    return options


def _optimizers(args: argparse.Namespace) -> int:
    rows = [catalog.describe(name) for name in catalog.CATALOG]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    width = max(len(r["name"]) for r in rows)
    print("θ ← θ − (η^t/σ^t)·m^t   — each optimizer is a choice of m, σ and η\n")
    for r in rows:
        print(f"{r['name']:<{width}}  η={r['lr']:<6g}  {r['direction']}")
        print(f"{'':<{width}}  {'':<8}{r['magnitude']}   [{r['summary']}]")
    return 0


def _verify(args: argparse.Namespace) -> int:
    names = args.optimizer or [n for n, e in catalog.CATALOG.items() if e.torch_class]
    dtype = getattr(torch, args.dtype)
    tolerance = TOLERANCE[args.dtype]
    results = []
    for name in names:
        options = optimizer_options(name, args)
        if catalog.entry(name).torch_class is None:
            raise ValueError(f"{name} is the lecture's own rule and has no torch.optim counterpart")
        found = compare_with_torch(name, options, steps=args.steps, dtype=dtype)
        results.append(
            {**vars(found), "tolerance": tolerance, "ok": found.relative_error <= tolerance}
        )
        if not args.json:
            r = results[-1]
            verdict = "matches" if r["ok"] else "DIFFERS"
            torch_name = catalog.describe(name)["torch"]
            print(
                f"{name:<17} vs {torch_name:<22} {r['steps']} steps {r['dtype']}: "
                f"max relative gap {r['relative_error']:.2e} (bar {tolerance:.0e})  {verdict}",
                flush=True,
            )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ravine",
        description="Adaptive learning rates for PyTorch: θ ← θ − (η^t/σ^t)·m^t.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("optimizers", help="every optimizer with its m, σ and η")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=_optimizers)

    verify = commands.add_parser(
        "verify", help="train a small network with ravine and torch.optim and compare"
    )
    add_optimizer_arguments(verify, many=True)
    verify.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    verify.add_argument("--dtype", choices=sorted(TOLERANCE), default="float64")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(run=_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"ravine: error: {error}", file=sys.stderr)
        return 2
