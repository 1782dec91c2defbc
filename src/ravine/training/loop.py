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

**Checkpoints and interruption.** With ``checkpoint=DIR`` the run writes a checkpoint
(:mod:`.checkpoint`) every ``checkpoint_every`` updates, or at the end of each epoch, and when
``stop()`` (polled after every update: a signal handler's flag) asks it to stop; then it stops
there, cleanly, with :attr:`Run.interrupted` saying where. ``resume=DIR`` continues from that
checkpoint: a run interrupted at any update and resumed ends bit for bit where the run that
never stopped ends (the same θ, optimizer state, losses and Monitor records).
"""

from __future__ import annotations

import logging
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
from . import checkpoint as checkpoints
from .checkpoint import Position
from .epoch_log import EpochScalars

log = logging.getLogger(__name__)

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
    """Why training stopped early: at ``update`` in ``epoch`` (both counted from 1, as
    :class:`Interruption` counts), the batch loss was ``loss`` (non-finite) or the gradient
    was, so that update was refused — the model keeps θ from before it, and ``update`` - 1
    updates were applied; ``diagnosis`` is the doctor's reading of the loss record."""

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
class Interruption:
    """Training was asked to stop (``stop()``, e.g. on Ctrl-C) after ``update`` updates, in
    ``epoch``; ``checkpoint`` is the file written there (None without a checkpoint folder)."""

    update: int
    epoch: int
    checkpoint: Path | None

    def __str__(self) -> str:
        where = f"training stopped after update {self.update} (epoch {self.epoch})"
        if self.checkpoint is None:
            return f"{where}; no checkpoint was asked for, so it cannot be resumed"
        return f"{where}; checkpoint written to {self.checkpoint}"


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
    interrupted: Interruption | None = None
    model: nn.Module | None = field(default=None, repr=False)
    monitor: Monitor | None = field(default=None, repr=False)
    diagnosis: Diagnosis | None = None

    @property
    def updates(self) -> int:
        """The updates applied: an update refused for a non-finite loss or gradient (the last
        of ``losses`` when :attr:`stopped`) is not one."""
        return len(self.losses) - (self.stopped is not None)

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
    each_update: Callable[[int, int, int, float], None] | None = None,
    model: nn.Module | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: str | Path | None = None,
    stop: Callable[[], bool] | None = None,
) -> Run:
    """Train ``task`` (a Task or a task name with its defaults) with the catalog optimizer
    ``optimizer`` (``lr`` and ``options`` its hyperparameters, ``schedule`` η^t's multiplier)
    for ``epochs`` epochs of batches of ``batch_size``.

    ``seed`` seeds the model's initialization, the split and the shuffling. ``indices``
    (training, validation) replaces the split (:func:`make_folds` gives them); ``model``
    replaces the task's freshly seeded model (trained in place). ``monitor`` attaches a
    :class:`~ravine.diagnose.monitor.Monitor` (``csv`` and ``tensorboard`` are its logs) and
    diagnoses the run at the end; ``tensorboard`` also gets the per-epoch losses and metrics
    (:mod:`.epoch_log`). ``progress(epoch_record, epochs)`` is called after each epoch,
    ``each_update(epoch, batch, batches, loss)`` after each update (``batch`` of the epoch's
    ``batches``, from 1; ``loss`` the batch's L^b).

    ``checkpoint`` is a folder to write checkpoints in, every ``checkpoint_every`` updates
    (default: at the end of each epoch) and when ``stop()`` returns True (polled after each
    update; the run then stops there and :attr:`Run.interrupted` says where). ``resume`` is a
    folder whose checkpoint this run continues; it must be of the same settings (ValueError
    naming what differs otherwise, and for an unreadable file), and ``epochs`` may be more than
    the saved run's.
    """
    task = build_task(task, seed=seed) if isinstance(task, str) else task
    epochs = check_count("epochs", epochs, noun=WHOLE)
    if checkpoint_every is not None:
        check_count("checkpoint_every", checkpoint_every, noun=WHOLE)
    if checkpoint is not None:
        checkpoint = checkpoints.check_folder(checkpoint)
    check_count("batch_size", batch_size, noun=WHOLE)  # named before a bad split is
    train_idx, val_idx = indices if indices is not None else split(task.size, validation, seed)
    batch_size = check_batch_size(batch_size, len(train_idx), task, len(val_idx))
    settings = dict(options or {})
    if lr is not None:
        settings["lr"] = lr
    net = task.model(seed) if model is None else model
    check_batch_norm(net, batch_size, len(train_idx))
    opt = catalog.create(optimizer, net.parameters(), **settings)
    base_lr = float(opt.param_groups[0]["lr"])  # η, before a schedule scales it
    scheduler = Scheduler(opt, schedule) if schedule is not None else None
    per_epoch = bool(getattr(schedule, "metric_driven", False))
    watch = Monitor(net, opt, csv=csv, tensorboard=tensorboard) if monitor else None
    scalars = None if tensorboard is None else EpochScalars(tensorboard, task.metric_name)
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
    position = Position()
    if resume is not None:
        saved = checkpoints.load(resume, _identity(run))
        checkpoints.check_epochs(resume, saved, epochs)
        position = _restore(saved, run, opt, scheduler, shuffle)
        where = (position.epoch, position.batch + 1)
        log.info(
            "resumed from %s after update %d (epoch %d, next batch %d)", resume, run.updates, *where
        )
    keeper = _Keeper(checkpoint, checkpoint_every, stop, run, opt, scheduler, shuffle, each_update)
    try:
        for epoch in range(position.epoch, epochs + 1):
            net.train()
            start_epoch = run.update_seconds
            resuming = epoch == position.epoch and position.order is not None
            order = position.order if resuming else _draw_order(train_idx, shuffle)
            first = position.batch if resuming else 0
            if not _epoch_of_updates(run, epoch, order, first, task, opt, per_update, kept, keeper):
                return run
            record = _evaluate(task, net, train_idx, val_idx, epoch, run.updates)
            record.seconds = run.update_seconds - start_epoch
            run.history.append(record)
            if scalars is not None:
                scalars.write(record)
            if scheduler is not None and per_epoch:
                scheduler.step(
                    record.val_loss if record.val_loss is not None else record.train_loss
                )
            keeper.after_epoch(epoch)
            if progress is not None:
                progress(record, epochs)
        if watch is not None and len(watch.history) >= 2:
            run.diagnosis = watch.diagnose(window=default_window(len(watch.history)))
        return run
    finally:
        if watch is not None:
            watch.close()
        if scalars is not None:
            scalars.close()


