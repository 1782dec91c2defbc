"""Mini-batch training of a built-in task, the lecture's loop:

    split the N examples once into a training set and a validation set (seeded)
    for each epoch:                              1 epoch = every batch seen once
        shuffle the training set, cut it into batches of B (the last one may be smaller)
        for each batch b:                        1 update = one batch
            L^b = loss on b;  g = ∇L^b;  θ ← optimizer step;  η^t from the schedule
        evaluate L and the metric on the whole training and validation sets (eval mode)

The schedule's clock t counts updates; a metric-driven schedule (``plateau``) instead observes
the validation loss (the training loss without a validation set) once per epoch.

**Non-finite loss.** The loss of every batch is checked before its update (one host sync per
update, the same sync that reads the loss for the record). When it is nan or ±inf — or the
optimizer refuses a non-finite gradient — training stops: the model is put back to θ before
the last update (the last parameters with a finite loss), and :attr:`Run.stopped` says the
update, the loss and the doctor's verdict on the loss record (``diverged``, with the update
where the loss began to climb). Nothing is raised, so a sweep over η keeps its other runs.

**Timing.** ``update_seconds`` sums the wall time of the updates only (batch selection,
forward, backward, step); evaluation is not in it.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..diagnose.monitor import Diagnosis, Monitor, default_window, diagnose_training
from ..optim import catalog
from ..optim.optimizer import NonFiniteGradientError
from ..schedules import Schedule, Scheduler
from ..tasks import Task
from ..tasks import task as build_task
from ..validation import WHOLE, check_count, is_real, require

BATCH_SIZE = 32
EPOCHS = 20
VALIDATION = 0.2  # the fraction of the examples held out for validation


@dataclass
class Epoch:
    """The numbers after one epoch: ``updates`` so far, losses and metrics on the whole
    training and validation sets (None without a validation set), and the epoch's update
    time in seconds."""

    epoch: int
    updates: int
    train_loss: float
    val_loss: float | None
    train_metric: float | None
    val_metric: float | None
    seconds: float


@dataclass
class Stop:
    """Why training stopped early: at ``update`` (counted from 0) in ``epoch`` (from 1), the
    batch loss was ``loss`` (non-finite) or the gradient was; ``diagnosis`` is the doctor's
    reading of the loss record."""

    update: int
    epoch: int
    loss: float
    reason: str
    diagnosis: Diagnosis

    def __str__(self) -> str:
        return (
            f"training stopped at update {self.update} (epoch {self.epoch}): {self.reason}; "
            f"the doctor says {self.diagnosis.verdict}: {self.diagnosis.remedy.rstrip('.')}; "
            "the model keeps θ from before that update"
        )


@dataclass
class Run:
    """One training run: its settings, the loss of every update, the per-epoch record, the
    trained model and, with ``monitor=True``, the Monitor and its diagnosis."""

    task: str
    model_spec: str
    loss_name: str
    metric_name: str
    optimizer: str
    lr: float
    options: dict[str, Any]
    schedule: str | None
    batch_size: int
    epochs: int
    seed: int
    train_size: int
    val_size: int
    fold: int | None = None
    losses: list[float] = field(default_factory=list)
    history: list[Epoch] = field(default_factory=list)
    update_seconds: float = 0.0
    stopped: Stop | None = None
    model: nn.Module | None = field(default=None, repr=False)
    monitor: Monitor | None = field(default=None, repr=False)
    diagnosis: Diagnosis | None = None

    @property
    def updates(self) -> int:
        return len(self.losses)

    @property
    def final(self) -> Epoch | None:
        """The last epoch's record (None when the first epoch did not finish)."""
        return self.history[-1] if self.history else None

    @property
    def seconds_per_update(self) -> float:
        return self.update_seconds / max(1, self.updates)

    @property
    def seconds_per_epoch(self) -> float:
        return sum(e.seconds for e in self.history) / max(1, len(self.history))

    def to_json(self) -> dict[str, Any]:
        final = self.final
        return {
            "task": self.task,
            "model": self.model_spec,
            "loss": self.loss_name,
            "metric": self.metric_name,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()},
            "schedule": self.schedule,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "seed": self.seed,
            "fold": self.fold,
            "train_size": self.train_size,
            "val_size": self.val_size,
            "updates": self.updates,
            "seconds_per_update": self.seconds_per_update,
            "seconds_per_epoch": self.seconds_per_epoch,
            "final": None if final is None else vars(final),
            "history": [vars(e) for e in self.history],
            "stopped": None
            if self.stopped is None
            else {
                "update": self.stopped.update,
                "epoch": self.stopped.epoch,
                "loss": _finite_or_none(self.stopped.loss),
                "reason": self.stopped.reason,
                "verdict": self.stopped.diagnosis.verdict,
                "remedy": self.stopped.diagnosis.remedy,
            },
            "diagnosis": None
            if self.diagnosis is None
            else {"verdict": self.diagnosis.verdict, "remedy": self.diagnosis.remedy},
        }


