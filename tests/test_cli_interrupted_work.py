"""Ctrl-C keeps the work done in the commands that train: doctor reads the steps recorded,
lr-find the range test so far, sweep the runs' curves so far, critical the point reached;
each says so in one line on stderr and exits with status 130. A second Ctrl-C stops at once.

The Ctrl-C is a real SIGINT sent to this process from a progress hook, at a chosen step."""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager

import pytest

from ravine import cli
from ravine.sweep import sweep


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ctrl_c_at(done: int, times: int = 1):
    """A progress hook that presses Ctrl-C ``times`` times when ``done`` units are done."""

    def progress(count: int, *rest, **numbers) -> None:
        if count == done:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)

    return progress


def counted_with_ctrl_c_at(done: int):
    """A stand-in for :func:`ravine.commands.progress.counted` that presses Ctrl-C."""

    @contextmanager
    def counted(*args, **kwargs):
        yield ctrl_c_at(done)

    return counted


DOCTOR = ["doctor", "--task", "sinc", "--optimizer", "adam", "--steps", "5000"]


def test_ctrl_c_in_doctor_gives_the_verdict_on_the_steps_recorded(capsys, monkeypatch):
    monkeypatch.setattr("ravine.commands.doctor.step_line", lambda steps: ctrl_c_at(60))
    code, out, err = run(capsys, *DOCTOR, "--json")
    assert code == 130
    reading = json.loads(out)
    assert reading["steps"] == 60 and reading["interrupted"] is True
    assert reading["verdict"]  # a verdict on what was recorded
    assert err.strip() == (
        "ravine: interrupted after 60 of 5000 steps: the verdict is on the steps recorded"
    )


def test_ctrl_c_in_doctor_before_two_steps_says_there_is_no_verdict(capsys, monkeypatch):
    monkeypatch.setattr("ravine.commands.doctor.step_line", lambda steps: ctrl_c_at(1))
    code, out, err = run(capsys, *DOCTOR)
    assert code == 130
    assert out == ""
    assert err.strip() == (
        "ravine: interrupted after 1 of 5000 steps: too few for a verdict (it needs at least 2)"
    )


def test_a_second_ctrl_c_stops_at_once(capsys, monkeypatch):
    monkeypatch.setattr("ravine.commands.doctor.step_line", lambda steps: ctrl_c_at(60, 2))
    code, out, err = run(capsys, *DOCTOR)
    assert code == 130
    assert out == ""
    assert err.strip() == "ravine: interrupted"


def test_ctrl_c_in_lr_find_reads_and_plots_the_range_test_so_far(capsys, monkeypatch, tmp_path):
    class Progress:  # the bar, pressing Ctrl-C at update 80
        def __init__(self, *args, **kwargs):
            self.advance = ctrl_c_at(80)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr("ravine.commands.lr_find.Progress", Progress)
    plot = tmp_path / "range.png"
    argv = ["lr-find", "--task", "sinc", "--optimizer", "adam", "--plot", str(plot), "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 130
    test = json.loads(out)
    assert test["recorded"] == 80 and len(test["lrs"]) == 80
    assert test["stopped"].startswith("interrupted after update 80 ")  # counted from 1
    assert test["minimum_lr"] is not None
    assert plot.is_file()
    assert len(err.strip().splitlines()) == 1
    assert "the range test is of the updates recorded" in err


def test_ctrl_c_in_sweep_keeps_the_curves_so_far(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("ravine.commands.sweep.counted", counted_with_ctrl_c_at(50))
    plot = tmp_path / "sweep.png"
    argv = ["sweep", "--task", "sinc", "--optimizer", "gd", "--lr", "1e-3,1e-2,1e-1"]
    code, out, err = run(capsys, *argv, "--steps", "300", "--plot", str(plot), "--json")
    assert code == 130
    found = json.loads(out)
    assert found["steps"] == 50 and found["curve_steps"][-1] == 50
    assert found["lrs"] == [1e-3, 1e-2, 1e-1]
    assert found["interrupted"] == "interrupted: 3 of 3 η run for 50 of 300 steps"
    assert plot.is_file()
    assert (
        err.strip()
        == "ravine: interrupted: 3 of 3 η run for 50 of 300 steps; the curves are of those"
    )


def test_a_sweep_stopped_in_a_later_chunk_keeps_the_whole_chunks_before():
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 50  # (asked once in each step) in the second chunk's steps

    whole = sweep("valley", "gd", lrs=[1e-3, 2e-3, 3e-3], steps=40, chunk=1)
    found = sweep("valley", "gd", lrs=[1e-3, 2e-3, 3e-3], steps=40, chunk=1, stop=stop)
    assert found.lrs == [1e-3] and found.steps == 40
    assert found.final_loss.tolist() == whole.final_loss[:1].tolist()
    assert found.interrupted == "interrupted: 1 of 3 η run for 40 of 40 steps"


def test_ctrl_c_in_critical_shows_the_point_reached(capsys, monkeypatch):
    monkeypatch.setattr("ravine.commands.critical.counted", counted_with_ctrl_c_at(30))
    code, out, err = run(capsys, "critical", "--task", "sinc", "--seed", "1", "--json")
    assert code == 130
    found = json.loads(out)
    assert found["kind"] is None and found["interrupted"] is True
    assert found["gradient_norm"] > 0 and found["training_loss"] > 0
    assert err.strip() == (
        "ravine: interrupted after 30 Adam steps: the point reached is shown, not classified"
    )
    code, out, _ = run(capsys, "critical", "--task", "sinc", "--seed", "1")
    assert "30 Adam steps (interrupted)" in out and "not classified" in out


@pytest.fixture(autouse=True)
def _ctrl_c_handler_put_back():
    """Each test leaves Python's own Ctrl-C handler in place."""
    before = signal.getsignal(signal.SIGINT)
    yield
    assert signal.getsignal(signal.SIGINT) is before
