"""Critical points: the kind from the true Hessian's eigenvalues on cases whose truth is known in
closed form, the escape direction's predicted drop ½λε², and training that reaches saddles."""

import math

import pytest
import torch
from torch import nn

from ravine.diagnose.critical import (
    KINDS,
    CriticalPoint,
    classify_critical_point,
    escape_direction,
    loss_and_gradient,
    move_along,
    train_to_critical_point,
    zero_tolerance,
)
from ravine.surfaces import surface
from ravine.tasks import sinc_task

EMPTY = torch.empty(0)


class Quadratic(nn.Module):
    """L(θ) = ½ (θ − c)ᵀ A (θ − c) with the loss below: ∇L = A(θ − c), H = A exactly."""

    def __init__(self, theta):
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta, dtype=torch.float64).clone())

    def forward(self, inputs):
        return self.theta


def quadratic_loss(a):
    def loss(theta, c):
        return 0.5 * (theta - c) @ a @ (theta - c)

    return loss


def rotated(eigenvalues, seed=0):
    """Q diag(λ) Qᵀ with a random orthogonal Q: eigenvalues known, no zero entries."""
    generator = torch.Generator().manual_seed(seed)
    n = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    return q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T


C = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)


def classify_quadratic(eigenvalues, theta=C, **keywords):
    a = rotated(eigenvalues)
    return classify_critical_point(Quadratic(theta), quadratic_loss(a), EMPTY, C, **keywords)


class SaddleSurface(nn.Module):
    """The lecture's saddle L(x, y) = x² − y² + ¼y⁴ as a model: H(0, 0) = diag(2, −2)."""

    def __init__(self, x, y):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([x, y], dtype=torch.float64))

    def forward(self, inputs):
        return surface("saddle").loss(self.theta)


def surface_loss(outputs, targets):
    return outputs


def two_layer_linear(x, y):
    """ŷ = w2·w1·x at w1 = w2 = 0 with L = mean (y − ŷ)²: g = 0 and H = [[0, −2m], [−2m, 0]],
    m = mean(x·y), so λ = ±2m — the deep-linear saddle at the origin."""
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    return model, nn.functional.mse_loss, x, y


def line_data():
    x = torch.linspace(-1, 1, 21, dtype=torch.float64)[:, None]
    return x, 0.5 * x + 0.1 * x**2  # m = mean(x·y) = 0.5·mean(x²) > 0


def test_convex_quadratic_is_a_local_minimum():
    point = classify_quadratic([3.0, 1.0, 0.5])
    assert isinstance(point, CriticalPoint) and point.kind == "local minimum"
    assert point.gradient_norm == pytest.approx(0, abs=1e-15)
    assert point.min_eigenvalue == pytest.approx(0.5, rel=1e-12)
    assert point.max_eigenvalue == pytest.approx(3.0, rel=1e-12)
    assert point.eigenvalues.tolist() == pytest.approx([0.5, 1.0, 3.0], rel=1e-12)
    assert (point.positive, point.negative, point.zero) == (3, 0, 0)
    assert point.minimum_ratio == 1.0 and point.local_minimum_like is True
    assert point.method == "exact" and point.parameters == 3
    assert point.loss == 0.0


def test_negative_quadratic_is_a_local_maximum():
    point = classify_quadratic([-3.0, -1.0, -0.5])
    assert point.kind == "local maximum"
    assert point.eigenvalues.tolist() == pytest.approx([-3.0, -1.0, -0.5], rel=1e-12)
    assert point.minimum_ratio == 0.0 and point.local_minimum_like is False


def test_indefinite_quadratic_is_a_saddle_point_with_ratio_two_thirds():
    point = classify_quadratic([2.0, -1.0, 0.5])
    assert point.kind == "saddle point"
    assert (point.min_eigenvalue, point.max_eigenvalue) == pytest.approx((-1.0, 2.0), rel=1e-12)
    assert (point.positive, point.negative) == (2, 1)
    assert point.minimum_ratio == pytest.approx(2 / 3)
    # the homework's rule calls a saddle with ratio > 0.5 "local-minimum-like"
    assert point.local_minimum_like is True
    assert classify_quadratic([2.0, -1.0, 0.5], ratio_threshold=0.7).local_minimum_like is False


