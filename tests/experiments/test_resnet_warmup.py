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
