"""``ravine train --task NAME [--model SPEC] [--loss NAME] --optimizer NAME [--lr X]
[--opt key=value ...] [--schedule SPEC] [--batch-size B] [--epochs E]
[--validation F | --folds K] [--seed S] [--monitor] [--tensorboard DIR] [--csv FILE]
[--plot DIR] [--json] [--checkpoint DIR [--checkpoint-every N]] [--resume DIR]``: train a
built-in task in mini-batches, print its final numbers and plot its loss curves.

Progress (:mod:`.progress`): a bar over the epoch's batches on a terminal, and one line per
epoch with its numbers. ``--tensorboard DIR`` logs the Monitor's per-update numbers and each
epoch's losses and metrics; ``--csv FILE`` writes the epoch table
(:mod:`ravine.training.epoch_log`).

Ctrl-C (SIGINT) or SIGTERM stops training cleanly after the update in flight: with
``--checkpoint`` a checkpoint is written there, the plots and numbers of what was trained are
written as usual, a line says where it stopped and how to resume, and the exit status is 130.
A second Ctrl-C stops at once."""

from __future__ import annotations

import argparse
import json
import logging
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import tasks
from .arguments import (
    add_batch_size,
    add_json,
    add_optimizer_arguments,
    add_plot,
    add_seed,
    add_task,
    fold_count,
    folder_path,
    fraction,
    hyperparameters,
    output_file,
    output_folder,
    whole_number,
)
from .interrupts import stop_on_signals
from .progress import EpochProgress
from .train_report import setting, text

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..training import Run

