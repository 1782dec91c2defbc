"""Where the Monitor's records go besides memory: a CSV file and TensorBoard.

``Monitor(..., csv=path)`` writes one row per record there, after a header of the record's
keys; ``Monitor(..., tensorboard=logdir)`` writes every number of a record as a TensorBoard
scalar at the record's step (needs ``pip install tensorboard``). Each row is flushed as it is
written, whole, so the file can be read while training runs; a run killed mid-write leaves at
most a cut last row, never a cut earlier one. A log written row by row cannot be replaced
atomically, so the CSV file is claimed instead: a Monitor in another process writing the same
file is refused until the first one's ``close()``; in this process the newer Monitor takes the
file over and the older one stops writing to it (a notebook cell run twice). TensorBoard's
``add_scalar`` costs tens of µs per number: the Monitor's ``log_every`` (and ``layers=False``)
write less often.
"""

from __future__ import annotations

import csv
import io
import math
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ...files import claimed_file

# The log writing each CSV file in this process: a newer one takes the file over.
_WRITERS: weakref.WeakValueDictionary[Path, RecordLog] = weakref.WeakValueDictionary()


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
        self._csv_file = self._claim = self._tensorboard = None
        if csv_path is not None:
            self._claim = claimed_file(csv_path)  # released by close()
            key = Path(csv_path).resolve()
            earlier = _WRITERS.get(key)
            if earlier is not None:  # this process's older log of the same file stops
                earlier._csv_file.close()
                earlier._csv_file = earlier._claim = None
            try:
                self._csv_file = open(csv_path, "w", newline="")  # closed by close()
            except BaseException:
                self._claim.unlink(missing_ok=True)
                raise
            _WRITERS[key] = self
            self._write_rows([self.columns])
        if tensorboard is not None:
            try:
                self._tensorboard = summary_writer(tensorboard, "Monitor(tensorboard=...)")
            except BaseException:
                self.close()
                raise

    def write(self, record: dict[str, float]) -> None:
        """One record: a CSV row, and a TensorBoard scalar per finite number (and the loss,
        finite or not, so that a divergence shows)."""
        if self._csv_file is not None:
            self._write_rows([[record[key] for key in self.columns]])
        if self._tensorboard is not None:
            step = record["step"]
            for key in self.columns[1:]:
                value = record[key]
                if math.isfinite(value) or key == "loss":
                    self._tensorboard.add_scalar(key, value, step)

    def write_csv_rows(self, records: Iterable[dict[str, float]]) -> None:
        """Records written again to the CSV file only (a resumed run: TensorBoard keeps the
        earlier event files in its log directory)."""
        if self._csv_file is not None:
            self._write_rows([record[key] for key in self.columns] for record in records)

    def _write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Rows formatted first, then written with one call and flushed: whole rows reach the
        file, never a row cut by a buffer's edge (unless the process dies inside the call)."""
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        self._csv_file.write(text.getvalue())
        self._csv_file.flush()

    def close(self) -> None:
        """Close the CSV file (and release its claim) and the TensorBoard writer."""
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv_file = None
        if self._claim is not None:
            self._claim.unlink(missing_ok=True)
            self._claim = None
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None


def summary_writer(logdir: str | Path, who: str) -> Any:
    """TensorBoard's SummaryWriter on ``logdir``, or an ImportError that names ``who`` asked for
    it and says how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:  # tensorboard is an optional dependency
        raise ImportError(
            f"{who} needs the tensorboard package, which is not installed: "
            "pip install tensorboard (or pip install 'ravine[tensorboard]')"
        ) from error
    return SummaryWriter(log_dir=str(logdir))