def _draw_order(train_idx: torch.Tensor, shuffle: torch.Generator) -> torch.Tensor:
    """The epoch's order of the training examples, drawn from the shuffling generator."""
    return train_idx[torch.randperm(len(train_idx), generator=shuffle)]


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


def check_batch_norm(model: nn.Module, batch_size: int, available: int, last: bool = True) -> None:
    """A model with BatchNorm normalizes each batch by its own mean and variance while
    training, which one example cannot give: ValueError, before any update, when a batch of
    ``batch_size`` — or, with ``last``, the last batch of an epoch of ``available`` examples —
    would hold a single example. Nothing to check for a model without BatchNorm."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    if batch_size == 1:
        cause = "batch_size 1 gives batches of 1 example"
    elif last and available % batch_size == 1:
        full = available // batch_size
        cause = (
            f"batch_size {batch_size} leaves a last batch of 1 example "
            f"({available} = {full}·{batch_size} + 1)"
        )
    else:
        return
    fits = [b for b in range(2, available + 1) if not (last and available % b == 1)]
    nearest = min(fits, key=lambda b: (abs(b - batch_size), -b), default=None)
    advice = "" if nearest is None else f" (e.g. {nearest})"
    raise ValueError(
        f"{cause}; BatchNorm needs at least 2 examples per batch in training: choose another "
        f"--batch-size{advice}"
    )


def _epoch_of_updates(
    run: Run,
    epoch: int,
    order: torch.Tensor,
    first: int,
    task: Task,
    opt: torch.optim.Optimizer,
    scheduler: Scheduler | None,
    kept: list[torch.Tensor],
    keeper: _Keeper,
) -> bool:
    """Epoch ``epoch``'s updates, one per batch of ``order`` from batch ``first`` on, recorded
    in ``run`` (its model trained, its monitor fed, ``scheduler`` stepped after each update
    when given). On a non-finite loss or gradient θ goes back to before that update (``kept``),
    ``run.stopped`` says why, and this returns False; False too when the keeper stops the run
    (``run.interrupted``); True when every batch was used."""
    net, watch = run.model, run.monitor
    batches = order.split(run.batch_size)
    state = _state(net)  # the same tensors all epoch: gathered once, not at every update
    for index in range(first, len(batches)):
        started = time.perf_counter()
        torch._foreach_copy_(kept, state)
        value, reason = _update(task, net, opt, batches[index])
        run.losses.append(value)
        if reason is not None:
            run.update_seconds += time.perf_counter() - started
            torch._foreach_copy_(state, kept)
            refused = len(run.losses)  # counted from 1: the update whose loss was just appended
            run.stopped = Stop(refused, epoch, value, reason, _loss_diagnosis(run.losses))
            return False
        if watch is not None:
            watch.step(value)
        if scheduler is not None:
            scheduler.step()
        run.update_seconds += time.perf_counter() - started
        if keeper.each_update is not None:
            keeper.each_update(epoch, index + 1, len(batches), value)
        if not keeper.after_update(Position(epoch, index + 1, order)):
            return False
    return True


@dataclass
class _Keeper:
    """What happens between updates: when a run writes its checkpoint (into ``folder``: every
    ``every`` updates, else at the end of each epoch), whether it stops (``stop()``, polled
    after each update), and the caller's ``each_update`` (its progress)."""

    folder: Path | None
    every: int | None
    stop: Callable[[], bool] | None
    run: Run
    opt: torch.optim.Optimizer
    scheduler: Scheduler | None
    shuffle: torch.Generator
    each_update: Callable[[int, int, int, float], None] | None = None

    def after_update(self, position: Position) -> bool:
        """Save when due; False (the run stops, ``run.interrupted`` set) when asked to stop."""
        due = self.every is not None and self.run.updates % self.every == 0
        if self.folder is not None and due:
            self.save(position)
        if self.stop is None or not self.stop():
            return True
        path = self.save(position) if self.folder is not None else None
        self.run.interrupted = Interruption(self.run.updates, position.epoch, path)
        return False

    def after_epoch(self, epoch: int) -> None:
        """At the end of ``epoch`` (evaluated, the epoch's schedule step taken): save when
        checkpoints are written per epoch."""
        if self.folder is not None and self.every is None:
            self.save(Position(epoch + 1))

    def save(self, position: Position) -> Path:
        run = self.run
        states = {
            "model": run.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "monitor": None if run.monitor is None else run.monitor.state_dict(),
        }
        record = {
            "losses": list(run.losses),
            "history": [vars(e) for e in run.history],
            "update_seconds": run.update_seconds,
        }
        contents = checkpoints.contents_of(_identity(run), position, states, self.shuffle, record)
        path = checkpoints.save(self.folder, contents)
        log.debug("checkpoint after update %d written to %s", run.updates, path)
        return path


