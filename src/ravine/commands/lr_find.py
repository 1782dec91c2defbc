"""``ravine lr-find --task NAME --optimizer NAME [--lr-min X] [--lr-max X] [--steps N]
[--batch-size B] [--opt key=value ...] [--seed S] [--json] [--plot FILE.png]``: the
learning-rate range test, η raised log-linearly from ``--lr-min`` to ``--lr-max`` over a few
hundred updates, and the η it suggests.

Ctrl-C (or SIGTERM) stops the sweep after the update in flight: the curve recorded so far is
read, plotted and printed as usual (its suggestion from that part of the range), one line on
stderr says where it stopped, and the exit status is 130. A second Ctrl-C stops at once."""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING

from .. import tasks
from ..optim import catalog
from .arguments import (
    add_batch_size,
    add_json,
    add_opt,
    add_optimizer,
    add_plot,
    add_seed,
    add_steps,
    add_task,
    positive_number,
    reading,
)
from .interrupts import stop_on_signals
from .progress import Progress

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..training import RangeTest

NAME = "lr-find"
HELP = "the learning-rate range test: sweep η up for a few hundred updates"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--task``, ``--optimizer`` (both checked while parsing), ``--lr-min``, ``--lr-max``,
    ``--steps``, ``--batch-size``, ``--opt``, ``--seed``, ``--plot``, ``--json``."""
    from ..training import LR_MAX, LR_MIN, STEPS
    from ..training.lr_find import MIN_STEPS

    add_task(parser, f"one of {', '.join(tasks.TASKS)}", names=tasks.TASKS)
    add_optimizer(parser, checked=True)
    for flag, default in (("--lr-min", LR_MIN), ("--lr-max", LR_MAX)):
        parser.add_argument(
            flag, type=positive_number, default=default, metavar="X", help=f"default {default:g}"
        )
    add_steps(
        parser,
        STEPS,
        f"updates (default {STEPS}, at least {MIN_STEPS})",
        type=reading(int, "a whole number", lambda v: v >= MIN_STEPS, f"must be >= {MIN_STEPS}"),
    )
    add_batch_size(parser)
    add_opt(
        parser, "an optimizer hyperparameter other than lr, repeatable (e.g. --opt betas=0.9,0.98)"
    )
    add_seed(parser, "model, split and shuffling (default 0)")
    add_plot(parser, "save the loss against η")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Run the range test (its progress on stderr), plot it with ``--plot`` and print what it
    found (text or JSON); exit status 0, 130 when interrupted."""
    from ..training import lr_find

    if args.lr_min >= args.lr_max:
        raise ValueError(f"--lr-min {args.lr_min:g} must be below --lr-max {args.lr_max:g}")
    with (
        Progress(args.steps, "update", level=logging.DEBUG, lines=10) as shown,
        stop_on_signals() as stop,
    ):
        test = lr_find(
            args.task,
            args.optimizer,
            options=catalog.parse_options(args.optimizer, args.opt, lr_flag=None),
            lr_min=args.lr_min,
            lr_max=args.lr_max,
            steps=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            progress=lambda k, steps, loss: shown.advance(k, loss=loss),
            stop=stop,
        )
        status = 130 if stop() else 0
    if args.plot:
        from ..report.plots import plot_range_test

        title = (
            f"Range test: {args.task}, {args.optimizer}, batches of {args.batch_size}, "
            f"seed {args.seed}"
        )
        plot_range_test(test, args.plot, title=title)
    if args.json:
        from ..report import jsonable

        print(json.dumps(jsonable(test.to_json()), allow_nan=False, ensure_ascii=False))
    else:
        print(text(test, args.task, args.optimizer, args.batch_size))
        if args.plot:
            print(f"  plot: {args.plot}")
    if status:
        log.warning("%s: the range test is of the updates recorded", test.stopped)
    return status


def text(test: RangeTest, task: str, optimizer: str, batch_size: int) -> str:
    """The range swept, the updates recorded (and why it stopped), the minimum of the smoothed
    loss, the suggested η* with its rule, and any warning."""
    lines = [
        f"{task}, {optimizer}, batch {batch_size}: η from {test.lr_min:g} to "
        f"{test.lr_max:g} over {test.steps} updates",
        f"  recorded     {len(test.lrs)} updates"
        + ("" if test.stopped is None else f"; stopped: {test.stopped}"),
    ]
    if test.minimum is not None:
        lines.append(
            f"  minimum      smoothed loss {test.smoothed[test.minimum]:.4g} at "
            f"η = {test.minimum_lr:.3g} (smoothing β = {test.smoothing:g}, lag about "
            f"×{test.lag_factor:.2g} in η)"
        )
    shown = "none" if test.suggestion is None else f"η* = {test.suggestion:.3g}"
    lines.append(f"  suggestion   {shown}")
    lines.append(f"  rule         {test.rule}")
    if test.warning is not None:
        lines.append(f"  warning      {test.warning}")
    return "\n".join(lines)
