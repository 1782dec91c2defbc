"""`ravine train`: the command reports the library's own numbers (ravine.training.train), its
JSON parses strictly, its plots are PNGs, K-fold gives K folds with their mean and spread, and
bad input or a non-finite loss fails clearly."""

import json
import math
import re

import matplotlib.image
import numpy as np
import pytest

from ravine import cli
from ravine.commands.train_report import shown
from ravine.diagnose.monitor import VERDICTS
from ravine.schedules import from_spec
from ravine.training import train

RUN_KEYS = [
    "task",
    "model",
    "loss",
    "metric",
    "optimizer",
    "lr",
    "options",
    "schedule",
    "batch_size",
    "epochs",
    "seed",
    "fold",
    "train_size",
    "val_size",
    "updates",
    "seconds_per_update",
    "seconds_per_epoch",
    "final",
    "history",
    "stopped",
    "diagnosis",
]
# reduced sizes: a handful of updates per task
SMALL = {
    "sinc": ["--batch-size", "64", "--epochs", "2"],
    "diabetes": ["--batch-size", "128", "--epochs", "2"],
    "digits": ["--batch-size", "512", "--epochs", "1"],
    "reverse": ["--batch-size", "1024", "--epochs", "1"],
}
# sgd with η = 1 on diabetes: the loss reaches inf at update 18, in epoch 2 (measured)
DIVERGES = ["train", "--task", "diabetes", "--optimizer", "sgd", "--lr", "1", "--epochs", "3"]


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def strict_json(text):
    """JSON with NaN and ±Infinity refused, as ``allow_nan=False`` writes it."""

    def refuse(constant):
        raise ValueError(f"non-finite number {constant} in the JSON")

    return json.loads(text, parse_constant=refuse)


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and matplotlib.image.imread(path).ndim == 3


@pytest.mark.parametrize("name", list(SMALL))
def test_each_task_trains_and_prints_its_final_numbers(capsys, name):
    code, out, err = run(capsys, "train", "--task", name, "--optimizer", "adam", *SMALL[name])
    assert code == 0
    epochs = int(SMALL[name][-1])
    lines = err.strip().splitlines()
    assert len(lines) == epochs  # one progress line per epoch
    assert f"epoch {epochs}/{epochs}" in lines[-1] and "train loss" in lines[-1]
    assert "val loss" in lines[-1] and lines[-1].endswith(" s)")
    assert out.startswith(f"{name}: ")
    for needle in ("train loss", "val loss", "updates", "s per update", "s per epoch"):
        assert needle in out
    assert "adam η = 0.001" in out  # the catalog's default η


def test_the_printed_numbers_are_the_librarys(capsys):
    argv = ["--task", "sinc", "--optimizer", "momentum", "--lr", "0.05", "--seed", "3"]
    warmup = ["--schedule", "linear-warmup:steps=4"]
    code, out, _ = run(capsys, "train", *argv, *warmup, "--batch-size", "50", "--epochs", "2")
    assert code == 0
    schedule = from_spec("linear-warmup:steps=4")
    expected = train(
        "sinc", "momentum", lr=0.05, schedule=schedule, seed=3, batch_size=50, epochs=2
    )
    # the base η, not η^0 = 0 at the start of the warm-up
    assert "momentum η = 0.05 × linear-warmup:steps=4, batch 50, 2 epochs" in out
    final = expected.final
    assert f"train loss   {shown(final.train_loss)}   mae {shown(final.train_metric)}" in out
    assert f"val loss     {shown(final.val_loss)}   mae {shown(final.val_metric)}" in out
    assert "160 training, 40 validation" in out
    assert f"updates      {expected.updates} (4 per epoch)" in out
    assert expected.updates == 8


def test_final_numbers_keep_four_significant_digits_and_one_epoch_is_singular(capsys):
    assert [shown(v) for v in (2.000084, 1.99152, 1234.5, 12345.6, 1e-5, 0.0)] == [
        "2.000", "1.992", "1234", "1.235e+04", "1.000e-05", "0.000",
    ]  # fmt: skip
    assert shown(None) == "n/a" and shown(0.5, 0.0123) == "0.5000 ± 0.012"
    argv = ["--task", "sinc", "--optimizer", "adam", "--batch-size", "100", "--epochs", "1"]
    code, out, _ = run(capsys, "train", *argv)
    assert code == 0 and ", batch 100, 1 epoch\n" in out


def test_json_is_the_runs_record_and_parses_strictly(capsys):
    argv = ["--task", "sinc", "--optimizer", "rmsprop", "--lr", "0.01", "--opt", "alpha=0.9"]
    code, out, err = run(capsys, "train", *argv, "--batch-size", "40", "--epochs", "2", "--json")
    assert code == 0 and "epoch 2/2" in err
    found = strict_json(out)
    assert list(found) == RUN_KEYS
    expected = train("sinc", "rmsprop", lr=0.01, options={"alpha": 0.9}, batch_size=40, epochs=2)
    assert found["options"] == {"alpha": 0.9} and found["updates"] == 8 == expected.updates
    assert found["history"][-1]["val_loss"] == expected.final.val_loss
    assert found["final"]["train_metric"] == expected.final.train_metric
    assert found["stopped"] is None and found["diagnosis"] is None


def test_plot_writes_loss_and_metric_pngs(capsys, tmp_path):
    argv = ["--task", "digits", "--optimizer", "adam", "--plot", str(tmp_path / "plots")]
    code, out, _ = run(capsys, "train", *argv, *SMALL["digits"])
    assert code == 0
    loss, metric = tmp_path / "plots" / "loss.png", tmp_path / "plots" / "metric.png"
    assert is_png(loss) and is_png(metric)
    assert f"plots        {loss}, {metric}" in out


