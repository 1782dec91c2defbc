"""The decay experiment in quick mode: η/√(t+1) removes Adagrad's bursts at the price of a
later arrival; cosine and step decay still burst while η^t is large; the outcome is held,
partial or not held from the rows' numbers."""

import copy
import json

import pytest

from ravine.experiments import ORDER, adagrad_bursts, decay, experiment

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("decay")
    return out, decay.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["decay"] == "decay" and experiment("decay") is decay


def test_quick_run_numbers_figures_and_json(quick):
    out, result = quick
    n = result.numbers
    assert result.reproduced is decay.holds(n) is True
    assert result.outcome == decay.outcome(n)
    assert result.verdict == decay.verdict(n, result.reproduced)
    assert [f.name for f in result.figures] == ["pokemon-paths.png", "loss.png", "other-decays.png"]
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG
        assert figure.name in decay.CAPTIONS
    json.dumps(result.to_json(), allow_nan=False)
    assert result.lecture and result.command.startswith("ravine descend pokemon")
    assert any(e.holds is True for e in result.evidence)


def test_inverse_sqrt_is_smooth_but_late(quick):
    n = quick[1].numbers
    assert n["bursts"] == 0 and n["loss_rises"] == 0 and n["instability_onsets"] == 0
    assert n["fixed_lr"]["bursts"] > 0
    assert n["arrival_delay"] == pytest.approx(n["arrival_step"] / n["fixed_lr"]["arrival_step"])
    assert n["arrival_delay"] > 10  # the classic Adagrad's steps only shrink: it arrives late


def test_other_decays_are_compared_over_the_same_window(quick):
    rows = quick[1].numbers["other_decays"]
    assert list(rows) == ["cosine", "step"]
    for row in rows.values():
        assert row["steps"] == decay.QUICK_SHORT_STEPS
        assert 0 < row["fixed_lr_bursts_same_window"]
        # while η^t is still large they burst, but less often than the fixed η does
        assert row["bursts"] <= row["fixed_lr_bursts_same_window"]
    assert rows["cosine"]["schedule"].startswith("cosine")


def test_outcome_from_the_rows(quick):
    n = copy.deepcopy(quick[1].numbers)
    for row in n["other_decays"].values():
        row.update(bursts=0, loss_rises=0, distance_final=0.0)
    assert decay.outcome(n) == "held"
    assert decay.verdict(n, True).startswith("Reproduced: ")
    n["other_decays"]["cosine"]["bursts"] = 3
    assert decay.outcome(n) == "partial"
    n["bursts"] = 1
    assert decay.holds(n) is False and decay.outcome(n) == "partial"
    n["other_decays"]["step"]["loss_rises"] = 5
    assert decay.outcome(n) == "not held"
    assert decay.verdict(n, False).startswith("Not reproduced: ")


def test_criterion_fails_on_the_fixed_rate_run(quick):
    """The fixed-η run, judged by decay's criterion: its bursts make it fail."""
    trajectory = adagrad_bursts.adagrad_run(adagrad_bursts.QUICK_STEPS)
    numbers = {**adagrad_bursts.burst_numbers(trajectory), "loss_rises": 0}
    assert decay.holds(numbers) is False
    assert decay.holds({**quick[1].numbers, "loss_rises": 1}) is False
    assert decay.holds({**quick[1].numbers, "distance_final": 2.0}) is False
    assert decay.later(None, 2098) is None and decay.later(4196, 2098) == 2.0