def test_away_from_the_critical_point_it_is_not_critical():
    shifted = C + torch.tensor([0.01, 0.0, 0.0], dtype=torch.float64)
    a = rotated([3.0, 1.0, 0.5])
    expected = float(torch.linalg.vector_norm(a @ (shifted - C)))  # ‖A(θ − c)‖
    point = classify_quadratic([3.0, 1.0, 0.5], theta=shifted)
    assert point.gradient_norm == pytest.approx(expected, rel=1e-12)
    assert expected > 1e-3 and point.kind == "not critical"
    assert point.min_eigenvalue == pytest.approx(0.5, rel=1e-12)  # still reported
    # the same point with a looser criterion is a minimum
    assert classify_quadratic([3.0, 1.0, 0.5], theta=shifted, grad_tol=0.1).kind == "local minimum"


def test_zero_eigenvalues_count_as_not_positive():
    a = torch.diag(torch.tensor([2.0, 0.0, 1.0], dtype=torch.float64))
    point = classify_critical_point(Quadratic(C), quadratic_loss(a), EMPTY, C)
    assert point.kind == "local minimum"  # degenerate: no negative eigenvalue
    assert (point.positive, point.negative, point.zero) == (2, 0, 1)
    assert point.minimum_ratio == pytest.approx(2 / 3)
    assert point.zero_tolerance == pytest.approx(3 * torch.finfo(torch.float64).eps * 2.0)


def test_a_tiny_negative_eigenvalue_is_measured_unless_zero_tol_covers_it():
    a = torch.diag(torch.tensor([2.0, -1e-8, 1.0], dtype=torch.float64))
    measured = classify_critical_point(Quadratic(C), quadratic_loss(a), EMPTY, C)
    assert measured.kind == "saddle point" and measured.negative == 1
    assert measured.min_eigenvalue == pytest.approx(-1e-8, rel=1e-9)
    covered = classify_critical_point(Quadratic(C), quadratic_loss(a), EMPTY, C, zero_tol=1e-6)
    assert covered.kind == "local minimum" and covered.zero == 1
    assert covered.zero_tolerance == pytest.approx(2e-6)


def test_zero_tolerance_is_the_numerical_rank_tolerance():
    values = torch.tensor([-4.0, 1e-20, 3.0], dtype=torch.float64)
    assert zero_tolerance(values, 3, torch.float64) == 3 * 2.0**-52 * 4.0
    assert zero_tolerance(values, 3, torch.float32) == 3 * 2.0**-23 * 4.0


def test_deep_linear_origin_is_a_saddle_with_eigenvalues_plus_minus_two_m():
    x, y = line_data()
    m = float((x * y).mean())
    model, loss_fn, inputs, targets = two_layer_linear(x, y)
    point = classify_critical_point(model, loss_fn, inputs, targets)
    assert point.gradient_norm == 0.0
    assert point.kind == "saddle point"
    assert point.eigenvalues.tolist() == pytest.approx([-2 * m, 2 * m], rel=1e-12)
    assert point.minimum_ratio == 0.5 and point.local_minimum_like is False  # 0.5 is not > 0.5


def test_eigenvalues_match_eigvalsh_of_an_independent_hessian():
    """The sinc network after a short training: classify's spectrum against
    torch.autograd.functional.hessian + eigvalsh, and its counts against that spectrum."""
    task = sinc_task(seed=1, n=40)
    model = task.model()
    train_to_critical_point(model, task.loss_fn, task.inputs, task.targets, descent_steps=300)
    point = classify_critical_point(model, task.loss_fn, task.inputs, task.targets)
    params = [p.detach().clone() for p in model.parameters()]
    shapes = [p.shape for p in params]
    flat = torch.cat([p.reshape(-1) for p in params])

    def loss(theta):
        pieces = torch.split(theta, [math.prod(s) for s in shapes])
        w1, b1, w2, b2 = (piece.reshape(s) for piece, s in zip(pieces, shapes, strict=True))
        out = torch.relu(task.inputs @ w1.T + b1) @ w2.T + b2
        return ((out - task.targets) ** 2).mean()

    reference = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, flat, vectorize=True))
    scale = float(reference.abs().max())
    assert torch.allclose(point.eigenvalues, reference, rtol=0, atol=1e-12 * scale)
    tau = point.zero_tolerance
    assert point.positive == int((reference > tau).sum())
    assert point.negative == int((reference < -tau).sum())
    assert point.minimum_ratio == point.positive / 385
    assert point.strict_minimum_ratio == int((point.eigenvalues > 0).sum()) / 385
    assert point.gradient_norm == pytest.approx(
        float(torch.linalg.vector_norm(torch.func.grad(loss)(flat))), rel=1e-10
    )


