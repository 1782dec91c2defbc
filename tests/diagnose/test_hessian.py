"""The Hessian tools against exact matrices: autograd's Hessian, closed forms of linear
regression, and torch.linalg.eigvalsh of the exact Hessian."""

import itertools
import math
import warnings

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.utils.data import DataLoader, TensorDataset

from ravine.diagnose import (
    exact_hessian,
    flatten,
    hessian_density,
    hessian_eigs,
    hessian_trace,
    hessian_vector_product,
    trainable_parameters,
    unflatten,
)

F64 = torch.float64
MSE = nn.MSELoss()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tensors are tiny: a second intra-op thread only adds synchronization, which costs
    seconds when another process holds a core. Restored after the module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------
# models and data with known Hessians
# --------------------------------------------------------------------------------------------


def tanh_mlp(sizes=(3, 8, 8, 2), seed=0, scale=1.0, dtype=F64):
    """A tanh MLP with N(0, scale²) weights: far from any minimum of random targets, so its
    Hessian has negative eigenvalues."""
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.Tanh()]
    model = nn.Sequential(*layers[:-1]).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=generator, dtype=F64))
    return model


def regression_data(count=40, features=3, outputs=2, seed=1, dtype=F64):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(count, features, generator=generator, dtype=F64)
    y = torch.randn(count, outputs, generator=generator, dtype=F64)
    return x.to(dtype), y.to(dtype)


def reference_hessian(model, loss_fn, x, y):
    """∂²L/∂θ_i∂θ_j by torch.autograd.functional.hessian of L as a function of flat θ."""
    named = dict(model.named_parameters())
    theta = flatten(list(named.values())).detach()

    def loss_of(flat):
        chunks = unflatten(flat, list(named.values()))
        return loss_fn(functional_call(model, dict(zip(named, chunks, strict=True)), (x,)), y)

    return torch.autograd.functional.hessian(loss_of, theta)


def designed_regression(spectrum, count=None, seed=2):
    """Linear regression ŷ = w·x (no bias) with H = (2/N) XᵀX = V diag(spectrum) Vᵀ exactly:
    X = √(N/2) U diag(√spectrum) Vᵀ with orthonormal U (N×P) and V (P×P)."""
    spectrum = torch.as_tensor(spectrum, dtype=F64)
    p = spectrum.numel()
    count = count or p + 20
    generator = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(count, p, generator=generator, dtype=F64))
    v, _ = torch.linalg.qr(torch.randn(p, p, generator=generator, dtype=F64))
    x = math.sqrt(count / 2) * u @ torch.diag(spectrum.sqrt()) @ v.T
    y = torch.randn(count, 1, generator=generator, dtype=F64)
    return nn.Linear(p, 1, bias=False).to(F64), x, y


class Scale(nn.Module):
    """ŷ_ij = θ_j x_ij: with MSE, H is diagonal, H_jj = 2 Σ_i x_ij² / (N·d)."""

    def __init__(self, features):
        super().__init__()
        self.theta = nn.Parameter(torch.linspace(-1, 1, features, dtype=F64))

    def forward(self, x):
        return x * self.theta


def extremes(eigenvalues, k, which):
    ascending = torch.sort(eigenvalues).values
    largest, smallest = ascending.flip(0)[:k], ascending[:k]
    return {"largest": largest, "smallest": smallest, "both": torch.cat([largest, smallest])}[which]


# --------------------------------------------------------------------------------------------
# θ as a flat vector
# --------------------------------------------------------------------------------------------


def test_flatten_and_unflatten_are_inverse_in_parameter_order():
    model = tanh_mlp()
    params = trainable_parameters(model)
    assert params == list(model.parameters())
    theta = flatten(params)
    assert theta.shape == (sum(p.numel() for p in params),)
    for chunk, p in zip(unflatten(theta, params), params, strict=True):
        assert torch.equal(chunk, p)
    with pytest.raises(ValueError, match=r"1-D with 122 entries.*got shape \(121,\)"):
        unflatten(theta[:-1], params)
    with pytest.raises(ValueError, match="at least one tensor"):
        flatten([])


def test_trainable_parameters_skip_frozen_ones():
    model = tanh_mlp()
    model[0].weight.requires_grad_(False)
    assert trainable_parameters(model) == list(model.parameters())[1:]


