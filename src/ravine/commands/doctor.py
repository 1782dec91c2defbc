"""``ravine doctor --task NAME --optimizer NAME [--lr X] [--opt key=value ...]
[--schedule SPEC] [--steps N] [--seed S] [--json]``: train a built-in task full batch under
the Monitor and say why it is stuck: the verdict, its evidence and a remedy."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import surfaces, tasks
from .arguments import (
    add_json,
    add_optimizer_arguments,
    add_seed,
    add_steps,
    add_task,
    hyperparameters,
)
from .progress import step_line

NAME = "doctor"
HELP = "train a built-in task under the Monitor and say why it is stuck"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--task``, the optimizer flags, ``--steps``, ``--seed``, ``--json``."""
    add_task(  # the names and order of diagnose.doctor.task_names, which its error lists
        parser,
        f"a network task ({', '.join(tasks.TASKS)}) or an error surface "
        f"({', '.join(surfaces.SURFACES)})",
    )
    add_optimizer_arguments(parser)
    add_steps(parser, 500, metavar=None)
    add_seed(parser, "the model's seed (default 0)", metavar=None)
    add_json(parser, "print JSON: verdict, evidence, remedy")


def run(args: argparse.Namespace) -> int:
    """Train and diagnose with a progress line on stderr and print its reading; exit status 0."""
    from ..diagnose.doctor import train_and_diagnose

    lr, options = hyperparameters(args.optimizer, args.opt, args.lr)
    found = train_and_diagnose(
        args.task,
        args.optimizer,
        lr=lr,
        options=options,
        schedule=args.schedule,
        steps=args.steps,
        seed=args.seed,
        progress=step_line(args.steps),
    )
    reading = found.to_json()
    print(json.dumps(reading, ensure_ascii=False) if args.json else text(reading))
    return 0


def text(reading: dict[str, Any]) -> str:
    """The diagnosis as lines: the verdict, one line per piece of evidence, the remedy."""
    kind = f" ({reading['kind']})" if reading["kind"] else ""
    lines = [
        f"{reading['task']}, {reading['optimizer']}, {reading['steps']} steps: "
        f"{reading['verdict']}{kind}",
        "evidence:",
    ]
    for key, value in reading["evidence"].items():
        shown = "n/a" if value is None else f"{value:.6g}" if isinstance(value, float) else value
        lines.append(f"  {key:<26} {shown}")
    lines.append(f"remedy: {reading['remedy']}")
    return "\n".join(lines)
