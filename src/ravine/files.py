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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


LOCK = ".ravine-run.lock"


def folder_to_write(folder: str | Path, what: str = "") -> Path:
    """``folder`` as a Path, refused (ValueError) when a regular file stands there: nothing
    could be written in it. ``what`` names it in the message ("output folder"), if given."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        named = f"{what} " if what else ""
        raise ValueError(f"{named}{str(folder)!r} is a file, not a folder")
    return folder


@contextmanager
def claimed_folder(folder: str | Path) -> Iterator[Path]:
    """Hold ``folder`` for one run while the block runs: a second run into the same folder is
    refused (ValueError naming the folder and the process that holds it) instead of the two
    overwriting each other's files. An existing regular file at ``folder`` is refused too.
    See :func:`claim` for how."""
    folder = folder_to_write(folder, "output folder")
    folder.mkdir(parents=True, exist_ok=True)
    lock = claim(folder / LOCK, f"output folder {str(folder)!r}")
    try:
        yield folder
    finally:
        lock.unlink(missing_ok=True)


def claimed_file(path: str | Path) -> Path:
    """Claim ``path`` for one process that writes it bit by bit (a log written row by row,
    which cannot be replaced atomically): a writer in another live process is refused. Within
    this process the claim is granted again: the writers are the program's own to order (and a
    notebook cell run twice makes its new writer before dropping the old one). Returns the lock
    file beside it, ``.<name>.lock``; unlink it to release the claim."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    return claim(path.with_name(f".{path.name}.lock"), f"{str(path)!r}", mine=True)


def claim(lock: Path, what: str, mine: bool = False) -> Path:
    """Make the lock file ``lock`` holding this process's id, with O_EXCL so that only one
    claimant can; one left by a process that no longer runs (killed) is taken over, one held by
    a live process is refused with a ValueError that names ``what`` and the holder — this
    process too, unless ``mine``. Returns ``lock``."""
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _holder(lock)
            if mine and holder == os.getpid():
                return lock
            if holder is not None and _alive(holder):
                raise ValueError(
                    f"{what} is in use by another ravine run (process {holder}); wait for it or "
                    "write elsewhere"
                ) from None
            lock.unlink(missing_ok=True)  # left by a run that was killed
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(str(os.getpid()))
        return lock
    # (reached only when another run took the stale lock between our two tries)
    raise ValueError(f"{what} is in use by another ravine run")


def _holder(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True
