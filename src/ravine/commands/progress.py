"""What a command says on stderr while it runs: progress and diagnostics, the way a terminal and
a log each want them. Results (tables, JSON, verdicts) go to stdout, not here.

**Progress.** On a terminal (stderr a TTY) a ``tqdm`` bar shows the work in flight: the
batches of the epoch for ``train``, the steps for ``doctor``, ``lr-find``, ``sweep`` and
``critical``, the experiments for ``reproduce``. In a log (stderr a file, a pipe, CI) no bar
is drawn — its redrawn lines would fill the file — and the progress is written as plain lines
through :mod:`logging` instead: one per epoch of ``train``, one per experiment of
``reproduce``, about one per 5% of the doctor's steps (at INFO), and about one per 10% of the
steps of ``lr-find``, ``sweep`` and ``critical``, which take seconds (at DEBUG: shown with
``-v``). ``train``'s epoch line carries the epoch's numbers, so it is written on a terminal too,
above the bar.

**Diagnostics** (a run that stopped early, an interruption, a Python warning) are log
records at WARNING; ``-q`` leaves only those and the errors (no bars, no progress lines), ``-v``
adds the DEBUG records. :func:`configure_logging` sets this up for the ``ravine`` command; the
library itself only logs to ``logging.getLogger(__name__)`` and never configures a handler.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from .shown import four_digits

log = logging.getLogger(__name__)

FORMAT = "ravine: %(message)s"


class _Handler(logging.Handler):
    """Writes a record as one line on the current ``sys.stderr`` through ``tqdm.write``, so a
    line written while a bar is drawn lands above the bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


@contextmanager
def configure_logging(verbose: bool = False, quiet: bool = False) -> Iterator[None]:
    """For the span of one command: the ``ravine`` loggers write to stderr as ``ravine:
    message``, at DEBUG with ``verbose``, WARNING with ``quiet``, else INFO, and a Python
    warning becomes one such line at WARNING (``ravine: UserWarning: …``, not the file, line
    and source that :mod:`warnings` prints). All is put back as it was after, so
    ``ravine.cli.main`` may be called many times in one process."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = _Handler()
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger("ravine")
    before = (root.level, root.propagate, warnings.showwarning)
    root.addHandler(handler)
    root.propagate = False  # one line per record, whatever the root logger does
    root.setLevel(level)
    warnings.showwarning = _warning_line
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(before[0])  # setLevel, not .level =: it clears the loggers' caches
        root.propagate, warnings.showwarning = before[1:]


def _warning_line(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> None:
    """``warnings.showwarning`` while a command runs: the warning as one log line."""
    log.warning("%s: %s", category.__name__, message)


def bars_shown() -> bool:
    """Whether a bar is drawn: stderr is a terminal and progress is not silenced (``-q``)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty()) and log.isEnabledFor(logging.INFO)


def numbers_text(numbers: dict[str, float]) -> str:
    """``loss 0.31  η 0.001``: each number with 6 significant digits."""
    return "  ".join(f"{name} {value:.6g}" for name, value in numbers.items())


