"""What the command line says and where: --version, -v/-q, the progress (a tqdm bar on a
terminal, lines in a log), ``train --tensorboard``'s per-epoch scalars and ``train --csv``'s
epoch table, and the doctor's --help naming the tasks its error names."""

import csv
import io
import json
import logging
import re
import sys
import warnings
from importlib import metadata
from pathlib import Path

import pytest

from ravine import cli

SINC = ["train", "--task", "sinc", "--optimizer", "adam", "--batch-size", "64", "--epochs", "2"]
DOCTOR = ["doctor", "--task", "valley", "--optimizer", "gd", "--lr", "1e-3", "--steps", "40"]
# sgd with η = 1 on diabetes: the loss reaches inf at update 18, in epoch 2 (as in test_cli_train)
DIVERGES = ["train", "--task", "diabetes", "--optimizer", "sgd", "--lr", "1", "--epochs", "3"]


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def on_terminal(monkeypatch):
    """stderr a terminal for the rest of the test (set in the test itself: pytest's capture
    sets sys.stderr after the fixtures are made)."""
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    return screen


def test_version_is_the_installed_distributions(capsys):
    code, out, err = run(capsys, "--version")
    assert code == 0 and err == ""
    assert out == f"ravine {metadata.version('ravine')}\n"


def test_in_a_log_train_writes_one_line_per_epoch_and_no_bar(capsys):
    code, _, err = run(capsys, *SINC)
    assert code == 0
    lines = err.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["ravine: epoch 1/2", "ravine: epoch 2/2"]
    assert "\r" not in err and "%|" not in err


def test_on_a_terminal_train_draws_a_bar_over_the_batches_and_keeps_the_epoch_lines(
    capsys, monkeypatch
):
    terminal = on_terminal(monkeypatch)
    code, _, _ = run(capsys, *SINC)
    assert code == 0
    shown = terminal.getvalue()
    # 160 training examples of sinc in batches of 64: 3 batches an epoch
    for epoch in (1, 2):
        assert re.search(rf"epoch {epoch}/2: +\d+%\|.*\| [0-3]/3 \[", shown), shown
        assert f"ravine: epoch {epoch}/2  train loss " in shown
    assert "batch/s" in shown


def test_on_a_terminal_the_doctor_draws_a_bar_instead_of_step_lines(capsys, monkeypatch):
    terminal = on_terminal(monkeypatch)
    code, out, _ = run(capsys, *DOCTOR)
    assert code == 0 and out.startswith("valley, gd, 40 steps: ")
    shown = terminal.getvalue()
    assert re.search(r"\| \d+/40 \[", shown) and "step/s" in shown
    assert "ravine: step" not in shown


def test_quiet_silences_progress_on_a_terminal_and_in_a_log(capsys, monkeypatch):
    code, out, err = run(capsys, *SINC, "-q")  # in a log
    assert code == 0 and err == "" and "val loss" in out  # the results stay
    terminal = on_terminal(monkeypatch)
    assert run(capsys, *SINC, "-q")[0] == 0
    assert run(capsys, "-q", *DOCTOR)[0] == 0
    assert terminal.getvalue() == ""


def test_quiet_keeps_the_warnings(capsys):
    code, out, err = run(capsys, *DIVERGES, "--quiet")
    assert code == 1 and "stopped      at update 18" in out
    assert err.startswith("ravine: training stopped at update 18 (epoch 2): the loss is inf")
    assert len(err.splitlines()) == 1


def test_in_a_log_the_doctor_writes_a_line_every_twentieth_of_its_steps(capsys):
    code, _, err = run(capsys, *DOCTOR)
    assert code == 0
    steps = [int(re.match(r"ravine: step (\d+)/40  loss ", line)[1]) for line in err.splitlines()]
    assert steps == list(range(2, 41, 2))


def test_verbose_adds_the_short_commands_progress_lines(capsys):
    argv = ["lr-find", "--task", "diabetes", "--optimizer", "adam", "--steps", "30", "--json"]
    argv += ["--lr-min", "1e-5", "--lr-max", "1e-3"]  # no stop before the last update
    code, _, err = run(capsys, *argv)
    assert code == 0 and err == ""  # at DEBUG: not shown by default
    code, _, err = run(capsys, "-v", *argv)
    assert code == 0
    updates = [int(re.match(r"ravine: update (\d+)/30  loss ", x)[1]) for x in err.splitlines()]
    assert updates == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]

    sweep = ["sweep", "--task", "valley", "--optimizer", "gd", "--lr", "1e-3,1e-2"]
    code, _, err = run(capsys, *sweep, "--steps", "20", "--verbose")
    assert code == 0 and err.splitlines()[-1] == "ravine: step 20/20"


def test_verbose_says_where_checkpoints_go_and_a_resume_says_where_it_goes_on(capsys, tmp_path):
    folder = tmp_path / "run"
    code, _, err = run(capsys, "-v", *SINC, "--checkpoint", str(folder))
    assert code == 0
    written = [line for line in err.splitlines() if "checkpoint after update" in line]
    assert written == [
        f"ravine: checkpoint after update {n} written to {folder / 'checkpoint.pt'}" for n in (3, 6)
    ]
    argv = [*SINC[:-1], "3", "--checkpoint", str(folder), "--resume", str(folder)]
    code, _, err = run(capsys, *argv)
    assert code == 0
    assert f"ravine: resumed from {folder} after update 6 (epoch 3, next batch 1)" in err
    assert "checkpoint after" not in err  # DEBUG: only with -v


