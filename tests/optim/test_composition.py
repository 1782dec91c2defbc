"""The rule is what runs: a pair the library never named, checked against one hand computation."""

import math

import pytest
import torch

from ravine.optim import HeavyBall, LectureRMSProp, Optimizer, SecondMoment, Unit


def two_steps(optimizer, param, gradients):
    for g in gradients:
        param.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
    return param.detach().tolist()


def test_heavy_ball_direction_with_the_lectures_rmsprop_magnitude():
    eta, mu, tau, alpha = 0.1, 0.9, 0.25, 0.5
    theta0, g1, g2 = [1.0, -2.0], [2.0, -0.5], [1.0, 3.0]
    param = torch.tensor(theta0, dtype=torch.float64)
    optimizer = Optimizer(
        [param], lr=eta, direction=HeavyBall(mu, tau), magnitude=LectureRMSProp(alpha)
    )
    got = two_steps(optimizer, param, [g1, g2])

    # step 1: b = g1, σ = |g1|
    theta1 = [t - eta * g / abs(g) for t, g in zip(theta0, g1, strict=True)]
    # step 2: b = μ·g1 + (1−τ)·g2, σ = sqrt(α·g1² + (1−α)·g2²)
    b2 = [mu * a + (1 - tau) * b for a, b in zip(g1, g2, strict=True)]
    s2 = [math.sqrt(alpha * a * a + (1 - alpha) * b * b) for a, b in zip(g1, g2, strict=True)]
    theta2 = [t - eta * b / s for t, b, s in zip(theta1, b2, s2, strict=True)]
    assert got == pytest.approx(theta2, rel=1e-14)


def test_scale_first_accumulates_the_scaled_gradient():
    """σ first, then m: b ← μ·b + g/σ (torch's RMSprop with momentum) — here with Adam's σ."""
    eta, mu, beta2, eps = 0.1, 0.5, 0.9, 1e-8
    theta0, g1, g2 = [0.5], [2.0], [-1.0]
    param = torch.tensor(theta0, dtype=torch.float64)
    optimizer = Optimizer(
        [param],
        lr=eta,
        direction=HeavyBall(mu),
        magnitude=SecondMoment(beta2, eps),
        scale_first=True,
    )
    got = two_steps(optimizer, param, [g1, g2])[0]

    v1 = (1 - beta2) * g1[0] ** 2
    s1 = math.sqrt(v1 / (1 - beta2)) + eps
    b1 = g1[0] / s1
    v2 = beta2 * v1 + (1 - beta2) * g2[0] ** 2
    s2 = math.sqrt(v2 / (1 - beta2**2)) + eps
    b2 = mu * b1 + g2[0] / s2
    expected = theta0[0] - eta * b1 - eta * b2
    assert got == pytest.approx(expected, rel=1e-14)


def test_unit_magnitude_is_plain_descent():
    param = torch.tensor([3.0], dtype=torch.float64)
    optimizer = Optimizer([param], lr=0.5, magnitude=Unit())
    assert two_steps(optimizer, param, [[2.0], [1.0]]) == [3.0 - 1.0 - 0.5]
