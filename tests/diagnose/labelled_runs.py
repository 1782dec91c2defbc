"""Runs written by hand whose cause is known by construction, each recorded by a Monitor the
way a user's own loop would attach it, for the doctor's verdicts to be checked against.

The least-squares runs fit y = Xw on features of very different scales: the loss
L(w) = (1/n)‖Xw − y‖² is a quadratic with Hessian H = (2/n)XᵀX, constant, so its eigenvalues
λ are exact (``torch.linalg.eigvalsh``) and gradient descent multiplies the error along each
eigenvector by (1 − η·λ) per step:

- η·λ_max = 2: the steep direction's error keeps its size and flips sign every step — the
  lecture's bouncing between the walls of a valley — while the flat directions crawl;
- η·λ_max slightly above 2: the flip grows by |1 − η·λ_max| > 1 per step, and so do ‖g‖ and
  the loss — a divergence under way;
- η·λ_max ≪ 2 on well-scaled features: every direction shrinks by (1 − η·λ) ≈ 1 per step —
  crawling;
- η·λ_max = 1 on well-scaled features for long enough: the gradient vanishes at the minimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import ravine.optim as ro
from ravine.diagnose.monitor import Monitor
from ravine.surfaces import SurfaceModel, surface, surface_loss

SCALES = (10.0, 1.0, 0.3)  # the badly scaled features' standard deviations
WEIGHTS = (1.0, 3.0, 30.0)  # w*'s spread per feature: the flat directions hold much of the loss
WELL_SCALED = (1.0, 1.0, 1.0)


@dataclass
class LabelledRun:
    """A recorded run, its cause, and what the doctor needs besides the record: λ_max of the
    Hessian (exact where the loss is quadratic, else None) and a ``critical`` check."""

    monitor: Monitor
    cause: str
    max_eigenvalue: float | None = None
    critical: tuple | None = None

    @property
    def lr(self) -> float:
        return max(float(g["lr"]) for g in self.monitor.optimizer.param_groups)

    def diagnose(self, window: int = 100, *, with_curvature: bool = True):
        top = self.max_eigenvalue if with_curvature else None
        return self.monitor.diagnose(window, hessian_max_eigenvalue=top, critical=self.critical)


def least_squares(
    scales=SCALES, weights=None, n: int = 256, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """(X, y, λ_max, λ_min): n rows of features of standard deviation ``scales``, y = Xw* with
    w*_i ~ N(0, weights_i²) (default 1), and the extreme eigenvalues of H = (2/n)XᵀX."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, len(scales), generator=g, dtype=torch.float64)
    x = x * torch.tensor(scales, dtype=torch.float64)
    w = torch.randn(len(scales), 1, generator=g, dtype=torch.float64)
    if weights is not None:
        w = w * torch.tensor(weights, dtype=torch.float64).unsqueeze(1)
    y = x @ w
    eigenvalues = torch.linalg.eigvalsh(2 * x.T @ x / n)
    return x, y, float(eigenvalues[-1]), float(eigenvalues[0])


def _loop(model: nn.Module, optimizer, loss_of: Callable[[], torch.Tensor], steps: int) -> Monitor:
    """The user's loop, with the Monitor attached in its two lines."""
    monitor = Monitor(model, optimizer, every=1)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        optimizer.step()
        monitor.step(loss)
    return monitor


def fit_least_squares(
    lr_times_max_eigenvalue: float,
    steps: int,
    *,
    scales=SCALES,
    weights=WEIGHTS,
    optimizer: type = torch.optim.SGD,
    cause: str,
) -> LabelledRun:
    """Gradient descent on L(w) = mean((Xw − y)²) from w = 0 with η = (η·λ_max)/λ_max."""
    x, y, top, _ = least_squares(scales, weights)
    model = nn.Linear(len(scales), 1, bias=False).double()
    nn.init.zeros_(model.weight)
    opt = optimizer(model.parameters(), lr=lr_times_max_eigenvalue / top)
    monitor = _loop(model, opt, lambda: ((model(x) - y) ** 2).mean(), steps)
    loss_fn = nn.MSELoss()
    return LabelledRun(monitor, cause, top, (loss_fn, x, y))


def on_surface(name: str, lr: float, steps: int, *, start=None, optimizer=ro.SGD, cause: str):
    """Gradient descent on one of the lecture's error surfaces."""
    found = surface(name)
    model = SurfaceModel(found, start)
    opt = optimizer(model.parameters(), lr=lr)
    monitor = _loop(model, opt, model, steps)
    empty = torch.empty(0)
    return LabelledRun(monitor, cause, None, (surface_loss, empty, empty))


def mini_batch_least_squares(lr_times_max_eigenvalue: float, steps: int, *, cause: str):
    """SGD (torch.optim.SGD) on the well-scaled least squares with y = Xw* + noise, one batch
    of 16 rows per step drawn at random: the gradient carries mini-batch noise."""
    x, y, top, _ = least_squares(WELL_SCALED, None)
    y = y + 0.3 * torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    model = nn.Linear(x.shape[1], 1, bias=False).double()
    nn.init.zeros_(model.weight)
    opt = torch.optim.SGD(model.parameters(), lr=lr_times_max_eigenvalue / top)
    draw = torch.Generator().manual_seed(2)

    def batch_loss() -> torch.Tensor:
        rows = torch.randint(len(x), (16,), generator=draw)
        return ((model(x[rows]) - y[rows]) ** 2).mean()

    return LabelledRun(_loop(model, opt, batch_loss, steps), cause, top)


