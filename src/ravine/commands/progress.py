"""Progress on stderr while a command runs: one plain line per experiment, update or epoch, as
readable in a log as on a terminal (no cursor tricks), each starting with the same bar of
``BAR_WIDTH`` marks: ``[########------------]`` or ``[########            ]``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

BAR_WIDTH = 20


def bar(done: int, total: int, empty: str = " ") -> str:
    """``[###…   ]``: ``done``/``total`` of :data:`BAR_WIDTH` marks filled, the rest ``empty``."""
    filled = BAR_WIDTH * done // max(total, 1)
    return "[" + ("#" * filled).ljust(BAR_WIDTH, empty) + "]"


class ExperimentBar:
    """``progress`` for :func:`ravine.experiments.run_all`: one line per experiment,
    ``[########------------] 4/10  running rmsprop  (12.3 s)``, the seconds since it was made."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()

    def __call__(self, name: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.start
        what = f"running {name}" if name else "done"
        line = f"{bar(done, total, '-')} {done}/{total}  {what}  ({elapsed:.1f} s)"
        print(line, file=self.stream, flush=True)


def step_line(steps: int) -> Callable[[int, int, float], None]:
    """``progress`` for the doctor's run: ``[######              ] step 150/500  loss 0.31``
    about every 1/20 of ``steps`` updates, at the last one and whenever the loss is nan."""
    every = max(1, steps // 20)

    def progress(step: int, total: int, loss: float) -> None:
        if step % every == 0 or step == total or loss != loss:
            line = f"{bar(step, total)} step {step}/{total}  loss {loss:.6g}"
            print(line, file=sys.stderr, flush=True)

    return progress


def epoch_line(metric_name: str, start: float, fold: str = "") -> Callable[[Any, int], None]:
    """``progress`` for :func:`ravine.training.train`: one line per epoch, ``[######    …]
    epoch 6/20  train loss 0.31  val loss 0.35  val accuracy 0.91  (1.2 s)``, the seconds
    since ``start`` (a :func:`time.perf_counter` reading); ``fold`` prefixes the epoch
    (``fold 2/5  ``)."""

    def progress(record: Any, epochs: int) -> None:
        parts = [f"{bar(record.epoch, epochs)} {fold}epoch {record.epoch}/{epochs}"]
        parts.append(f"train loss {record.train_loss:.4g}")
        if record.val_loss is not None:
            parts.append(f"val loss {record.val_loss:.4g}")
        if record.val_metric is not None:
            parts.append(f"val {metric_name} {record.val_metric:.4g}")
        elif record.train_metric is not None:
            parts.append(f"train {metric_name} {record.train_metric:.4g}")
        parts.append(f"({time.perf_counter() - start:.1f} s)")
        print("  ".join(parts), file=sys.stderr, flush=True)

    return progress
