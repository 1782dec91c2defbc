"""The command line: listing, option parsing shared by every command, and its errors."""

import json
import subprocess
import sys

import pytest
import torch

from ravine import cli
from ravine.optim import catalog

NAMES = [
    "gd",
    "sgd",
    "momentum",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "radam",
    "nadam",
    "lecture-momentum",
    "lecture-adagrad",
    "lecture-rmsprop",
]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_optimizers_json_lists_every_name_with_m_and_sigma(capsys):
    code, out, _ = run(capsys, "optimizers", "--json")
    rows = json.loads(out)
    assert code == 0
    assert [r["name"] for r in rows] == NAMES
    by_name = {r["name"]: r for r in rows}
    assert by_name["adam"]["direction"].startswith("m = β1·m + (1−β1)·g")
    assert by_name["adam"]["magnitude"].startswith("σ = sqrt(v/(1−β2^t)) + ε")
    assert by_name["adam"]["lr"] == 1e-3
    assert by_name["lecture-adagrad"]["magnitude"] == "σ = sqrt(Σ g² / (t+1))"
    assert by_name["gd"]["magnitude"] == "σ = 1"
    assert by_name["momentum"]["options"]["momentum"] == 0.9
    assert by_name["lecture-rmsprop"]["torch"] is None


def test_optimizers_text_has_one_entry_per_optimizer(capsys):
    code, out, _ = run(capsys, "optimizers")
    assert code == 0
    first_columns = [line.split()[0] for line in out.splitlines()[2:] if line[:1].strip()]
    assert first_columns == NAMES


def test_verify_reports_a_match(capsys):
    code, out, _ = run(
        capsys, "verify", "--optimizer", "adam", "--lr", "0.01", "--steps", "30", "--json"
    )
    [result] = json.loads(out)
    assert code == 0
    assert result["ok"] and result["relative_error"] <= 1e-9
    assert result["steps"] == 30


def test_opt_values_are_typed_from_the_defaults():
    options = catalog.parse_options(
        "adam", ["betas=0.8, 0.95", "amsgrad=true", "eps=1e-6", "nonfinite=skip"]
    )
    assert options == {"betas": (0.8, 0.95), "amsgrad": True, "eps": 1e-6, "nonfinite": "skip"}
    optimizer = catalog.create("adam", [torch.zeros(2, requires_grad=True)], lr=0.1, **options)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["amsgrad"]) == (0.1, (0.8, 0.95), True)
    assert optimizer.nonfinite == "skip"


def test_catalog_name_sets_its_own_defaults():
    optimizer = catalog.create("momentum", [torch.zeros(1, requires_grad=True)])
    assert optimizer.param_groups[0]["momentum"] == 0.9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--optimizer", "adamm"], "unknown optimizer 'adamm'; choose one of: gd, sgd,"),
        (["--optimizer", "adam", "--opt", "beta=0.9"], "adam has no option 'beta'; valid"),
        (["--optimizer", "adam", "--opt", "betas"], "expected key=value"),
        (["--optimizer", "adam", "--opt", "betas=0.9"], "expected 2 numbers separated by"),
        (["--optimizer", "adam", "--opt", "amsgrad=maybe"], "expected true or false"),
        (["--optimizer", "adam", "--opt", "eps=tiny"], "eps=tiny: expected a number"),
        (["--optimizer", "adam", "--opt", "betas=1.5,0.9"], "betas[0] must be in [0, 1), got 1.5"),
        (["--optimizer", "sgd", "--lr", "-1"], "lr must be a finite number >= 0"),
        (["--optimizer", "lecture-adagrad"], "has no torch.optim counterpart"),
    ],
)
def test_bad_command_lines_fail_with_a_message(capsys, argv, message):
    code, _, err = run(capsys, "verify", "--steps", "2", *argv)
    assert code == 2
    assert message in err
    assert err.startswith("ravine: error: ")


def test_unknown_option_lists_the_valid_ones(capsys):
    _, _, err = run(capsys, "verify", "--optimizer", "rmsprop", "--opt", "beta=1")
    for key in ("alpha", "eps", "weight_decay", "momentum", "centered"):
        assert key in err
    assert "lr" not in err.split("valid options:")[1].split(", ")  # η is set with --lr


def test_python_dash_m_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "ravine", "optimizers", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(json.loads(done.stdout)) == len(NAMES)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--task", "sinc", "--optimizer", "adam", "--lr", "0.001"],
        ["doctor", "--task", "valley", "--optimizer", "gd"],
        ["descend", "valley", "--optimizer", "gd"],
        ["sweep", "--task", "sinc", "--optimizer", "gd", "--lr", "0.1,0.2"],
        ["verify", "--optimizer", "adam"],
    ],
    ids=lambda argv: argv[0],
)
def test_eta_is_set_with_lr_never_with_opt(capsys, argv):
    code, out, err = run(capsys, *argv, "--opt", "lr=0.5")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["ravine: error: lr is set with --lr, not --opt"]


def test_the_options_opt_lists_leave_out_lr():
    with pytest.raises(ValueError, match="valid options: ") as refused:
        catalog.parse_options("adam", ["momentum=0.9"])
    listed = str(refused.value).split("valid options: ")[1].split(", ")
    assert "betas" in listed and "lr" not in listed