def split(n: int, validation: float = VALIDATION, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """(training indices, validation indices): a seeded permutation of range(n), the last
    round(validation·n) of it held out. ``validation`` in [0, 1); 0 holds nothing out."""
    ok = is_real(validation) and 0 <= validation < 1
    require(ok, "validation", validation, "a fraction in [0, 1)")
    held = round(validation * n)
    if validation > 0 and held == 0:
        raise ValueError(f"validation={validation} of {n} examples holds out none; use 0 or more")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n - held], order[n - held :]


def make_folds(n: int, k: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """K-fold cross-validation: a seeded permutation of range(n) cut into ``k`` near-equal
    folds; fold i is (every other fold, fold i). ``k`` >= 2 and <= n."""
    k = check_count("folds", k, 2, noun=WHOLE)
    if k > n:
        raise ValueError(f"folds={k} is more than the {n} examples")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    parts = list(order.tensor_split(k))
    return [(torch.cat(parts[:i] + parts[i + 1 :]), parts[i]) for i in range(k)]


def train(
    task: Task | str,
    optimizer: str = "adam",
    *,
    lr: float | None = None,
    options: dict[str, Any] | None = None,
    schedule: Schedule | None = None,
    batch_size: int = BATCH_SIZE,
    epochs: int = EPOCHS,
    validation: float = VALIDATION,
    seed: int = 0,
    indices: tuple[torch.Tensor, torch.Tensor] | None = None,
    fold: int | None = None,
    monitor: bool = False,
    csv: str | Path | None = None,
    tensorboard: str | Path | None = None,
    progress: Callable[[Epoch, int], None] | None = None,
    model: nn.Module | None = None,
) -> Run:
    """Train ``task`` (a Task or a task name with its defaults) with the catalog optimizer
    ``optimizer`` (``lr`` and ``options`` its hyperparameters, ``schedule`` η^t's multiplier)
    for ``epochs`` epochs of batches of ``batch_size``.

    ``seed`` seeds the model's initialization, the split and the shuffling. ``indices``
    (training, validation) replaces the split (:func:`make_folds` gives them); ``model``
    replaces the task's freshly seeded model (trained in place). ``monitor`` attaches a
    :class:`~ravine.diagnose.monitor.Monitor` (``csv`` and ``tensorboard`` are its logs) and
    diagnoses the run at the end. ``progress(epoch_record, epochs)`` is called after each epoch.
    """
    task = build_task(task, seed=seed) if isinstance(task, str) else task
    epochs = check_count("epochs", epochs, noun=WHOLE)
    check_count("batch_size", batch_size, noun=WHOLE)  # named before a bad split is
    train_idx, val_idx = indices if indices is not None else split(task.size, validation, seed)
    batch_size = check_batch_size(batch_size, len(train_idx), task, len(val_idx))
    settings = dict(options or {})
    if lr is not None:
        settings["lr"] = lr
    net = task.model(seed) if model is None else model
    opt = catalog.create(optimizer, net.parameters(), **settings)
    base_lr = float(opt.param_groups[0]["lr"])  # η, before a schedule scales it
    scheduler = Scheduler(opt, schedule) if schedule is not None else None
    per_epoch = bool(getattr(schedule, "metric_driven", False))
    watch = Monitor(net, opt, csv=csv, tensorboard=tensorboard) if monitor else None
    run = Run(
        task=task.name,
        model_spec=task.model_spec,
        loss_name=task.loss_name,
        metric_name=task.metric_name,
        optimizer=optimizer,
        lr=base_lr,
        options={k: v for k, v in settings.items() if k != "lr"},
        schedule=None if schedule is None else schedule.spec,
        batch_size=batch_size,
        epochs=epochs,
        seed=seed,
        train_size=len(train_idx),
        val_size=len(val_idx),
        fold=fold,
        model=net,
        monitor=watch,
    )
    per_update = None if per_epoch else scheduler  # the scheduler stepped after each update
    shuffle = torch.Generator().manual_seed(seed + 1)
    kept = [torch.empty_like(t) for t in _state(net)]  # θ before the update in flight
    try:
        for epoch in range(1, epochs + 1):
            net.train()
            start_epoch = run.update_seconds
            order = train_idx[torch.randperm(len(train_idx), generator=shuffle)]
            batches = order.split(batch_size)
            if not _epoch_of_updates(run, epoch, batches, task, opt, per_update, kept):
                return run
            record = _evaluate(task, net, train_idx, val_idx, epoch, run.updates)
            record.seconds = run.update_seconds - start_epoch
            run.history.append(record)
            if scheduler is not None and per_epoch:
                scheduler.step(
                    record.val_loss if record.val_loss is not None else record.train_loss
                )
            if progress is not None:
                progress(record, epochs)
        if watch is not None and len(watch.history) >= 2:
            run.diagnosis = watch.diagnose(window=default_window(len(watch.history)))
        return run
    finally:
        if watch is not None:
            watch.close()


def check_batch_size(
    batch_size: Any, available: int, task: Task | None = None, held_out: int = 0
) -> int:
    """B, the examples per update: a whole number >= 1 and at most the ``available`` examples
    the batches are cut from — the training examples of ``task``, with ``held_out`` of its
    examples kept for validation, or plain examples without a task."""
    batch_size = check_count("batch_size", batch_size, noun=WHOLE)
    if batch_size > available:
        examples = (
            "examples"
            if task is None
            else f"training examples of task {task.name!r} ({task.size} in all, {held_out} held "
            "out for validation)"
        )
        raise ValueError(f"batch_size {batch_size} is larger than the {available} {examples}")
    return batch_size


def _epoch_of_updates(
    run: Run,
    epoch: int,
    batches: tuple[torch.Tensor, ...],
    task: Task,
    opt: torch.optim.Optimizer,
    scheduler: Scheduler | None,
    kept: list[torch.Tensor],
) -> bool:
    """Epoch ``epoch``'s updates, one per batch of indices, recorded in ``run`` (its model
    trained, its monitor fed, ``scheduler`` stepped after each update when given). On a
    non-finite loss or gradient θ goes back to before that update (``kept``), ``run.stopped``
    says why, and this returns False; True when every batch was used."""
    net, watch = run.model, run.monitor
    for batch in batches:
        started = time.perf_counter()
        torch._foreach_copy_(kept, _state(net))
        value, reason = _update(task, net, opt, batch)
        run.losses.append(value)
        if reason is not None:
            run.update_seconds += time.perf_counter() - started
            torch._foreach_copy_(_state(net), kept)
            run.stopped = Stop(run.updates - 1, epoch, value, reason, _loss_diagnosis(run.losses))
            return False
        if watch is not None:
            watch.step(value)
        if scheduler is not None:
            scheduler.step()
        run.update_seconds += time.perf_counter() - started
    return True


def _update(
    task: Task, net: nn.Module, opt: torch.optim.Optimizer, batch: torch.Tensor
) -> tuple[float, str | None]:
    """One update on the examples ``batch``: L^b, g = ∇L^b, the optimizer's step. Returns L^b
    and, when it or g is not finite (the step then not taken), why."""
    opt.zero_grad()
    loss = task.loss_fn(net(task.inputs[batch]), task.targets[batch])
    value = float(loss.detach())  # the update's one host sync
    if not math.isfinite(value):
        return value, f"the loss is {value}"
    loss.backward()
    try:
        opt.step()
    except NonFiniteGradientError as error:
        return value, str(error)
    return value, None


@dataclass
class CrossValidation:
    """K runs, run i validated on fold i; the mean and spread of their final numbers."""

    runs: list[Run]

    def _finals(self, key: str) -> list[float]:
        values = [getattr(r.final, key) for r in self.runs if r.final is not None]
        return [v for v in values if v is not None]

    def mean(self, key: str) -> float | None:
        """The mean over the folds of ``key`` (``val_loss``, ``val_metric``, …) at the end."""
        values = self._finals(key)
        return float(np.mean(values)) if values else None

    def std(self, key: str) -> float | None:
        values = self._finals(key)
        return float(np.std(values)) if values else None

    def to_json(self) -> dict[str, Any]:
        keys = ("train_loss", "val_loss", "train_metric", "val_metric")
        return {
            "folds": len(self.runs),
            "mean": {k: self.mean(k) for k in keys},
            "std": {k: self.std(k) for k in keys},
            "runs": [r.to_json() for r in self.runs],
        }


def cross_validate(
    task: Task | str,
    optimizer: str = "adam",
    *,
    folds: int = 5,
    each_fold: Callable[[int], dict[str, Any]] | None = None,
    **kwargs: Any,
) -> CrossValidation:
    """K-fold cross-validation: :func:`train` once per fold (same seed, so the same initial θ),
    validated on that fold. ``kwargs`` are :func:`train`'s (``validation`` does not apply);
    ``each_fold(i)`` may add or replace some for fold i (its progress line, its log folder).
    A schedule is copied for each fold, so one that observes the loss starts afresh."""
    seed = kwargs.get("seed", 0)
    task = build_task(task, seed=seed) if isinstance(task, str) else task
    kwargs.pop("validation", None)
    schedule = kwargs.pop("schedule", None)
    runs = []
    for i, part in enumerate(make_folds(task.size, folds, seed)):
        settings = {**kwargs, **(each_fold(i) if each_fold is not None else {})}
        runs.append(
            train(
                task, optimizer, indices=part, fold=i, schedule=copy.deepcopy(schedule), **settings
            )
        )
    return CrossValidation(runs)


def _state(net: nn.Module) -> list[torch.Tensor]:
    """θ and the buffers (BatchNorm's running statistics): what an update changes."""
    return [t.data for t in (*net.parameters(), *net.buffers()) if t.is_floating_point()]


@torch.no_grad()
def _evaluate(
    task: Task,
    net: nn.Module,
    train_idx: torch.Tensor,
    val_idx: torch.Tensor,
    epoch: int,
    updates: int,
) -> Epoch:
    """Loss and metric on the whole training and validation sets, in eval mode."""
    net.eval()
    numbers: list[float | None] = []
    for idx in (train_idx, val_idx):
        if len(idx) == 0:
            numbers += [None, None]
            continue
        outputs, targets = net(task.inputs[idx]), task.targets[idx]
        numbers.append(float(task.loss_fn(outputs, targets)))
        numbers.append(None if task.metric is None else task.metric(outputs, targets))
    net.train()
    train_loss, train_metric, val_loss, val_metric = numbers
    return Epoch(epoch, updates, float(train_loss), val_loss, train_metric, val_metric, 0.0)


def _loss_diagnosis(losses: list[float]) -> Diagnosis:
    """The doctor's verdict on a run that reached a non-finite loss. Only the loss record is
    read on that path (the divergence test), so the gradient columns are left neutral."""
    n = len(losses)
    return diagnose_training(losses, np.zeros(n), np.full(n, np.nan), window=default_window(n))


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
