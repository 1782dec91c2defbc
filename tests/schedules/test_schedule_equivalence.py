"""ravine's schedules give torch's LR schedulers' learning rates, step for step.

Each case drives two dummy SGD optimizers for 1,000 steps, one with torch's scheduler and one
with ``ravine.schedules.Scheduler``, and compares ``group["lr"]`` before every step. torch
computes most of these recursively (lr_t from lr_{t−1}), which accumulates rounding; ravine
evaluates the closed form, hence the small tolerance.
"""

import math

import pytest
import torch
from torch.optim import lr_scheduler as torch_sched

from ravine.schedules import (
    Cosine,
    CosineRestarts,
    Exponential,
    LinearWarmup,
    MultiStep,
    OneCycle,
    Polynomial,
    Scheduler,
    StepDecay,
)

BASE = 0.7
STEPS = 1000


def lr_sequence(make_scheduler, base=BASE, steps=STEPS):
    """group["lr"] before each of ``steps`` optimizer steps (step 0 included)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = make_scheduler(opt)
    seen = []
    for _ in range(steps):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return seen


def assert_same_rates(make_torch, schedule, base=BASE):
    expected = lr_sequence(make_torch, base)
    got = lr_sequence(lambda opt: Scheduler(opt, schedule), base)
    assert len(got) == len(expected) == STEPS
    for t, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert isinstance(a, float)
        assert abs(a - b) <= 1e-12 * base + 1e-9 * abs(b), f"step {t}: ravine {a!r}, torch {b!r}"


@pytest.mark.parametrize(("step_size", "gamma"), [(1, 0.99), (7, 0.8), (100, 0.5), (30, 1.0)])
def test_step_decay_is_step_lr(step_size, gamma):
    assert_same_rates(
        lambda opt: torch_sched.StepLR(opt, step_size, gamma), StepDecay(step_size, gamma)
    )


@pytest.mark.parametrize(
    ("milestones", "gamma"),
    [((30, 60), 0.1), ((1, 2, 3), 0.5), ((10, 300, 301, 900), 0.7), ((999,), 0.25)],
)
def test_multistep_is_multistep_lr(milestones, gamma):
    assert_same_rates(
        lambda opt: torch_sched.MultiStepLR(opt, list(milestones), gamma),
        MultiStep(milestones, gamma),
    )


@pytest.mark.parametrize("gamma", [0.999, 0.995, 0.9, 1.0])
def test_exponential_is_exponential_lr(gamma):
    assert_same_rates(lambda opt: torch_sched.ExponentialLR(opt, gamma), Exponential(gamma))


@pytest.mark.parametrize("eta_min", [0.0, 0.07, 0.35])
def test_cosine_is_cosine_annealing_lr(eta_min):
    assert_same_rates(
        lambda opt: torch_sched.CosineAnnealingLR(opt, T_max=STEPS, eta_min=eta_min),
        Cosine(steps=STEPS, end=eta_min / BASE),
    )


@pytest.mark.parametrize(
    ("period", "mult", "eta_min"),
    [(10, 1, 0.0), (13, 1, 0.07), (1, 2, 0.0), (7, 2, 0.07), (10, 2, 0.0), (3, 3, 0.14)],
)
def test_cosine_restarts_is_cosine_annealing_warm_restarts(period, mult, eta_min):
    assert_same_rates(
        lambda opt: torch_sched.CosineAnnealingWarmRestarts(
            opt, T_0=period, T_mult=mult, eta_min=eta_min
        ),
        CosineRestarts(period=period, mult=mult, end=eta_min / BASE),
    )


@pytest.mark.parametrize(
    ("start", "end", "steps"),
    [(0.1, 1.0, 100), (1 / 3, 1.0, 5), (0.5, 0.9, 999), (1.0, 0.05, 700), (0.01, 1.0, 1000)],
)
def test_linear_warmup_is_linear_lr(start, end, steps):
    assert_same_rates(
        lambda opt: torch_sched.LinearLR(
            opt, start_factor=start, end_factor=end, total_iters=steps
        ),
        LinearWarmup(steps=steps, start=start, end=end),
    )


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize(
    ("pct_start", "div_factor", "final_div_factor"),
    [(0.3, 25.0, 1e4), (0.25, 10.0, 100.0), (0.123, 4.0, 1.0)],
)
def test_one_cycle_is_one_cycle_lr(anneal, three_phase, pct_start, div_factor, final_div_factor):
    # OneCycleLR takes max_lr and overwrites the optimizer's lr; ravine's Scheduler multiplies
    # the optimizer's lr, so its base lr is the peak.
    assert_same_rates(
        lambda opt: torch_sched.OneCycleLR(
            opt,
            max_lr=BASE,
            total_steps=STEPS,
            pct_start=pct_start,
            anneal_strategy=anneal,
            cycle_momentum=False,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            three_phase=three_phase,
        ),
        OneCycle(
            steps=STEPS,
            pct_start=pct_start,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            anneal=anneal,
            three_phase=three_phase,
        ),
    )


@pytest.mark.parametrize(("steps", "power"), [(1000, 1.0), (600, 2.0), (1000, 0.5), (37, 3.0)])
def test_polynomial_is_polynomial_lr(steps, power):
    assert_same_rates(
        lambda opt: torch_sched.PolynomialLR(opt, total_iters=steps, power=power),
        Polynomial(steps=steps, power=power),
    )


def test_the_comparison_can_fail():
    """The harness tells schedules apart: a cosine one step shorter is caught."""
    with pytest.raises(AssertionError):
        assert_same_rates(
            lambda opt: torch_sched.CosineAnnealingLR(opt, T_max=STEPS),
            Cosine(steps=STEPS - 1),
        )


# --- closed forms, by hand --------------------------------------------------------------------


def test_cosine_closed_form():
    s = Cosine(steps=100, end=0.2)
    assert s(0) == 1.0
    assert s(50) == pytest.approx((1 + 0.2) / 2, rel=1e-15)
    assert s(25) == pytest.approx(0.2 + 0.8 * (1 + math.sqrt(0.5)) / 2, rel=1e-15)
    assert s(100) == pytest.approx(0.2, rel=1e-15)
    # after the end ravine holds the final value (torch's recursion climbs back up)
    assert s(150) == s(100) == s(10_000)
    assert Cosine(steps=10)(5) == pytest.approx(0.5, rel=1e-15)


def test_step_multistep_exponential_closed_form():
    assert StepDecay(10, 0.5)(9) == 1.0
    assert StepDecay(10, 0.5)(10) == 0.5
    assert StepDecay(10, 0.5)(35) == 0.125
    s = MultiStep((3, 5), 0.1)
    assert [s(t) for t in range(7)] == [1.0, 1.0, 1.0, 0.1, 0.1, 0.1**2, 0.1**2]
    assert Exponential(0.5)(0) == 1.0
    assert Exponential(0.5)(3) == 0.125


def test_polynomial_closed_form():
    s = Polynomial(steps=10, power=2.0)
    assert s(0) == 1.0
    assert s(5) == pytest.approx(0.25, rel=1e-15)
    assert s(10) == 0.0
    assert s(11) == 0.0
    assert Polynomial(steps=10, power=1.0, end=0.1)(5) == pytest.approx(0.1 + 0.9 * 0.5, rel=1e-15)


def test_linear_warmup_closed_form():
    s = LinearWarmup(steps=4, start=0.2, end=1.0)
    assert [s(t) for t in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0], rel=1e-15)
    assert LinearWarmup(steps=10)(0) == 0.0
    assert LinearWarmup(steps=10)(3) == pytest.approx(0.3, rel=1e-15)


def test_cosine_restarts_closed_form():
    s = CosineRestarts(period=4, mult=2, end=0.0)
    # periods [0, 4), [4, 12), [12, 28): restarts at 4 and 12
    assert s(0) == s(4) == s(12) == s(28) == 1.0
    assert s(2) == pytest.approx(0.5, rel=1e-15)  # halfway through the first period
    assert s(8) == pytest.approx(0.5, rel=1e-15)  # halfway through the second
    assert s(20) == pytest.approx(0.5, rel=1e-15)  # halfway through the third
    assert s(3) == pytest.approx((1 + math.cos(math.pi * 3 / 4)) / 2, rel=1e-15)


def test_one_cycle_closed_form():
    s = OneCycle(steps=101, pct_start=0.5, div_factor=10.0, final_div_factor=100.0)
    # the peak is at step pct_start·steps − 1 = 49.5: rising from 1/10 at step 0
    assert s(0) == pytest.approx(0.1, rel=1e-15)
    rise = 101 * 0.5 - 1
    assert s(20) == pytest.approx(1 + (0.1 - 1) / 2 * (1 + math.cos(math.pi * 20 / rise)))
    assert s(100) == pytest.approx(0.1 / 100, rel=1e-12)
    assert s(100_000) == s(100)
    lin = OneCycle(steps=11, pct_start=0.5, div_factor=5.0, final_div_factor=2.0, anneal="linear")
    # up from 0.2 to 1 over steps 0 … 4.5, then down to 0.1 at step 10
    assert lin(0) == pytest.approx(0.2, rel=1e-15)
    assert lin(3) == pytest.approx(0.2 + 0.8 * 3 / 4.5, rel=1e-15)
    assert lin(10) == pytest.approx(0.1, rel=1e-15)
    assert lin(7) == pytest.approx(1 + (0.1 - 1) * (7 - 4.5) / (10 - 4.5), rel=1e-15)
