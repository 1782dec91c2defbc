"""``ravine critical [--task NAME] [--seed S] [--json]``: train a task's network to a critical
point (∇L = 0) and classify it by the eigenvalues of its Hessian."""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING, Any

from .. import tasks
from .arguments import add_json, add_seed, add_task
from .progress import counted

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
    exit status 0."""
    from ..diagnose.critical import classify_critical_point, train_to_critical_point

    task = tasks.task(args.task, seed=args.seed)
    model = task.model()
    with counted("update", level=logging.DEBUG, lines=10) as progress:
        training = train_to_critical_point(
            model, task.loss_fn, task.inputs, task.targets, progress=progress
        )
    point = classify_critical_point(model, task.loss_fn, task.inputs, task.targets)
    if args.json:
        from ..report import jsonable

        print(json.dumps(jsonable(summary(task, args.seed, point)), allow_nan=False))
        return 0
    print(text(task, args.seed, training, point))
    return 0


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
        kind += f" (no eigenvalue < 0; {point.zero} are 0: flat directions, not ways down)"
    lines.append(f"  kind           {kind}")
    return "\n".join(lines)
