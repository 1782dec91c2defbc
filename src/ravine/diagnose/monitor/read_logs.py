"""The doctor's verdict from a run's logs: a Monitor CSV file, a TensorBoard event directory, or
a Lightning ``CSVLogger`` ``metrics.csv``.

A log is read into one series per key the verdict uses — ``loss`` (needed), ``gradient_norm``
(‖g^t‖), ``gradient_cosine`` (cos(g^t, g^{t−1})), ``lr`` (η^t) and ``update_ratio``
(‖Δθ^t‖/‖θ^t‖, evidence only) — indexed by the step of each
loss record. Each key is looked up under the names the loggers give it (:data:`NAMES`: the
Monitor's own, Lightning's ``train_loss`` / ``train_loss_step`` and ``lr-<Optimizer>``, Hugging
Face's ``grad_norm`` and ``learning_rate``; a name ending in ``/<key>`` counts too, as in
``train/loss``), or under the name ``columns={"loss": "my_loss"}`` gives it. A value a row
leaves empty is nan; a step logged on several rows (Lightning writes the epoch's numbers on
rows of their own) takes the last value each key has there.

The verdict is :func:`~.verdict.diagnose_training`'s on what the log holds: with the loss alone
it can tell a divergence and a falling loss, not why a flat loss is flat, and
``Diagnosis.missing`` names what it lacked.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .verdict import Diagnosis, default_window, diagnose_training

KEYS = ("loss", "gradient_norm", "gradient_cosine", "lr", "update_ratio")
NAMES = {
    "step": ("step", "global_step"),
    "loss": ("loss", "train_loss", "train_loss_step", "training_loss", "loss_step"),
    "gradient_norm": ("gradient_norm", "grad_norm", "gradient_norm_step"),
    "gradient_cosine": ("gradient_cosine", "gradient_cosine_step"),
    "lr": ("lr", "learning_rate", "lr-*"),
    "update_ratio": ("update_ratio", "update_ratio_step"),
}
EVENTS = "events.out.tfevents"  # the start of a TensorBoard event file's name


@dataclass
class LoggedRun:
    """What a log holds: its ``format``, the step of each loss record, one array per key of
    :data:`KEYS` found (nan where a step has none) and the log's name of each."""

    path: Path
    format: str
    steps: np.ndarray
    series: dict[str, np.ndarray]
    columns: dict[str, str] = field(default_factory=dict)

    def diagnose(self, window: int | None = None) -> Diagnosis:
        """The verdict on the last ``window`` records (default: the last half, at most 200)."""
        get = self.series.get
        lr = get("lr")
        eta = None
        if lr is not None and np.isfinite(lr).any():
            eta = float(lr[np.isfinite(lr)][-1])  # η of the last step that logged one
        found = diagnose_training(
            self.series["loss"],
            get("gradient_norm"),
            get("gradient_cosine"),
            window=window or default_window(len(self.steps)),
            steps=self.steps,
            lr=eta,
            update_ratio=get("update_ratio"),
        )
        if eta is not None:
            found.evidence.setdefault("lr", eta)
        return found


def read_log(path: str | Path, columns: dict[str, str] | None = None) -> LoggedRun:
    """Read the log at ``path``: a CSV file (the Monitor's, or a Lightning ``metrics.csv``), a
    folder holding one ``metrics.csv``, or a TensorBoard event file or folder (read with
    tensorboard's ``EventAccumulator``). ``columns`` maps a key of :data:`KEYS` (or ``step``)
    to the name the log gives it. ValueError, in one line, on a missing, empty or unreadable
    log, an unknown format or no loss."""
    path, columns = Path(path), dict(columns or {})
    unknown = sorted(set(columns) - {"step", *KEYS})
    if unknown:
        raise ValueError(
            f"--column {unknown[0]}=...: unknown key; the keys are step, {', '.join(KEYS)}"
        )
    if not path.exists():
        raise ValueError(f"log {str(path)!r} does not exist")
    if path.is_dir() and (path / "metrics.csv").is_file():
        path = path / "metrics.csv"
    if path.is_file() and path.suffix.lower() == ".csv":
        return _from_csv(path, columns)
    if path.name.startswith(EVENTS) or path.is_dir():
        return _from_tensorboard(path, columns)
    raise ValueError(
        f"log {str(path)!r}: unknown format; give a .csv file (the Monitor's or Lightning's "
        "metrics.csv) or a TensorBoard event folder"
    )