class Progress:
    """Progress through ``total`` units (``unit``: "step", "update"): a bar on a terminal,
    else about ``lines`` log lines at ``level``, ``step 150/500  loss 0.31``, at every
    ``total // lines``-th unit, the last one, and whenever a number shown is nan.

    ``advance(done, **numbers)`` says that ``done`` units are done, with the numbers to show
    (``loss=0.31``); the bar ends when all are done, or at ``close()`` (a context manager
    closes it too)."""

    def __init__(
        self,
        total: int,
        unit: str = "step",
        *,
        description: str | None = None,
        level: int = logging.INFO,
        lines: int = 20,
    ) -> None:
        self.total, self.unit, self.level = total, unit, level
        self.every = max(1, total // lines)
        self.prefix = "" if description is None else f"{description}  "
        self.drawn = bars_shown()  # a bar, never lines; else lines, never a bar
        self.bar: Any = None
        if self.drawn:
            self.bar = tqdm(total=total, desc=description, unit=unit, file=sys.stderr, leave=False)

    def advance(self, done: int, **numbers: float) -> None:
        if self.drawn:
            if self.bar is None:  # closed
                return
            if numbers:
                self.bar.set_postfix(numbers, refresh=False)
            self.bar.update(done - self.bar.n)
            if done >= self.total:
                self.close()
            return
        nan = any(math.isnan(v) for v in numbers.values())
        if (done % self.every == 0 or done == self.total or nan) and log.isEnabledFor(self.level):
            shown = f"{self.prefix}{self.unit} {done}/{self.total}"
            log.log(self.level, "  ".join([shown, numbers_text(numbers)]).rstrip())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def counted(
    unit: str = "step", *, level: int = logging.INFO, lines: int = 20
) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` for a function that says its total as it goes (a sweep's
    chunks, the critical point's phases): its :class:`Progress` is made at the first call and
    closed when the block ends, however it ends."""
    shown: list[Progress] = []

    def progress(done: int, total: int) -> None:
        if not shown:
            shown.append(Progress(total, unit, level=level, lines=lines))
        shown[0].advance(done)

    try:
        yield progress
    finally:
        for one in shown:
            one.close()


def step_line(steps: int) -> Callable[[int, int, float], None]:
    """``progress(step, total, loss)`` for the doctor's run: a bar over the ``steps``, or in a
    log ``step 150/500  loss 0.31`` about every 1/20 of them, at the last one and whenever
    the loss is nan."""
    shown = Progress(steps)
    return lambda step, total, loss: shown.advance(step, loss=loss)


class ExperimentProgress:
    """``progress`` for :func:`ravine.experiments.run_all`: a bar over the experiments on a
    terminal; in a log one line each, ``4/10  running rmsprop  (12.3 s)`` (the seconds since
    this was made), and ``10/10  done  (80.2 s)`` at the end."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.bar: Any = None

    def __call__(self, name: str, done: int, total: int) -> None:
        what = f"running {name}" if name else "done"
        if not bars_shown():
            log.info("%d/%d  %s  (%.1f s)", done, total, what, time.perf_counter() - self.start)
        elif self.bar is None:
            self.bar = tqdm(
                total=total,
                initial=done,
                desc=what,
                unit="experiment",
                file=sys.stderr,
                leave=False,
            )
        else:
            self.bar.set_description_str(what, refresh=False)
            self.bar.update(done - self.bar.n)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EpochProgress:
    """The progress of :func:`ravine.training.train`: ``update(epoch, batch, batches, loss)``
    after each update moves the bar over the epoch's batches (a terminal only), and
    ``epoch(record, epochs)`` after each epoch writes its line at INFO, ``fold 2/5  epoch
    6/20  train loss 0.31  val loss 0.35  val accuracy 0.91  (1.2 s)``: the seconds since
    ``start`` (a :func:`time.perf_counter` reading), ``fold`` its prefix."""

    def __init__(self, metric_name: str, start: float, epochs: int, fold: str = "") -> None:
        self.metric_name, self.start, self.epochs, self.fold = metric_name, start, epochs, fold
        self.bar: Progress | None = None
        self.bar_epoch = 0
        self.shown = bars_shown()

    def update(self, epoch: int, batch: int, batches: int, loss: float) -> None:
        if not self.shown:
            return
        if self.bar is None or self.bar_epoch != epoch:
            self.close()
            description = f"{self.fold}epoch {epoch}/{self.epochs}"
            self.bar = Progress(batches, "batch", description=description)
            self.bar_epoch = epoch
        self.bar.advance(batch, loss=loss)

    def epoch(self, record: Any, epochs: int) -> None:
        self.close()
        parts = [f"{self.fold}epoch {record.epoch}/{epochs}"]
        parts.append(f"train loss {four_digits(record.train_loss)}")
        if record.val_loss is not None:
            parts.append(f"val loss {four_digits(record.val_loss)}")
        if record.val_metric is not None:
            parts.append(f"val {self.metric_name} {four_digits(record.val_metric)}")
        elif record.train_metric is not None:
            parts.append(f"train {self.metric_name} {four_digits(record.train_metric)}")
        parts.append(f"({time.perf_counter() - self.start:.1f} s)")
        log.info("  ".join(parts))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
