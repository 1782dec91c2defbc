"""The two-minima surface (the momentum experiment's): its critical points by hand, their
kinds from the exact Hessian, and gradient descent from the default start stopping in the
shallow minimum."""

import math

import pytest
import torch

from ravine.surfaces import SURFACES, descend, surface
from ravine.surfaces.library import TwoMinima


def floor_profile(x):
    """L along the valley's floor θ2 = θ1/2: (θ1² − 1)² + 0.3·θ1, written out by hand."""
    return (x * x - 1) ** 2 + 0.3 * x


def test_registered():
    assert isinstance(SURFACES["two-minima"](), TwoMinima)
    assert surface("two-minima").name == "two-minima"


def test_loss_gradient_and_hessian_by_hand():
    s = surface("two-minima")
    theta = torch.tensor([[2.0, 1.5], [-0.5, 0.25], [0.3, -1.0]], dtype=torch.float64)
    x, y = theta[:, 0], theta[:, 1]
    torch.testing.assert_close(s.loss(theta), (x * x - 1) ** 2 + 0.3 * x + (y - x / 2) ** 2)
    # at (2, 1.5): the floor term is 1.5 − 1 = 0.5
    assert s.loss(theta[0]).item() == pytest.approx(9 + 0.6 + 0.25, rel=1e-15)
    assert s.gradient(theta[0]).tolist() == pytest.approx([4 * 2 * 3 + 0.3 - 0.5, 1.0], rel=1e-15)
    expected = torch.tensor([[48 - 4 + 0.5, -1.0], [-1.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(s.hessian(theta[0]), expected, rtol=1e-15, atol=0)


def test_critical_points_and_their_kinds():
    s = surface("two-minima")
    points = s.critical_points()
    assert len(points) == 3
    for x, y in points:
        assert 4 * x**3 - 4 * x + 0.3 == pytest.approx(0, abs=1e-12)
        assert y == x / 2
        g = s.gradient(torch.tensor([x, y], dtype=torch.float64))
        assert float(torch.linalg.vector_norm(g)) < 1e-12
    kinds = []
    for point in points:
        eigenvalues = torch.linalg.eigvalsh(s.hessian(torch.tensor(point, dtype=torch.float64)))
        kinds.append(int((eigenvalues < 0).sum()))
    assert kinds == [0, 1, 0]  # minimum, saddle (the bump), minimum
    deep, bump, shallow = (floor_profile(x) for x, _ in points)
    assert deep == pytest.approx(-0.3054, abs=1e-4)
    assert shallow == pytest.approx(0.2941, abs=1e-4)
    assert deep < shallow < bump
    assert s.minimum == points[0] and s.local_minimum == points[2]
    assert math.isclose(s.minimum[0], -1.0356, abs_tol=1e-4)


def test_gradient_descent_stops_in_the_shallow_minimum():
    s = surface("two-minima")
    trajectory = descend(s, "gd", lr=0.01, steps=1500)
    final = trajectory.final[0]
    assert final.tolist() == pytest.approx(list(s.local_minimum), abs=1e-6)
    assert float(trajectory.gradient_norm[-1, 0]) < 1e-6
