"""Where the commands write: output paths checked before the work starts, a file that cannot be
written said in one line, links followed, and a reader of stdout that goes away (| head)."""

import subprocess
import sys
from pathlib import Path

import pytest

from ravine import cli
from ravine.commands import arguments

SINC = ["train", "--task", "sinc", "--optimizer", "adam", "--epochs", "1"]
NOWHERE = "/proc/ravine-test"  # /proc takes no new file, even from root
PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


@PROC
@pytest.mark.parametrize(
    "argv",
    [
        [*SINC, "--csv", f"{NOWHERE}.csv"],
        [*SINC, "--plot", NOWHERE],
        [*SINC, "--checkpoint", NOWHERE],
        [*SINC, "--tensorboard", f"{NOWHERE}/logs"],
        ["reproduce", "--only", "tiny-lr", "--quick", "--out", NOWHERE],
        ["schedule", "cosine:steps=10", "--steps", "20", "--plot", f"{NOWHERE}.png"],
        ["sweep", "--task", "sinc", "--optimizer", "adam", "--plot", f"{NOWHERE}.png"],
        ["lr-find", "--task", "sinc", "--optimizer", "adam", "--plot", f"{NOWHERE}.png"],
        ["descend", "--task", "valley", "--optimizer", "adam", "--plot", f"{NOWHERE}.png"],
    ],
    ids=lambda argv: f"{argv[0]} {argv[-2]}",
)
def test_an_output_nothing_can_be_written_to_is_refused_before_the_work(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1  # one line: no epoch, no progress, no traceback
    assert f"argument {argv[-2]}: cannot write '{argv[-1]}': the folder '/proc' takes no" in err


@PROC
def test_a_file_that_cannot_be_written_after_all_is_one_line(capsys, monkeypatch):
    # what the check before the work cannot foresee (the folder made read-only meanwhile)
    monkeypatch.setattr(arguments, "check_writable", lambda path, folder=False: Path(path))
    status, out, err = run(capsys, "schedule", "cosine:steps=10", "--steps", "20", "--plot",
                           f"{NOWHERE}.png")  # fmt: skip
    assert status == 2 and out == ""
    assert err.startswith(f"ravine: error: cannot write '{NOWHERE}.png': ")
    assert err.count("\n") == 1 and ".tmp" not in err


def test_a_link_to_a_figure_stays_a_link(capsys, tmp_path):
    (tmp_path / "figures").mkdir()
    link = tmp_path / "schedule.png"
    link.symlink_to(tmp_path / "figures" / "eta.png")
    status, _, _ = run(capsys, "schedule", "cosine:steps=10", "--steps", "20", "--plot", str(link))
    assert status == 0
    assert link.is_symlink() and link.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures", "schedule.png"]


def test_a_reader_that_goes_away_stops_ravine_quietly():
    # more output than a pipe holds, so that writing meets the closed pipe
    ravine = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ravine",
            "schedule",
            "cosine:steps=10",
            "--steps",
            "100000",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert ravine.stdout.read(100)
    ravine.stdout.close()  # as `| head -c 100` does
    err = ravine.stderr.read()
    ravine.stderr.close()
    assert ravine.wait() == cli.PIPE_CLOSED == 141
    assert err == b""  # no traceback, no "Exception ignored"
