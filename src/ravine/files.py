"""Writing files atomically: a reader finds the old file or the new one, whole, never half of
either (a report being rewritten while a browser reloads it, a run killed mid-write).

The new contents go to a hidden temporary file in the same folder, which is then renamed over
the target (``os.replace``, atomic within one file system). Every file ravine writes goes
through here. Like :mod:`ravine.validation`, this module imports nothing of ravine: every layer
may use it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary)`` to write a temporary file beside ``path`` (same suffix, so a
    writer that reads the format off the name still can), then rename it to ``path``. The
    folder is created if missing; on an error the temporary file is removed. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """``text`` as UTF-8 in ``path``, atomically. Returns ``path``."""
    return replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
