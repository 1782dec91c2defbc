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