def _from_csv(path: Path, columns: dict[str, str]) -> LoggedRun:
    """A CSV log: a header of names, one row per record; empty cells are nan."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"log {str(path)!r} cannot be read: {error}") from None
    if not rows or not rows[0]:
        raise ValueError(f"log {str(path)!r} is empty")
    header, rows = rows[0], rows[1:]
    if not rows:
        raise ValueError(f"log {str(path)!r} has a header but no records")
    names = _resolve(header, columns, path)
    table: dict[str, dict[int, float]] = {key: {} for key in names if key != "step"}
    where = {key: header.index(name) for key, name in names.items()}
    for number, row in enumerate(rows, start=2):
        cells = {key: (row[i] if i < len(row) else "") for key, i in where.items()}
        step = _step(cells.get("step", str(number - 2)), path, number, names.get("step"))
        for key, text in cells.items():
            if key != "step" and text.strip() != "":
                table[key][step] = _number(text, path, number, names[key])
    monitor = header[:3] == ["step", "loss", "gradient_norm"]
    kind = "Monitor CSV" if monitor else "CSV (Lightning CSVLogger style)"
    return _aligned(path, kind, table, names)


def _from_tensorboard(path: Path, columns: dict[str, str]) -> LoggedRun:
    """A TensorBoard log: the scalars of the one folder (or file) of event files."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:  # an optional dependency
        raise ValueError(
            "reading a TensorBoard log needs the tensorboard package: pip install tensorboard"
        ) from None
    if path.is_dir():
        folders = sorted({p.parent for p in path.rglob(f"{EVENTS}*") if p.is_file()})
        if not folders:
            raise ValueError(
                f"log {str(path)!r}: no metrics.csv and no TensorBoard event files in it"
            )
        if len(folders) > 1:
            shown = ", ".join(str(f) for f in folders[:3])
            raise ValueError(f"log {str(path)!r} holds several runs; give one of: {shown}")
        path = folders[0]
    try:
        events = EventAccumulator(str(path), size_guidance={"scalars": 0})
        events.Reload()
        tags = list(events.Tags().get("scalars", []))
        values = {tag: {e.step: float(e.value) for e in events.Scalars(tag)} for tag in tags}
    except Exception as error:  # a corrupt event file: tensorboard's errors vary
        raise ValueError(f"log {str(path)!r} cannot be read: {error}") from None
    if not tags:
        raise ValueError(f"log {str(path)!r} has no scalars")
    names = _resolve(tags, {k: v for k, v in columns.items() if k != "step"}, path)
    table = {key: values[name] for key, name in names.items()}
    return _aligned(path, "TensorBoard", table, names)


def _resolve(available: list[str], columns: dict[str, str], path: Path) -> dict[str, str]:
    """The log's name of each key: the one ``columns`` gives, else the first of :data:`NAMES`
    present, else the one name ending in ``/<key>``."""
    found: dict[str, str] = {}
    for key, candidates in NAMES.items():
        if key in columns:
            if columns[key] not in available:
                shown = ", ".join(available[:12])
                raise ValueError(
                    f"log {str(path)!r} has no column {columns[key]!r} for {key}; it has: {shown}"
                )
            found[key] = columns[key]
            continue
        for name in candidates:
            match = [
                a
                for a in available
                if a == name or (name.endswith("*") and a.startswith(name[:-1]))
            ]
            if match:
                found[key] = match[0]
                break
        else:
            ending = [a for a in available if a.endswith(f"/{key}")]
            if len(ending) == 1:
                found[key] = ending[0]
    if "loss" not in found:
        shown = ", ".join(available[:12])
        raise ValueError(
            f"log {str(path)!r} has no loss column (it has: {shown}); name it with "
            "--column loss=NAME"
        )
    return found


def _aligned(path: Path, kind: str, table: dict, names: dict[str, str]) -> LoggedRun:
    """One array per key over the steps where the loss was logged, oldest first."""
    steps = np.array(sorted(table["loss"]), dtype=np.int64)
    if steps.size == 0:
        raise ValueError(f"log {str(path)!r} has no loss values")
    series = {
        key: np.array([values.get(int(s), math.nan) for s in steps], dtype=np.float64)
        for key, values in table.items()
    }
    for key in [k for k in series if k != "loss"]:
        if not np.isfinite(series[key]).any():  # a column with no value at a loss step
            del series[key]
    used = {key: names[key] for key in ("step", *series) if key in names}
    return LoggedRun(path, kind, steps, series, used)


def _step(text: str, path: Path, line: int, column: str | None) -> int:
    """The step of a CSV row: a whole number (``12`` or ``12.0``) within 64 bits, as the step
    numbers are kept."""
    try:
        step = int(text)  # exact, however many digits
    except ValueError:
        value = _number(text, path, line, column)
        if not math.isfinite(value) or value != int(value):
            raise ValueError(
                f"log {str(path)!r}, line {line}: the step {text!r} is not a whole number"
            ) from None
        step = int(value)
    if not -(2**63) <= step < 2**63:
        raise ValueError(
            f"log {str(path)!r}, line {line}: the step {text.strip()!r} is out of range; a "
            "step must be a whole number of magnitude below 2^63"
        )
    return step


def _number(text: str, path: Path, line: int, column: str | None) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"log {str(path)!r}, line {line}: {text!r} in column {column!r} is not a number"
        ) from None
