"""The error-surface experiments in quick mode: each reproduces its claim with figures and JSON
numbers, and each criterion comes out False on numbers that fail it."""

import copy
import json
import math

import pytest
import torch

from ravine.experiments import (
    ORDER,
    adagrad_bursts,
    classification_loss,
    experiment,
    normalization,
    stuck,
    tiny_lr,
)
from ravine.report.plots import STEP_STYLES, color_name, series_colors
from ravine.surfaces import Trajectory, surface

MODULES = {
    "stuck": stuck,
    "tiny-lr": tiny_lr,
    "adagrad-bursts": adagrad_bursts,
    "normalization": normalization,
    "classification-loss": classification_loss,
}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every experiment run once in quick mode, keyed by name, with the folder it wrote to
    (decay has its own tests: it can hold in part)."""
    out = tmp_path_factory.mktemp("experiments")
    return out, {name: module.run(out, quick=True) for name, module in MODULES.items()}


@pytest.mark.parametrize("name", list(MODULES))
def test_registered_under_its_name(name):
    assert ORDER[name] == MODULES[name].__name__.rsplit(".", 1)[1]
    assert experiment(name) is MODULES[name]
    assert MODULES[name].NAME == name


@pytest.mark.parametrize("name", list(MODULES))
def test_quick_run_reproduces_with_figures_and_json_numbers(results, name):
    out, by_name = results
    result = by_name[name]
    assert result.name == name and result.title and result.claim
    assert result.reproduced is True, result.verdict
    assert result.verdict.startswith("Reproduced: ")
    assert 1 <= len(result.figures) <= 3
    for figure in result.figures:
        assert not figure.is_absolute() and figure.parts[0] == name
        assert (out / figure).read_bytes()[:8] == PNG
    text = json.dumps(result.numbers, allow_nan=False)  # plain JSON: no tensors, no nan
    assert json.loads(text) == result.numbers
    json.dumps(result.to_json(), allow_nan=False)


def test_stuck_numbers(results):
    n = results[1]["stuck"].numbers
    assert n["loss_relative_change_last_half"] < 1e-3
    assert n["gradient_norm_min_last_half"] > 380  # 400·tanh(1.915) ≈ 383
    assert n["gradient_norm_start"] == pytest.approx(math.hypot(400 * math.tanh(3), 8), rel=1e-12)
    assert abs(n["w1_final"]) == pytest.approx(n["w1_bounce_predicted"], rel=1e-9)
    assert n["w1_bounce_predicted"] == pytest.approx(2 * math.tanh(n["w1_bounce_predicted"]))


def test_stuck_with_a_small_rate_is_not_stuck():
    """η = 10⁻⁴ does not overshoot (η·400 < 2): the loss keeps falling, so no verdict."""
    numbers, _ = stuck.measure(lr=1e-4, steps=2000)
    assert numbers["loss_relative_change_last_half"] > 0.1
    assert numbers["w1_bounce_predicted"] == 0.0
    assert stuck.holds(numbers) is False
    assert stuck.verdict(numbers, False).startswith("Not reproduced: ")


def test_tiny_lr_numbers(results):
    n = results[1]["tiny-lr"].numbers
    low, high = n["hessian_eigenvalues"]
    assert high / low == pytest.approx(n["condition_number"])
    assert n["largest_stable_lr"] == pytest.approx(1.1449e-6, rel=1e-4)
    # the flat direction shrinks by (1 − η·λ_min) per update
    assert n["updates_to_close_99_percent"] == pytest.approx(math.log(100) / (1e-7 * low))
    assert n["distance_fraction_left"] > 0.9
    assert n["w_crossed_minimum"] == 0  # no bouncing on the steep wall


def test_tiny_lr_criterion_needs_each_part():
    numbers, _, _ = tiny_lr.measure(steps=2000)
    assert tiny_lr.holds(numbers)
    for key, value in [
        ("w_error_fraction_left", 0.5),  # never came down the wall
        ("distance_fraction_left", 0.01),  # reached the minimum
        ("valley_w1_never_increased", False),  # bounced
        ("valley_w2_fraction_left", 0.5),  # travelled along the valley
    ]:
        assert tiny_lr.holds({**numbers, key: value}) is False, key


def test_tiny_lr_verdict_names_what_the_estimate_counts():
    numbers = {
        "lr": 1e-07,
        "steps": 100000,
        "final": [-123.69, 2.4834],
        "distance_start": 68.76,
        "distance_final": 64.74,
        "w_error_start": 6.669,
        "w_error_final": 0.186,
        "loss_final": 113617.2,
        "loss_minimum": 101936.7,
        "moved_last_tenth": 0.3618,
        "updates_to_close_99_percent": 8262651.5,
        "valley_w1_never_increased": True,
        "valley_w2_start": 8.0,
        "valley_w2_final": 7.9204,
    }
    text = tiny_lr.verdict(numbers, True)
    assert "needing ≈ 8.3e+06 updates to close 99% of the way" in text
    assert "8.3e+06 to close" not in text
    assert "but ended at (b, w) = (-123.69, 2.483), still 64.7 from the minimum" in text


def pokemon_path(w_errors):
    """A made-up trajectory on the Pokémon loss: b = b*, w = w* + the given errors."""
    s = surface("pokemon")
    b, w = s.minimum
    theta = torch.tensor([[[b, w + e]] for e in w_errors], dtype=torch.float64)
    steps = len(w_errors) - 1
    rates = torch.ones(steps, 1, dtype=torch.float64)
    return Trajectory(s, "gd", torch.ones(1), theta, None, rates)


def test_burst_definition_on_a_made_up_path():
    # steps: 0 (descending, not a burst), 1 inside, 2–3 out, 4–5 in, 6 out, 7 in, 8–9 out (open)
    errors = [5.0, 0.5, -2.0, 3.0, 0.2, -1.0, 1.5, 0.0, -4.0, 1.01]
    bursts = adagrad_bursts.find_bursts(pokemon_path(errors))
    assert [(b.start, b.end) for b in bursts] == [(2, 4), (6, 7), (8, 10)]
    assert [b.peak_w_error for b in bursts] == pytest.approx([3.0, 1.5, 4.0], rel=1e-12)
    h_ww = surface("pokemon").hessian(torch.zeros(2))[1, 1]  # L − L* = ½·H_ww·(Δw)² here
    expected = [0.5 * float(h_ww) * e**2 for e in (3.0, 1.5, 4.0)]
    assert [b.peak_loss_gap for b in bursts] == pytest.approx(expected, rel=1e-9)
    assert adagrad_bursts.find_bursts(pokemon_path([2.0, 3.0, -2.0])) == []  # never inside


def test_adagrad_bursts_numbers(results):
    n = results[1]["adagrad-bursts"].numbers
    assert n["bursts"] == len(n["burst_starts"]) == len(n["burst_peak_w_error"])
    assert all(size > n["burst_threshold"] for size in n["burst_peak_w_error"])
    assert n["burst_starts"] == sorted(n["burst_starts"])
    # every burst comes after the per-parameter step became unstable along w
    assert n["bursts_after_an_onset"] == n["bursts"]
    assert "|w^t − w*| > 1.0" in n["burst_definition"]


def _bursts_numbers(**changed) -> dict:
    """adagrad-bursts' numbers as a full run gives them (70,000 steps), ``changed`` changed."""
    numbers = {
        "lr": 1.0,
        "steps": 70000,
        "arrival_radius": 1.0,
        "arrival_step": 2099,
        "bursts_after_arrival": 46,
        "bursts": 49,
        "burst_threshold": 1.0,
        "largest_burst_w_error": 4.0035,
        "largest_burst_loss_gap": 1.4194e7,
        "largest_burst_start": 718,
        "largest_burst_after_arrival_w_error": 3.3012,
        "largest_burst_after_arrival_loss_gap": 9.594e6,
        "bursts_after_an_onset": 49,
        "min_bursts": 3,
    }
    return {**numbers, **changed}


