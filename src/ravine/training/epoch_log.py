"""A run's per-epoch numbers as logs: TensorBoard scalars while it trains, and the epoch table
as CSV text after.

TensorBoard (``train(..., tensorboard=DIR)``): after each epoch, ``epoch/train_loss``,
``epoch/val_loss``, ``epoch/train_<metric>`` and ``epoch/val_<metric>`` (``<metric>`` the
task's metric name in lower-case letters, digits and ``_``: ``accuracy``, ``mae_points``), each
at the step = the updates made so far, the same x as the Monitor's per-update scalars written
in the same folder; a number the run does not have (no validation set, no metric) is not
written.

CSV (:func:`epoch_table`, what ``ravine train --csv FILE`` writes): a header, then one row per
epoch of each run — ``fold`` (from 1, with cross-validation only), ``epoch``, ``updates``,
``train_loss``, ``val_loss``, ``train_<metric>``, ``val_<metric>``, ``seconds`` (the epoch's
update time) — written by the :mod:`csv` module; a number the run does not have is an empty
cell.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..diagnose.monitor.logs import summary_writer


def metric_key(metric_name: str) -> str:
    """The metric's name as a column or tag: ``mae (points)`` → ``mae_points``."""
    return re.sub(r"[^a-z0-9]+", "_", metric_name.lower()).strip("_") or "metric"


def _numbers(record: Any, metric_name: str) -> dict[str, float | None]:
    """An epoch's losses and metrics under their column names."""
    metric = metric_key(metric_name)
    return {
        "train_loss": record.train_loss,
        "val_loss": record.val_loss,
        f"train_{metric}": record.train_metric,
        f"val_{metric}": record.val_metric,
    }


class EpochScalars:
    """A TensorBoard writer on ``logdir`` for the per-epoch numbers (see the module)."""

    def __init__(self, logdir: str | Path, metric_name: str) -> None:
        self.metric_name = metric_name
        self.writer: Any = summary_writer(logdir, "tensorboard=...")

    def write(self, record: Any) -> None:
        """The epoch ``record``'s numbers at step ``record.updates``, flushed."""
        for key, value in _numbers(record, self.metric_name).items():
            if value is not None:
                self.writer.add_scalar(f"epoch/{key}", value, record.updates)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def epoch_table(runs: Sequence[Any], metric_name: str, folds: bool = False) -> str:
    """The CSV text of the epoch records of ``runs`` (:class:`~ravine.training.Run`), one row
    per epoch in run order, with a ``fold`` column when ``folds``; metric columns only when
    some epoch has a metric."""
    records = [(run, record) for run in runs for record in run.history]
    with_metric = any(r.train_metric is not None or r.val_metric is not None for _, r in records)
    metric = metric_key(metric_name)
    keys = ["train_loss", "val_loss"] + (
        [f"train_{metric}", f"val_{metric}"] if with_metric else []
    )
    header = (["fold"] if folds else []) + ["epoch", "updates", *keys, "seconds"]
    text = io.StringIO()
    table = csv.writer(text, lineterminator="\n")
    table.writerow(header)
    for run, record in records:
        numbers = _numbers(record, metric_name)
        row: list[Any] = [run.fold + 1] if folds else []
        row += [record.epoch, record.updates]
        row += ["" if numbers[k] is None else repr(float(numbers[k])) for k in keys]
        row.append(repr(float(record.seconds)))
        table.writerow(row)
    return text.getvalue()