def test_escape_from_the_saddle_surface_lowers_the_loss_by_half_lambda_epsilon_squared():
    model = SaddleSurface(0.0, 0.0)
    value, direction = escape_direction(model, surface_loss, EMPTY, EMPTY)
    assert value == pytest.approx(-2.0, rel=1e-12)
    assert direction.abs().tolist() == pytest.approx([0.0, 1.0], abs=1e-12)
    for epsilon in (1e-1, 1e-2):
        moved = SaddleSurface(0.0, 0.0)
        move_along(moved, direction, epsilon)
        drop = float(moved(EMPTY).detach()) - 0.0
        assert drop == pytest.approx(0.5 * value * epsilon**2 + epsilon**4 / 4, rel=1e-12)
        assert drop < 0 and drop / (0.5 * value * epsilon**2) == pytest.approx(1, abs=epsilon**2)


def test_escape_from_the_deep_linear_origin_matches_the_prediction():
    x, y = line_data()
    m, q = float((x * y).mean()), float((x * x).mean())
    model, loss_fn, inputs, targets = two_layer_linear(x, y)
    start = float(loss_fn(model(inputs), targets).detach())
    value, direction = escape_direction(model, loss_fn, inputs, targets)
    assert value == pytest.approx(-2 * m, rel=1e-12)
    assert direction.tolist() == pytest.approx([2**-0.5, 2**-0.5], rel=1e-12)
    epsilon = 1e-2
    move_along(model, direction, epsilon)
    drop = float(loss_fn(model(inputs), targets).detach()) - start
    # w1 = w2 = ε/√2: L(εu) − L(0) = −m ε² + ¼ q ε⁴ = ½λε² + ¼ q ε⁴
    assert drop == pytest.approx(0.5 * value * epsilon**2 + q * epsilon**4 / 4, rel=1e-9)
    assert drop == pytest.approx(0.5 * value * epsilon**2, rel=1e-3)


def test_escape_direction_points_downhill_to_first_order():
    """Near the saddle, ∂L/∂y = −2y + y³ < 0 at y = 0.01, so u must have u_y > 0 (gᵀu < 0)."""
    model = SaddleSurface(0.0, 0.01)
    _, gradient = loss_and_gradient(model, surface_loss, EMPTY, EMPTY)
    value, direction = escape_direction(model, surface_loss, EMPTY, EMPTY)
    assert value == pytest.approx(-2 + 3e-4, rel=1e-12)
    assert direction[1] == pytest.approx(1.0) and float(gradient @ direction) < 0
    mirrored = SaddleSurface(0.0, -0.01)
    assert escape_direction(mirrored, surface_loss, EMPTY, EMPTY)[1][1] == pytest.approx(-1.0)


def test_escape_direction_at_a_minimum_is_refused():
    with pytest.raises(ValueError, match=r"λ_min = 0\.5 .*no saddle point"):
        escape_direction(Quadratic(C), quadratic_loss(rotated([3.0, 1.0, 0.5])), EMPTY, C)


def test_lanczos_path_for_models_over_max_parameters():
    a = rotated([2.0, -1.0, 0.5])
    point = classify_critical_point(Quadratic(C), quadratic_loss(a), EMPTY, C, max_parameters=2)
    assert point.method == "lanczos" and point.kind == "saddle point"
    assert (point.min_eigenvalue, point.max_eigenvalue) == pytest.approx((-1.0, 2.0), rel=1e-10)
    assert point.minimum_ratio is None and point.local_minimum_like is None
    assert point.positive is None and point.to_json()["minimum_ratio"] is None
    value, direction = escape_direction(Quadratic(C), quadratic_loss(a), EMPTY, C, max_parameters=2)
    assert value == pytest.approx(-1.0, rel=1e-10)
    assert float(direction @ a @ direction) == pytest.approx(-1.0, rel=1e-10)


def test_newton_on_the_gradient_reaches_the_saddle_that_descent_avoids():
    """From (0.3, 0.2), Newton steps on g = 0 converge to the saddle (0, 0); Adam first rolls
    down to the minimum (0, ±√2), where H = diag(2, 4)."""
    model = SaddleSurface(0.3, 0.2)
    run = train_to_critical_point(
        model, surface_loss, EMPTY, EMPTY, descent_steps=0, newton_steps=30, grad_tol=1e-12
    )
    assert run.reached and run.method == "newton" and run.descent_steps == 0
    assert run.gradient_norm < 1e-12 and run.steps == run.newton_steps <= 30
    assert model.theta.detach().abs().max() < 1e-12
    point = classify_critical_point(model, surface_loss, EMPTY, EMPTY)
    assert point.kind == "saddle point" and point.eigenvalues.tolist() == pytest.approx([-2, 2])

    model = SaddleSurface(0.3, 0.2)
    run = train_to_critical_point(
        model, surface_loss, EMPTY, EMPTY, descent_steps=2000, lr=0.05, grad_tol=1e-9
    )
    assert run.reached and run.gradient_norm < 1e-9
    assert model.theta.detach().tolist() == pytest.approx([0.0, math.sqrt(2)], abs=1e-9)
    point = classify_critical_point(model, surface_loss, EMPTY, EMPTY)
    assert point.kind == "local minimum"
    assert point.eigenvalues.tolist() == pytest.approx([2.0, 4.0], rel=1e-8)


