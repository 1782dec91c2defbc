"""The lecture's variants, first three steps against the lecture's equations done by hand.

The loss is L(θ) = Σ_i ½·a_i·θ_i² + b_i·θ_i, so g_i = a_i·θ_i + b_i: different slopes per
parameter, and every number below is computed with plain Python floats from the equations in
the lecture notes (000_*.txt for Adagrad/RMSProp, 002_*.txt for momentum).
"""

import math

import pytest
import torch

from ravine.optim import lecture

A = [4.0, 0.25, 1.0]
B = [1.0, -0.3, 0.0]
THETA0 = [1.0, 2.0, -3.0]


def grad(theta):
    return [a * t + b for a, t, b in zip(A, theta, B, strict=True)]


def loss(param):
    a, b = torch.tensor(A, dtype=torch.float64), torch.tensor(B, dtype=torch.float64)
    return (0.5 * a * param**2 + b * param).sum()


def run(optimizer_class, steps=3, **options):
    param = torch.tensor(THETA0, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([param], **options)
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss(param).backward()
        optimizer.step()
        trajectory.append(param.detach().tolist())
    return trajectory


def assert_trajectory(got, expected):
    for step, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == pytest.approx(e, rel=1e-14, abs=1e-14), f"step {step + 1}"


def test_gd():
    eta = 0.1
    theta, expected = list(THETA0), []
    for _ in range(3):
        theta = [t - eta * g for t, g in zip(theta, grad(theta), strict=True)]  # θ ← θ − η·g
        expected.append(theta)
    assert_trajectory(run(lecture.GD, lr=eta), expected)


def test_momentum_movement():
    eta, lam = 0.1, 0.8
    theta, movement, expected = list(THETA0), [0.0] * 3, []  # m^0 = 0
    for _ in range(3):
        g = grad(theta)
        movement = [lam * m - eta * gi for m, gi in zip(movement, g, strict=True)]
        theta = [t + m for t, m in zip(theta, movement, strict=True)]  # θ^t = θ^{t−1} + m^t
        expected.append(theta)
    assert_trajectory(run(lecture.Momentum, lr=eta, momentum=lam), expected)


def test_momentum_keeps_eta_inside_the_movement():
    """With η^t changing, the movement remembers each step's own η (not today's η)."""
    lam = 0.5
    rates = [0.1, 0.02, 0.3]
    theta, movement, expected = list(THETA0), [0.0] * 3, []
    for eta in rates:
        g = grad(theta)
        movement = [lam * m - eta * gi for m, gi in zip(movement, g, strict=True)]
        theta = [t + m for t, m in zip(theta, movement, strict=True)]
        expected.append(theta)
    got = run(lecture.Momentum, lr=lambda t: rates[t], momentum=lam)
    assert_trajectory(got, expected)


def test_adagrad_root_mean_square():
    eta = 0.1
    theta, squares, expected = list(THETA0), [0.0] * 3, []
    for t in range(3):
        g = grad(theta)
        squares = [s + gi**2 for s, gi in zip(squares, g, strict=True)]
        sigma = [math.sqrt(s / (t + 1)) for s in squares]  # σ^t = sqrt(Σ g² / (t+1))
        theta = [th - eta / s * gi for th, s, gi in zip(theta, sigma, g, strict=True)]
        expected.append(theta)
    assert_trajectory(run(lecture.Adagrad, lr=eta), expected)


def test_adagrad_first_step_moves_every_parameter_by_exactly_eta():
    eta = 0.05
    first = run(lecture.Adagrad, steps=1, lr=eta)[0]
    for before, after, g in zip(THETA0, first, grad(THETA0), strict=True):
        assert after == pytest.approx(before - math.copysign(eta, g), rel=1e-15)


@pytest.mark.parametrize("optimizer_class", [lecture.Adagrad, lecture.RMSProp])
def test_a_parameter_whose_gradient_was_always_zero_does_not_move(optimizer_class):
    """σ = 0 exactly where every gradient so far was 0; the step there is 0, not 0/0 = nan."""
    param = torch.tensor([1.0, 2.0], dtype=torch.float64)
    optimizer = optimizer_class([param], lr=0.1)
    for g in ([0.0, 1.0], [0.0, -2.0]):
        param.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
    assert param[0].item() == 1.0
    assert math.isfinite(param[1].item())


def test_rmsprop_starts_from_the_first_gradient():
    eta, alpha = 0.1, 0.7
    theta, expected = list(THETA0), []
    sigma_sq = None
    for _ in range(3):
        g = grad(theta)
        if sigma_sq is None:
            sigma_sq = [gi**2 for gi in g]  # σ⁰ = |g⁰|
        else:  # σ^t = sqrt(α·(σ^{t−1})² + (1−α)·(g^t)²)
            sigma_sq = [alpha * s + (1 - alpha) * gi**2 for s, gi in zip(sigma_sq, g, strict=True)]
        sigma = [math.sqrt(s) for s in sigma_sq]
        theta = [th - eta / s * gi for th, s, gi in zip(theta, sigma, g, strict=True)]
        expected.append(theta)
    assert_trajectory(run(lecture.RMSProp, lr=eta, alpha=alpha), expected)


def test_rmsprop_small_alpha_brakes_faster_than_adagrad():
    """The lecture's argument: when the slope turns steep, RMSProp with small α shrinks its
    step quicker than Adagrad, whose σ averages the whole gentle past."""
    gradients = [0.1] * 20 + [10.0]
    steps = {}
    for name, make in (
        ("adagrad", lambda p: lecture.Adagrad([p], lr=1.0)),
        ("rmsprop", lambda p: lecture.RMSProp([p], lr=1.0, alpha=0.1)),
    ):
        param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        optimizer = make(param)
        for g in gradients:
            before = param.item()
            param.grad = torch.tensor([g], dtype=torch.float64)
            optimizer.step()
        steps[name] = abs(param.item() - before)
    # by hand: Adagrad σ = sqrt((20·0.1² + 10²)/21) ≈ 2.18, RMSProp σ = sqrt(0.1·0.1² + 0.9·10²)
    assert steps["adagrad"] == pytest.approx(10 / math.sqrt((20 * 0.01 + 100) / 21), rel=1e-12)
    assert steps["rmsprop"] == pytest.approx(10 / math.sqrt(0.1 * 0.01 + 0.9 * 100), rel=1e-12)
    assert steps["rmsprop"] < 0.25 * steps["adagrad"]
