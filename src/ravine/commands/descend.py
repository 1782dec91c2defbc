"""``ravine descend SURFACE --optimizer NAME [--lr X|X,Y,...|A:B:N] [--opt key=value ...]
[--schedule SPEC] [--steps N] [--start θ1,θ2] [--plot FILE.png] [--json]``: descend a
two-parameter error surface once, or once per η of a sweep (as ``ravine sweep``)."""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

from .. import surfaces
from ..experiments.wording import plural
from ..optim import catalog
from ..surfaces.library import the_minimum
from ..sweep.result import DIVERGENCE, diverged_runs, divergence_line
from .arguments import (
    add_json,
    add_optimizer_arguments,
    add_plot,
    add_steps,
    hyperparameters,
    one_of,
    start_point,
)
from .shown import number
from .sweep import show, swept

if TYPE_CHECKING:
    from ..schedules import Schedule
    from ..surfaces import Trajectory

NAME = "descend"
HELP = "descend a 2-parameter error surface (once, or once per η of a sweep)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``SURFACE``, the optimizer flags (``--lr`` one η or a list), ``--steps``, ``--start``,
    ``--plot``, ``--json``."""
    parser.add_argument(
        "surface",
        metavar="SURFACE",
        type=one_of("surface", surfaces.SURFACES),
        help=f"one of {', '.join(surfaces.SURFACES)}",
    )
    add_optimizer_arguments(parser, sweep=True)
    add_steps(parser, 1000)
    parser.add_argument(
        "--start",
        type=start_point,
        metavar="θ1,θ2",
        help="θ⁰ (default: the surface's start), e.g. --start -120,-4 (b,w on pokemon)",
    )
    add_plot(parser, "save the path on the contours (a sweep: the loss against η)")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """One descent, its summary printed (text or JSON) and its path plotted with ``--plot``;
    given several η, a sweep over them instead."""
    surface = surfaces.surface(args.surface)
    if args.lr is not None and len(args.lr) > 1:  # many η: a sweep
        return show(args, swept(args, surface))
    lr, options = hyperparameters(args.optimizer, args.opt, None if args.lr is None else args.lr[0])
    trajectory = surfaces.descend(
        surface,
        args.optimizer,
        # surfaces.descend has a default η of its own; the command uses the optimizer's
        lr=catalog.entry(args.optimizer).defaults()["lr"] if lr is None else lr,
        options=options,
        schedule=args.schedule,
        steps=args.steps,
        start=args.start,
    )
    eta = float(trajectory.lr[0])  # the η the descent used
    if args.plot:
        from ..report.plots import plot_contour, superscripts

        times = "" if args.schedule is None else f", η^t: {args.schedule.spec}"
        title = superscripts(
            f"{surface.name}: {args.optimizer}, η = {eta:g}{times}, {plural(args.steps, 'step')}"
        )
        path = trajectory.theta[:, 0].tolist()
        plot_contour(surface, {args.optimizer: path}, args.plot, title=title)
    found = summary(trajectory)
    if args.json:
        from ..report.html import jsonable

        print(json.dumps(jsonable(found), allow_nan=False))
        return 0
    print(text(trajectory, found, args.schedule))
    if args.plot:
        print(f"  plot: {args.plot}")
    return 0


def summary(trajectory: Trajectory) -> dict[str, Any]:
    """The one run of ``trajectory``: where it ended, L and ‖∇L‖ there, the minimum nearest
    to where it ended and the distance to it, and its bursts (runs of steps with |θ2 − θ2*| > 1
    after first coming that close, as Adagrad's)."""
    from ..experiments.adagrad_bursts import find_bursts

    surface = trajectory.surface
    final = trajectory.theta[-1, 0]
    return {
        "surface": surface.name,
        "optimizer": trajectory.optimizer,
        "steps": trajectory.steps,
        "final": final.tolist(),
        "loss": float(trajectory.loss[-1, 0]),
        "minimum": surface.nearest_minimum(final).tolist(),
        "distance": float(trajectory.distance[0]),
        "gradient_norm": float(trajectory.gradient_norm[-1, 0]),
        "bursts": len(find_bursts(trajectory)),
    }


def text(trajectory: Trajectory, found: dict[str, Any], schedule: Schedule | None) -> str:
    """A descent's :func:`summary` as lines, with the η it used and its start, θ named as its
    surface labels it."""
    surface = trajectory.surface
    b, w = surface.labels
    times = "" if schedule is None else f" × {schedule.spec}"
    eta = float(trajectory.lr[0])
    start, final = trajectory.theta[0, 0].tolist(), found["final"]
    minimum = ", ".join(f"{v:.6g}" for v in found["minimum"])
    which = the_minimum(surface.minima)
    steps = plural(found["steps"], "step")
    lines = [
        f"{surface.name}: {found['optimizer']}, η = {eta:g}{times}, {steps}",
        f"  start        ({b}, {w}) = ({start[0]:.6g}, {start[1]:.6g})",
    ]
    numbers = [*final, found["loss"], found["distance"], found["gradient_norm"]]
    diverged = divergence(trajectory)
    if diverged is None or all(math.isfinite(v) for v in numbers):  # no inf/nan of a blow-up
        lines += [
            f"  final        ({b}, {w}) = ({number(final[0])}, {number(final[1])})",
            f"  loss         L = {number(found['loss'])}",
            f"  distance to {which} ({minimum}) = {number(found['distance'])}",
            f"  gradient norm ‖∇L‖ = {number(found['gradient_norm'])}",
            f"  bursts       {found['bursts']} (runs of |{w} − {w}*| > 1 after first coming "
            "within 1)",
        ]
    if diverged is not None:
        lines.append(f"  diverged     {diverged}; try a smaller η")
    return "\n".join(lines)


def divergence(trajectory: Trajectory) -> str | None:
    """Where the run diverged, by the sweep's rule (its loss became inf or nan, or ended above
    L⁰ + 9·|L⁰|): the first step past that line and L there; None where it did not, or where
    L⁰ itself is not finite."""
    loss = trajectory.loss[:, :1]
    start = float(loss[0, 0])
    line = divergence_line(start)
    diverged, first = diverged_runs(loss, line)
    if not math.isfinite(start) or not bool(diverged[0]):
        return None  # a start too far out for a finite L⁰ gives no line to pass
    step = int(first[0])
    value = float(loss[step, 0])
    reached = f"L = {value:.6g}" if math.isfinite(value) else "L is no longer a finite number"
    return (
        f"from step {step}: {reached}, past L⁰ + {DIVERGENCE - 1:g}·|L⁰| = {line:.6g} "
        f"(L⁰ = {start:.6g})"
    )