def test_adagrad_verdict_counts_bursts_in_words():
    numbers = _bursts_numbers(steps=100000, bursts_after_arrival=59, bursts=62)
    numbers["bursts_after_an_onset"] = 62
    text = adagrad_bursts.verdict(numbers, True)
    assert "came within 1 of the minimum at step 2,099 and then burst 59 times, reaching" in text
    numbers["bursts_after_arrival"] = 1
    assert "and then burst once, reaching" in adagrad_bursts.verdict(numbers, False)


def test_adagrad_verdict_quotes_the_bursts_it_describes():
    """ "Then burst …, reaching …": the sizes of the bursts after arriving; the largest of all,
    which began before arriving, is named as such."""
    numbers = _bursts_numbers()
    text = adagrad_bursts.verdict(numbers, True)
    assert "then burst 46 times, reaching |w − w*| up to 3.3 and L − L* up to 9.59e+06 (" in text
    assert (
        "the largest of all (|w − w*| = 4, L − L* = 1.42e+07) began at step 718, before arriving)"
        in text
    )
    assert "up to 4 " not in text and "up to 1.42e+07" not in text
    after = {**numbers, "largest_burst_start": 3000, "largest_burst_after_arrival_w_error": 4.0035}
    assert "before arriving" not in adagrad_bursts.verdict(after, True)
    row = adagrad_bursts.evidence(numbers)[-1]
    assert row.value == "3.3 and 9.59e+06" and "began at step 718, before arriving" in row.why


