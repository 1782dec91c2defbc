"""Writing files: atomic replacement, and one run per output folder."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ravine.files import (
    LOCK,
    WriteError,
    check_writable,
    claimed_file,
    claimed_folder,
    replace_atomically,
    write_figure,
    write_text,
)

# /proc takes no new file, even from root: a folder nothing can be written in, on Linux
PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")


def open_pipe(folder):
    """A FIFO in ``folder`` and a reading end opened on it already (without waiting for a
    writer), so that a writer's open does not wait; the FIFO and a function that reads what
    was written once the writer has closed it."""
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    reading = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)

    def read():
        chunks = []
        while chunk := os.read(reading, 1 << 16):
            chunks.append(chunk)
        os.close(reading)
        return b"".join(chunks)

    return fifo, read


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_text(tmp_path / "report.html", "old")

    def fail(temporary):
        temporary.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(target, fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_link_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = write_text(tmp_path / "real" / "epochs.csv", "old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["epochs.csv"]


def test_a_pipe_is_written_through_not_replaced(tmp_path):
    fifo, read = open_pipe(tmp_path)
    write_text(fifo, "row\n")
    assert read() == b"row\n"
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe, not a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_a_pipe_whose_reader_went_away_is_no_write_error(tmp_path):
    fifo, read = open_pipe(tmp_path)

    def reader_gone(path):
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):  # left for the command line to end quietly
        replace_atomically(fifo, reader_gone)
    read()


def test_a_figure_goes_into_a_pipe_whole(tmp_path):
    import matplotlib.pyplot as plt

    fifo, read = open_pipe(tmp_path)
    fig = plt.figure(figsize=(1, 1), dpi=50)  # (small: all of it fits in the pipe's buffer)
    write_figure(fifo, fig, "png")  # PNG cannot be written to an unseekable file directly
    plt.close(fig)
    assert read().startswith(b"\x89PNG")


@PROC
def test_a_failed_write_names_the_file_meant_not_the_temporary():
    with pytest.raises(WriteError) as raised:
        write_text("/proc/ravine-test.csv", "x")
    assert str(raised.value).startswith("cannot write '/proc/ravine-test.csv': ")
    assert isinstance(raised.value, OSError) and raised.value.errno is not None


@PROC
@pytest.mark.parametrize("path", ["/proc/ravine-test.csv", "/proc/ravine-test/new/x.png"])
def test_a_file_where_nothing_can_be_written_is_refused_before(path):
    with pytest.raises(
        ValueError, match=re.escape(f"cannot write '{path}': the folder '/proc' takes no")
    ):
        check_writable(path)


@PROC
def test_a_folder_where_nothing_can_be_written_is_refused_before():
    with pytest.raises(ValueError, match="the folder '/proc' takes no new file"):
        check_writable("/proc/ravine-test", folder=True)


def test_a_place_that_can_be_written_is_accepted_and_left_as_it_was(tmp_path):
    assert check_writable(tmp_path / "new" / "deeper" / "x.csv") == tmp_path / "new/deeper/x.csv"
    assert check_writable(tmp_path / "out", folder=True) == tmp_path / "out"
    assert check_writable(os.devnull) == Path(os.devnull)  # a device: written straight through
    assert list(tmp_path.iterdir()) == []  # no folder made, no probe left


def test_a_file_name_that_cannot_be_a_file_is_refused(tmp_path):
    (tmp_path / "table.csv").write_text("x")
    with pytest.raises(ValueError, match="is a folder, not a file name"):
        check_writable(tmp_path)
    with pytest.raises(ValueError, match=r"table\.csv' is a file, not a folder"):
        check_writable(tmp_path / "table.csv" / "x.png")
    with pytest.raises(ValueError, match=r"table\.csv' is a file, not a folder"):
        check_writable(tmp_path / "table.csv", folder=True)


def test_a_second_run_into_a_held_folder_is_refused(tmp_path):
    with claimed_folder(tmp_path / "out") as folder:
        assert (folder / LOCK).read_text() == str(os.getpid())
        with pytest.raises(ValueError, match=r"is in use by another ravine run \(process \d+\)"):
            with claimed_folder(folder):
                pass
    assert not (tmp_path / "out" / LOCK).exists()  # released
    with claimed_folder(tmp_path / "out"):
        pass


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    (tmp_path / LOCK).write_text(dead.stdout.strip())
    with claimed_folder(tmp_path):
        assert (tmp_path / LOCK).read_text() == str(os.getpid())


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        with claimed_folder(tmp_path / "out"):
            pass


def test_a_file_written_row_by_row_is_claimed_against_other_processes(tmp_path):
    log = tmp_path / "run.csv"
    lock = claimed_file(log)
    assert lock == tmp_path / ".run.csv.lock" and lock.read_text() == str(os.getpid())
    assert claimed_file(log) == lock  # this process again: granted
    lock.write_text(str(os.getppid()))  # another live process holds it
    with pytest.raises(ValueError, match=r"run.csv' is in use by another ravine run \(process"):
        claimed_file(log)
    lock.write_text("999999999")  # a process that does not run
    assert claimed_file(log).read_text() == str(os.getpid())
    with pytest.raises(ValueError, match="is a folder, not a file"):
        claimed_file(tmp_path)


def test_a_lock_held_by_a_live_process_says_which_file_to_delete(tmp_path):
    (tmp_path / LOCK).write_text("1")  # alive, but maybe no ravine run: a container restarted
    with pytest.raises(ValueError) as refused:
        with claimed_folder(tmp_path):
            pass
    assert "(process 1)" in str(refused.value)
    assert f"delete the lock file {str(tmp_path / LOCK)!r}" in str(refused.value)
    assert (tmp_path / LOCK).read_text() == "1"  # still protected until deleted


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout here")
def test_dev_stdout_redirected_to_a_file_is_written_through_not_replaced(tmp_path):
    """`ravine … --csv /dev/stdout > out.txt`: the CSV goes into out.txt as stdout does, and
    what is printed after it too (a replaced out.txt would leave stdout in a deleted file)."""
    import subprocess
    import sys

    out = tmp_path / "out.txt"
    code = (
        "import sys; from ravine.files import write_text; "
        "write_text('/dev/stdout', 'the csv\\n'); print('printed after')"
    )
    with out.open("w") as stdout:
        subprocess.run([sys.executable, "-c", code], stdout=stdout, check=True)
    assert out.read_text() == "the csv\nprinted after\n"
