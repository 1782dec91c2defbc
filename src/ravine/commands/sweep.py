"""``ravine sweep --task NAME --optimizer NAME --lr X,Y,...|A:B:N [--opt key=value ...]
[--schedule SPEC] [--steps N] [--seed S] [--plot FILE.png] [--json]``: one copy of a task's
network (or of a surface's θ) per η, all trained at once; the final loss against η.

``ravine descend`` given many η shows its sweep with :func:`swept` and :func:`show` too.

Ctrl-C (or SIGTERM) stops the sweep after the step in flight: the table and plot are of the
runs' curves so far (the η and steps reached), one line on stderr says what is missing, and
the exit status is 130. A second Ctrl-C stops at once."""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING

from .. import surfaces, tasks
from ..experiments.wording import plural
from ..optim import catalog
from ..surfaces.library import the_minimum
from .arguments import add_json, add_optimizer_arguments, add_plot, add_seed, add_steps, add_task
from .interrupts import stop_on_signals
from .progress import counted
from .shown import number

if TYPE_CHECKING:
    from ..schedules import Schedule
    from ..surfaces import Surface
    from ..sweep import SweepResult

log = logging.getLogger(__name__)

NAME = "sweep"
HELP = "train one copy per η of a task's network (or a surface) all at once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--task``, the optimizer flags (``--lr`` a list), ``--steps``, ``--seed``, ``--plot``,
    ``--json``."""
    add_task(
        parser,
        f"a task ({', '.join(tasks.TASKS)}) or a surface ({', '.join(surfaces.SURFACES)})",
        names=[*tasks.TASKS, *surfaces.SURFACES],
        kind="task or surface",
    )
    add_optimizer_arguments(parser, sweep=True)
    add_steps(parser, 500)
    add_seed(parser, "the network's seed, the same θ⁰ for every η", default=None)
    add_plot(parser, "save the loss against η")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """``--lr`` is required here: a sweep is over several η."""
    if args.lr is None:
        raise ValueError("ravine sweep needs --lr: a list X,Y,... or a grid A:B:N")
    return show(args, swept(args, args.task))


def swept(args: argparse.Namespace, problem: str | Surface) -> SweepResult:
    """:func:`ravine.sweep.sweep` of ``problem`` (a task or surface name, or a surface) over
    the η of ``--lr``, with the optimizer, steps, seed and start the command line gives; its
    progress on stderr; Ctrl-C stops it where it is (the result says so)."""
    from ..sweep import sweep

    with counted(level=logging.DEBUG, lines=10) as progress, stop_on_signals() as stop:
        return sweep(
            problem,
            args.optimizer,
            lrs=args.lr,
            steps=args.steps,
            options=catalog.parse_options(args.optimizer, args.opt),
            schedule=args.schedule,
            seed=getattr(args, "seed", None),
            start=getattr(args, "start", None),
            progress=progress,
            stop=stop,
        )


def show(args: argparse.Namespace, result: SweepResult) -> int:
    """Plot ``result`` with ``--plot`` and print its table (or JSON); exit status 0, 130 when
    the sweep was interrupted (a line on stderr says what it holds)."""
    from ..report import jsonable

    heading = title(result, args.optimizer, args.schedule)
    if args.plot:
        from ..sweep.plot import plot_sweep

        plot_sweep(result, args.plot, title=heading)
    if args.json:
        print(json.dumps(jsonable(result.to_json()), allow_nan=False, ensure_ascii=False))
    else:
        print(text(result, heading))
        if args.plot:
            print(f"  plot: {args.plot}")
    if result.interrupted is not None:
        log.warning("%s; the curves are of those", result.interrupted)
        return 130
    return 0


def title(result: SweepResult, optimizer: str, schedule: Schedule | None) -> str:
    """What was swept: the problem, the optimizer, the range of η, the schedule, the steps."""
    times = "" if schedule is None else f" × {schedule.spec}"
    lrs = result.lrs
    return (
        f"{result.problem}: {optimizer}, {len(lrs)} η from {min(lrs):g} to {max(lrs):g}"
        f"{times}, {plural(result.steps, 'step')}"
    )


def _cell(loss: float) -> str:
    """A final loss in the table: — where a diverged run's loss is not a number."""
    return number(loss, nan="—")


def text(result: SweepResult, heading: str) -> str:
    """A :class:`~ravine.sweep.SweepResult` as a table, one row per η (final loss, distance to
    a surface's nearest minimum, or the step it diverged from), then the best η and the speed."""
    batch = " (full batch)" if result.kind == "task" else ""
    distance, diverged_at = result.distance, result.diverged_at
    header = f"  {'η':>12}  {'final loss':>12}"
    lines = [
        f"{heading}{batch}",
        header + (f"  distance to {the_minimum(result.minima)}" if distance is not None else ""),
    ]
    for r, lr in enumerate(result.lrs):
        loss = _cell(float(result.final_loss[r]))
        if diverged_at[r] is not None:
            row = f"  {lr:>12.4g}  {loss:>12}  diverged (from step {diverged_at[r]})"
        else:
            row = f"  {lr:>12.4g}  {loss:>12}"
            if distance is not None:
                row += f"  {float(distance[r]):.6g}"
        lines.append(row + ("   ← best" if r == result.best_index else ""))
    if result.best_index is None:
        lines.append(f"  best         none: every run diverged (L⁰ = {result.initial_loss:.6g})")
    else:
        lines.append(
            f"  best         η = {result.best_lr:.4g}: loss {result.best_loss:.6g} "
            f"(L⁰ = {result.initial_loss:.6g})"
        )
    lines.append(f"  diverged     {int(result.diverged.sum())} of {len(result.lrs)}")
    lines.append(
        f"  time         {result.seconds:.3g} s, "
        f"{result.settings_steps_per_second:.4g} settings·steps per second"
    )
    return "\n".join(lines)
