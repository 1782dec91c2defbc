"""The doctor's verdict from a run's logs: the same run logged as a Monitor CSV, a TensorBoard
folder and a Lightning CSVLogger metrics.csv gives the same verdict; a log of less says what it
lacked; a bad log is one line and exit status 2."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from labelled_runs import fit_least_squares

import ravine.optim as ro
from ravine import cli
from ravine.diagnose.monitor import Monitor
from ravine.diagnose.monitor.read_logs import read_log
from ravine.surfaces import SurfaceModel, surface


def valley_logged(tmp_path, lr: float, steps: int = 240):
    """GD on the valley, recorded by a Monitor that writes its CSV file and TensorBoard."""
    found = surface("valley")
    model = SurfaceModel(found)
    opt = ro.SGD(model.parameters(), lr=lr)
    csv_path, board = tmp_path / "monitor.csv", tmp_path / "board"
    with Monitor(model, opt, csv=csv_path, tensorboard=board, layers=False) as monitor:
        for _ in range(steps):
            opt.zero_grad()
            loss = model()
            loss.backward()
            opt.step()
            monitor.step(loss)
    return monitor, csv_path, board


def lightning_csv(path, monitor, *, loss="train_loss", with_gradient=True):
    """The run as Lightning's CSVLogger writes it (lightning/fabric/loggers/csv_logs.py,
    _ExperimentWriter): a header of every key sorted, a ``step`` column, a row per
    ``log_metrics`` call with empty cells for the keys it did not log — here the training
    numbers each step, η from LearningRateMonitor ("lr-SGD") and an epoch's validation loss
    on rows of their own."""
    rows = []
    for record in monitor.history:
        row = {"step": record["step"], "epoch": 0, loss: record["loss"]}
        if with_gradient:
            row["doctor/gradient_norm"] = record["gradient_norm"]
            if not math.isnan(record["gradient_cosine"]):
                row["doctor/gradient_cosine"] = record["gradient_cosine"]
        rows.append(row)
        rows.append({"step": record["step"], "lr-SGD": monitor.optimizer.param_groups[0]["lr"]})
        if record["step"] % 100 == 99:
            rows.append({"step": record["step"], "epoch": 0, "val_loss": 1.0})
    keys = sorted(set().union(*rows))
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(("lr", "verdict"), [(1e-2, "oscillating"), (1e-7, "crawling")])
def test_the_same_run_in_three_formats_gets_the_same_verdict(tmp_path, lr, verdict):
    monitor, csv_path, board = valley_logged(tmp_path, lr)
    lightning = lightning_csv(tmp_path / "metrics.csv", monitor)
    window = 120
    direct = monitor.diagnose(window)
    assert direct.verdict == verdict
    found = {}
    for path in (csv_path, board, lightning):
        logged = read_log(path)
        assert list(logged.steps) == list(range(240))
        found[logged.format] = logged.diagnose(window)
    assert set(found) == {"Monitor CSV", "TensorBoard", "CSV (Lightning CSVLogger style)"}
    for name, diagnosis in found.items():
        assert diagnosis.verdict == verdict, name
        change = diagnosis.evidence["relative_loss_change"]
        assert change == pytest.approx(direct.evidence["relative_loss_change"], rel=1e-4)
    # the Monitor's CSV and TensorBoard carry no η; Lightning's LearningRateMonitor column does
    assert "lr" in found["Monitor CSV"].missing and "lr" in found["TensorBoard"].missing
    assert "lr" not in found["CSV (Lightning CSVLogger style)"].missing
    assert found["CSV (Lightning CSVLogger style)"].evidence["lr"] == lr
    # ‖Δθ‖/‖θ‖ is in the Monitor's CSV and TensorBoard, not in this Lightning log
    assert found["Monitor CSV"].evidence["update_ratio"] == pytest.approx(
        direct.evidence["update_ratio"], rel=1e-6
    )
    assert "update_ratio" not in found["CSV (Lightning CSVLogger style)"].evidence


def test_a_diverging_and_a_healthy_run_read_back_from_the_log(tmp_path):
    for lr_times_max, steps, verdict in ((2.006, 100, "diverged"), (0.05, 100, "progressing")):
        run = fit_least_squares(lr_times_max, steps, cause="", scales=(1.0, 0.5), weights=None)
        path = lightning_csv(tmp_path / f"{verdict}.csv", run.monitor)
        assert read_log(path).diagnose(50).verdict == run.monitor.diagnose(50).verdict == verdict


def test_loss_alone_gives_less_and_says_what_it_lacked(tmp_path, capsys):
    monitor, _, _ = valley_logged(tmp_path, 1e-2)
    path = lightning_csv(tmp_path / "metrics.csv", monitor, loss="my_loss", with_gradient=False)
    with pytest.raises(ValueError, match=r"no loss column .* --column loss=NAME"):
        read_log(path)
    argv = ["doctor", "--log", str(path), "--column", "loss=my_loss"]
    assert cli.main([*argv, "--json"]) == 0
    reading = json.loads(capsys.readouterr().out)
    # a flat loss with no ‖g‖: a bounce, a crawl and a critical point look alike
    assert reading["verdict"] == "undetermined"
    assert reading["missing"] == ["gradient_norm", "gradient_cosine", "max_eigenvalue"]
    assert reading["columns"] == {"step": "step", "loss": "my_loss", "lr": "lr-SGD"}
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path} (CSV (Lightning CSVLogger style)), 240 steps: undetermined")
    assert "lacking: ‖g‖ (gradient_norm), cos(g^t, g^{t−1}) (gradient_cosine)" in out


def test_the_command_reads_a_tensorboard_folder(tmp_path, capsys):
    _, _, board = valley_logged(tmp_path, 1e-7)
    assert cli.main(["doctor", "--log", str(tmp_path / "board")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{board} (TensorBoard), 240 steps: crawling")
    assert "Raise η" in out and "lacking: η (lr), λ_max of the Hessian" in out


def _fails(argv, capsys, message):
    assert cli.main(["doctor", *argv]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and message in err, err


def test_bad_logs_and_flags_are_one_line_and_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header = tmp_path / "header.csv"
    header.write_text("step,loss\n")
    words = tmp_path / "words.csv"
    words.write_text("step,loss\n0,1.0\n1,abc\n")
    other = tmp_path / "run.txt"
    other.write_text("hello")
    corrupt = tmp_path / "events.out.tfevents.1.host"
    corrupt.write_bytes(b"\x00\x01garbage" * 10)
    _fails(["--log", str(tmp_path / "none.csv")], capsys, "does not exist")
    _fails(["--log", str(empty)], capsys, "is empty")
    _fails(["--log", str(header)], capsys, "has a header but no records")
    _fails(["--log", str(words)], capsys, "line 3: 'abc' in column 'loss' is not a number")
    _fails(["--log", str(other)], capsys, "unknown format")
    _fails(["--log", str(corrupt)], capsys, "has no scalars")
    folder = tmp_path / "nothing"
    folder.mkdir()
    _fails(["--log", str(folder)], capsys, "no metrics.csv and no TensorBoard event files")
    _fails(["--log", str(header), "--task", "valley"], capsys, "either --task NAME")
    _fails([], capsys, "either --task NAME")
    _fails(["--log", str(header), "--lr", "0.1"], capsys, "--lr goes with --task")
    _fails(["--log", str(header), "--column", "loss"], capsys, "expected KEY=NAME")
    _fails(["--task", "valley", "--optimizer", "gd", "--column", "a=b"], capsys, "with --log")


def test_a_step_too_large_or_not_whole_is_one_line_and_a_long_one_is_kept_exact(tmp_path, capsys):
    huge = tmp_path / "huge.csv"
    huge.write_text("step,loss\n100000000000000000000,1.0\n100000000000000000001,0.5\n")
    _fails(["--log", str(huge)], capsys, "the step '100000000000000000000' is out of range")
    tiny = tmp_path / "e300.csv"
    tiny.write_text("step,loss\n1e300,1.0\n")
    _fails(["--log", str(tiny)], capsys, "the step '1e300' is out of range")
    half = tmp_path / "half.csv"
    half.write_text("step,loss\n0.5,1.0\n")
    _fails(["--log", str(half)], capsys, "the step '0.5' is not a whole number")
    # steps past 2^53 are read as written, not rounded onto each other as floats
    exact = tmp_path / "exact.csv"
    exact.write_text("step,loss\n9007199254740992,1.0\n9007199254740993,0.5\n3.0e1,0.2\n")
    assert read_log(exact).steps.tolist() == [30, 9007199254740992, 9007199254740993]


def test_tensorboard_missing_is_one_line(tmp_path, monkeypatch, capsys):
    import sys

    _, _, board = valley_logged(tmp_path, 1e-2, steps=4)
    monkeypatch.setitem(sys.modules, "tensorboard.backend.event_processing.event_accumulator", None)
    _fails(["--log", str(board)], capsys, "needs the tensorboard package: pip install tensorboard")
    assert torch.is_tensor(torch.zeros(1))  # (the rest of the process is untouched)
