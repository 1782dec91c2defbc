"""The RMSProp experiment: the brake and the flat-stretch step measured by hand, the sweep over
α, and a criterion on the dependence on α that fails on numbers that do not show it."""

import copy
import json
import math
import re

import pytest
import torch
from matplotlib.text import Text

from ravine.experiments import rmsprop
from ravine.surfaces.library import Crescent

PNG = b"\x89PNG\r\n\x1a\n"


def rmsprop_sigma(g, alpha):
    """The lecture's RMSProp σ: σ⁰ = |g⁰|, σ² ← α·σ² + (1 − α)·g²."""
    square = [float(g[0] ** 2)]
    for value in g[1:].tolist():
        square.append(alpha * square[-1] + (1 - alpha) * value * value)
    return torch.tensor(square, dtype=torch.float64).sqrt()


def adagrad_sigma(g):
    count = torch.arange(1, len(g) + 1, dtype=torch.float64)
    return torch.sqrt(torch.cumsum(g * g, 0) / count)


def test_brake_numbers_by_hand():
    """Steep → flat → steep: |g| = 8 (3 steps), 0.5 (6 steps), 8 (4 steps)."""
    g = torch.tensor([8.0] * 3 + [0.5] * 6 + [8.0] * 4, dtype=torch.float64)
    slow = rmsprop.brake_numbers(g, adagrad_sigma(g), lr=0.1)
    fast = rmsprop.brake_numbers(g, rmsprop_sigma(g, 0.5), lr=0.1)
    for m in (slow, fast):
        # flat: |g| < 0.1·8 from step 3; steep again: |g| >= 0.25·8 at step 9
        assert (m["flat_start"], m["steep_again"], m["flat_steps"]) == (3, 9, 6)
        assert m["slope_peak_after_steep"] == 8.0
    assert slow["sigma_before_steep"] == pytest.approx(math.sqrt((3 * 64 + 6 * 0.25) / 9))
    assert fast["brake_delay"] == 0 and fast["unbraked_steps"] == 0
    assert fast["largest_step_after_steep"] <= 0.1 * math.sqrt(2) + 1e-12  # σ >= |g|/√2
    assert slow["largest_step_after_steep"] == pytest.approx(0.1 * 8 / math.sqrt(25.75))
    # the flat stretch's median step: steps 3 … 8, η·0.5/σ
    for m, sigma in ((slow, adagrad_sigma(g)), (fast, rmsprop_sigma(g, 0.5))):
        assert m["flat_step"] == pytest.approx(float((0.1 * 0.5 / sigma[3:9]).median()))
    assert fast["flat_step"] > slow["flat_step"]  # σ forgets the steep start: a longer step
    # a longer flat stretch: Adagrad's σ falls below ½·|g| and needs steps to catch up
    g_long = torch.tensor([8.0] * 3 + [0.5] * 60 + [8.0] * 20, dtype=torch.float64)
    lagging = rmsprop.brake_numbers(g_long, adagrad_sigma(g_long), 0.1)
    # at step 63 + k: σ² = (3·64 + 60·0.25 + (k + 1)·64)/(64 + k) >= 16 = (½·8)² from k = 16
    assert lagging["steep_again"] == 63
    assert lagging["brake_delay"] == 16 and lagging["unbraked_steps"] == 16


def test_a_large_alpha_brakes_late_by_hand():
    """α = 0.9 after 300 flat steps: σ² = 0.9^(k+1)·σ²_flat + (1 − 0.9^(k+1))·64 must reach
    16 = (½·8)², a delay of 2 steps; α = 0.5 brakes at once (σ >= √0.5·|g|)."""
    g = torch.tensor([8.0] * 3 + [0.5] * 300 + [8.0] * 30, dtype=torch.float64)
    late = rmsprop.brake_numbers(g, rmsprop_sigma(g, 0.9), 0.1)
    soon = rmsprop.brake_numbers(g, rmsprop_sigma(g, 0.5), 0.1)
    assert soon["brake_delay"] == 0 < late["brake_delay"]
    sigma = rmsprop_sigma(g, 0.9)
    first_braked = next(k for k in range(30) if sigma[303 + k] >= 4)
    assert late["brake_delay"] == first_braked == 2


def test_rank_correlation():
    assert rmsprop.rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert rmsprop.rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties share their mean rank: ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4)
    x = torch.tensor([1.5, 1.5, 3, 4]) - 2.5
    y = torch.tensor([1.0, 2, 3, 4]) - 2.5
    expected = float((x * y).sum() / (x.norm() * y.norm()))
    assert rmsprop.rank_correlation([0, 0, 5, 6], [1, 2, 3, 4]) == pytest.approx(expected)
    assert rmsprop.rank_correlation([1, 2], [1, 2]) is None
    assert rmsprop.rank_correlation([1, 2, 3], [0, 0, 0]) is None


def lecture_like():
    """A sweep that shows the lecture's dependence on α."""
    delays = [0, 0, 0, 0, 4, 5, 6]
    steps = [0.05, 0.047, 0.036, 0.019, 0.012, 0.007, 0.003]
    sweep = [
        {"alpha": a, "brake_delay": d, "flat_step": s}
        for a, d, s in zip(rmsprop.ALPHAS, delays, steps, strict=True)
    ]
    adagrad = {"brake_delay": 8, "flat_step": 0.004}
    return {
        "surface": "crescent",
        "lr": 0.05,
        "trend_threshold": 0.8,
        "adagrad": adagrad,
        "sweep": sweep,
        **rmsprop.trends(adagrad, sweep),
    }


