"""``ravine descend SURFACE --optimizer NAME [--lr X|X,Y,...|A:B:N] [--opt key=value ...]
[--schedule SPEC] [--steps N] [--start b,w] [--plot FILE.png] [--json]``: descend a
two-parameter error surface once, or once per η of a sweep (as ``ravine sweep``)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from .. import surfaces
from ..optim import catalog
from .arguments import (
    add_json,
    add_optimizer_arguments,
    add_plot,
    add_steps,
    hyperparameters,
    one_of,
    start_point,
)
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
        metavar="b,w",
        help="θ⁰ as θ1,θ2 (default: the surface's start), e.g. --start -120,-4",
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
        from ..report.plots import plot_contour

        times = "" if args.schedule is None else f", η^t: {args.schedule.spec}"
        title = f"{surface.name}: {args.optimizer}, η = {eta:g}{times}, {args.steps} steps"
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
    which = "the nearest minimum" if len(surface.minima) > 1 else "the minimum"
    heading = f"{surface.name}: {found['optimizer']}, η = {eta:g}{times}, {found['steps']} steps"
    return "\n".join(
        [
            heading,
            f"  start        ({b}, {w}) = ({start[0]:.6g}, {start[1]:.6g})",
            f"  final        ({b}, {w}) = ({final[0]:.6g}, {final[1]:.6g})",
            f"  loss         L = {found['loss']:.6g}",
            f"  distance to {which} ({minimum}) = {found['distance']:.6g}",
            f"  gradient norm ‖∇L‖ = {found['gradient_norm']:.6g}",
            f"  bursts       {found['bursts']} (runs of |{w} − {w}*| > 1 after first coming "
            "within 1)",
        ]
    )
