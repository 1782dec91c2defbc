"""Writing files atomically: a reader finds the old file or the new one, whole, never half of
either (a report being rewritten while a browser reloads it, a run killed mid-write).

The new contents go to a hidden temporary file in the same folder, which is then renamed over
the target (``os.replace``, atomic within one file system). Every file ravine writes goes
through here. A symbolic link is followed (the file it points to is replaced; the link stays a
link); a device or a pipe (``/dev/null``, ``/dev/stdout``, a FIFO) is written straight through,
since renaming a file over it would destroy it. :func:`check_writable` says before the work
starts whether a file could be written where it is to go. Like
:mod:`ravine.validation`, this module imports nothing of ravine: every layer may use it.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any


class WriteError(OSError):
    """``path`` could not be written: the OSError that stopped it, naming the file meant (not
    the temporary file beside it). Its text is one line, ``cannot write 'PATH': REASON``."""

    def __init__(self, path: str | Path, error: OSError):
        super().__init__(error.errno, error.strerror or str(error), str(path))

    def __str__(self) -> str:
        return f"cannot write {self.filename!r}: {self.strerror}"


def replace_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary)`` to write a temporary file beside ``path`` (same suffix, so a
    writer that reads the format off the name still can), then rename it to ``path``. The
    folder is created if missing; on an error the temporary file is removed. A symbolic link at
    ``path`` is followed; a device or pipe there is passed to ``write`` itself. An OSError
    becomes a :class:`WriteError` naming ``path``. Returns ``path``."""
    path = Path(path)
    descriptor = open_descriptor(path)
    if descriptor is not None or written_through(path):
        try:
            if descriptor is None:
                write(path)
            else:
                _write_to_descriptor(descriptor, write, path.suffix)
        except BrokenPipeError:  # the reader went away (| head): not the file's fault
            raise
        except OSError as error:
            raise WriteError(path, error) from error
        return path
    real = Path(os.path.realpath(path))
    temporary = real.with_name(f".{real.stem}.{uuid.uuid4().hex}.tmp{real.suffix}")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        write(temporary)
        os.replace(temporary, real)
    except BaseException as error:
        with suppress(OSError):  # (none was made when the folder could not be)
            temporary.unlink()
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise WriteError(path, error) from error
        raise
    return path


def written_through(path: str | Path) -> bool:
    """Whether :func:`replace_atomically` writes ``path`` straight through: it is (a link
    followed) something other than a regular file or a folder, a device, a pipe, a socket."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing (or a link to nothing): a new file is made
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


_STANDARD_STREAMS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def open_descriptor(path: str | Path) -> int | None:
    """The file descriptor of this process that ``path`` names — /dev/stdout, /dev/stderr,
    /dev/fd/N — or None. Such a path is written through the descriptor itself: opened anew,
    a file that stdout is redirected to (``> out.txt``) would be written from its start, over
    what was printed before, and then printed over; replaced, it would take stdout's rest
    with it."""
    name = os.path.abspath(path)
    if name in _STANDARD_STREAMS:
        return _STANDARD_STREAMS[name]
    number = name.removeprefix("/dev/fd/")
    return int(number) if number != name and number.isdigit() else None


def _write_to_descriptor(descriptor: int, write: Callable[[Path], object], suffix: str) -> None:
    """``write`` into a temporary file, whose bytes then go to ``descriptor`` after whatever
    Python's own streams still hold (flushed first, so the order is kept)."""
    with tempfile.TemporaryDirectory() as folder:
        temporary = Path(folder) / f"written{suffix}"
        write(temporary)
        data = temporary.read_bytes()
    for stream in (sys.stdout, sys.stderr):
        with suppress(AttributeError, ValueError):
            stream.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def write_text(path: str | Path, text: str) -> Path:
    """``text`` as UTF-8 in ``path``, atomically. Returns ``path``."""
    return replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def check_writable(path: str | Path, *, folder: bool = False) -> Path:
    """``path``, a file (with ``folder``, a folder) to be written later, as a Path; refused now
    (ValueError) when nothing could be written there: a folder at a file's name, a regular file
    where a folder is needed, or a folder that takes no new file (no permission, a read-only or
    virtual file system such as /proc). Nothing is left: a probe file is made and removed at
    once in the nearest folder that exists. A device or pipe is checked for write permission."""
    path = Path(path)
    if not folder and open_descriptor(path) is not None:  # this process's own stream
        return path
    if not folder and written_through(path):
        if not os.access(path, os.W_OK):
            raise ValueError(f"cannot write {str(path)!r}: permission denied")
        return path
    if folder:
        nearest = path
    elif os.path.isdir(path):
        raise ValueError(f"{str(path)!r} is a folder, not a file name")
    else:  # a link's file is replaced in the folder of the file it points to
        nearest = Path(os.path.realpath(path)).parent if path.is_symlink() else path.parent
    while not os.path.exists(nearest):  # (the root always does; False where it cannot be seen)
        nearest = nearest.parent
    if not os.path.isdir(nearest):
        raise ValueError(f"{str(nearest)!r} is a file, not a folder")
    probe = nearest / f".ravine-probe.{uuid.uuid4().hex}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        probe.unlink()
    except OSError as error:
        raise ValueError(
            f"cannot write {str(path)!r}: the folder {str(nearest)!r} takes no new file "
            f"({error.strerror}); choose a folder you can write in"
        ) from None
    return path


def write_figure(path: str | Path, figure: Any, kind: str) -> Path:
    """``figure`` (a matplotlib Figure) in ``path`` in the format ``kind`` ("png", "svg",
    "pdf"), atomically. It is drawn in memory first, so a pipe (/dev/stdout) takes it too,
    which a format that seeks back while writing (PNG) could not be written to. Returns
    ``path``."""
    drawn = io.BytesIO()
    figure.savefig(drawn, format=kind)
    return replace_atomically(path, lambda temporary: temporary.write_bytes(drawn.getvalue()))


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
    a live process is refused with a ValueError that names ``what``, the holder — this process
    too, unless ``mine`` — and the lock file to delete if that process is no ravine run.
    Returns ``lock``."""
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
                    f"write elsewhere{_stale(lock)}"
                ) from None
            lock.unlink(missing_ok=True)  # left by a run that was killed
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(str(os.getpid()))
        return lock
    # (reached only when another run took the stale lock between our two tries)
    raise ValueError(f"{what} is in use by another ravine run{_stale(lock)}")


def _stale(lock: Path) -> str:
    """How to clear a lock that no run holds any more (its process id now another program's,
    as after a container's restart): the end of a refusal."""
    return f" (if no ravine run is using it, delete the lock file {str(lock)!r})"


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
