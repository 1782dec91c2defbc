"""``ravine reproduce [--out DIR] [--only NAME ...] [--quick]``: run the lecture's experiments,
each a claim with a verdict that can fail, and write the HTML report."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import experiments
from .arguments import one_of
from .progress import ExperimentBar

if TYPE_CHECKING:
    from ..experiments.base import Result

NAME = "reproduce"
HELP = "run the lecture's experiments and write the HTML report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out``, ``--only`` (checked against :data:`ravine.experiments.ORDER`), ``--quick``."""
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/reproduce"),
        metavar="DIR",
        help="folder for index.html, results.json and the figures (default out/reproduce)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        type=one_of("experiment", experiments.ORDER),
        metavar="NAME",
        help="run only these experiments (default: all, in the lecture's order)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs, same checks")


def run(args: argparse.Namespace) -> int:
    """Run the experiments with a progress bar on stderr, write the report, print one line per
    claim; exit status 1 unless every claim was reproduced."""
    from ..report import write_report

    results = experiments.run_all(
        args.out, only=args.only, quick=args.quick, progress=ExperimentBar()
    )
    index = write_report(results, args.out)
    print(text(results, index))
    return 0 if all(r.reproduced for r in results) else 1


def text(results: Sequence[Result], index: Path) -> str:
    """One line per claim (✓ or ✗ and its verdict), the count reproduced and the report."""
    width = max((len(r.name) for r in results), default=0)
    lines = [f"{r.name:<{width}}  {'✓' if r.reproduced else '✗'}  {r.verdict}" for r in results]
    passed = sum(r.reproduced for r in results)
    lines += ["", f"{passed} of {len(results)} claims reproduced", f"report: {index}"]
    return "\n".join(lines)