# --------------------------------------------------------------------------------------------
# H·v and the exact Hessian
# --------------------------------------------------------------------------------------------


def test_hessian_vector_product_equals_autograd_hessian_times_v():
    model = tanh_mlp()
    x, y = regression_data()
    h = reference_hessian(model, MSE, x, y)
    v = torch.randn(h.shape[0], generator=torch.Generator().manual_seed(3), dtype=F64)
    hv = hessian_vector_product(model, MSE, x, y, v)
    assert hv.shape == v.shape and hv.dtype == F64
    torch.testing.assert_close(hv, h @ v, rtol=1e-12, atol=1e-12 * float(h.abs().max()))


def test_exact_hessian_equals_autograd_hessian_and_is_symmetric():
    model = tanh_mlp()
    x, y = regression_data()
    h = exact_hessian(model, MSE, x, y)
    expected = reference_hessian(model, MSE, x, y)
    assert h.shape == (122, 122)
    assert torch.equal(h, h.T)
    torch.testing.assert_close(h, expected, rtol=1e-12, atol=1e-12 * float(expected.abs().max()))


def test_exact_hessian_of_linear_regression_is_two_over_n_xtx():
    # L = (1/N) Σ (w·x_i + b − y_i)²: H = (2/N) AᵀA with A = [X, 1], θ = (w, b)
    x, y = regression_data(outputs=1)
    model = nn.Linear(3, 1).to(F64)
    a = torch.cat([x, torch.ones(len(x), 1, dtype=F64)], dim=1)
    torch.testing.assert_close(
        exact_hessian(model, MSE, x, y), 2 / len(x) * a.T @ a, rtol=1e-13, atol=1e-13
    )


def test_exact_hessian_refuses_more_than_max_parameters():
    model = tanh_mlp()
    x, y = regression_data()
    with pytest.raises(ValueError, match=r"P = 122 .* max_parameters = 100.*hessian_eigs"):
        exact_hessian(model, MSE, x, y, max_parameters=100)
    assert exact_hessian(model, MSE, x, y, max_parameters=122).shape == (122, 122)


# --------------------------------------------------------------------------------------------
# Lanczos against eigvalsh of the exact Hessian
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saddle():
    """A tanh MLP (P = 403) away from a minimum, its data, and the exact spectrum."""
    model = tanh_mlp(sizes=(4, 16, 16, 3), seed=5, scale=0.8)
    x, y = regression_data(count=64, features=4, outputs=3, seed=6)
    h = exact_hessian(model, MSE, x, y)
    return model, x, y, h, torch.linalg.eigvalsh(h)


@pytest.mark.parametrize("which", ["largest", "smallest", "both"])
@pytest.mark.parametrize("k", [1, 4])
def test_eigs_match_eigvalsh_on_a_saddle(saddle, which, k):
    model, x, y, h, eigenvalues = saddle
    assert eigenvalues[0] < -1e-2 * eigenvalues[-1]  # a real saddle: clearly negative λ
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converged within the default max_iter (< P)
        values, vectors = hessian_eigs(model, MSE, x, y, k=k, which=which)
    expected = extremes(eigenvalues, k, which)
    n = len(expected)
    assert values.shape == (n,) and vectors.shape == (n, h.shape[0])
    assert values.dtype == F64 and vectors.dtype == F64
    torch.testing.assert_close(values, expected, rtol=1e-6, atol=0)
    norm = float(eigenvalues.abs().max())
    # H u = λ u, ‖u‖ = 1, rows orthonormal
    residual = torch.linalg.vector_norm(vectors @ h - values[:, None] * vectors, dim=1)
    assert float(residual.max()) <= 1e-6 * norm
    torch.testing.assert_close(vectors @ vectors.T, torch.eye(n, dtype=F64), rtol=0, atol=1e-8)


def test_eigs_smallest_is_the_lectures_escape_direction(saddle):
    # uᵀHu = λ‖u‖² < 0 (lecture): the eigenvector of the most negative λ
    model, x, y, h, eigenvalues = saddle
    _, vectors = hessian_eigs(model, MSE, x, y, k=1, which="smallest")
    u = vectors[0]
    assert float(u @ h @ u) == pytest.approx(float(eigenvalues[0]), rel=1e-9)
    assert float(u @ h @ u) < 0
    assert float(torch.linalg.vector_norm(u)) == pytest.approx(1.0, abs=1e-12)


