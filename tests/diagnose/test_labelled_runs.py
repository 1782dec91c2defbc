"""The doctor's verdicts on loops written by hand whose cause is known (labelled_runs.py), and,
for each verdict, numbers that should fail it and do."""

from __future__ import annotations

import math

import numpy as np
import pytest
from labelled_runs import RUNS, fit_least_squares

from ravine.diagnose.doctor import train_and_diagnose
from ravine.diagnose.monitor import EVIDENCE, VERDICTS, diagnose_training


@pytest.mark.parametrize("name", list(RUNS))
def test_labelled_run_gets_the_verdict_of_its_cause(name):
    build, verdict, kind = RUNS[name]
    run = build()
    # from the record alone, and (where the loss is quadratic) with the exact λ_max too
    for with_curvature in {False, run.max_eigenvalue is not None}:
        found = run.diagnose(with_curvature=with_curvature)
        assert found.verdict == verdict, (with_curvature, found.evidence, found.checks)
        assert found.kind == kind
        assert found.verdict in VERDICTS and found.remedy
        assert ("max_eigenvalue" in found.missing) is not with_curvature


def test_bouncing_on_least_squares_is_the_issue_s_case():
    # η·λ_max = 2: the steep error keeps its size and flips sign; the flat directions crawl, so
    # the loss still falls by more than 1% over the window — and that is no progress
    d = fit_least_squares(2.0, 300, cause="bouncing").diagnose()
    assert d.verdict == "oscillating"
    assert d.evidence["gradient_norm_ratio"] == pytest.approx(0.999, abs=5e-4)
    assert d.evidence["mean_gradient_cosine"] < -0.999
    assert d.evidence["relative_loss_change"] < -0.02  # not flat: the old rule said progressing
    assert d.evidence["lr_times_max_eigenvalue"] == pytest.approx(2.0)


def test_slightly_too_large_step_is_a_divergence_under_way():
    # η·λ_max = 2.006: the flip grows by 1.006 per step; over the window ‖g‖ grows 1.56× and
    # the loss by 88%, still far from ten times its best
    run = fit_least_squares(2.006, 100, cause="diverging")
    d = run.diagnose()
    assert d.verdict == "diverged"
    assert d.checks["rising"] and not d.checks["risen"] and not d.checks["nonfinite"]
    assert d.evidence["gradient_norm_window_ratio"] == pytest.approx(1.566, abs=0.01)
    assert d.evidence["relative_loss_change"] == pytest.approx(0.88, abs=0.01)
    # its best: step 3, after the flat directions' first fall; it has climbed ever since
    assert d.evidence["divergence_step"] == np.argmin(run.monitor.loss) == 3
    assert "diverging" in d.remedy


@pytest.mark.parametrize(("task", "steps"), [("valley", 400), ("pokemon", 400)])
def test_the_lecture_s_tiny_learning_rate_is_crawling_in_the_doctor(task, steps):
    found = train_and_diagnose(task, "gd", lr=1e-7, steps=steps)
    d = found.diagnosis
    assert d.verdict == "crawling", (d.evidence, d.checks)
    assert d.evidence["lr_times_max_eigenvalue"] < 0.2  # η·λ_max ≪ 2: room to raise η
    assert d.evidence["mean_gradient_cosine"] > 0.999
    assert abs(d.evidence["relative_loss_change"]) < 0.01
    assert d.evidence["update_ratio"] < 1e-5  # ‖Δθ‖/‖θ‖: each step moves θ by a millionth
    assert "Raise η" in d.remedy


# --- numbers that should fail each verdict, and do ----------------------------------------------

N, W = 200, 100


def _series(loss, norm, cosine, **options):
    return diagnose_training(np.asarray(loss, float), norm, cosine, window=W, **options)


