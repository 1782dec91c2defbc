"""``ravine critical [--task NAME] [--seed S] [--json]``: train a task's network to a critical
point (∇L = 0) and classify it by the eigenvalues of its Hessian.

Ctrl-C (or SIGTERM) stops the training after the update in flight: the point reached is
printed (its L and ‖∇L‖, not classified, since training did not get to ∇L = 0), one line on
stderr says where it stopped, and the exit status is 130. A second Ctrl-C stops at once."""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING, Any

from .. import tasks
from .arguments import add_json, add_seed, add_task
from .interrupts import stop_on_signals
from .progress import counted

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ..diagnose.critical import CriticalPoint, CriticalTraining

NAME = "critical"
HELP = "train a task's network to a critical point and classify it by its Hessian"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--task``, ``--seed``, ``--json``."""
    add_task(
        parser, f"one of {', '.join(tasks.TASKS)} (default sinc)", names=tasks.TASKS, default="sinc"
    )
    add_seed(parser, "the network's seed (default 0)")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Train (its progress on stderr), classify and print the critical point (text or JSON);
    exit status 0, 130 when interrupted (the point reached is printed, not classified)."""
    from ..diagnose.critical import classify_critical_point, train_to_critical_point

    task = tasks.task(args.task, seed=args.seed)
    model = task.model()
    with counted("update", level=logging.DEBUG, lines=10) as progress, stop_on_signals() as stop:
        training = train_to_critical_point(
            model, task.loss_fn, task.inputs, task.targets, progress=progress, stop=stop
        )
    if training.interrupted:
        return reached(task, args, training)
    point = classify_critical_point(model, task.loss_fn, task.inputs, task.targets)
    if args.json:
        from ..report import jsonable

        print(json.dumps(jsonable(summary(task, args.seed, point)), allow_nan=False))
        return 0
    print(text(task, args.seed, training, point))
    return 0


def reached(task: tasks.Task, args: argparse.Namespace, training: CriticalTraining) -> int:
    """Print the point an interrupted training reached: its L and ‖∇L‖, unclassified (text or
    JSON, ``kind`` null); exit status 130."""
    from ..diagnose.critical import GRAD_TOL

    if args.json:
        from ..report import jsonable

        found = {
            "task": task.name,
            "seed": args.seed,
            "training_loss": training.loss,
            "gradient_norm": training.gradient_norm,
            "kind": None,
            "interrupted": True,
        }
        print(json.dumps(jsonable(found), allow_nan=False))
    else:
        print(
            "\n".join(
                [
                    f"{task.name} (seed {args.seed}): {task.description}",
                    f"  trained        {training.descent_steps} Adam steps (interrupted)",
                    f"  training loss  L = {training.loss:.6g}",
                    f"  gradient norm  ‖∇L‖ = {training.gradient_norm:.3g} (critical below "
                    f"{GRAD_TOL:g})",
                    "  kind           not classified: training was interrupted",
                ]
            )
        )
    log.warning(
        "interrupted after %d Adam steps: the point reached is shown, not classified",
        training.descent_steps,
    )
    return 130


def summary(task: tasks.Task, seed: int, point: CriticalPoint) -> dict[str, Any]:
    """The task, L and ‖∇L‖ at the point, λ_min and λ_max of the Hessian, the minimum ratio
    (the fraction of eigenvalues > 0) and the kind of point."""
    return {
        "task": task.name,
        "seed": seed,
        "training_loss": point.loss,
        "gradient_norm": point.gradient_norm,
        "min_eigenvalue": point.min_eigenvalue,
        "max_eigenvalue": point.max_eigenvalue,
        "minimum_ratio": point.minimum_ratio,
        "kind": point.kind,
    }


def text(task: tasks.Task, seed: int, training: CriticalTraining, point: CriticalPoint) -> str:
    """The point as lines: how it was reached, L, ‖∇L‖, the eigenvalues and the kind."""
    from ..diagnose.critical import GRAD_TOL

    ratio = "n/a" if point.minimum_ratio is None else f"{point.minimum_ratio:.4f}"
    lines = [
        f"{task.name} (seed {seed}): {task.description}",
        f"  trained        {training.descent_steps} Adam steps + {training.newton_steps} Newton "
        f"steps on ∇L = 0",
        f"  training loss  L = {point.loss:.6g}",
        f"  gradient norm  ‖∇L‖ = {point.gradient_norm:.3g} (critical below {GRAD_TOL:g})",
        f"  eigenvalues    λ_min = {point.min_eigenvalue:.6g}, λ_max = {point.max_eigenvalue:.6g}",
    ]
    if point.positive is not None:
        lines.append(
            f"                 {point.positive} > 0, {point.negative} < 0, {point.zero} zero "
            f"(|λ| ≤ {point.zero_tolerance:.2g}) of P = {point.parameters}"
        )
    lines.append(
        f"  minimum ratio  {ratio} (eigenvalues > 0 over all P: zero ones count as not > 0)"
    )
    kind = point.kind
    if kind == "local minimum" and point.zero:  # a ratio far below 1 is still a minimum
        kind += (
            f" (no eigenvalue below −{point.zero_tolerance:.2g}; {point.zero} are 0: flat "
            "directions, not ways down)"
        )
    lines.append(f"  kind           {kind}")
    return "\n".join(lines)