def test_eigs_resolve_clustered_spectra_before_exhausting_the_space():
    # λ: 10, 9.999, 9.998 | 300 values in [0.5, 5] | 0.1002, 0.1001, 0.1
    spectrum = torch.cat(
        [
            torch.tensor([10, 9.999, 9.998], dtype=F64),
            torch.linspace(0.5, 5, 300, dtype=F64),
            torch.tensor([0.1002, 0.1001, 0.1], dtype=F64),
        ]
    )
    model, x, y = designed_regression(spectrum)
    eigenvalues = torch.linalg.eigvalsh(exact_hessian(model, MSE, x, y))
    torch.testing.assert_close(eigenvalues, spectrum.sort().values, rtol=1e-10, atol=1e-12)
    for which in ("largest", "smallest", "both"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # converges with m ≤ 150 < P = 306
            values, _ = hessian_eigs(model, MSE, x, y, k=3, which=which, max_iter=150)
        torch.testing.assert_close(values, extremes(eigenvalues, 3, which), rtol=1e-6, atol=0)


def test_eigs_count_repeated_eigenvalues():
    # 4 outputs of one linear layer: H = I_4 ⊗ (2/(4N)) AᵀA, every eigenvalue 4 times
    x, y = regression_data(count=50, features=20, outputs=4, seed=7)
    x = x * torch.linspace(0.2, 3, 20, dtype=F64)
    model = nn.Linear(20, 4).to(F64)
    eigenvalues = torch.linalg.eigvalsh(exact_hessian(model, MSE, x, y))
    assert float(eigenvalues[-1] - eigenvalues[-4]) < 1e-12 * float(eigenvalues[-1])
    assert float(eigenvalues[-5]) < 0.99 * float(eigenvalues[-1])
    for which in ("largest", "smallest", "both"):
        values, vectors = hessian_eigs(model, MSE, x, y, k=5, which=which)
        torch.testing.assert_close(values, extremes(eigenvalues, 5, which), rtol=1e-9, atol=0)
    values, vectors = hessian_eigs(model, MSE, x, y, k=4, which="largest")
    torch.testing.assert_close(vectors @ vectors.T, torch.eye(4, dtype=F64), rtol=0, atol=1e-9)


def test_eigs_on_a_float32_model_reach_float32_accuracy(saddle):
    _, x, y, _, eigenvalues = saddle
    model = tanh_mlp(sizes=(4, 16, 16, 3), seed=5, scale=0.8, dtype=torch.float32)
    values, _ = hessian_eigs(model, MSE, x.float(), y.float(), k=2, which="both")
    assert values.dtype == F64
    # H·v in float32 is good to ~1e-6 of ‖H‖; so are the eigenvalues
    torch.testing.assert_close(
        values, extremes(eigenvalues, 2, "both"), rtol=0, atol=1e-5 * float(eigenvalues[-1])
    )


def test_eigs_are_deterministic_for_a_seed_and_leave_the_global_rng_alone(saddle):
    model, x, y, _, _ = saddle
    state = torch.get_rng_state()
    first = hessian_eigs(model, MSE, x, y, k=2, which="both", seed=11)
    second = hessian_eigs(model, MSE, x, y, k=2, which="both", seed=11)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    other = hessian_eigs(model, MSE, x, y, k=2, which="both", seed=12)
    torch.testing.assert_close(other[0], first[0], rtol=1e-6, atol=0)  # same answer,
    assert not torch.equal(other[0], first[0])  # from another starting vector


def test_eigs_warn_when_max_iter_is_too_small(saddle):
    model, x, y, _, eigenvalues = saddle
    with pytest.warns(RuntimeWarning, match=r"max_iter = 5 .*residual"):
        values, _ = hessian_eigs(model, MSE, x, y, k=1, which="largest", max_iter=5)
    assert float(values[0]) <= float(eigenvalues[-1]) * (1 + 1e-12)  # a Ritz value: below λ_max


# --------------------------------------------------------------------------------------------
# Hutchinson's trace
# --------------------------------------------------------------------------------------------


def test_trace_is_exact_for_a_diagonal_hessian():
    # vᵀHv = Σ_i H_ii v_i² = tr(H) for every Rademacher v: zero variance
    x, y = regression_data(count=30, features=7, outputs=7)
    model = Scale(7)
    h = exact_hessian(model, MSE, x, y)
    assert torch.equal(h, torch.diag(torch.diagonal(h)))
    for samples in (1, 3):
        estimate = hessian_trace(model, MSE, x, y, samples=samples)
        assert estimate == pytest.approx(float(torch.trace(h)), rel=1e-13)


def standard_error(h, samples):
    """√(Var(vᵀHv) / S), Var(vᵀHv) = 2 Σ_{i≠j} H_ij² for Rademacher v."""
    off_diagonal = float((h**2).sum() - (torch.diagonal(h) ** 2).sum())
    return math.sqrt(2 * off_diagonal / samples)


@pytest.mark.parametrize("seed", [0, 1])
def test_trace_is_within_its_standard_error(seed):
    # a dense H (random eigenvectors) with λ in [1, 3]: the standard error of 200 samples is
    # ~0.5 % of tr(H), so 5 standard errors is a sharp check
    model, x, y = designed_regression(torch.linspace(1, 3, 100, dtype=F64), seed=10)
    h = exact_hessian(model, MSE, x, y)
    error = standard_error(h, 200)
    assert 5 * error < 0.05 * float(torch.trace(h))
    estimate = hessian_trace(model, MSE, x, y, samples=200, seed=seed)
    assert abs(estimate - float(torch.trace(h))) <= 5 * error


def test_trace_at_a_saddle_is_within_its_standard_error(saddle):
    model, x, y, h, _ = saddle
    estimate = hessian_trace(model, MSE, x, y, samples=400)
    assert abs(estimate - float(torch.trace(h))) <= 5 * standard_error(h, 400)


# --------------------------------------------------------------------------------------------
# Stochastic Lanczos quadrature
# --------------------------------------------------------------------------------------------


def smoothed_spectrum(grid, eigenvalues, sigma):
    """(1/P) Σ_i g_σ(t − λ_i)."""
    z = (grid[:, None] - eigenvalues[None, :]) / sigma
    return torch.exp(-0.5 * z**2).mean(dim=1) / (sigma * math.sqrt(2 * math.pi))


def test_density_integrates_to_one_and_sits_on_the_exact_eigenvalues(saddle):
    # with steps ≥ P the Lanczos nodes are the exact eigenvalues
    model = tanh_mlp(sizes=(3, 5, 2), seed=3, scale=1.5)
    x, y = regression_data(count=30, features=3, outputs=2, seed=4)
    eigenvalues = torch.linalg.eigvalsh(exact_hessian(model, MSE, x, y))
    sigma = 0.002 * float(eigenvalues[-1] - eigenvalues[0])
    grid, density = hessian_density(model, MSE, x, y, runs=4, steps=100, sigma=sigma)
    assert grid.dtype == F64 and density.shape == grid.shape
    assert float(torch.trapezoid(density, grid)) == pytest.approx(1.0, abs=1e-6)
    near = (grid[:, None] - eigenvalues[None, :]).abs().min(dim=1).values <= 5 * sigma
    assert float(torch.trapezoid(density * near, grid)) == pytest.approx(1.0, abs=1e-4)


def test_density_puts_each_cluster_s_share_of_the_mass_in_it():
    # three clusters of 10, 30 and 60 eigenvalues; m = 30 < P = 100 Lanczos steps per run.
    # Each cluster's SLQ mass is vᵀΠv for the cluster's projector Π (rank r) and v uniform on
    # the sphere: mean r/P, variance 2 r (P − r) / (P² (P + 2)) per run, / R for R runs.
    generator = torch.Generator().manual_seed(8)
    centers, counts = (0.5, 4.0, 12.0), (10, 30, 60)
    spectrum = torch.cat(
        [
            c + 0.05 * torch.rand(n, generator=generator, dtype=F64)
            for c, n in zip(centers, counts, strict=True)
        ]
    )
    model, x, y = designed_regression(spectrum, seed=9)
    runs, p = 20, 100
    grid, density = hessian_density(model, MSE, x, y, runs=runs, steps=30, sigma=0.05)
    assert float(torch.trapezoid(density, grid)) == pytest.approx(1.0, abs=1e-6)
    for center, r in zip(centers, counts, strict=True):
        window = ((grid > center - 1) & (grid < center + 1.05)).to(F64)
        mass = float(torch.trapezoid(density * window, grid))
        deviation = math.sqrt(2 * r * (p - r) / (p**2 * (p + 2)) / runs)
        assert abs(mass - r / p) <= 5 * deviation + 1e-3
    # and the whole curve is close to the exact smoothed spectrum, in L1
    exact = smoothed_spectrum(grid, spectrum, 0.05)
    assert float(torch.trapezoid((density - exact).abs(), grid)) < 0.1


def test_density_accepts_a_grid_and_is_deterministic(saddle):
    model, x, y, _, eigenvalues = saddle
    grid = torch.linspace(float(eigenvalues[0]) - 1, float(eigenvalues[-1]) + 1, 501)
    first = hessian_density(model, MSE, x, y, runs=2, steps=20, grid=grid, sigma=0.05, seed=4)
    second = hessian_density(model, MSE, x, y, runs=2, steps=20, grid=grid, sigma=0.05, seed=4)
    torch.testing.assert_close(first[0], grid.to(F64))
    assert torch.equal(first[1], second[1])
    assert float(torch.trapezoid(first[1], first[0])) == pytest.approx(1.0, abs=1e-3)


def test_density_leaves_out_only_nodes_whose_gaussian_underflows():
    """Each grid chunk sums only the nodes within UNDERFLOW·σ of it: the same density as the
    sum over all nodes — nodes 4σ beyond a chunk's edge included — on the default grid, on a
    given one and on an unsorted one."""
    from ravine.diagnose.hessian.spectrum import DENSITY_CHUNK, _smoothed_density

    sigma = 1e-3
    given = torch.linspace(0, 1, 10_001, dtype=F64)  # spaced σ/10: 3 chunks
    edges = [float(given[DENSITY_CHUNK - 1]), float(given[2 * DENSITY_CHUNK - 1])]
    theta = torch.tensor([e + d * sigma for e in edges for d in (-4, 4)] + [0.05], dtype=F64)
    tau = torch.tensor([0.1, 0.2, 0.3, 0.2, 0.2], dtype=F64)
    for grid in (None, given, given[torch.randperm(given.numel())]):
        t, density = _smoothed_density(theta, tau, grid, sigma)
        z = (t[:, None] - theta[None, :]) / sigma
        dense = (torch.exp(-0.5 * z * z) @ tau) / (sigma * math.sqrt(2 * math.pi))
        torch.testing.assert_close(density, dense, rtol=1e-12, atol=1e-12)
        assert float(density.max()) > 100


# --------------------------------------------------------------------------------------------
# Data as batches, and the model's mode
# --------------------------------------------------------------------------------------------


def test_batches_of_a_dataloader_weigh_by_their_size():
    # L = Σ_b n_b L_b / N over batches of 17, 17 and 6 samples equals L on the whole data
    model = tanh_mlp()
    x, y = regression_data(count=40)
    loader = DataLoader(TensorDataset(x, y), batch_size=17)
    assert [len(b[0]) for b in loader] == [17, 17, 6]
    v = torch.randn(122, generator=torch.Generator().manual_seed(5), dtype=F64)
    whole = hessian_vector_product(model, MSE, x, y, v)
    torch.testing.assert_close(
        hessian_vector_product(model, MSE, loader, None, v), whole, rtol=1e-12, atol=1e-14
    )
    whole_h = exact_hessian(model, MSE, x, y)
    torch.testing.assert_close(
        exact_hessian(model, MSE, loader, None), whole_h, rtol=1e-12, atol=1e-14
    )
    # a one-shot generator of batches is read once and reused for every H·v
    batches = ((x[i : i + 17], y[i : i + 17]) for i in range(0, 40, 17))
    values, _ = hessian_eigs(model, MSE, batches, None, k=1, which="both")
    expected, _ = hessian_eigs(model, MSE, x, y, k=1, which="both")
    torch.testing.assert_close(values, expected, rtol=1e-10, atol=0)


def dropout_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 2)).to(F64)


