"""The transformer-schedule experiment: the schedule is the paper's formula with its peak where
the hand computation puts it, the runs are measured, and the outcome follows the numbers."""

import copy
import json

import pytest

from ravine.experiments import ORDER, experiment, transformer_schedule

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("transformer-schedule")
    return out, transformer_schedule.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["transformer-schedule"] == "transformer_schedule"
    assert experiment("transformer-schedule") is transformer_schedule


def test_the_papers_schedule_by_hand():
    formula, values = transformer_schedule.check_formula(512, 4000, 20_000)
    peak = 512**-0.5 * 4000**-0.5  # ≈ 6.988e-4
    assert peak == pytest.approx(6.98771e-4, rel=1e-5)
    assert formula["largest_relative_difference"] < 1e-12
    assert formula["peak_step_num"] == 4000 and formula["peak_value"] == pytest.approx(peak)
    assert formula["value_at_half_warmup"] == pytest.approx(peak / 2)  # linear rise
    assert formula["value_at_four_warmup"] == pytest.approx(peak / 2)  # 1/√n fall
    assert values[0] == pytest.approx(512**-0.5 * 4000**-1.5)  # step_num 1


def test_quick_run_computes_its_verdict_with_figures_and_json_numbers(quick):
    out, result = quick
    assert result.reproduced is transformer_schedule.holds(result.numbers)
    assert result.outcome == transformer_schedule.outcome(result.numbers)
    assert result.verdict == transformer_schedule.verdict(result.numbers, result.reproduced)
    assert [f.name for f in result.figures] == list(transformer_schedule.CAPTIONS)
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG
    json.dumps(result.to_json(), allow_nan=False)
    n = result.numbers
    assert n["peak_lr"] == pytest.approx(32**-0.5 * 100**-0.5)
    # the last step's η, step_num = steps: 32^−0.5 · steps^−0.5 (past the warm-up)
    assert n["final_scheduled_lr"] == pytest.approx(32**-0.5 * n["steps"] ** -0.5)
    runs = n["runs"]
    assert runs["transformer"]["initial_loss"] == runs["constant"]["initial_loss"]


def test_outcome_from_hand_made_numbers(quick):
    base = quick[1].numbers

    def changed(reached=50, scheduled=0.01, constant=0.02, difference=0.0, peak=100):
        numbers = copy.deepcopy(base)
        numbers["runs"]["transformer"].update(steps_to_level=reached, final_loss=scheduled)
        numbers["runs"]["constant"].update(final_loss=constant)
        numbers["formula"].update(largest_relative_difference=difference)
        numbers["formula"].update(peak_step_num=peak, warmup_steps=100)
        return numbers

    cases = [
        (changed(), "held"),
        (changed(constant=0.005), "partial"),  # trains, but ends above the constant η
        (changed(reached=None), "not held"),  # never trained
        (changed(difference=1e-3), "not held"),  # not the paper's formula
        (changed(peak=99), "not held"),  # peak in the wrong place
    ]
    for numbers, expected in cases:
        assert transformer_schedule.outcome(numbers) == expected
        assert transformer_schedule.holds(numbers) is (expected == "held")
        start = {"held": "Reproduced", "partial": "Partly reproduced"}.get(
            expected, "Not reproduced"
        )
        assert transformer_schedule.verdict(numbers, expected == "held").startswith(start)
        decided = [e.holds for e in transformer_schedule.evidence(numbers)]
        assert all(decided) is (expected == "held")


def test_verdict_says_exactly_for_no_difference_and_names_the_final_loss():
    numbers = {
        "formula": {
            "warmup_steps": 4000,
            "largest_relative_difference": 0.0,
            "peak_step_num": 4000,
            "peak_value": 0.00069877,
            "peak_by_hand": 0.00069877,
            "value_at_half_warmup": 0.00034939,
            "value_at_four_warmup": 0.00034939,
            "half_peak_by_hand": 0.00034939,
        },
        "steps": 300,
        "peak_lr": 0.017678,
        "final_scheduled_lr": 0.010206,
        "level": 0.5,
        "match": 1e-12,
        "runs": {
            "transformer": {"steps_to_level": 107, "final_loss": 8.256e-05},
            "constant": {"steps_to_level": 59, "final_loss": 3.613e-05},
        },
    }
    text = transformer_schedule.verdict(numbers, False)
    assert text.startswith("Partly reproduced: ")
    assert "matches the formula exactly and peaks at step_num 4000 with 0.0006988" in text
    assert "at steps 2000 and 16000 it is 0.0003494 and 0.0003494 (half the peak, by hand: " in (
        text
    )
    assert "reached it at step 107 and ended at a loss of 8.26e-05; the constant η = 0.0177 " in (
        text
    )
    assert "0.0e+00" not in text
    numbers["formula"]["largest_relative_difference"] = 2.2e-16
    assert "matches the formula to within 2.2e-16 (relative)" in (
        transformer_schedule.verdict(numbers, False)
    )
    final = transformer_schedule.evidence(numbers)[-1]
    assert final.value == "8.26e-05 vs 3.61e-05" and final.unit == "nats"