def rebuilt(numbers):
    n = copy.deepcopy(numbers)
    n.update(rmsprop.trends(n["adagrad"], n["sweep"]))
    return n


def test_criterion_passes_and_fails():
    good = lecture_like()
    assert rmsprop.holds(good) and rmsprop.outcome(good) == "held"
    assert rmsprop.verdict(good, True).startswith("Reproduced (3 of 3")
    text = rmsprop.verdict(good, True)
    assert "delay after the slope steepened was 0, 0, 0, 0, 4, 5 and 6 steps for α = 0.1, " in (
        text
    )
    assert "0.95 and 0.99 (rank correlation 0.906; Adagrad: 8 steps)" in text
    assert "was 0.05, 0.047, 0.036, 0.019, 0.012, 0.007 and 0.003 for the same α" in text
    assert "(rank correlation -1; Adagrad: 0.004)" in text
    assert "α ≤ 3/4" in text and "σ ≥ √(1−α)·|g| ≥ ½|g|" in text
    assert "<=" not in text and ">=" not in text and "Adagrad 8" not in text

    no_dependence = copy.deepcopy(good)  # every α brakes at once: the delay does not rise
    for m in no_dependence["sweep"]:
        m["brake_delay"] = 0
    n = rebuilt(no_dependence)
    assert n["delay_trend"] is None and not rmsprop.holds(n)
    assert rmsprop.outcome(n) == "partial"

    reversed_steps = copy.deepcopy(good)  # a large α faster on the flat: the wrong way round
    for m, s in zip(
        reversed_steps["sweep"], sorted(m["flat_step"] for m in good["sweep"]), strict=True
    ):
        m["flat_step"] = s
    n = rebuilt(reversed_steps)
    assert n["flat_step_trend"] == pytest.approx(1.0) and rmsprop.outcome(n) == "partial"

    quick_adagrad = copy.deepcopy(good)  # Adagrad brakes at once too
    quick_adagrad["adagrad"]["brake_delay"] = 0
    n = rebuilt(quick_adagrad)
    assert not n["smallest_alpha_brakes_sooner"] and rmsprop.outcome(n) == "partial"

    nothing = copy.deepcopy(good)  # no α meets a steep slope, no trend, Adagrad as good
    for m in nothing["sweep"]:
        m.update(brake_delay=None, flat_step=0.01)
    nothing["adagrad"]["flat_step"] = 0.02
    n = rebuilt(nothing)
    assert n["steepened"] == 0 and rmsprop.outcome(n) == "not held"
    assert rmsprop.verdict(n, False).startswith("Not reproduced (0 of 3")
    assert [e.holds for e in rmsprop.evidence(n)] == [False, False, False]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("rmsprop")
    return out, rmsprop.run(out, quick=True)


def test_run_sweeps_alpha_with_figures_and_json(result):
    out, r = result
    assert (r.name, r.title, r.claim) == (rmsprop.NAME, rmsprop.TITLE, rmsprop.CLAIM)
    assert r.reproduced == rmsprop.holds(r.numbers) and r.outcome == rmsprop.outcome(r.numbers)
    assert r.lecture and r.command.startswith("ravine descend crescent")
    assert len(r.figures) == 3
    for figure in r.figures:
        assert (out / figure).read_bytes()[:8] == PNG
        assert figure.name in r.captions
    json.dumps(r.to_json(), allow_nan=False)
    n = r.numbers
    assert n["start"] == [4.0, 4.0]
    assert [m["alpha"] for m in n["sweep"]] == list(rmsprop.ALPHAS)
    slope = pytest.approx(float(Crescent()._slope(torch.tensor(4.0))))
    assert n["adagrad"]["slope_start"] == slope
    for m in n["sweep"]:
        assert m["slope_start"] == slope
        if m["alpha"] <= 0.75 and m["brake_delay"] is not None:
            assert m["brake_delay"] == 0  # σ >= √(1 − α)·|g| >= ½·|g|: by construction


def test_on_the_library_crescent_the_dependence_on_alpha_is_the_lectures(result):
    n = result[1].numbers
    assert rmsprop.outcome(n) == "held"
    steps = [m["flat_step"] for m in n["sweep"]]
    assert steps == sorted(steps, reverse=True)  # a larger α: a shorter step on the flat
    assert n["sweep"][-1]["brake_delay"] > 0 < n["adagrad"]["brake_delay"]


def test_figures_write_powers_and_indices_as_math(tmp_path, monkeypatch):
    """No caret text (|g1^t|, σ1^t) on the figures: powers and indices are mathtext."""
    texts = []

    def kept(fig, path):
        texts.extend(t.get_text() for t in fig.findobj(Text))
        return path

    monkeypatch.setattr(rmsprop, "save_figure", kept)
    rmsprop.run(tmp_path, quick=True)
    assert r"$|g_1^t|$" in texts and r"$\sigma_1^t$" in texts
    assert not [t for t in texts if "^" in re.sub(r"\$[^$]*\$", "", t)]
