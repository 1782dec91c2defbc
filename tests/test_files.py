"""Writing files: atomic replacement, and one run per output folder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ravine.files import LOCK, claimed_file, claimed_folder, replace_atomically, write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_text(tmp_path / "report.html", "old")

    def fail(temporary):
        temporary.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomically(target, fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


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
