"""Where the Monitor's records go besides memory: a CSV file and TensorBoard.

``Monitor(..., csv=path)`` writes one row per record there, after a header of the record's
keys; ``Monitor(..., tensorboard=logdir)`` writes every number of a record as a TensorBoard
scalar at the record's step (needs ``pip install tensorboard``). Each row is flushed as it is
written, so the file can be read while training runs. TensorBoard's ``add_scalar`` costs tens
of µs per number: the Monitor's ``log_every`` (and ``layers=False``) write less often.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


class RecordLog:
    """The open log files of one Monitor: a CSV file, a TensorBoard writer, either or none.

    Args:
        columns: the record's keys, in order: the CSV header and the order of each row; the
            first is the step, which TensorBoard takes as its x axis.
        csv_path: where to write the CSV file (begun anew), or None.
        tensorboard: a TensorBoard log directory, or None.
    """

    def __init__(
        self,
        columns: Sequence[str],
        csv_path: str | Path | None = None,
        tensorboard: str | Path | None = None,
    ) -> None:
        self.columns = list(columns)
        self._csv_file = self._csv_writer = self._tensorboard = None
        if csv_path is not None:
            self._csv_file = open(csv_path, "w", newline="")  # closed by close()
            self._csv_writer = csv.writer(self._csv_file)
            self._csv_writer.writerow(self.columns)
            self._csv_file.flush()
        if tensorboard is not None:
            self._tensorboard = _summary_writer(tensorboard)

    def write(self, record: dict[str, float]) -> None:
        """One record: a CSV row, and a TensorBoard scalar per finite number (and the loss,
        finite or not, so that a divergence shows)."""
        if self._csv_writer is not None:
            self._csv_writer.writerow([record[key] for key in self.columns])
            self._csv_file.flush()
        if self._tensorboard is not None:
            step = record["step"]
            for key in self.columns[1:]:
                value = record[key]
                if math.isfinite(value) or key == "loss":
                    self._tensorboard.add_scalar(key, value, step)

    def write_csv_rows(self, records: Iterable[dict[str, float]]) -> None:
        """Records written again to the CSV file only (a resumed run: TensorBoard keeps the
        earlier event files in its log directory)."""
        if self._csv_writer is None:
            return
        for record in records:
            self._csv_writer.writerow([record[key] for key in self.columns])
        self._csv_file.flush()

    def close(self) -> None:
        """Close the CSV file and the TensorBoard writer."""
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv_file = self._csv_writer = None
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None


def _summary_writer(logdir: str | Path) -> Any:
    """TensorBoard's SummaryWriter on ``logdir``, or an ImportError that says how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:  # tensorboard is an optional dependency
        raise ImportError(
            "Monitor(tensorboard=...) needs the tensorboard package, which is not installed: "
            "pip install tensorboard (or pip install 'ravine[tensorboard]')"
        ) from error
    return SummaryWriter(log_dir=str(logdir))
