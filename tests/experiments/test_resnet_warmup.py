"""The resnet-warmup experiment: the warm-up switches 0.01 → 0.1 when the batch error falls
below 80%, and held / partial / not held follow from the numbers."""

import copy
import json

import pytest

from ravine.experiments import ORDER, experiment, resnet_warmup

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("resnet-warmup")
    return out, resnet_warmup.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["resnet-warmup"] == "resnet_warmup"
    assert experiment("resnet-warmup") is resnet_warmup


def test_quick_run_computes_its_verdict_with_figures_and_json_numbers(quick):
    out, result = quick
    assert result.reproduced is resnet_warmup.holds(result.numbers)
    assert result.outcome == resnet_warmup.outcome(result.numbers)
    assert result.verdict == resnet_warmup.verdict(result.numbers, result.reproduced)
    assert [f.name for f in result.figures] == list(resnet_warmup.CAPTIONS)
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG
    json.dumps(result.to_json(), allow_nan=False)
    (seed,) = result.numbers["per_seed"]
    runs = seed["runs"]
    assert runs["warm-up"]["first_loss"] == runs["0.1"]["first_loss"]  # same weights, batch
    assert runs["0.1"]["switched_at"] is None and runs["0.01"]["switched_at"] is None


def test_the_warm_up_switches_the_step_after_the_error_falls_below_80_percent():
    trained = resnet_warmup.train("warm-up", 20, seed=0)
    below = next(t for t, e in enumerate(trained["errors"]) if e < 0.8)
    assert trained["switched_at"] == below + 1
    assert trained["rates"][: below + 1] == [pytest.approx(0.01)] * (below + 1)
    assert trained["rates"][below + 1 :] == [pytest.approx(0.1)] * (19 - below)


def _numbers(base, spike_large, spike_warm, accuracy_warm, accuracy_large=0.96, reach=(3, 3)):
    numbers = copy.deepcopy(base)
    means = numbers["means"]
    means["0.1"].update(early_spike=spike_large, final_accuracy=accuracy_large)
    means["warm-up"].update(early_spike=spike_warm, final_accuracy=accuracy_warm)
    means["0.1"]["steps_to_error_below_80"], means["warm-up"]["steps_to_error_below_80"] = reach
    return numbers


def test_outcome_from_hand_made_numbers(quick):
    base = quick[1].numbers
    cases = [
        (_numbers(base, 2.0, 1.0, 0.96), "held"),  # 0.1 spikes, warm-up does not, ends as well
        (_numbers(base, 1.0, 1.0, 0.96, reach=(40, 4)), "held"),  # 0.1 slow to start
        (_numbers(base, 1.0, 1.0, 0.955), "partial"),  # nothing to avoid, within the slack
        (_numbers(base, 2.0, 1.8, 0.96), "not held"),  # the warm-up spikes too
        (_numbers(base, 2.0, 1.0, 0.94), "not held"),  # the warm-up ends 2 points worse
    ]
    for numbers, expected in cases:
        assert resnet_warmup.outcome(numbers) == expected
        assert resnet_warmup.holds(numbers) is (expected == "held")
        start = {"held": "Reproduced", "partial": "Partly reproduced"}.get(
            expected, "Not reproduced"
        )
        assert resnet_warmup.verdict(numbers, expected == "held").startswith(start + ":")
        decided = [e.holds for e in resnet_warmup.evidence(numbers) if e.holds is not None]
        assert all(decided) is (expected == "held")


def _run(spike, reach, switched=None, accuracy=0.96):
    return {
        "early_spike": spike,
        "steps_to_error_below_80": reach,
        "switched_at": switched,
        "final_accuracy": accuracy,
    }


def _full_run_numbers(spike_large=1.0, spike_warm=1.0, switched=(4, 3)):
    """Numbers shaped like a full run's: seeds 0 and 1, no spike at all (early_spike 1.0)."""
    per_seed = [
        {
            "seed": seed,
            "runs": {
                "warm-up": _run(1.0, reach, switch, 0.97),
                "0.1": _run(1.0, 1, None, 0.97),
                "0.01": _run(1.0, reach, None, 0.96),
            },
        }
        for seed, reach, switch in ((0, 3, switched[0]), (1, 2, switched[1]))
    ]
    means = {
        "warm-up": _run(spike_warm, 2.5, accuracy=0.9625),
        "0.1": _run(spike_large, 1.0, accuracy=0.9653),
        "0.01": _run(1.0, 2.5, accuracy=0.9569),
    }
    return {
        "steps": 150,
        "seeds": [0, 1],
        "early_steps": 30,
        "spike_limit": 1.5,
        "slack": 0.01,
        "per_seed": per_seed,
        "means": means,
    }


def test_verdict_reads_a_spike_of_one_as_no_rise_and_steps_per_seed():
    text = resnet_warmup.verdict(_full_run_numbers(), False)
    assert text.startswith("Partly reproduced: over 2 seeds (0 and 1) and 150 steps")
    assert "η = 0.1 from the start never rose above its first loss in the first 30 steps" in text
    assert "got the batch error below 80% at step 1 in every seed" in text
    assert "the warm-up never rose above its first loss" in text
    assert "below 80% at steps 3 and 2 (seeds 0 and 1)" in text
    assert "switched to 0.1 at steps 4 and 3 (seeds 0 and 1)" in text
    for odd in ("×1 ", "1.0 steps", "[4, 3]", "[0, 1]"):
        assert odd not in text


def test_verdict_quotes_a_real_spike_and_a_seed_that_never_switched():
    text = resnet_warmup.verdict(_full_run_numbers(spike_large=1.3, switched=(4, None)), False)
    assert "η = 0.1 from the start rose to ×1.3 its first loss in the first 30 steps" in text
    assert "(mean over the seeds)" in text
    assert "switched to 0.1 at step 4 (seed 0) and never (seed 1)" in text


def test_steps_to_the_error_line_read_as_counts(quick):
    """Steps are whole numbers: one seed's 1 and 3 read '1 / 3', not '1.0 / 3.0'; a mean over
    seeds keeps its half."""
    numbers = _numbers(quick[1].numbers, 1.0, 1.0, 0.96, reach=(1, 3))
    (row,) = [e for e in resnet_warmup.evidence(numbers) if "steps to a batch error" in e.name]
    assert row.value == "1 / 3"
    numbers["means"]["0.1"]["steps_to_error_below_80"] = 2.5
    (row,) = [e for e in resnet_warmup.evidence(numbers) if "steps to a batch error" in e.name]
    assert row.value == "2.5 / 3"


def test_the_early_loss_caption_says_what_seed_0_did(quick):
    numbers = copy.deepcopy(quick[1].numbers)
    runs = numbers["per_seed"][0]["runs"]
    runs["0.1"]["early_spike"], runs["warm-up"]["switched_at"] = 2.345, 17
    text = resnet_warmup.captions(numbers)["early-loss.png"]
    assert "within the first 30 steps at η = 0.1 it climbs to 2.35× its starting loss" in text
    assert "the warm-up jumps to 0.1 at step 17" in text
    runs["0.1"]["early_spike"], runs["warm-up"]["switched_at"] = 1.0, None
    text = resnet_warmup.captions(numbers)["early-loss.png"]
    assert "it never climbs above its starting loss" in text and "climbs to" not in text
    assert "never reached a batch error below 80%, so η stays 0.01" in text
    assert (
        quick[1].captions["early-loss.png"]
        == resnet_warmup.captions(quick[1].numbers)["early-loss.png"]
    )  # the report shows the run's own