def _identity(run: Run) -> dict[str, Any]:
    """What a checkpoint must share with the run that resumes from it."""
    return {
        "task": run.task,
        "model": run.model_spec,
        "loss": run.loss_name,
        "optimizer": run.optimizer,
        "lr": run.lr,
        "options": dict(run.options),
        "schedule": run.schedule,
        "batch_size": run.batch_size,
        "seed": run.seed,
        "train_size": run.train_size,
        "val_size": run.val_size,
        "fold": run.fold,
        "monitor": run.monitor is not None,
    }


def _restore(
    saved: dict[str, Any],
    run: Run,
    opt: torch.optim.Optimizer,
    scheduler: Scheduler | None,
    shuffle: torch.Generator,
) -> Position:
    """Load a checked checkpoint into the freshly built run; returns where it goes on."""
    states = saved["states"]
    run.model.load_state_dict(states["model"])
    opt.load_state_dict(states["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(states["scheduler"])
    if run.monitor is not None:
        run.monitor.load_state_dict(states["monitor"])
    shuffle.set_state(saved["shuffle"])
    torch.set_rng_state(saved["rng"])
    record = saved["record"]
    run.losses = list(record["losses"])
    run.history = [Epoch(**e) for e in record["history"]]
    run.update_seconds = float(record["update_seconds"])
    return checkpoints.position_of(saved)


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