@pytest.mark.parametrize("train", [True, False])
def test_functions_leave_the_mode_and_the_grads_alone(train):
    model = dropout_mlp().train(train)
    x, y = regression_data()
    v = torch.ones(sum(p.numel() for p in model.parameters()), dtype=F64)
    hessian_vector_product(model, MSE, x, y, v)
    exact_hessian(model, MSE, x, y)
    hessian_eigs(model, MSE, x, y, k=1)
    hessian_trace(model, MSE, x, y, samples=2)
    hessian_density(model, MSE, x, y, runs=1, steps=5)
    assert all(module.training is train for module in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_eval_mode_gives_the_deterministic_hessian_and_train_mode_the_dropout_one():
    model = dropout_mlp()
    x, y = regression_data()
    model.eval()
    first, second = exact_hessian(model, MSE, x, y), exact_hessian(model, MSE, x, y)
    assert torch.equal(first, second)
    model.train()
    assert not torch.allclose(exact_hessian(model, MSE, x, y), first)  # masks drawn in train


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_a_model_without_trainable_parameters_is_refused():
    model = tanh_mlp().requires_grad_(False)
    x, y = regression_data()
    with pytest.raises(ValueError, match="Sequential has no trainable parameters"):
        hessian_eigs(model, MSE, x, y)
    with pytest.raises(ValueError, match="no trainable parameters"):
        hessian_trace(model, MSE, x, y)


def test_a_loss_that_is_not_a_scalar_is_refused():
    x, y = regression_data()
    with pytest.raises(ValueError, match=r"scalar .* shape \(40, 2\) on batch 0.*reduction"):
        exact_hessian(tanh_mlp(), nn.MSELoss(reduction="none"), x, y)
    with pytest.raises(ValueError, match=r"must return a torch\.Tensor.*got float"):
        exact_hessian(tanh_mlp(), lambda out, target: 1.0, x, y)
    with pytest.raises(ValueError, match="does not depend on the model's trainable parameters"):
        exact_hessian(tanh_mlp(), lambda out, target: (target**2).mean(), x, y)


def test_a_non_finite_loss_or_gradient_is_refused_and_named():
    x, y = regression_data()
    y[3, 0] = math.nan
    with pytest.raises(ValueError, match="the loss is nan on batch 0"):
        hessian_eigs(tanh_mlp(), MSE, x, y)
    # √|ŷ| at ŷ = 0: a finite loss whose gradient is nan
    model = nn.Linear(3, 1).to(F64)
    nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    with pytest.raises(ValueError, match=r"gradient of parameter 'weight' has 3 of 3 entries"):
        hessian_trace(model, lambda out, target: out.abs().sqrt().mean(), x, y[:, :1])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"which": "top"}, r"which must be one of 'largest', 'smallest', 'both'; got 'top'"),
        ({"k": 0}, r"k must be an int ≥ 1, got 0"),
        ({"k": 123}, r"k must be at most P = 122 .* got 123"),
        ({"k": 3, "which": "both", "max_iter": 4}, r"max_iter must be at least 6 .* got 4"),
        ({"tol": -1.0}, r"tol must be a finite number > 0, got -1.0"),
        ({"seed": 1.5}, r"seed must be an int, got 1.5"),
    ],
)
def test_bad_eigs_options_are_refused(options, message):
    x, y = regression_data()
    with pytest.raises(ValueError, match=message):
        hessian_eigs(tanh_mlp(), MSE, x, y, **options)


def test_bad_vectors_data_and_counts_are_refused():
    model = tanh_mlp()
    x, y = regression_data()
    with pytest.raises(ValueError, match=r"shape \(122,\).*got \(121,\)"):
        hessian_vector_product(model, MSE, x, y, torch.zeros(121, dtype=F64))
    with pytest.raises(ValueError, match=r"targets is None.*single Tensor of shape \(40, 3\)"):
        hessian_trace(model, MSE, x, None)
    with pytest.raises(ValueError, match=r"pair \(x, y\); batch 0 is a Tensor"):
        hessian_trace(model, MSE, [x], None)
    with pytest.raises(ValueError, match="samples must be an int ≥ 1, got 0"):
        hessian_trace(model, MSE, x, y, samples=0)
    with pytest.raises(ValueError, match=r"sigma must be a finite number > 0.*got 0"):
        hessian_density(model, MSE, x, y, sigma=0)
    with pytest.raises(ValueError, match="max_parameters must be an int ≥ 1, got 0"):
        exact_hessian(model, MSE, x, y, max_parameters=0)
