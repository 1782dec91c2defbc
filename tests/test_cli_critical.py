"""`ravine critical`: the JSON has exactly its fields with the library's numbers; errors are one
line."""

import json

import pytest

from ravine import cli
from ravine.diagnose.critical import classify_critical_point, train_to_critical_point
from ravine.tasks import sinc_task

FIELDS = [
    "task",
    "seed",
    "training_loss",
    "gradient_norm",
    "min_eigenvalue",
    "max_eigenvalue",
    "minimum_ratio",
    "kind",
]


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_json_has_the_fields_and_the_library_numbers(capsys):
    code, out, err = run(capsys, "critical", "--task", "sinc", "--seed", "1", "--json")
    assert code == 0 and err == ""
    found = json.loads(out)
    assert list(found) == FIELDS
    task = sinc_task(seed=1)
    model = task.model()
    train_to_critical_point(model, task.loss_fn, task.inputs, task.targets)
    point = classify_critical_point(model, task.loss_fn, task.inputs, task.targets)
    assert found["task"] == "sinc" and found["seed"] == 1
    assert found["training_loss"] == point.loss
    assert found["gradient_norm"] == point.gradient_norm < 1e-3
    assert found["min_eigenvalue"] == point.min_eigenvalue
    assert found["max_eigenvalue"] == point.max_eigenvalue
    assert found["minimum_ratio"] == point.minimum_ratio
    assert found["kind"] == point.kind


def test_text_report(capsys):
    code, out, _ = run(capsys, "critical", "--seed", "1")
    assert code == 0
    assert "sinc (seed 1)" in out and "minimum ratio" in out and "kind" in out
    assert "gradient norm" in out and "λ_min" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["critical", "--task", "mnist"], "unknown task 'mnist'; valid: sinc"),
        (["critical", "--seed", "x"], "invalid int value: 'x'"),
    ],
)
def test_errors_are_one_line(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err
