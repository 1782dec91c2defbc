"""What ``ravine train`` prints: the setting, the final numbers of one run or a table of folds
with their mean ± std, the cost per update and per epoch, the Monitor's reading, and where the
logs and plots went. Formatting only: the run is made in :mod:`.train`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .. import tasks
from .shown import four_digits

if TYPE_CHECKING:
    from ..training import Run


def setting(task: tasks.Task, args: argparse.Namespace, first: Run) -> tuple[str, str]:
    """What was trained (task, model, loss) and how (optimizer, the η it used, schedule,
    batch, epochs)."""
    what = f"{task.name}: {task.model_spec}, loss {task.loss_name}"
    schedule = "" if first.schedule is None else f" × {first.schedule}"
    how = f"{args.optimizer} η = {first.lr:g}{schedule}, batch {args.batch_size}, "
    how += f"{args.epochs} epoch" + ("" if args.epochs == 1 else "s")
    return what, how


def shown(value: float | None, spread: float | None = None) -> str:
    """A final number as printed: 4 significant digits, zeros kept (2.000 beside 1.992, not 2),
    "n/a" when there is none."""
    if value is None:
        return "n/a"
    digits = four_digits(value)
    return digits if spread is None else f"{digits} ± {spread:.2g}"


def duration(seconds: float) -> str:
    """Seconds as printed: milliseconds below one second, 3 significant digits."""
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def text(task: tasks.Task, runs: list[Run], args: argparse.Namespace, plots: list[Path]) -> str:
    """The final numbers (one run's, or a table of folds with their mean ± std), the cost per
    update and per epoch, the Monitor's diagnosis and where the logs and plots went."""
    first = runs[0]
    lines = [", ".join(setting(task, args, first))]
    lines += run_lines(task, first) if args.folds is None else fold_lines(task, runs, args.folds)
    updates = sum(one.updates for one in runs)
    epochs = sum(len(one.history) for one in runs)
    per_update = sum(one.update_seconds for one in runs) / max(1, updates)
    per_epoch = sum(sum(e.seconds for e in one.history) for one in runs) / max(1, epochs)
    each = "" if args.folds is None else " in all folds"
    per = -(-first.train_size // args.batch_size)  # ⌈examples / B⌉
    lines.append(f"  updates      {updates}{each} ({per} per epoch)")
    lines.append(
        f"  time         {duration(per_update)} per update, {duration(per_epoch)} per epoch"
    )
    for one in runs:
        if one.diagnosis is not None and args.monitor:
            where = "" if one.fold is None else f" (fold {one.fold + 1})"
            kind = f" ({one.diagnosis.kind})" if one.diagnosis.kind else ""
            lines.append(f"  monitor{where}: {one.diagnosis.verdict}{kind}")
            lines.append(f"    remedy: {one.diagnosis.remedy}")
    if args.tensorboard is not None:
        lines.append(f"  tensorboard  {args.tensorboard}")
    if plots:
        lines.append(f"  plots        {', '.join(str(p) for p in plots)}")
    return "\n".join(lines)


def run_lines(task: tasks.Task, one: Run) -> list[str]:
    """One run's examples, final training (and validation) loss and metric, and where it
    stopped."""
    final = one.final
    train_loss, val_loss, train_metric, val_metric = (
        (None,) * 4
        if final is None
        else (final.train_loss, final.val_loss, final.train_metric, final.val_metric)
    )

    def with_metric(value: float | None) -> str:
        return "" if task.metric is None else f"   {task.metric_name} {shown(value)}"

    lines = [f"  examples     {one.train_size} training, {one.val_size} validation"]
    lines.append(f"  train loss   {shown(train_loss)}{with_metric(train_metric)}")
    if one.val_size:
        lines.append(f"  val loss     {shown(val_loss)}{with_metric(val_metric)}")
    if one.stopped is not None:
        after = "" if final is None else f"; the numbers above are after epoch {final.epoch}"
        lines.append(
            f"  stopped      at update {one.stopped.update} in epoch "
            f"{one.stopped.epoch} ({one.stopped.reason}), not applied{after}"
        )
    return lines


def fold_lines(task: tasks.Task, runs: list[Run], folds: int) -> list[str]:
    """A table: one row per fold (its final losses and metrics), then their mean ± std."""
    from ..training import CrossValidation

    keys = ["train_loss", "val_loss"]
    header = ["fold", "train loss", "val loss"]
    if task.metric is not None:
        keys += ["train_metric", "val_metric"]
        header += [f"train {task.metric_name}", f"val {task.metric_name}"]
    rows = [header]
    for one in runs:
        values = [None if one.final is None else getattr(one.final, key) for key in keys]
        label = f"{one.fold + 1}" + ("" if one.stopped is None else " stopped")
        rows.append([label, *(shown(v) for v in values)])
    spread = CrossValidation(runs)
    rows.append(["mean ± std", *(shown(spread.mean(k), spread.std(k)) for k in keys)])
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines = [f"  {folds}-fold cross-validation of {task.size} examples"]
    for row in rows:
        cells = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        lines.append("  " + cells.rstrip())
    return lines
