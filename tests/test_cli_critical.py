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


def test_the_ratio_and_a_degenerate_minimum_are_worded_for_their_numbers():
    """119 of 385 eigenvalues > 0 and 188 zero: the ratio counts the zeros as not positive, and
    a local minimum with a ratio far below 1 says why it is still one, in words that agree with
    its λ_min, slightly negative but within the zero tolerance."""
    from types import SimpleNamespace

    from ravine.commands.critical import text

    task = SimpleNamespace(name="sinc", description="y = sin(x)/x")
    training = SimpleNamespace(descent_steps=10, newton_steps=2)
    point = SimpleNamespace(
        loss=0.01, gradient_norm=1e-5, min_eigenvalue=-1e-9, max_eigenvalue=3.0,
        positive=119, negative=0, zero=188 + 78, zero_tolerance=1e-8, parameters=385,
        minimum_ratio=119 / 385, kind="local minimum",
    )  # fmt: skip
    out = text(task, 1, training, point)
    assert "minimum ratio  0.3091 (eigenvalues > 0 over all P: zero ones count as not > 0)" in out
    assert "not counted" not in out
    # λ_min = −1e-9 is printed above: the kind says no λ lies below −τ, not that none is < 0
    assert "λ_min = -1e-09" in out
    assert (
        "local minimum (no eigenvalue below −1e-08; 266 are 0: flat directions, not ways down)"
        in out
    )
    point.kind, point.negative, point.zero = "saddle point", 78, 188
    assert "kind           saddle point\n" in text(task, 1, training, point) + "\n"