def test_gradient_norm_descent_by_hessian_vector_products_over_max_parameters():
    model = SaddleSurface(0.3, 0.2)
    _, before = loss_and_gradient(model, surface_loss, EMPTY, EMPTY)
    run = train_to_critical_point(
        model,
        surface_loss,
        EMPTY,
        EMPTY,
        descent_steps=0,
        newton_steps=300,
        max_parameters=1,
        gradient_norm_lr=0.01,
    )
    assert run.method == "gradient-norm" and run.newton_steps <= 300
    assert run.gradient_norm < 1e-3 < float(torch.linalg.vector_norm(before))
    assert run.reached


def test_sinc_network_reaches_a_critical_point_with_the_defaults():
    task = sinc_task(seed=0)
    model = task.model()
    run = train_to_critical_point(model, task.loss_fn, task.inputs, task.targets)
    assert run.reached and run.gradient_norm < 1e-3 and run.descent_steps == 5000
    _, gradient = loss_and_gradient(model, task.loss_fn, task.inputs, task.targets)
    assert float(torch.linalg.vector_norm(gradient)) == pytest.approx(run.gradient_norm)
    point = classify_critical_point(model, task.loss_fn, task.inputs, task.targets)
    assert point.kind in KINDS and point.kind != "not critical"
    assert point.positive + point.negative + point.zero == 385


def test_batches_average_like_one_batch():
    task = sinc_task(seed=2, n=40)
    model = task.model()
    whole = loss_and_gradient(model, task.loss_fn, task.inputs, task.targets)
    batches = [(task.inputs[:10], task.targets[:10]), (task.inputs[10:], task.targets[10:])]
    split = loss_and_gradient(model, task.loss_fn, batches, None)
    assert split[0] == pytest.approx(whole[0], rel=1e-12)
    assert torch.allclose(split[1], whole[1], rtol=1e-10, atol=1e-15)
    run = train_to_critical_point(
        model, task.loss_fn, batches, None, descent_steps=20, newton_steps=0
    )
    assert run.descent_steps == 20 and run.loss < whole[0]


def test_model_without_trainable_parameters_is_refused():
    model = Quadratic(C).requires_grad_(False)
    loss_fn = quadratic_loss(rotated([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="no trainable parameters"):
        classify_critical_point(model, loss_fn, EMPTY, C)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train_to_critical_point(model, loss_fn, EMPTY, C, descent_steps=1)


def test_non_scalar_loss_is_refused():
    x, y = line_data()
    model, _, inputs, targets = two_layer_linear(x, y)

    def per_sample(out, target):
        return (out - target) ** 2

    with pytest.raises(ValueError, match=r"scalar tensor .*\(21, 1\)"):
        classify_critical_point(model, per_sample, inputs, targets)
    with pytest.raises(ValueError, match="scalar"):
        escape_direction(model, per_sample, inputs, targets)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"grad_tol": 0.0}, "grad_tol must be a finite number > 0, got 0.0"),
        ({"grad_tol": math.nan}, "grad_tol must be a finite number > 0"),
        ({"ratio_threshold": 1.5}, r"ratio_threshold must be a number in \[0, 1\], got 1.5"),
        ({"zero_tol": 2.0}, r"zero_tol must be a number in \[0, 1\)"),
        ({"max_parameters": 0}, "max_parameters must be an integer >= 1, got 0"),
    ],
)
def test_bad_settings_are_refused_with_the_value(keywords, message):
    with pytest.raises(ValueError, match=message):
        classify_quadratic([1.0, 2.0, 3.0], **keywords)


def test_bad_training_settings_are_refused():
    model = SaddleSurface(0.3, 0.2)
    with pytest.raises(ValueError, match=r"descent_steps must be an integer >= 0, got -1"):
        train_to_critical_point(model, surface_loss, EMPTY, EMPTY, descent_steps=-1)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got -0\.1"):
        train_to_critical_point(model, surface_loss, EMPTY, EMPTY, lr=-0.1)
