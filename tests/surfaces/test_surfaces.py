"""The error surfaces' closed forms against autograd and numpy, and descend() against single
runs, step-by-step optimizers and its own bookkeeping."""

import math

import numpy as np
import pytest
import torch

from ravine.optim import Adam
from ravine.schedules import inverse_sqrt
from ravine.surfaces import SURFACES, descend, surface
from ravine.surfaces.library import POKEMON_X, POKEMON_Y

NAMES = list(SURFACES)


def random_points(s, count=40, seed=0):
    """``count`` points drawn uniformly in the surface's plot window, float64."""
    generator = torch.Generator().manual_seed(seed)
    (x0, x1), (y0, y1) = s.bounds
    u = torch.rand(count, 2, generator=generator, dtype=torch.float64)
    low = torch.tensor([x0, y0], dtype=torch.float64)
    high = torch.tensor([x1, y1], dtype=torch.float64)
    return low + (high - low) * u


def minimum(s):
    return torch.tensor(s.minimum, dtype=torch.float64)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_is_autograd_of_loss(name):
    s = surface(name)
    points = random_points(s).requires_grad_(True)
    (expected,) = torch.autograd.grad(s.loss(points).sum(), points)  # each row's own ∇L
    got = s.gradient(points.detach())
    assert got.shape == points.shape and got.dtype == torch.float64
    # componentwise relative 1e-10, with an absolute floor far below the gradients' scale
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12 * float(expected.abs().max()))


@pytest.mark.parametrize("name", NAMES)
def test_hessian_is_autograd_hessian(name):
    s = surface(name)
    points = random_points(s, count=8, seed=1)
    got = s.hessian(points)
    assert got.shape == (8, 2, 2)
    for point, h in zip(points, got, strict=True):
        expected = torch.autograd.functional.hessian(s.loss, point)
        torch.testing.assert_close(
            h, expected, rtol=1e-10, atol=1e-12 * float(expected.abs().max())
        )


@pytest.mark.parametrize("name", NAMES)
def test_minima_and_saddle_points_are_critical_points_of_their_kind(name):
    s = surface(name)
    assert s.minimum == s.minima[0]
    scale = float(torch.linalg.vector_norm(s.gradient(torch.tensor(s.start, dtype=torch.float64))))
    for point in s.minima:
        g = s.gradient(torch.tensor(point, dtype=torch.float64))
        assert float(torch.linalg.vector_norm(g)) <= 1e-12 * scale
        eigenvalues = torch.linalg.eigvalsh(s.hessian(torch.tensor(point, dtype=torch.float64)))
        assert bool((eigenvalues > 0).all()), (point, eigenvalues)
    for point in s.saddle_points:  # exactly one negative eigenvalue: diag(2, −2)
        theta = torch.tensor(point, dtype=torch.float64)
        assert s.gradient(theta).tolist() == [0.0, 0.0]
        assert torch.linalg.eigvalsh(s.hessian(theta)).tolist() == pytest.approx([-2.0, 2.0])
    assert len(s.saddle_points) == (name == "saddle")


def test_the_saddle_surface_knows_its_two_minima_and_its_saddle_point():
    """L = x² − y² + ¼y⁴: ∂L/∂y = −2y + y³ vanishes at y = 0 (the saddle) and y² = 2."""
    s = surface("saddle")
    assert s.minima == ((0.0, math.sqrt(2.0)), (0.0, -math.sqrt(2.0)))
    assert s.saddle_points == ((0.0, 0.0),)
    losses = s.loss(torch.tensor(s.minima, dtype=torch.float64))
    assert losses.tolist() == pytest.approx([-1.0, -1.0], abs=1e-15)
    grid = s.loss(random_points(s, count=20_000, seed=3))
    assert float(grid.min()) > -1.0  # nothing in the window lies below them
    points = torch.tensor([[0.3, 1.0], [0.3, -0.2], [0.0, 0.0], [-1.0, -3.0]], dtype=torch.float64)
    root = math.sqrt(2.0)
    assert s.nearest_minimum(points).tolist() == [[0, root], [0, -root], [0, root], [0, -root]]
    assert s.distance(points).tolist() == pytest.approx(
        [math.hypot(0.3, 1 - root), math.hypot(0.3, root - 0.2), root, math.hypot(1, 3 - root)],
        rel=1e-15,
    )