NAME = "train"
HELP = "train a built-in task in mini-batches and plot its loss curves"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--task``, ``--model``, ``--loss``, the optimizer flags, ``--batch-size``, ``--epochs``,
    ``--validation`` or ``--folds``, ``--seed``, ``--monitor``, ``--tensorboard``, ``--csv``,
    ``--plot``, ``--json``, ``--checkpoint``, ``--checkpoint-every``, ``--resume``."""
    add_task(parser, f"one of {', '.join(tasks.TASKS)}")
    parser.add_argument(
        "--model",
        metavar="SPEC",
        help="linear, sigmoid:units=K, relu:units=K or "
        "deep:layers=L,units=K,activation=relu|sigmoid,norm=none|batch (default: the task's)",
    )
    parser.add_argument(
        "--loss",
        metavar="NAME",
        help="regression: mse, mae; classification: cross-entropy, mse (default: the task's)",
    )
    add_optimizer_arguments(parser)
    add_batch_size(parser)
    parser.add_argument("--epochs", type=whole_number, default=20, metavar="E", help="default 20")
    parser.add_argument(
        "--validation",
        type=fraction,
        metavar="F",
        help="fraction held out for validation, in [0, 1) (default 0.2)",
    )
    parser.add_argument(
        "--folds", type=fold_count, metavar="K", help="K-fold cross-validation instead (K >= 2)"
    )
    add_seed(parser, "model, split and shuffling (default 0)")
    parser.add_argument(
        "--monitor", action="store_true", help="attach the Monitor and print its diagnosis"
    )
    parser.add_argument(
        "--tensorboard",
        type=output_folder,
        metavar="DIR",
        help="log to TensorBoard in DIR: the Monitor's numbers each update, the losses and "
        "metrics each epoch",
    )
    parser.add_argument(
        "--csv",
        type=output_file,
        metavar="FILE",
        help="write the epoch table (losses and metrics of each epoch) to FILE as CSV",
    )
    add_plot(parser, "save loss.png (and metric.png) in DIR", folder=True)
    add_json(parser)
    parser.add_argument(
        "--checkpoint",
        type=output_folder,
        metavar="DIR",
        help="write a checkpoint in DIR each epoch (or every --checkpoint-every updates) and on "
        "Ctrl-C; resume it with --resume DIR",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=whole_number,
        metavar="N",
        help="a checkpoint every N updates instead of each epoch",
    )
    parser.add_argument(
        "--resume",
        type=folder_path,
        metavar="DIR",
        help="continue the run checkpointed in DIR (same settings; --epochs may be more)",
    )


def run(args: argparse.Namespace) -> int:
    """Train (one run, or one per fold), plot with ``--plot``, say on stderr where a run
    stopped, print the numbers (text or JSON); exit status 1 when a run stopped early."""
    task = tasks.task(args.task, seed=args.seed, model=args.model, loss=args.loss)
    lr, options = hyperparameters(args.optimizer, args.opt, args.lr)
    if args.folds is not None and args.validation is not None:
        raise ValueError(
            f"--validation {args.validation:g} does not apply with --folds {args.folds}: each "
            f"fold in turn is the validation set"
        )
    for flag in ("checkpoint", "resume"):
        if args.folds is not None and getattr(args, flag) is not None:
            raise ValueError(f"--{flag} does not apply with --folds: checkpoint one run at a time")
    if args.checkpoint_every is not None and args.checkpoint is None:
        raise ValueError("--checkpoint-every needs --checkpoint DIR, the folder to write in")
    from ..files import claimed_folder

    with ExitStack() as held, stop_on_signals() as stop:
        for folder in {args.checkpoint, args.plot, args.tensorboard} - {None}:
            held.enter_context(claimed_folder(folder))  # one run per folder
        runs = training(task, args, lr, options, stop)
        plots = [] if args.plot is None else draw(runs, task, args)
        if args.csv is not None:
            from ..files import write_text
            from ..training.epoch_log import epoch_table

            table = epoch_table(runs, task.metric_name, folds=args.folds is not None)
            write_text(args.csv, table)
    return report(task, runs, args, plots)


def report(task: tasks.Task, runs: list[Run], args: argparse.Namespace, plots: list[Path]) -> int:
    """Say on stderr (warnings) where a run stopped or was interrupted, print the numbers
    (text or JSON); exit status 130 when interrupted, 1 when a run stopped early, else 0."""
    for one in runs:
        if one.stopped is not None:
            where = "" if one.fold is None else f"fold {one.fold + 1}: "
            log.warning("%s%s", where, one.stopped)
    status = 1 if any(one.stopped is not None for one in runs) else 0
    interrupted = next((one.interrupted for one in runs if one.interrupted is not None), None)
    if interrupted is not None:
        log.warning("%s; %s", interrupted, resume_hint(args))
        status = 130
    if args.json:
        from ..report import jsonable
        from ..training import CrossValidation

        found = runs[0].to_json() if args.folds is None else CrossValidation(runs).to_json()
        print(json.dumps(jsonable(found), allow_nan=False, ensure_ascii=False))
        return status
    print(text(task, runs, args, plots))
    return status


def resume_hint(args: argparse.Namespace) -> str:
    """How to go on after an interruption."""
    if args.checkpoint is None:
        return "add --checkpoint DIR to be able to resume"
    return f"to resume, run the same command with --resume {args.checkpoint}"


def training(
    task: tasks.Task,
    args: argparse.Namespace,
    lr: float | None,
    options: dict[str, Any],
    stop: Any = None,
) -> list[Run]:
    """:func:`ravine.training.train` once, or :func:`~ravine.training.cross_validate` with
    ``--folds``, with its progress on stderr; the runs, in fold order."""
    from ..training import VALIDATION, cross_validate, train

    start = time.perf_counter()
    settings = dict(
        lr=lr,
        options=options,
        schedule=args.schedule,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        monitor=args.monitor or args.tensorboard is not None,
        stop=stop,
    )

    shown: list[EpochProgress] = []

    def watched(fold: str = "") -> dict[str, Any]:
        """The progress hooks of one run (``fold``: its prefix)."""
        shown.append(EpochProgress(task.metric_name, start, args.epochs, fold))
        return {"progress": shown[-1].epoch, "each_update": shown[-1].update}

    def fold_settings(i: int) -> dict[str, Any]:
        """Fold i's own progress prefix and TensorBoard folder."""
        return {
            **watched(f"fold {i + 1}/{args.folds}  "),
            "tensorboard": None if args.tensorboard is None else args.tensorboard / f"fold-{i + 1}",
        }

    try:
        if args.folds is not None:
            return cross_validate(
                task, args.optimizer, folds=args.folds, each_fold=fold_settings, **settings
            ).runs
        one = train(
            task,
            args.optimizer,
            validation=VALIDATION if args.validation is None else args.validation,
            tensorboard=args.tensorboard,
            checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            **settings,
            **watched(),
        )
        return [one]
    except ImportError as error:  # --tensorboard without the tensorboard package
        raise ValueError(str(error)) from None
    finally:  # a bar left by an interruption
        for one in shown:
            one.close()


def draw(runs: list[Run], task: tasks.Task, args: argparse.Namespace) -> list[Path]:
    """``loss.png`` (and ``metric.png`` for a task with a metric) in the ``--plot`` folder:
    every run's curves; the paths written."""
    from ..report.plots import plot_training

    what, how = setting(task, args, runs[0])
    folds = "" if args.folds is None else f", {args.folds}-fold cross-validation"
    title = f"{what}\n{how}{folds}"
    folder = args.plot
    plots = [plot_training(runs, folder / "loss.png", title=title, ylabel="loss")]
    if task.metric is not None:
        plots.append(
            plot_training(
                runs, folder / "metric.png", title=title, quantity="metric", ylabel=task.metric_name
            )
        )
    return plots
