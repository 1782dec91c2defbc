"""The adam-parts experiment in quick mode: momentum + RMSProp from ravine's parts, the
preset and the formulas by hand equal torch.optim.Adam to rounding; without bias correction
the first step is (1−β1)/sqrt(1−β2) times η; the criterion fails on numbers that fail it."""

import copy
import json
import math

import pytest

from ravine.experiments import ORDER, adam_parts, experiment

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("adam-parts")
    return out, adam_parts.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["adam-parts"] == "adam_parts" and experiment("adam-parts") is adam_parts


def test_quick_run_reproduces_with_figures_and_json(quick):
    out, result = quick
    assert result.reproduced is adam_parts.holds(result.numbers) is True
    assert result.outcome == "held"
    assert result.verdict.startswith("Reproduced: ")
    assert [f.name for f in result.figures] == ["difference.png", "first-steps.png"]
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG
        assert figure.name in adam_parts.CAPTIONS
    # both exactly torch's θ at every step: their lines coincide, and the caption says so
    assert "The lines of “parts” and “ravine Adam” coincide" in result.captions["difference.png"]
    json.dumps(result.to_json(), allow_nan=False)
    assert [e.holds for e in result.evidence] == [True, True, True, True, None]


def test_parts_equal_torch_and_the_correction_matters(quick):
    n = quick[1].numbers
    assert n["steps"] == adam_parts.QUICK_STEPS
    runs = n["runs"]
    for kind in ("parts", "ravine Adam", "by hand"):
        assert runs[kind]["largest_relative_difference"] <= 1e-12
    assert runs["no bias correction"]["largest_relative_difference"] > 1e-4
    # first step: m = 0.1·g, sqrt(v) = sqrt(0.001)·|g| → |Δθ| = η·0.1/sqrt(0.001) (ε aside)
    assert n["first_step_uncorrected"] == pytest.approx(0.1 / math.sqrt(0.001), rel=1e-3)
    assert n["first_step_corrected"] == pytest.approx(1.0, rel=1e-3)
    assert n["steady_gradient_ratio"]["largest"] == pytest.approx(6.5, abs=0.1)


def test_criterion_can_fail(quick):
    n = quick[1].numbers
    assert adam_parts.holds(n)
    off = copy.deepcopy(n)
    off["runs"]["parts"]["largest_relative_difference"] = 2e-10
    assert not adam_parts.holds(off)
    off = copy.deepcopy(n)
    off["runs"]["by hand"]["largest_relative_difference"] = 0.5
    assert not adam_parts.holds(off)
    assert "Not reproduced" in adam_parts.verdict(off, False)
    assert "but the formulas by hand was 0.5 away" in adam_parts.verdict(off, False)
    small = dict(n, first_step_uncorrected=1.9, first_step_corrected=1.0)
    assert not adam_parts.holds(small)
    assert adam_parts.holds(dict(n, first_step_uncorrected=2.1, first_step_corrected=1.0))


def test_verdict_says_exactly_for_a_difference_of_zero():
    numbers = {
        "steps": 300,
        "task": "digits, relu:units=32, float64, batch 64",
        "rounding": 1e-10,
        "runs": {
            "parts": {"largest_relative_difference": 0.0},
            "ravine Adam": {"largest_relative_difference": 0.0},
            "by hand": {"largest_relative_difference": 4.717e-16},
            "no bias correction": {"largest_relative_difference": 0.7293},
        },
        "first_step_corrected": 0.99999,
        "first_step_uncorrected": 3.1616,
        "largest_early_step_uncorrected": 3.1616,
        "steady_gradient_ratio": {"first": 3.1623},
    }
    text = adam_parts.verdict(numbers, True)
    assert (
        "torch.optim.Adam's θ was matched exactly by momentum + RMSProp composed from ravine's "
        "parts and by ravine.optim.Adam, and to within 4.7e-16 by the formulas by hand "
        "(relative to the largest |θ|; rounding: ≤ 1e-10), while the rule without bias "
        "correction was 0.73 away"
    ) in text
    assert "within 0, 0" not in text and "<=" not in text


def test_the_first_steps_caption_matches_the_measured_ratio():
    _, curves = adam_parts.measure(adam_parts.QUICK_STEPS)
    corrected, uncorrected = (
        curves["effective"]["torch Adam"],
        curves["effective"]["no bias correction"],
    )
    assert min(u / c for c, u in zip(corrected, uncorrected, strict=True)) > 2
    assert "more than twice the corrected step" in adam_parts.CAPTIONS["first-steps.png"]


def difference_numbers(by_hand: float) -> dict:
    return {
        "rounding": 1e-10,
        "runs": {
            "parts": {"largest_relative_difference": 0.0},
            "ravine Adam": {"largest_relative_difference": 0.0},
            "by hand": {"largest_relative_difference": by_hand},
            "no bias correction": {
                "largest_relative_difference": 1.145,
                "first_step_relative_difference": 0.0091,
            },
        },
    }


def test_the_difference_caption_says_which_lines_coincide():
    """ "parts" and "ravine Adam" both differ by 0 at every step: one line lies exactly on the
    other, so the caption says so (and that the later one is drawn dashed over it)."""
    gaps = {
        "parts": [1e-18] * 4,
        "ravine Adam": [1e-18] * 4,
        "by hand": [1e-18, 6e-17, 2e-16, 2.3e-16],
        "no bias correction": [1e-18, 0.0091, 0.5, 1.145],
    }
    text = adam_parts.difference_caption(difference_numbers(2.3e-16), gaps)
    assert "“parts” and “ravine Adam” at exactly 0 every step (drawn at 1e-18)" in text
    assert "“by hand” within float64 rounding (at most 2.3e-16)" in text
    assert "0.0091 away after its first step and 1.1 at most" in text
    assert (
        "The lines of “parts” and “ravine Adam” coincide (the same difference at every step): "
        "“ravine Adam” dashed, with markers, over “parts”."
    ) in text
    gaps["ravine Adam"] = [1e-18, 1e-17, 1e-17, 1e-17]
    assert "coincide" not in adam_parts.difference_caption(difference_numbers(2.3e-16), gaps)