def test_three_folds_give_three_runs_and_their_mean_and_spread(capsys, tmp_path):
    argv = ["--task", "sinc", "--optimizer", "adam", "--lr", "0.01", "--folds", "3"]
    small = ["--batch-size", "64", "--epochs", "1"]
    code, out, err = run(capsys, "train", *argv, *small, "--json", "--plot", str(tmp_path))
    assert code == 0
    progress = err.strip().splitlines()
    assert [re.match(r"ravine: (fold \d/3)  epoch 1/1  ", line)[1] for line in progress] == [
        "fold 1/3",
        "fold 2/3",
        "fold 3/3",
    ]
    found = strict_json(out)
    assert found["folds"] == 3 and [r["fold"] for r in found["runs"]] == [0, 1, 2]
    assert [r["val_size"] for r in found["runs"]] == [67, 67, 66]  # 200 cut in 3
    for key in ("train_loss", "val_loss", "train_metric", "val_metric"):
        values = [r["final"][key] for r in found["runs"]]
        assert found["mean"][key] == pytest.approx(np.mean(values), rel=1e-12)
        assert found["std"][key] == pytest.approx(np.std(values), rel=1e-9)
    assert is_png(tmp_path / "loss.png") and is_png(tmp_path / "metric.png")

    code, out, _ = run(capsys, "train", *argv, *small)
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:6]}
    assert list(rows) == ["fold", "1", "2", "3"]
    mean = next(line for line in out.splitlines() if line.strip().startswith("mean ± std"))
    val_loss = found["mean"]["val_loss"]
    assert f"{val_loss:.4g} ± {found['std']['val_loss']:.2g}" in mean


def test_monitor_prints_the_diagnosis(capsys):
    argv = ["--task", "sinc", "--optimizer", "adam", "--lr", "0.01", "--monitor"]
    code, out, _ = run(capsys, "train", *argv, *SMALL["sinc"])
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("  monitor: "))
    assert line.removeprefix("  monitor: ").split(" (")[0] in VERDICTS
    assert "    remedy: " in out

    code, out, _ = run(capsys, "train", *argv, *SMALL["sinc"], "--json")
    assert strict_json(out)["diagnosis"]["verdict"] in VERDICTS


def test_tensorboard_logs_through_the_monitor(capsys, tmp_path):
    pytest.importorskip("tensorboard")
    argv = ["--task", "sinc", "--optimizer", "adam", "--tensorboard", str(tmp_path / "tb")]
    code, out, _ = run(capsys, "train", *argv, *SMALL["sinc"])
    assert code == 0 and f"tensorboard  {tmp_path / 'tb'}" in out
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_a_non_finite_loss_stops_says_why_keeps_the_record_and_exits_1(capsys, tmp_path):
    code, out, err = run(capsys, *DIVERGES, "--json", "--plot", str(tmp_path))
    assert code == 1
    message = err.strip().splitlines()[-1]
    assert message.startswith("ravine: training stopped at update 18 (epoch 2): the loss is inf")
    assert "diverged" in message and message.endswith("the model keeps θ from before that update")
    found = strict_json(out)
    assert found["stopped"]["update"] == 18 and found["stopped"]["loss"] is None
    assert found["updates"] == 17  # applied: the refused update 18 is not one
    assert found["stopped"]["verdict"] == "diverged" and len(found["history"]) == 1
    assert math.isfinite(found["final"]["train_loss"])
    assert is_png(tmp_path / "loss.png") and is_png(tmp_path / "metric.png")

    code, out, _ = run(capsys, *DIVERGES)
    assert code == 1
    assert (
        "stopped      at update 18 in epoch 2 (the loss is inf), not applied; the numbers " in out
    )
    assert "  updates      17 (12 per epoch)" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--task", "mnist"], "ravine: error: unknown task 'mnist'; valid: sinc, diabetes"),
        (["--task", "digits", "--model", "conv"], "ravine: error: unknown model 'conv'"),
        (["--task", "digits", "--loss", "mae"], "task 'digits' has no loss 'mae'; valid:"),
        (
            ["--task", "diabetes", "--batch-size", "400"],
            "batch_size 400 is larger than the 354 training examples",
        ),
        (["--task", "sinc", "--folds", "1"], "argument --folds: K-fold cross-validation needs K"),
        (["--task", "sinc", "--validation", "1"], "must be a fraction in [0, 1), got 1 "),
        (["--task", "sinc", "--validation", "-0.1"], "must be a fraction in [0, 1), got -0.1"),
        (["--task", "sinc", "--validation", "nan"], "must be a fraction in [0, 1), got nan"),
        (
            ["--task", "sinc", "--validation", "0.3", "--folds", "3"],
            "--validation 0.3 does not apply with --folds 3",
        ),
        (["--task", "sinc", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        (
            [
                "--task",
                "digits",
                "--model",
                "deep:layers=2,units=8,norm=batch",
                "--batch-size",
                "3",
            ],
            "ravine: error: batch_size 3 leaves a last batch of 1 example (1438 = 479·3 + 1); "
            "BatchNorm needs at least 2 examples per batch in training",
        ),
    ],
)
def test_bad_input_is_one_clear_line(capsys, argv, needle):
    code, out, err = run(capsys, "train", "--optimizer", "adam", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err
