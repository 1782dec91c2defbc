"""Ctrl-C and SIGTERM as a request to stop cleanly: a long command polls ``stop()`` between
its units of work (an update) instead of dying in the middle of one."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_on_signals() -> Iterator[Any]:
    """A ``stop()`` that turns True on the first SIGINT or SIGTERM (training then stops after
    the update in flight); a second SIGINT raises KeyboardInterrupt at once. The handlers
    before are put back after."""
    asked: list[int] = []

    def handler(number: int, frame: Any) -> None:
        if asked and number == signal.SIGINT:
            raise KeyboardInterrupt
        asked.append(number)

    before = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(asked)
    finally:
        for number, old in before.items():
            signal.signal(number, old)