def test_adagrad_bursts_after_arrival_are_measured_after_it():
    """burst_numbers' sizes after arrival: the largest over the bursts that start after it."""
    s = surface("pokemon")
    b, w = s.minimum
    # step 0: far off on both; 1: inside τ along w but 5 from θ* along b (not arrived); 2–3 a
    # burst of 4 before arriving; 4: arrived; 5 and 7: bursts of 2 and 1.5 after it
    points = [(5, 5), (5, 0.5), (5, 4), (5, 2), (0, 0), (0, 2), (0, 0), (0, -1.5), (0, 0)]
    theta = torch.tensor([[[b + db, w + dw]] for db, dw in points], dtype=torch.float64)
    rates = torch.ones(len(points) - 1, 1, dtype=torch.float64)
    path = Trajectory(s, "gd", torch.ones(1), theta, None, rates)
    n = adagrad_bursts.burst_numbers(path)
    assert (n["arrival_step"], n["bursts"], n["bursts_after_arrival"]) == (4, 3, 2)
    assert n["largest_burst_w_error"] == pytest.approx(4.0)
    assert n["largest_burst_start"] == 2
    assert n["largest_burst_after_arrival_w_error"] == pytest.approx(2.0)
    h_ww = float(s.hessian(torch.zeros(2))[1, 1])
    assert n["largest_burst_after_arrival_loss_gap"] == pytest.approx(0.5 * h_ww * 4.0, rel=1e-9)


def test_adagrad_caption_names_the_colours_the_figure_draws():
    labels = [f"{adagrad_bursts.PATH_LABEL}, η = 1, 70,000 updates", "its 49 bursts (|w − w*| > 1)"]
    path, bursts = (color_name(c) for c in series_colors(labels))
    caption = adagrad_bursts.CAPTIONS["pokemon-path.png"]
    assert f"whole path ({path})" in caption and f"each burst ({bursts})" in caption
    assert (path, bursts) == ("green", "dark grey")


def test_adagrad_criterion_fails_without_enough_bursts(results):
    n = results[1]["adagrad-bursts"].numbers
    assert adagrad_bursts.holds({**n, "bursts_after_arrival": 2}) is False
    assert adagrad_bursts.holds({**n, "arrival_step": None}) is False


def test_stuck_caption_says_what_the_bounces_do(results):
    """The bounces keep their width across the valley while sliding down w2: not "between the
    same two points"."""
    n = results[1]["stuck"].numbers
    start_w2 = surface("valley").start[1]
    assert abs(n["w1_final"]) == pytest.approx(1.9, abs=0.05)
    assert start_w2 == 8.0 and abs(n["w2_final"]) < 0.05
    caption = stuck.CAPTIONS["valley-path.png"]
    assert "same two points" not in caption
    assert "(w1 ≈ ±1.9)" in caption and "slide down w2 from 8 to about 0" in caption


