"""``ravine doctor --task NAME --optimizer NAME [--lr X] [--opt key=value ...]
[--schedule SPEC] [--steps N] [--seed S] [--json]``: train a built-in task full batch under
the Monitor and say why it is stuck: the verdict, its evidence and a remedy.

``ravine doctor --log PATH [--column KEY=NAME ...] [--json]``: the same reading of a run that
is already logged — a Monitor CSV, a TensorBoard event folder or a Lightning ``metrics.csv``
(:mod:`ravine.diagnose.monitor.read_logs`); it says which evidence the log lacked.

Ctrl-C (or SIGTERM) stops the training after the update in flight: the verdict is then on the
steps recorded (or one line says they are too few for one), and the exit status is 130. A
second Ctrl-C stops at once."""

from __future__ import annotations

import argparse
import json
import logging
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
from .interrupts import stop_on_signals
from .progress import step_line

log = logging.getLogger(__name__)

NAME = "doctor"
HELP = "train a built-in task under the Monitor and say why it is stuck"


TRAINING = ("optimizer", "lr", "opt", "schedule")  # the flags of --task, refused with --log


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--task`` or ``--log``, the optimizer flags, ``--steps``, ``--seed``, ``--column``,
    ``--json``."""
    task = add_task(  # the names and order of diagnose.doctor.task_names, which its error lists
        parser,
        f"a network task ({', '.join(tasks.TASKS)}) or an error surface "
        f"({', '.join(surfaces.SURFACES)})",
    )
    optimizer = add_optimizer_arguments(parser)
    task.required = optimizer.required = False  # (one of --task and --log: checked in run)
    add_steps(parser, 500, metavar=None)
    add_seed(parser, "the model's seed (default 0)", metavar=None)
    parser.add_argument(
        "--log",
        metavar="PATH",
        help="diagnose a logged run instead: a Monitor CSV, a TensorBoard event folder or a "
        "Lightning metrics.csv (or the folder holding it)",
    )
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="KEY=NAME",
        help="with --log: the log's name for loss, gradient_norm, gradient_cosine, lr, "
        "update_ratio or step where it differs, e.g. --column loss=train_loss_epoch "
        "(repeatable)",
    )
    add_json(parser, "print JSON: verdict, evidence, remedy, missing evidence")
    parser.usage = (
        "%(prog)s (--task NAME --optimizer NAME [--lr X] [--opt KEY=VALUE] [--schedule SPEC] "
        "[--steps N] [--seed S] | --log PATH [--column KEY=NAME]) [--json]"
    )


def run(args: argparse.Namespace) -> int:
    """Train and diagnose with a progress line on stderr (or read a log) and print its
    reading; exit status 0, 130 when training was interrupted."""
    if (args.task is None) == (args.log is None):
        raise ValueError("give either --task NAME (with --optimizer) or --log PATH")
    if args.log is not None:
        return _from_log(args)
    if args.optimizer is None:
        raise ValueError("--task needs --optimizer NAME")
    if args.column:
        raise ValueError("--column goes with --log, not --task")
    from ..diagnose.doctor import train_and_diagnose
    from ..diagnose.monitor import MIN_WINDOW

    lr, options = hyperparameters(args.optimizer, args.opt, args.lr)
    with stop_on_signals() as stop:
        found = train_and_diagnose(
            args.task,
            args.optimizer,
            lr=lr,
            options=options,
            schedule=args.schedule,
            steps=args.steps,
            seed=args.seed,
            progress=step_line(args.steps),
            stop=stop,
        )
    reading = found.to_json()
    if found.diagnosis is None:  # interrupted before a verdict could be read
        log.warning(
            "interrupted after %d of %d steps: too few for a verdict (it needs at least %d)",
            found.steps,
            args.steps,
            MIN_WINDOW,
        )
        return 130
    print(json.dumps(reading, ensure_ascii=False) if args.json else text(reading))
    if found.interrupted:
        log.warning(
            "interrupted after %d of %d steps: the verdict is on the steps recorded",
            found.steps,
            args.steps,
        )
        return 130
    return 0


def _from_log(args: argparse.Namespace) -> int:
    """``--log``: read the log, diagnose what it holds and print the reading."""
    given = [f"--{name}" for name in TRAINING if getattr(args, name)]
    if given:
        raise ValueError(f"{given[0]} goes with --task; a log's run is already trained")
    from ..diagnose.monitor.read_logs import read_log

    logged = read_log(args.log, column_names(args.column))
    found = logged.diagnose()
    reading = {
        "log": str(logged.path),
        "format": logged.format,
        "steps": len(logged.steps),
        "columns": logged.columns,
        **found.to_json(),
    }
    print(json.dumps(reading, ensure_ascii=False) if args.json else text(reading))
    return 0


def column_names(pairs: list[str]) -> dict[str, str]:
    """``KEY=NAME`` pairs as a dict; a pair without ``=`` or with an empty side is refused."""
    names = {}
    for pair in pairs:
        key, equals, name = pair.partition("=")
        if not (equals and key.strip() and name.strip()):
            raise ValueError(f"--column {pair!r}: expected KEY=NAME, e.g. loss=train_loss")
        names[key.strip()] = name.strip()
    return names


def text(reading: dict[str, Any]) -> str:
    """The diagnosis as lines: the run (task or log), the verdict, one line per piece of
    evidence, the evidence the record lacked, the remedy."""
    from ..diagnose.doctor import reading_text

    where = (
        f"{reading['log']} ({reading['format']})"
        if "log" in reading
        else f"{reading['task']}, {reading['optimizer']}"
    )
    return reading_text(f"{where}, {reading['steps']} steps", reading)