@pytest.mark.parametrize("name", ["minimum", "saddle"])
def test_distance_does_not_overflow_far_away(name):
    s = surface(name)
    far = [[1e200, 0.0], [0.0, -1e300], [1e308, 1e308], [1e-170, 0.0]]
    got = s.distance(torch.tensor(far, dtype=torch.float64)).tolist()
    assert got[:2] == [1e200, 1e300]  # θ* is lost in the rounding at this scale
    assert got[2] == pytest.approx(math.sqrt(2) * 1e308, rel=1e-15)  # near float's largest
    if name == "minimum":
        assert got[3] == 1e-170  # its square underflows to 0
    huge = torch.tensor([[math.inf, 0.0], [math.nan, 0.0]], dtype=torch.float64)
    assert math.isinf(s.distance(huge)[0]) and math.isnan(s.distance(huge)[1])


def test_distance_is_vector_norms_where_the_squares_fit():
    """The same numbers as before for every surface: ‖θ − θ*‖ by vector_norm, to the last bit."""
    for name in NAMES:
        s = surface(name)
        if len(s.minima) > 1:
            continue
        points = random_points(s, count=500, seed=4)
        expected = torch.linalg.vector_norm(points - minimum(s), dim=-1)
        assert torch.equal(s.distance(points), expected), name


def test_pokemon_minimum_is_least_squares():
    x, y = np.array(POKEMON_X), np.array(POKEMON_Y)
    (b, w), *_ = np.linalg.lstsq(np.stack([np.ones_like(x), x], axis=1), y, rcond=None)
    assert surface("pokemon").minimum == pytest.approx((b, w), rel=1e-12)
    # the normalized surface fits the same line: w' = w·std(x), b' = b + w·mean(x)
    normalized = surface("pokemon-normalized").minimum
    assert normalized == pytest.approx((b + w * x.mean(), w * x.std()), rel=1e-12)


def test_pokemon_hessian_closed_form():
    """H = 2·[[N, Σx], [Σx, Σx²]]; normalized, 2N·I."""
    x = np.array(POKEMON_X)
    expected = 2 * np.array([[len(x), x.sum()], [x.sum(), x @ x]])
    np.testing.assert_array_equal(surface("pokemon").hessian(torch.zeros(2)).numpy(), expected)
    h = surface("pokemon-normalized").hessian(torch.zeros(2, dtype=torch.float64))
    np.testing.assert_allclose(h.numpy(), 2 * len(x) * np.eye(2), atol=1e-12)


def test_normalized_one_step_of_inverse_curvature_lands_on_minimum():
    s = surface("pokemon-normalized")
    trajectory = descend(s, "gd", lr=1 / (2 * len(POKEMON_X)), steps=1)  # η = 1/(2N)
    start = float(torch.linalg.vector_norm(trajectory.theta[0, 0] - minimum(s)))
    assert start == pytest.approx(300 * 2**0.5, rel=1e-12)
    assert float(trajectory.distance[0]) < 1e-12 * start


def test_valley_gradient_descent_bounces_at_the_fixed_point():
    """η = 10⁻² overshoots the floor: w1 ends on the 2-cycle w̄ = 2·tanh(w̄) ≈ 1.915."""
    trajectory = descend(surface("valley"), "gd", lr=1e-2, steps=400)
    w1 = trajectory.theta[-2:, 0, 0]
    assert float(w1[0]) == pytest.approx(-float(w1[1]), rel=1e-9)
    w_bar = abs(float(w1[1]))
    assert w_bar == pytest.approx(2 * np.tanh(w_bar), rel=1e-12)
    assert w_bar == pytest.approx(1.91501, abs=1e-5)


# descend ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "optimizer", "schedule"),
    [
        ("pokemon", "gd", None),
        ("crescent", "lecture-adagrad", inverse_sqrt()),
        ("valley", "adam", None),
        ("saddle", "lecture-momentum", None),
    ],
)
def test_batch_of_rates_equals_single_runs(name, optimizer, schedule):
    s = surface(name)
    rates = [1e-8, 1e-7, 3e-7, 6e-7, 1e-6] if name == "pokemon" else [1e-3, 3e-3, 1e-2, 3e-2, 0.1]
    batch = descend(s, optimizer, lr=rates, schedule=schedule, steps=200)
    assert batch.theta.shape == (201, 5, 2)
    for run, lr in enumerate(rates):
        single = descend(s, optimizer, lr=lr, schedule=schedule, steps=200)
        torch.testing.assert_close(batch.theta[:, run], single.theta[:, 0], rtol=1e-12, atol=0)


def test_batch_of_starts_equals_single_runs():
    s = surface("saddle")
    starts = [[1.5, 1e-3], [-1.0, 0.5], [0.2, -1.9]]
    batch = descend(s, "rmsprop", lr=1e-2, start=starts, steps=150)
    for run, start in enumerate(starts):
        single = descend(s, "rmsprop", lr=1e-2, start=start, steps=150)
        # (a single run steps on two Python floats: equal to rounding, not to the last bit)
        torch.testing.assert_close(batch.theta[:, run], single.theta[:, 0], rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["minimum", "valley", "saddle", "crescent"])