def test_normalization_numbers(results):
    n = results[1]["normalization"].numbers
    assert n["pokemon_normalized"]["hessian_eigenvalues"] == pytest.approx([20.0, 20.0])
    assert n["pokemon_normalized"]["steps_to_reach"] == [1, 9]  # 0.2^9 < 1e-6 < 0.2^8
    raw = n["pokemon"]
    kappa = raw["condition_number"]
    assert raw["steps_to_reach_estimated"] == pytest.approx(kappa * math.log(1e6) / 2, rel=1e-5)
    assert raw["distance_final"] == pytest.approx(raw["distance_final_predicted"], rel=1e-11)


def test_normalization_verdict_names_the_steps_it_counts():
    numbers = {
        "reduction": 1e-6,
        "pokemon_normalized": {
            "lr": [0.05, 0.04],
            "steps_to_reach": [1, 9],
            "hessian_eigenvalues": [20.0, 20.0],
            "condition_number": 1.0,
        },
        "pokemon": {
            "hessian_eigenvalues": [5.5735, 1746830.4],
            "condition_number": 313418.4,
            "lr": 1.1449e-06,
            "steps_to_reach_estimated": 2170000.0,
            "steps": 100000,
            "distance_final": 36.3,
            "distance_fraction_left": 0.53,
            "distance_final_predicted": 36.3,
        },
    }
    text = normalization.verdict(numbers, True)
    assert "in 1 step with η = 0.05 and 9 steps with η = 0.04" in text
    assert "after 100,000 steps it is still 36.3 from the minimum" in text


def test_normalization_round_bowl_marks_every_step_of_both_paths(tmp_path, monkeypatch):
    """The two paths run along one line: each step is marked (circles, then crosses, as the
    caption says), up to the step the slower one arrives, close up around the start."""
    drawn = []
    monkeypatch.setattr(normalization, "plot_contour", lambda *a, **k: drawn.append((a, k)) or a[2])
    monkeypatch.setattr(normalization, "STEPS", 1000)
    normalization.run(tmp_path, quick=False)
    (_, paths, _), options = drawn[0]
    assert options["steps"] is True
    assert [len(points) for points in paths.values()] == [10, 10]  # θ^0 … θ^9: arrived at 9
    (b0, b1), (w0, w1) = options["bounds"]
    assert b1 - b0 == pytest.approx(w1 - w0) and b1 - b0 < 500  # the window is 800 wide
    assert [marker for marker, _ in STEP_STYLES[:2]] == ["o", "x"]
    caption = normalization.CAPTIONS["normalized-paths.png"]
    assert "one path (circles) lands" in caption and "the other (crosses, dashed)" in caption
    assert normalization._steps_shown([1, 9]) == 9
    assert normalization._steps_shown([1, None]) == normalization.NORMALIZED_STEPS


def test_normalization_criterion_fails_on_an_elongated_bowl(results):
    n = copy.deepcopy(results[1]["normalization"].numbers)
    n["pokemon_normalized"]["condition_number"] = 50.0
    assert normalization.holds(n) is False
    n = copy.deepcopy(results[1]["normalization"].numbers)
    n["pokemon_normalized"]["steps_to_reach"] = [1, None]
    assert normalization.holds(n) is False


def test_classification_numbers(results):
    n = results[1]["classification-loss"].numbers
    assert n["gradient_norm_ratio"] == pytest.approx(22.70, abs=0.01)
    assert n["mse"]["gap_left_at_budget"] > 0.5
    assert n["cross_entropy"]["steps_to_gap_left_1e-3"] < n["mse"]["steps_to_gap_left_1e-3"] / 10


def test_classification_criterion_fails_when_neither_loss_gets_anywhere():
    numbers, _ = classification_loss.measure(lr=1e-3, steps=1000)  # η too small for both
    assert numbers["cross_entropy"]["gap_left_at_budget"] > 1e-3
    assert classification_loss.holds(numbers) is False


def test_stuck_evidence_names_the_updates_it_measured():
    """--quick measures the last 500 of 1,000 updates: the explanation says 500, not a thousand."""
    numbers, _ = stuck.measure(stuck.LR, 1000)
    first = stuck.evidence(numbers)[0]
    assert "last 500 updates" in first.name and "over 500 updates" in first.why
    assert "a thousand updates" not in first.why