def mlp_with_adam(steps: int = 300, *, optimizer: type = ro.Adam, lr: float = 1e-2) -> LabelledRun:
    """A small MLP fitting y = sin(3x), full batch: a healthy run."""
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 64).unsqueeze(1)
    y = torch.sin(3 * x)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = optimizer(model.parameters(), lr=lr)
    monitor = _loop(model, opt, lambda: nn.functional.mse_loss(model(x), y), steps)
    return LabelledRun(monitor, "healthy")


def mini_batch_mlp(lr: float, steps: int = 320, *, cause: str) -> LabelledRun:
    """torch.optim.SGD on a small MLP fitting y = x₁·x₂, the 256 rows shuffled each epoch into
    batches of 32: the mini-batch losses scatter by about 10% of the loss."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=g)
    y = x[:, :1] * x[:, 1:]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    order = iter(
        [rows for _ in range(steps) for rows in torch.randperm(256, generator=g).split(32)]
    )

    def batch_loss() -> torch.Tensor:
        rows = next(order)
        return nn.functional.mse_loss(model(x[rows]), y[rows])

    return LabelledRun(_loop(model, opt, batch_loss, steps), cause)


# name: (builder, the verdict its cause calls for, the kind of critical point or None)
RUNS: dict[str, tuple[Callable[[], LabelledRun], str, str | None]] = {
    "healthy: MLP, ravine Adam": (lambda: mlp_with_adam(), "progressing", None),
    "healthy: MLP, torch.optim.Adam": (
        lambda: mlp_with_adam(optimizer=torch.optim.Adam),
        "progressing",
        None,
    ),
    "healthy: well-scaled least squares, torch SGD, η·λ_max = 0.02": (
        lambda: fit_least_squares(0.02, 150, scales=WELL_SCALED, weights=None, cause="healthy"),
        "progressing",
        None,
    ),
    "healthy: mini-batch least squares, torch SGD, η·λ_max = 0.01": (
        lambda: mini_batch_least_squares(0.01, 200, cause="healthy"),
        "progressing",
        None,
    ),
    "crawling: mini-batch least squares, torch SGD, η·λ_max = 1e-5": (
        lambda: mini_batch_least_squares(1e-5, 200, cause="crawling"),
        "crawling",
        None,
    ),
    "healthy: MLP on shuffled mini-batches, torch SGD, η = 0.1": (
        lambda: mini_batch_mlp(0.1, cause="healthy"),
        "progressing",
        None,
    ),
    "crawling: MLP on shuffled mini-batches, torch SGD, η = 1e-7 (the lecture's)": (
        lambda: mini_batch_mlp(1e-7, cause="crawling"),
        "crawling",
        None,
    ),
    "bouncing: badly scaled least squares, torch SGD, η·λ_max = 2": (
        lambda: fit_least_squares(2.0, 300, cause="bouncing"),
        "oscillating",
        None,
    ),
    "bouncing: badly scaled least squares, ravine SGD, η·λ_max = 2": (
        lambda: fit_least_squares(2.0, 300, optimizer=ro.SGD, cause="bouncing"),
        "oscillating",
        None,
    ),
    "bouncing: the valley, ravine SGD, η = 1e-2": (
        lambda: on_surface("valley", 1e-2, 400, cause="bouncing"),
        "oscillating",
        None,
    ),
    "diverging: badly scaled least squares, torch SGD, η·λ_max = 2.006": (
        lambda: fit_least_squares(2.006, 100, cause="diverging"),
        "diverged",
        None,
    ),
    "diverging: badly scaled least squares, torch SGD, η·λ_max = 3": (
        lambda: fit_least_squares(3.0, 60, cause="diverging"),
        "diverged",
        None,
    ),
    "crawling: the valley, ravine SGD, η = 1e-7 (the lecture's)": (
        lambda: on_surface("valley", 1e-7, 400, cause="crawling"),
        "crawling",
        None,
    ),
    "crawling: the Pokémon loss, ravine SGD, η = 1e-7 (the lecture's)": (
        lambda: on_surface("pokemon", 1e-7, 400, cause="crawling"),
        "crawling",
        None,
    ),
    "crawling: well-scaled least squares, torch SGD, η·λ_max = 1e-5": (
        lambda: fit_least_squares(1e-5, 200, scales=WELL_SCALED, weights=None, cause="crawling"),
        "crawling",
        None,
    ),
    "saddle: GD slides along the saddle's ridge into it": (
        lambda: on_surface("saddle", 0.05, 300, start=(1.5, 0.0), cause="saddle"),
        "near a critical point",
        "saddle point",
    ),
    "minimum: well-scaled least squares, torch SGD, η·λ_max = 1": (
        lambda: fit_least_squares(1.0, 200, scales=WELL_SCALED, weights=None, cause="minimum"),
        "near a critical point",
        "local minimum",
    ),
}
