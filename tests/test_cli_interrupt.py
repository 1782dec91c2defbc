"""The command line under interruption and bad output paths: Ctrl-C during training stops
cleanly (exit 130, one line saying where and how to resume) and a resumed run ends where the
whole run ends; an output path that is a file, or a folder another run holds, is refused in
one line with exit status 2; counts must be >= 1 everywhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ravine import cli
from ravine.files import LOCK

TRAIN = ["train", "--task", "sinc", "--optimizer", "adam", "--batch-size", "16", "--seed", "1"]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _ravine(*argv: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ravine", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_ctrl_c_stops_cleanly_and_the_run_resumes_to_the_same_end(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    epochs = ["--epochs", "400", "--checkpoint-every", "7", "--json"]
    process = _ravine(*TRAIN, *epochs, "--checkpoint", str(folder))
    deadline = time.monotonic() + 120
    while not (folder / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "training stopped after update" in err
    assert f"to resume, run the same command with --resume {folder}" in err
    assert json.loads(out)["updates"] < 4000  # what was trained is reported

    code, out, _ = run(
        capsys, *TRAIN, *epochs, "--checkpoint", str(folder), "--resume", str(folder)
    )
    assert code == 0
    resumed = json.loads(out)
    code, out, _ = run(capsys, *TRAIN, "--epochs", "400", "--json")
    whole = json.loads(out)
    assert resumed["updates"] == whole["updates"] == 4000
    assert resumed["final"]["train_loss"] == whole["final"]["train_loss"]
    assert resumed["history"][-1]["val_loss"] == whole["history"][-1]["val_loss"]


def test_sigterm_without_a_checkpoint_says_it_cannot_resume(tmp_path):
    process = _ravine(*TRAIN, "--epochs", "4000", "--plot", str(tmp_path / "plots"))
    deadline = time.monotonic() + 120
    while not (tmp_path / "plots" / LOCK).exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the folder is claimed once the signal handlers are in place
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "add --checkpoint DIR to be able to resume" in err
    assert (tmp_path / "plots" / "loss.png").is_file()  # the plots of what was trained


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*TRAIN, "--plot", "{file}"], "argument --plot: '{file}' is a file, not a folder"),
        ([*TRAIN, "--tensorboard", "{file}"], "argument --tensorboard: '{file}' is a file"),
        ([*TRAIN, "--checkpoint", "{file}"], "argument --checkpoint: '{file}' is a file"),
        (["schedule", "cosine:steps=9", "--steps", "9", "--plot", "{file}/x.png"], "is a file"),
        (["reproduce", "--only", "stuck", "--out", "{file}"], "argument --out: '{file}' is a file"),
        (["verify", "--optimizer", "adam", "--steps", "0"], "argument --steps: must be >= 1"),
        (["verify", "--optimizer", "adam", "--steps", "-3"], "argument --steps: must be >= 1"),
        ([*TRAIN, "--checkpoint-every", "5"], "--checkpoint-every needs --checkpoint DIR"),
        ([*TRAIN, "--folds", "3", "--resume", "{dir}"], "--resume does not apply with --folds"),
    ],
)
def test_bad_output_paths_and_counts_fail_in_one_line(tmp_path, capsys, argv, message):
    file = tmp_path / "taken.txt"
    file.write_text("keep me")
    shown = [a.format(file=file, dir=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(shown))
    _, err = capsys.readouterr()
    assert info.value.code == 2
    assert message.format(file=file, dir=tmp_path) in err
    assert len(err.strip().splitlines()) == 1
    assert file.read_text() == "keep me"


@pytest.mark.parametrize(
    "argv",
    [
        ["reproduce", "--only", "stuck", "--quick", "--out", "{dir}"],
        [*TRAIN, "--epochs", "1", "--tensorboard", "{dir}"],
        [*TRAIN, "--epochs", "1", "--plot", "{dir}"],
    ],
    ids=["reproduce --out", "train --tensorboard", "train --plot"],
)
def test_a_folder_another_live_run_holds_is_refused(tmp_path, capsys, argv):
    (tmp_path / LOCK).write_text(str(os.getpid()))  # a live process holds it
    code, _, err = run(capsys, *(a.format(dir=tmp_path) for a in argv))
    assert code == 2
    assert "is in use by another ravine run" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK]  # nothing written


def test_ctrl_c_in_reproduce_writes_the_report_of_the_finished_experiments(
    tmp_path, capsys, monkeypatch
):
    from ravine import experiments

    def interrupted(out, quick=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments.experiment("tiny-lr"), "run", interrupted)
    only = ["--only", "stuck", "tiny-lr", "momentum"]
    code, out, err = run(
        capsys, "reproduce", "--quick", "--jobs", "1", *only, "--out", str(tmp_path)
    )
    assert code == 130
    found = json.loads((tmp_path / "results.json").read_text())
    assert [e["name"] for e in found["experiments"]] == ["stuck"]
    assert [e["name"] for e in found["not_run"]] == ["tiny-lr", "momentum"]
    assert "what it had done is lost" in found["not_run"][0]["why"]  # it was running
    assert "interrupted before it started" in found["not_run"][1]["why"]
    assert found["outcomes"]["not run"] == 2
    assert found["reproduced"] is False
    page = (tmp_path / "index.html").read_text()
    assert "2 not run (3 claims)" in page
    assert "interrupted before it started" in page
    assert "2 not run" in out and "of 3 claims reproduced" in out
    assert err.strip().splitlines()[-1] == (
        f"ravine: interrupted: 1 of 3 experiments finished, 2 not run; the partial report is "
        f"{tmp_path / 'index.html'}"
    )


def test_ctrl_c_stops_the_parallel_workers_and_keeps_what_finished(tmp_path, monkeypatch):
    import multiprocessing

    from ravine import experiments

    collected = experiments.as_completed

    def one_then_ctrl_c(futures):
        for future in collected(futures):
            yield future
            raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "as_completed", one_then_ctrl_c)
    names = ["stuck", "momentum", "tiny-lr"]
    with pytest.raises(experiments.RunInterrupted) as info:
        experiments.run_all(tmp_path, only=names, quick=True, jobs=2)
    stopped = info.value
    assert len(stopped.results) == 1
    told = [r.name for r in stopped.results] + stopped.lost + stopped.not_run
    assert sorted(told) == sorted(names)
    assert multiprocessing.active_children() == []  # the workers were stopped
