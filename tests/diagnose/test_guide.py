"""The general guide on constructed runs: each verdict, the thresholds at their edges, ties of
size, the deciding run, duck-typed training runs, and bad input."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ravine.diagnose import (
    Guidance,
    RunSummary,
    general_guide,
    mean_prediction_loss,
    summaries,
)
from ravine.diagnose.guide import MARGIN, REMEDIES, SMALL, VERDICTS

R = RunSummary


def verdicts(guidance: Guidance) -> dict[str, str]:
    return {note.name: note.verdict for note in guidance.notes}


# --- the four verdicts -------------------------------------------------------------------------


def test_model_bias_when_every_size_has_a_large_training_loss():
    runs = [R("linear", 2, 0.092, 0.091), R("sigmoid:1", 4, 0.0918, 0.09), R("deep", 6, 0.08, 0.09)]
    g = general_guide(runs, baseline=0.092)
    assert g.verdict == "model bias" and g.run == "deep"
    assert g.target == pytest.approx(SMALL * 0.092)
    assert set(verdicts(g).values()) == {"model bias"}
    assert g.remedy == REMEDIES["model bias"] and "more flexible" in g.remedy
    assert g.evidence == {
        "size": 6.0,
        "train_loss": 0.08,
        "val_loss": 0.09,
        "target": pytest.approx(0.0092),
        "baseline": 0.092,
    }
    assert "0.08" in g.reason and "0.0092" in g.reason


def test_optimization_issue_when_a_larger_run_ends_higher_than_a_smaller_one():
    runs = [R("1 layer", 1, 0.43, 0.57), R("8 layers", 8, 1.01, 1.14)]
    g = general_guide(runs, baseline=1.0)
    assert g.verdict == "optimization issue" and g.run == "8 layers"
    assert verdicts(g) == {"1 layer": "model bias", "8 layers": "optimization issue"}
    assert g.notes[1].compared_with == "1 layer"
    assert g.evidence["smaller_train_loss"] == 0.43 and g.evidence["smaller_size"] == 1.0
    assert f"{1.01 / 0.43:.3g}×" in g.reason  # the ratio 2.35 is quoted
    assert "shallower" in g.remedy


def test_optimization_issue_even_when_the_smaller_run_fits():
    g = general_guide([R("small", 10, 0.001, 0.002), R("large", 100, 0.5, 0.6)], target=0.01)
    assert g.verdict == "optimization issue"
    assert verdicts(g)["small"] == "fine"


def test_optimization_issue_compares_with_the_best_smaller_run():
    runs = [R("a", 1, 0.6, 0.6), R("b", 2, 0.3, 0.3), R("c", 3, 0.5, 0.5)]
    g = general_guide(runs, target=0.1)
    assert g.notes[2].compared_with == "b"  # 0.5 > 1.1·0.3, though not > 1.1·0.6
    assert verdicts(g) == {"a": "model bias", "b": "model bias", "c": "optimization issue"}


def test_overfitting_when_training_is_small_and_validation_large():
    runs = [R("linear", 11, 0.47, 0.51), R("relu:256", 3073, 0.0019, 1.02)]
    g = general_guide(runs, baseline=0.98)
    assert g.verdict == "overfitting" and g.run == "relu:256"
    assert verdicts(g) == {"linear": "model bias", "relu:256": "overfitting"}
    assert f"{1.02 / 0.0019:.3g}×" in g.reason
    assert "more training data" in g.remedy.lower() and "dropout" in g.remedy


def test_fine_when_both_losses_are_small():
    g = general_guide([R("net", 3000, 5e-5, 6e-5)], baseline=0.09)
    assert g.verdict == "fine"
    assert g.evidence["val_loss"] == 6e-5
    assert str(g).startswith("fine: net (size 3000)")


def test_every_verdict_is_named_and_has_a_remedy():
    assert set(REMEDIES) == set(VERDICTS)


# --- thresholds at their edges -----------------------------------------------------------------


def test_a_training_loss_equal_to_the_target_is_small():
    assert general_guide([R("x", 1, 0.1, 0.1)], target=0.1).verdict == "fine"
    assert general_guide([R("x", 1, 0.1000001, 0.1)], target=0.1).verdict == "model bias"
    assert general_guide([R("x", 1, 0.1, 0.1000001)], target=0.1).verdict == "overfitting"


def test_target_wins_over_baseline_and_both_are_reported():
    g = general_guide([R("x", 1, 0.3, 0.35)], baseline=1.0, target=0.5)
    assert g.verdict == "fine" and g.target == 0.5
    assert g.evidence["baseline"] == 1.0 and g.evidence["target"] == 0.5
    assert general_guide([R("x", 1, 0.3, 0.35)], baseline=1.0).verdict == "model bias"


def test_a_gap_within_the_margin_is_a_tie_not_an_optimization_issue():
    small = R("small", 1, 0.5, 0.5)
    at_margin = R("large", 2, (1 + MARGIN) * 0.5, 0.5)
    beyond = R("large", 2, (1 + MARGIN) * 0.5 * (1 + 1e-9), 0.5)
    assert general_guide([small, at_margin], target=0.1).verdict == "model bias"
    assert general_guide([small, beyond], target=0.1).verdict == "optimization issue"
    # equal training losses: the larger model gained nothing, which is model bias
    assert general_guide([small, R("large", 2, 0.5, 0.5)], target=0.1).verdict == "model bias"
    assert general_guide([small, at_margin], target=0.1, margin=0.0).verdict == (
        "optimization issue"
    )


def test_a_smaller_run_with_zero_loss_makes_any_large_loss_an_optimization_issue():
    g = general_guide([R("a", 1, 0.0, 0.0), R("b", 2, 0.2, 0.2)], target=0.1)
    assert g.verdict == "optimization issue" and "∞×" in g.reason


def test_overfitting_with_zero_training_loss_quotes_an_infinite_ratio():
    g = general_guide([R("a", 1, 0.0, 0.5)], target=0.1)
    assert g.verdict == "overfitting" and "∞×" in g.reason


# --- ties of size, the deciding run ------------------------------------------------------------


def test_runs_of_equal_size_are_not_compared_with_each_other():
    runs = [R("seed 0", 5, 0.05, 0.05), R("seed 1", 5, 0.5, 0.5)]
    g = general_guide(runs, target=0.1)
    assert verdicts(g) == {"seed 0": "fine", "seed 1": "model bias"}
    assert g.verdict == "fine" and g.run == "seed 0"  # the best try of the largest size
    assert "best of 2 runs of the largest size" in g.reason


def test_the_deciding_run_is_the_largest_not_the_best():
    runs = [R("small", 1, 0.01, 0.02), R("large", 9, 0.001, 0.9)]
    g = general_guide(runs, target=0.1)
    assert g.verdict == "overfitting" and g.run == "large"
    # in any order
    assert general_guide(runs[::-1], target=0.1).run == "large"


def test_equal_training_losses_at_the_largest_size_break_on_validation_then_order():
    runs = [R("a", 3, 0.01, 0.5), R("b", 3, 0.01, 0.05), R("c", 3, 0.01, 0.05)]
    assert general_guide(runs, target=0.1).run == "b"
    g = general_guide([R("a", 3, 0.5), R("b", 3, 0.5)], target=0.1)
    assert g.run == "a" and g.verdict == "model bias" and "val_loss" not in g.evidence


def test_sizes_may_be_depths_or_parameter_counts_of_any_real_type():
    g = general_guide(
        [R("1", np.int64(1), np.float32(0.4), 0.5), R("8", 8.0, 1.0, 1.1)], baseline=1
    )
    assert g.verdict == "optimization issue"
    assert isinstance(g.notes[0].name, str) and type(g.evidence["smaller_train_loss"]) is float


# --- from training runs, duck-typed ------------------------------------------------------------


def fake_run(train, val, spec="relu:units=8"):
    return SimpleNamespace(final=SimpleNamespace(train_loss=train, val_loss=val), model_spec=spec)


def test_summary_from_anything_with_final_losses():
    s = RunSummary.from_run(fake_run(0.2, 0.3), size=97)
    assert s == RunSummary("relu:units=8", 97.0, 0.2, 0.3)
    assert RunSummary.from_run(fake_run(0.2, None), size=1, name="x").val_loss is None
    assert RunSummary.from_run(SimpleNamespace(final=SimpleNamespace(train_loss=1.0)), size=2) == (
        RunSummary("size 2", 2.0, 1.0, None)
    )


def test_summaries_pair_runs_with_sizes_and_names():
    out = summaries([fake_run(0.2, 0.3), fake_run(0.1, 0.4)], [1, 2], names=["a", "b"])
    assert [(s.name, s.size, s.train_loss, s.val_loss) for s in out] == [
        ("a", 1.0, 0.2, 0.3),
        ("b", 2.0, 0.1, 0.4),
    ]


def test_mean_prediction_loss_is_the_variance():
    y = torch.tensor([[1.0], [2.0], [4.0]])
    assert mean_prediction_loss(y) == pytest.approx(
        ((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + 25 / 9) / 3
    )
    assert mean_prediction_loss([5.0]) == 0.0


def test_guidance_is_json_able():
    g = general_guide([R("a", 1, 0.5, 0.6), R("b", 2, 0.01, 0.9)], baseline=1.0)
    data = json.loads(json.dumps(g.to_json(), allow_nan=False))
    assert data["verdict"] == "overfitting" and data["run"] == "b"
    assert [n["verdict"] for n in data["notes"]] == ["model bias", "overfitting"]


# --- bad input ---------------------------------------------------------------------------------


def test_no_runs():
    with pytest.raises(ValueError, match="at least one RunSummary, got none"):
        general_guide([], baseline=1.0)


@pytest.mark.parametrize("field", ["train_loss", "val_loss"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_losses(field, value):
    losses = {"train_loss": 0.1, "val_loss": 0.2, field: value}
    with pytest.raises(ValueError, match=f"{field} of run 'x' must be a finite number >= 0, got"):
        R("x", 1, **losses)


def test_negative_and_non_numeric_losses():
    with pytest.raises(ValueError, match=r"train_loss of run 'x' .* got -0.1 \(the guide compares"):
        R("x", 1, -0.1, 0.2)
    with pytest.raises(
        ValueError, match="val_loss of run 'x' must be a finite number >= 0, got '1'"
    ):
        R("x", 1, 0.1, "1")
    with pytest.raises(ValueError, match=r"train_loss of run 'x' .* got True"):
        R("x", 1, True, 0.1)


@pytest.mark.parametrize("size", [0, -3, math.nan, math.inf, "8", True, None])
def test_bad_sizes(size):
    with pytest.raises(ValueError, match="size of run 'x' must be a finite number > 0"):
        R("x", size, 0.1, 0.1)


def test_bad_names():
    with pytest.raises(ValueError, match="run name must be non-empty text, got ''"):
        R("", 1, 0.1, 0.1)
    with pytest.raises(ValueError, match="distinct, got 'a' twice"):
        general_guide([R("a", 1, 0.1, 0.1), R("a", 2, 0.1, 0.1)], target=0.5)


def test_mismatched_sizes_and_names():
    with pytest.raises(ValueError, match="got 2 runs but 1 sizes; give one size per run"):
        summaries([fake_run(0.1, 0.1), fake_run(0.2, 0.2)], [1])
    with pytest.raises(ValueError, match="got 1 runs but 2 names"):
        summaries([fake_run(0.1, 0.1)], [1], names=["a", "b"])


def test_runs_must_be_summaries():
    with pytest.raises(ValueError, match=r"RunSummary.from_run builds one .* got SimpleNamespace"):
        general_guide([fake_run(0.1, 0.1)], target=0.5)


def test_a_run_without_a_final_record():
    with pytest.raises(ValueError, match="run 'deep' has no final record"):
        RunSummary.from_run(SimpleNamespace(final=None, model_spec="deep"), size=3)


def test_baseline_target_and_margin_must_be_valid():
    runs = [R("a", 1, 0.1, 0.1)]
    with pytest.raises(ValueError, match=r"give baseline .* or target"):
        general_guide(runs)
    for bad in (0, -1.0, math.nan, math.inf, "1"):
        with pytest.raises(ValueError, match=f"baseline must be a finite number > 0, got {bad!r}"):
            general_guide(runs, baseline=bad)
        with pytest.raises(ValueError, match=f"target must be a finite number > 0, got {bad!r}"):
            general_guide(runs, target=bad)
    with pytest.raises(ValueError, match="baseline must be"):
        general_guide(runs, baseline=-1.0, target=0.5)  # checked even when target decides
    for bad in (-0.1, math.nan, True):
        with pytest.raises(ValueError, match=f"margin must be a finite number >= 0, got {bad!r}"):
            general_guide(runs, target=0.5, margin=bad)


def test_a_small_training_loss_without_validation_cannot_be_judged():
    with pytest.raises(
        ValueError, match=r"run 'a' has a small training loss .* no validation loss"
    ):
        general_guide([R("a", 1, 0.01)], target=0.1)


def test_targets_for_the_baseline_must_be_finite_and_present():
    with pytest.raises(ValueError, match="at least one value"):
        mean_prediction_loss([])
    with pytest.raises(ValueError, match="finite"):
        mean_prediction_loss([1.0, math.nan])
