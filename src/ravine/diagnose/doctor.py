"""The doctor: train a built-in task under the Monitor, then say why the loss is (not) falling.

A task is a network task of :mod:`ravine.tasks` (``sinc``, ``digits``, …) or one of the
lecture's error surfaces (:data:`ravine.surfaces.SURFACES`, e.g. ``valley``), trained
full-batch for ``steps`` updates by a named optimizer. The diagnosis
(:meth:`Monitor.diagnose`) gets what it needs to go further where that is cheap: λ_max of the
Hessian at the end (for the test η·λ_max ≥ 2 of an oscillation) and, when the gradient is
small, the kind of critical point from the true Hessian.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import optim, surfaces, tasks
from ..validation import check_count
from .hessian import hessian_eigs
from .monitor import MIN_WINDOW, Diagnosis, Monitor, default_window


@dataclass
class DiagnosedRun:
    """A run the doctor trained and diagnosed: the task, the optimizer, the steps it took, the
    diagnosis, and the monitor that holds every recorded step. ``interrupted``: training was
    asked to stop before its steps were done; the diagnosis is then of the steps recorded, and
    None when they are too few for one (fewer than :data:`MIN_WINDOW`)."""

    task: str
    optimizer: str
    steps: int
    diagnosis: Diagnosis | None
    monitor: Monitor
    interrupted: bool = False

    def to_json(self) -> dict[str, Any]:
        """task, optimizer, steps, interrupted, and the diagnosis's :meth:`Diagnosis.to_json`
        (a verdict of None when there is no diagnosis)."""
        found = {"verdict": None} if self.diagnosis is None else self.diagnosis.to_json()
        run = {"task": self.task, "optimizer": self.optimizer, "steps": self.steps}
        return {**run, "interrupted": self.interrupted, **found}


# How the evidence a record lacked is named to the reader.
LACKING = {
    "gradient_norm": "‖g‖ (gradient_norm)",
    "gradient_cosine": "cos(g^t, g^{t−1}) (gradient_cosine)",
    "lr": "η (lr)",
    "max_eigenvalue": "λ_max of the Hessian",
}


def reading_text(heading: str, reading: dict[str, Any]) -> str:
    """A reading (:meth:`Diagnosis.to_json`'s keys) as lines: ``heading: verdict (kind)``, one
    line per piece of evidence, the evidence the record lacked, the remedy."""
    kind = f" ({reading['kind']})" if reading["kind"] else ""
    lines = [f"{heading}: {reading['verdict']}{kind}", "evidence:"]
    for key, value in reading["evidence"].items():
        shown = "n/a" if value is None else f"{value:.6g}" if isinstance(value, float) else value
        lines.append(f"  {key:<26} {shown}")
    if reading.get("missing"):
        lacked = ", ".join(LACKING.get(name, name) for name in reading["missing"])
        lines.append(f"lacking: {lacked} — decided without it")
    lines.append(f"remedy: {reading['remedy']}")
    return "\n".join(lines)


def task_names() -> list[str]:
    """Every task the doctor can run: network tasks, then surfaces."""
    return [*tasks.TASKS, *surfaces.SURFACES]


def _task_parts(name: str, seed: int) -> tuple[torch.nn.Module, Callable, Any, Any]:
    """(model, loss_fn, inputs, targets) of the task called ``name``."""
    if name in tasks.TASKS:
        built = tasks.task(name, seed=seed)
        return built.model(), built.loss_fn, built.inputs, built.targets
    if name in surfaces.SURFACES:
        empty = torch.empty(0)
        return surfaces.SurfaceModel(surfaces.surface(name)), surfaces.surface_loss, empty, empty
    raise ValueError(f"unknown task {name!r}; valid: {', '.join(task_names())}")


def train_and_diagnose(
    task: str,
    optimizer: str,
    *,
    lr: float | None = None,
    options: dict[str, Any] | None = None,
    schedule: Callable[[int], float] | None = None,
    steps: int = 500,
    seed: int = 0,
    window: int | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> DiagnosedRun:
    """Train ``task`` with ``optimizer`` for ``steps`` full-batch updates under a Monitor and
    diagnose the last ``window`` steps (default: the last half, at most 200).

    ``schedule`` multiplies η (a ravine schedule, driven by a Scheduler). Training stops early
    when the loss stops being finite; that step is the evidence of divergence. ``stop()``
    (polled after each update: Ctrl-C) stops it too, and the steps recorded are diagnosed.
    """
    check_count("steps", steps, 2)
    model, loss_fn, inputs, targets = _task_parts(task, seed)
    settings = dict(options or {})
    if lr is not None:
        settings["lr"] = lr
    settings.setdefault("nonfinite", "ignore")  # let a divergence show in the record
    opt = optim.create(optimizer, model.parameters(), **settings)
    scheduler = None
    if schedule is not None:
        from ..schedules import Scheduler

        scheduler = Scheduler(opt, schedule)
    monitor = Monitor(model, opt, layers=False)
    params = [p for p in model.parameters() if p.requires_grad]
    before = None  # θ^{t−1}, for the curvature the last step crossed
    interrupted = False
    for step in range(steps):
        if step == steps - 1:
            before = [p.detach().clone() for p in params]
        opt.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        opt.step()
        monitor.step(loss)
        if scheduler is not None:
            scheduler.step()
        value = float(loss.detach())
        if progress is not None:
            progress(step + 1, steps, value)
        if not math.isfinite(value):
            before = None
            break
        if stop is not None and stop():
            interrupted, before = True, None
            break
    if interrupted and len(monitor.history) < MIN_WINDOW:
        return DiagnosedRun(task, optimizer, len(monitor.history), None, monitor, True)
    diagnosis = monitor.diagnose(
        window=window or default_window(len(monitor.history)),
        critical=(loss_fn, inputs, targets),
        hessian_max_eigenvalue=lambda: _crossed_curvature(
            model, params, before, loss_fn, inputs, targets
        ),
    )
    return DiagnosedRun(task, optimizer, len(monitor.history), diagnosis, monitor, interrupted)


@torch.no_grad()
def _crossed_curvature(model, params, before, loss_fn, inputs, targets) -> float:
    """λ_max of the Hessian midway along the last step, (θ^{T−1} + θ^T)/2: the curvature a step
    that bounces between two walls crosses (at either wall the curvature can be far smaller —
    on the valley, 33 at the walls against 400 on the floor between them)."""
    now = [p.detach().clone() for p in params]
    if before is not None:
        for p, a, b in zip(params, before, now, strict=True):
            p.copy_((a + b) / 2)
    try:
        with torch.enable_grad():
            values, _ = hessian_eigs(model, loss_fn, inputs, targets, k=1, which="largest")
    finally:
        for p, b in zip(params, now, strict=True):
            p.copy_(b)
    return float(values[0])