def test_adam_matches_stepwise_optimizers(name):
    """descend(..., "adam") = ravine.optim.Adam and torch.optim.Adam stepped by hand on a
    two-element Parameter with loss.backward()."""
    s = surface(name)
    lr, steps = 0.05, 150
    trajectory = descend(s, "adam", lr=lr, steps=steps)
    for optimizer_class in (Adam, torch.optim.Adam):
        param = torch.nn.Parameter(torch.tensor(s.start, dtype=torch.float64))
        optimizer = optimizer_class([param], lr=lr)
        path = [param.detach().clone()]
        for _ in range(steps):
            optimizer.zero_grad()
            s.loss(param).backward()
            optimizer.step()
            path.append(param.detach().clone())
        torch.testing.assert_close(trajectory.theta[:, 0], torch.stack(path), rtol=1e-10, atol=0)


def test_sigma_and_effective_lr_of_lecture_adagrad():
    """σ_i^t = sqrt(Σ_{s≤t} (g_i^s)²/(t+1)) from the recorded θ, and effective_lr = η^t/σ^t.

    The crescent's start (4, 4) lies on its floor, so g_2^0 = 0 and σ_2^0 = 0: ravine takes σ
    as 1 there (the step is 0 either way)."""
    s = surface("crescent")
    trajectory = descend(s, "lecture-adagrad", lr=[0.1, 0.3], schedule=inverse_sqrt(), steps=50)
    g = s.gradient(trajectory.theta[:-1])  # g^t at θ^t, (N, R, 2)
    assert g[0, :, 1].tolist() == [0.0, 0.0]
    count = torch.arange(1, 51, dtype=torch.float64).reshape(-1, 1, 1)
    sigma = torch.sqrt(torch.cumsum(g * g, dim=0) / count)
    sigma[sigma == 0] = 1.0
    torch.testing.assert_close(trajectory.sigma, sigma, rtol=1e-12, atol=0)
    eta = torch.tensor([0.1, 0.3], dtype=torch.float64) / torch.sqrt(count.reshape(-1, 1))
    torch.testing.assert_close(trajectory.rates, eta, rtol=1e-15, atol=0)
    torch.testing.assert_close(
        trajectory.effective_lr, trajectory.rates.unsqueeze(-1) / trajectory.sigma, rtol=0, atol=0
    )


def test_effective_lr_without_sigma_is_the_rate():
    trajectory = descend(surface("minimum"), "gd", lr=[0.1, 0.2], steps=5)
    assert trajectory.sigma is None
    expected = torch.tensor([0.1, 0.2], dtype=torch.float64).expand(5, 2)
    torch.testing.assert_close(trajectory.effective_lr, expected.unsqueeze(-1).expand(5, 2, 2))


def test_trajectory_records_loss_gradient_and_distance():
    s = surface("minimum")  # L = x² + 2y²: GD scales x by (1 − 2η), y by (1 − 4η)
    trajectory = descend(s, "gd", lr=0.1, steps=3)
    x0, y0 = s.start
    expected = torch.tensor([[x0 * 0.8**t, y0 * 0.6**t] for t in range(4)], dtype=torch.float64)
    torch.testing.assert_close(trajectory.theta[:, 0], expected, rtol=1e-15, atol=0)
    loss = expected[:, 0] ** 2 + 2 * expected[:, 1] ** 2
    torch.testing.assert_close(trajectory.loss[:, 0], loss, rtol=1e-15, atol=0)
    norm = torch.sqrt((2 * expected[:, 0]) ** 2 + (4 * expected[:, 1]) ** 2)
    torch.testing.assert_close(trajectory.gradient_norm[:, 0], norm, rtol=1e-15, atol=0)
    assert float(trajectory.distance[0]) == pytest.approx(float(expected[-1].norm()), rel=1e-15)
    assert trajectory.steps == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(steps=0), "steps must be an integer >= 1, got 0"),
        (dict(steps=2.5), "steps must be an integer >= 1"),
        (dict(lr=[0.1, 0.2, 0.3], start=[[0.0, 1.0], [1.0, 0.0]]), "3 learning rates and 2 starts"),
        (dict(optimizer="adamax"), "unknown optimizer 'adamax'"),
        (dict(optimizer="adam", options={"beta": 0.9}), "adam has no option 'beta'"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    kwargs = {"optimizer": "gd", **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        descend(surface("minimum"), kwargs.pop("optimizer"), **kwargs)


def test_unknown_surface_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown surface 'bowl'; valid: pokemon, "):
        surface("bowl")