def test_progressing_fails_on_a_rising_loss_a_bounce_and_a_crawl():
    falling = np.geomspace(10.0, 1.0, N)
    shrinking, steady = np.geomspace(5.0, 0.5, N), np.ones(N)
    assert _series(falling, shrinking, steady).verdict == "progressing"
    # the same loss backwards: rising, with a gradient that grows and flips
    grows, flips = np.geomspace(0.5, 1.0, N), -np.ones(N)
    assert _series(falling[::-1], grows, flips).verdict == "diverged"
    # falling 3% over the window while a kept gradient flips: the bounce, not progress; a mean
    # cosine near 0 (mini-batch noise) is no bounce
    noise = _series(np.linspace(10.0, 9.4, N), np.full(N, 5.0), np.full(N, -0.2))
    assert noise.verdict == "progressing"
    slow = np.linspace(10.0, 9.4, N)
    assert _series(slow, np.full(N, 5.0), flips).verdict == "oscillating"
    # falling 0.1% over the window along a steady, kept gradient: a crawl
    crawl = np.linspace(10.0, 9.98, N)
    assert _series(crawl, np.full(N, 5.0), steady).verdict == "crawling"


def test_crawling_fails_when_the_loss_falls_the_gradient_shrinks_or_flips_or_overshoots():
    crawl, kept, steady = np.linspace(10.0, 9.98, N), np.full(N, 5.0), np.ones(N)
    found = _series(crawl, kept, steady)
    assert found.verdict == "crawling"
    assert found.remedy.startswith("The loss changed by only -0.08% over the last 100 steps")
    assert _series(np.linspace(10.0, 8.0, N), kept, steady).verdict == "progressing"
    # the gradient halves and more within the window: θ closes in on a critical point
    closing = np.geomspace(5.0, 0.5, N)
    assert _series(crawl, closing, steady).verdict != "crawling"
    # a steady part no larger than the changing part (mean cosine 0.3 < ½) after the loss had
    # halved: the noise floor of mini-batches, not a crawl
    settled = np.r_[np.geomspace(20.0, 10.0, N // 2), np.linspace(10.0, 9.99, N // 2)]
    noisy = _series(settled, kept, np.full(N, 0.3))
    assert noisy.verdict == "progressing" and "noise" in noisy.remedy
    # the same cosine in a run whose loss has not moved since it began: steps too short to show
    assert _series(crawl, kept, np.full(N, 0.3)).verdict == "crawling"
    assert _series(crawl, kept, np.full(N, -0.3)).verdict != "crawling"
    # below grad_tol the gradient is zero for the doctor: near a critical point
    assert _series(crawl, np.full(N, 1e-4), steady).verdict == "near a critical point"
    # with λ_max given, η·λ_max >= 2: a direction already overshoots, the step is not too short
    over = _series(crawl, kept, steady, lr=0.1, hessian_max_eigenvalue=25.0)
    assert over.verdict != "crawling" and over.checks["below_overshoot"] is False


def test_a_crawl_under_mini_batch_noise_is_measured_against_that_noise_since_the_start():
    # mini-batch losses scattering by 10% around a loss that has not moved (1.5% lower than at
    # the start, within twice the scatter of that difference): the steps are too short
    rng = np.random.default_rng(0)
    scatter = 1.0 + 0.1 * rng.standard_normal(N)
    scatter[-W // 4 :] += 0.015 - scatter[-W // 4 :].mean() + scatter[: W // 4].mean()
    kept, weak = np.full(N, 5.0), np.full(N, 0.3)
    d = _series(10.0 * scatter, kept, weak)
    assert d.evidence["relative_loss_change_run"] == pytest.approx(0.015, abs=1e-3)
    assert d.evidence["relative_loss_noise_run"] > 0.015
    assert d.verdict == "crawling", (d.evidence, d.checks)
    # the remedy calls the change flat within the scatter, not "only" so much
    band = 2 * d.evidence["relative_loss_noise"]
    assert (
        "only" not in d.remedy
        and f"within twice the scatter of its mini-batch losses (±{band:.2%})" in d.remedy
    )
    # the same scatter after a fall from 20: progress since the start, the noise floor now
    fell = np.r_[np.full(W // 4, 20.0), 10.0 * scatter[W // 4 :]]
    assert _series(fell, kept, weak).verdict == "progressing"
    # a spike at the start that came back down is no scatter of the losses now
    spike = np.r_[np.full(W // 4, 1e9), 10.0 * scatter[W // 4 :]]
    assert _series(spike, kept, weak).verdict != "crawling"


def test_oscillating_fails_when_the_bounce_dies_out_or_the_curvature_cannot_sustain_it():
    flat, kept, flips = np.full(N, 5.0), np.full(N, 5.0), -np.ones(N)
    assert _series(flat, kept, flips).verdict == "oscillating"
    # GD at η·λ = 1.98 zigzags but the bounce shrinks by 0.98 per step: ×0.22 over the window
    dying = 5.0 * 0.98 ** np.arange(N)
    assert _series(flat, dying, flips).verdict != "oscillating"
    # λ_max says η·λ_max = 1.9: the bounce along it would shrink by 0.9^75 ≈ 4e-4 over the window
    d = _series(flat, kept, flips, lr=0.019, hessian_max_eigenvalue=100.0)
    assert d.verdict != "oscillating" and d.checks["overshoots"] is False
    # η·λ_max = 2 − 10⁻³: 0.999^75 ≈ 0.93 — the bounce lasts
    d = _series(flat, kept, flips, lr=0.01999, hessian_max_eigenvalue=100.0)
    assert d.verdict == "oscillating" and d.checks["overshoots"] is True


def test_diverged_by_rising_fails_on_a_loss_within_the_flat_band_or_the_noise():
    base, kept, flips = np.full(N, 5.0), np.full(N, 5.0), -np.ones(N)
    assert _series(base * np.linspace(1, 1.04, N), kept, flips).verdict == "diverged"
    assert _series(base * np.linspace(1, 1.01, N), kept, flips).verdict == "oscillating"
    # mini-batch losses scattering ±50% around a mean that rose 15% over the window: within two
    # standard errors, sqrt(2·0.5²/25) ≈ 14% each
    scatter = 1 + 0.5 * (-1.0) ** np.arange(N)
    rose = base * np.linspace(1, 1.5, N) * scatter
    d = _series(rose, kept, flips)
    assert d.evidence["relative_loss_change"] > 0.1
    assert d.evidence["relative_loss_change"] < 2 * d.evidence["relative_loss_noise"]
    assert d.verdict == "oscillating"
    # the same rise without the scatter is measured: diverged
    assert _series(base * np.linspace(1, 1.5, N), kept, flips).verdict == "diverged"


def test_near_a_critical_point_fails_when_a_small_gradient_is_kept_and_steady():
    # the Pokémon crawl: ‖g‖ is 3·10⁻⁴ of its start (the steep wall was left behind), yet kept
    # and steady at 0.38 ≫ grad_tol while the loss creeps down: not a critical point
    crawl = np.linspace(10.0, 9.9999, N)
    norm = np.r_[np.full(10, 1e6), np.full(N - 10, 380.0)]
    assert _series(crawl, norm, np.ones(N)).verdict == "crawling"
    assert _series(crawl, np.geomspace(380.0, 1e-6, N), np.ones(N)).verdict == (
        "near a critical point"
    )


def test_a_log_of_the_loss_alone_says_what_it_lacked():
    flat, falling, rising = np.full(N, 5.0), np.geomspace(10.0, 1.0, N), np.linspace(1, 3, N)
    d = diagnose_training(flat, None, None, window=W)
    assert d.verdict == "undetermined"
    assert d.missing == EVIDENCE
    assert "‖g‖" in d.remedy and math.isnan(d.evidence["gradient_norm_now"])
    d = diagnose_training(falling, None, None, window=W)
    assert d.verdict == "progressing" and "gradient_norm" in d.missing
    assert diagnose_training(rising, None, None, window=W).verdict == "diverged"
    with_nan = falling.copy()
    with_nan[150] = math.nan
    assert diagnose_training(with_nan, None, None, window=W).verdict == "diverged"
    # ‖g‖ without the cosine: a kept gradient under a flat loss is a bounce or a crawl
    d = diagnose_training(flat, np.full(N, 5.0), None, window=W, lr=0.1)
    assert d.verdict == "undetermined" and d.missing == ("gradient_cosine", "max_eigenvalue")
    # ‖g‖ vanishing needs no cosine
    d = diagnose_training(flat, np.geomspace(5.0, 1e-8, N), None, window=W)
    assert d.verdict == "near a critical point"
