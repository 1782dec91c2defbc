"""The lr-find experiment in quick mode: the range test's suggestion against a sweep of full
runs, its verdict computed from its numbers, its figures, and a criterion that fails on
numbers that miss any part of it."""

import copy
import json
import math

import pytest

from ravine import experiments
from ravine.experiments import lr_find

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("lr-find")
    return out, lr_find.run(out, quick=True)


def test_registered_under_its_name():
    assert experiments.ORDER["lr-find"] == "lr_find"
    assert experiments.experiment("lr-find") is lr_find


def test_grid_is_log_spaced():
    assert lr_find.grid(2, -3, -1) == pytest.approx([1e-3, 10**-2.5, 1e-2, 10**-1.5, 1e-1])
    assert len(lr_find.grid(4, -4, 0)) == 17


def test_quick_run_reproduces_with_figures_and_json_numbers(quick):
    out, result = quick
    assert (result.name, result.title, result.claim) == (
        lr_find.NAME,
        lr_find.TITLE,
        lr_find.CLAIM,
    )
    assert result.reproduced
    assert result.reproduced == lr_find.holds(result.numbers)
    assert result.verdict.startswith("Reproduced")
    assert [f.name for f in result.figures] == ["range-test.png", "sweep.png"]
    for figure in result.figures:
        assert not figure.is_absolute()
        assert (out / figure).read_bytes()[:8] == PNG
    json.dumps(result.to_json(), allow_nan=False)


def test_quick_numbers_agree_with_each_other(quick):
    _, result = quick
    n = result.numbers
    sweep = n["sweep"]
    assert [row["lr"] for row in sweep] == pytest.approx(lr_find.grid(2, -3, -1))
    losses = [row["val_loss"] for row in sweep]
    assert n["best_val_loss"] == min(losses) == losses[n["best_index"]]
    assert n["best_lr"] == sweep[n["best_index"]]["lr"]
    assert n["best_inside_grid"] == (0 < n["best_index"] < len(sweep) - 1)
    assert n["suggestion_over_best"] == pytest.approx(n["suggestion"] / n["best_lr"])
    assert n["suggestion_loss_excess"] == pytest.approx(
        n["suggestion_val_loss"] / n["best_val_loss"] - 1
    )
    assert n["suggestion"] == pytest.approx(n["range_test"]["minimum_lr"] / 10)
    assert n["range_test"]["task"] == "digits" and n["range_test"]["optimizer"] == "adam"
    # the range test costs a small fraction of one full run, let alone of the sweep
    assert n["range_test_updates"] <= 200 < n["run_updates"] == 20 * math.ceil(1437 / 32)


def test_the_run_at_the_suggestion_is_a_train_call(quick):
    """The numbers at η* are those of ravine.training.train with the same settings."""
    from ravine.training import train

    _, result = quick
    n = result.numbers
    run = train("digits", "adam", lr=n["suggestion"], epochs=n["epochs"], batch_size=32, seed=0)
    assert run.final.val_loss == pytest.approx(n["suggestion_val_loss"], rel=1e-5)


def passing():
    return {
        "suggestion": 5e-3,
        "best_lr": 1e-2,
        "best_index": 2,
        "best_inside_grid": True,
        "suggestion_over_best": 0.5,
        "suggestion_val_loss": 0.10,
        "best_val_loss": 0.094,
        "suggestion_loss_excess": 0.10 / 0.094 - 1,
        "factor": 10.0,
        "margin": 0.25,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"best_inside_grid": False},  # the optimum was not bracketed
        {"suggestion_over_best": 0.05},  # η* more than ten times too small
        {"suggestion_over_best": 12.0},  # η* more than ten times too large
        {"suggestion_loss_excess": 0.3},  # the run at η* trains clearly worse
        {"suggestion_val_loss": None, "suggestion_loss_excess": None},  # the run at η* diverged
        {"suggestion": None, "suggestion_over_best": None, "suggestion_loss_excess": None},
    ],
)
def test_criterion_fails_on_numbers_that_miss_it(change):
    assert lr_find.holds(passing())
    numbers = copy.deepcopy(passing())
    numbers.update(change)
    assert not lr_find.holds(numbers)
    assert lr_find.verdict(
        {
            **numbers,
            "sweep": [{}] * 5,
            "epochs": 20,
            "range_test_updates": 157,
            "range_test": {"minimum_lr": 0.05},
        },
        False,
    ).startswith("Not reproduced")


def test_criterion_edges_are_inclusive():
    numbers = passing()
    for ratio in (0.1, 10.0):
        assert lr_find.holds({**numbers, "suggestion_over_best": ratio})
    assert lr_find.holds({**numbers, "suggestion_loss_excess": 0.25})
