"""`ravine lr-find`: the JSON is the library's range test, the text names the suggestion and
its rule, --plot writes a PNG, and bad command lines fail with one clear line."""

import json

import pytest
import torch

from ravine import cli
from ravine.training import lr_find

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_json_is_the_library_range_test(capsys, tmp_path):
    argv = ["lr-find", "--task", "diabetes", "--optimizer", "adam", "--steps", "60"]
    argv += ["--lr-min", "1e-5", "--lr-max", "1", "--batch-size", "16", "--seed", "3"]
    argv += ["--opt", "betas=0.8,0.99", "--json", "--plot", str(tmp_path / "lr.png")]
    code, out, err = run(capsys, *argv)
    assert code == 0 and err == ""
    found = json.loads(out)
    expected = lr_find(
        "diabetes",
        "adam",
        options={"betas": (0.8, 0.99)},
        lr_min=1e-5,
        lr_max=1.0,
        steps=60,
        batch_size=16,
        seed=3,
    )
    assert found == json.loads(json.dumps(expected.to_json()))
    assert found["suggestion"] == expected.suggestion == pytest.approx(found["minimum_lr"] / 10)
    assert found["options"] == {"betas": [0.8, 0.99]} and found["steps"] == 60
    assert len(found["lrs"]) == len(found["losses"]) == len(found["smoothed"]) > 10
    assert (tmp_path / "lr.png").read_bytes()[:8] == PNG


def test_text_names_the_suggestion_and_the_rule(capsys, tmp_path):
    plot = tmp_path / "sub" / "curve.png"
    code, out, _ = run(
        capsys, "lr-find", "--task", "digits", "--optimizer", "momentum", "--plot", str(plot)
    )
    assert code == 0
    expected = lr_find("digits", "momentum")
    assert out.startswith("digits, momentum, batch 32: η from 1e-06 to 10 over 200 updates")
    assert f"suggestion   η* = {expected.suggestion:.3g}" in out
    assert "divided by 10" in out and f"plot: {plot}" in out
    assert plot.read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr-min", "0"], "argument --lr-min: must be a finite number > 0, got 0"),
        (["--lr-max", "-1"], "argument --lr-max: must be a finite number > 0, got -1"),
        (
            ["--lr-min", "1", "--lr-max", "0.1"],
            "ravine: error: --lr-min 1 must be below --lr-max 0.1",  # the flags, not Python's
        ),
        (["--lr-min", "0.5", "--lr-max", "0.5"], "--lr-min 0.5 must be below --lr-max 0.5"),
        (["--steps", "5"], "ravine lr-find: error: argument --steps: must be >= 10, got 5"),
        (["--steps", "many"], "argument --steps: expected a whole number, got 'many'"),
        (
            ["--batch-size", "400"],
            "ravine: error: batch_size 400 is larger than the 354 training examples of task "
            "'diabetes'",
        ),
        (["--opt", "lr=0.1"], "ravine: error: the range test sets η itself"),
        (["--opt", "momentum=0.9"], "ravine: error: adam has no option 'momentum'"),
    ],
)
def test_bad_arguments_fail_with_one_line(capsys, extra, message):
    code, out, err = run(capsys, "lr-find", "--task", "diabetes", "--optimizer", "adam", *extra)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_unknown_task_and_optimizer(capsys):
    code, _, err = run(capsys, "lr-find", "--task", "mnist", "--optimizer", "adam")
    assert code == 2
    assert "argument --task: unknown task 'mnist'; valid: sinc, diabetes, digits, reverse" in err
    code, _, err = run(capsys, "lr-find", "--task", "digits", "--optimizer", "adamax")
    assert code == 2 and "argument --optimizer: unknown optimizer 'adamax'; valid: gd" in err
    code, _, err = run(capsys, "lr-find", "--optimizer", "adam")
    assert code == 2 and "the following arguments are required: --task" in err