@pytest.mark.parametrize(
    "argv",
    [["-v", "-q", *DOCTOR], ["-v", *DOCTOR, "-q"], [*DOCTOR, "--verbose", "--quiet"]],
)
def test_verbose_and_quiet_together_are_one_line_and_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "quiet" in err


def test_the_command_leaves_logging_as_it_found_it(capsys):
    logger = logging.getLogger("ravine")
    before = (list(logger.handlers), logger.level, logger.propagate)
    run(capsys, "-v", *DOCTOR)
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_the_library_never_configures_logging():
    source = Path(cli.__file__).parent
    for path in source.rglob("*.py"):
        if path.name == "progress.py" and path.parent.name == "commands":
            continue  # the command line's own handler
        text = path.read_text(encoding="utf-8")
        assert "addHandler" not in text and "basicConfig" not in text, path


def test_a_python_warning_is_one_line_even_with_quiet(capsys):
    from ravine.commands.progress import configure_logging

    for quiet in (False, True):
        with configure_logging(quiet=quiet):
            warnings.warn_explicit("λ_min may be inexact", UserWarning, "spectrum.py", 1)
        assert capsys.readouterr().err == "ravine: UserWarning: λ_min may be inexact\n"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_csv_is_the_epoch_table_of_the_json_record(capsys, tmp_path):
    table = tmp_path / "out" / "epochs.csv"
    code, out, _ = run(capsys, *SINC, "--json", "--csv", str(table))
    assert code == 0
    history = json.loads(out)["history"]
    rows = read_csv(table)
    assert list(rows[0]) == [
        "epoch",
        "updates",
        "train_loss",
        "val_loss",
        "train_mae",
        "val_mae",
        "seconds",
    ]
    assert len(rows) == len(history) == 2
    for row, epoch in zip(rows, history, strict=True):
        assert int(row["epoch"]) == epoch["epoch"] and int(row["updates"]) == epoch["updates"]
        for key in ("train_loss", "val_loss", "seconds"):
            assert float(row[key]) == epoch[key]  # written exactly (repr)
        assert float(row["val_mae"]) == epoch["val_metric"]
    assert not list(table.parent.glob(".*tmp*"))  # written atomically: no temporary left


def test_csv_of_folds_has_a_fold_column_and_empty_cells_for_no_number(capsys, tmp_path):
    table = tmp_path / "folds.csv"
    argv = ["train", "--task", "diabetes", "--optimizer", "adam", "--batch-size", "128"]
    code, _, _ = run(capsys, *argv, "--epochs", "1", "--folds", "2", "--csv", str(table))
    assert code == 0
    rows = read_csv(table)
    assert [row["fold"] for row in rows] == ["1", "2"]
    assert "val_mae_points" in rows[0]  # the metric "mae (points)" as a column name
    table = tmp_path / "whole.csv"
    code, _, _ = run(capsys, *argv, "--epochs", "1", "--validation", "0", "--csv", str(table))
    assert code == 0
    [row] = read_csv(table)
    assert row["val_loss"] == "" and row["val_mae_points"] == "" and float(row["train_loss"]) > 0


@pytest.mark.parametrize("where", ["folder", "under a file"])
def test_csv_where_no_file_can_be_written_is_one_line_and_exit_2(capsys, tmp_path, where):
    (tmp_path / "file").write_text("x")
    path = tmp_path if where == "folder" else tmp_path / "file" / "epochs.csv"
    code, out, err = run(capsys, *SINC, "--csv", str(path))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "argument --csv" in err


def test_tensorboard_has_each_epochs_losses_and_metrics(capsys, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    code, out, _ = run(capsys, *SINC, "--json", "--tensorboard", str(tmp_path / "tb"))
    assert code == 0
    history = json.loads(out)["history"]
    logs = EventAccumulator(str(tmp_path / "tb"))
    logs.Reload()
    tags = logs.Tags()["scalars"]
    assert "loss" in tags  # the Monitor's, each update
    for tag, key in [
        ("epoch/train_loss", "train_loss"),
        ("epoch/val_loss", "val_loss"),
        ("epoch/train_mae", "train_metric"),
        ("epoch/val_mae", "val_metric"),
    ]:
        scalars = logs.Scalars(tag)
        assert [s.step for s in scalars] == [e["updates"] for e in history]
        assert [s.value for s in scalars] == pytest.approx([e[key] for e in history], rel=1e-6)


def test_doctor_help_lists_the_tasks_its_error_lists(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no line wrapped at a name's hyphen
    code, out, _ = run(capsys, "doctor", "--help")
    assert code == 0
    help_text = " ".join(out.split())
    found = re.search(r"a network task \(([^)]*)\) or an error surface \(([^)]*)\)", help_text)
    in_help = ", ".join(found.groups()).split(", ")
    code, _, err = run(capsys, "doctor", "--task", "nope", "--optimizer", "gd")
    assert code == 2
    in_error = err.strip().split("valid: ")[1].split(", ")
    assert in_help == in_error and "two-minima" in in_help
