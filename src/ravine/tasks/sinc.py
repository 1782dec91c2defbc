"""The homework's regression: fit sinc(x) = sin(5πx)/(5πx) with a one-hidden-layer ReLU network.

    data     x_n ~ Uniform[−1, 1], n = 1 … N (N = 200, drawn from a generator seeded with
             ``data_seed`` = 0), y_n = sinc(x_n); sinc(0) = 1 (the limit)
    model    f_θ(x) = W2·ReLU(W1·x + b1) + b2, W1 ∈ ℝ^{128×1}, W2 ∈ ℝ^{1×128}:
             Linear(1, 128) – ReLU – Linear(128, 1), P = 128 + 128 + 128 + 1 = 385 parameters
    loss     L(θ) = (1/N) Σ_n (f_θ(x_n) − y_n)²   (mean squared error)

Everything is float64 by default: the critical-point analysis measures gradient norms far
below 10⁻³ and eigenvalues of H near zero, which float32's 10⁻⁷ rounding would blur.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..validation import WHOLE, check_count
from .base import Task
from .losses import REGRESSION_LOSSES, pick_loss
from .models import parse_model

SINC_POINTS = 200  # N
SINC_HIDDEN = 128  # hidden ReLU units
SINC_FREQUENCY = 5 * math.pi  # sinc(x) = sin(5πx)/(5πx)


def sinc(x: torch.Tensor) -> torch.Tensor:
    """sin(5πx)/(5πx), with its limit 1 at x = 0 (``torch.sinc(5x)`` is sin(π·5x)/(π·5x))."""
    return torch.sinc(SINC_FREQUENCY / math.pi * x)


def sinc_data(
    n: int = SINC_POINTS, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points x ~ Uniform[−1, 1] from a generator seeded with ``seed``, and y = sinc(x);
    both of shape (n, 1)."""
    n = check_count("n", n, noun=WHOLE)
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=generator, dtype=torch.float64) * 2 - 1
    return x.to(dtype), sinc(x).to(dtype)


def sinc_model(seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Module:
    """The homework's network Linear(1, 128) – ReLU – Linear(128, 1) (P = 385), initialized as
    PyTorch initializes ``nn.Linear`` (uniform in ±1/√fan_in) from a generator seeded with
    ``seed``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(1, SINC_HIDDEN), nn.ReLU(), nn.Linear(SINC_HIDDEN, 1))
    return model.to(dtype)


class SincNetworks(nn.Module):
    """R sinc networks side by side, one per seed, trained as one: their parameters stacked
    along a leading axis, network r's being those of ``sinc_model(seeds[r])``.

        f_r(x) = W2_r·ReLU(W1_r·x + b1_r) + b2_r,   r = 1 … R,
        L(θ_1, …, θ_R) = Σ_r L_r(θ_r),   L_r the mean squared error of network r.

    θ_r enters only L_r, so ∂L/∂θ_r = ∇L_r(θ_r): an optimizer whose update is elementwise
    (SGD, Adam, …, with no global step such as clipping the norm) moves each network exactly
    as it would alone, up to the rounding of the batched matrix products, and the R small
    networks cost one batched forward and backward per step instead of R (about 2× less CPU
    time at R = 24, P = 385 each). :meth:`network` takes network r out as an ordinary
    :func:`sinc_model`.
    """

    def __init__(self, seeds: list[int], dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if not seeds:
            raise ValueError("SincNetworks needs at least one seed")
        models = [sinc_model(seed, dtype) for seed in seeds]
        self.w1 = nn.Parameter(torch.stack([m[0].weight.detach().T for m in models]))  # R,1,H
        self.b1 = nn.Parameter(torch.stack([m[0].bias.detach()[None] for m in models]))  # R,1,H
        self.w2 = nn.Parameter(torch.stack([m[2].weight.detach().T for m in models]))  # R,H,1
        self.b2 = nn.Parameter(torch.stack([m[2].bias.detach()[None] for m in models]))  # R,1,1

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, 1) inputs → (R, N, 1): every network's outputs."""
        count = self.w1.shape[0]
        hidden = torch.relu(torch.baddbmm(self.b1, inputs.expand(count, -1, -1), self.w1))
        return torch.baddbmm(self.b2, hidden, self.w2)

    @staticmethod
    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Σ_r L_r: the sum over the networks of each one's mean squared error."""
        return ((outputs - targets) ** 2).mean(dim=(1, 2)).sum()

    def network(self, index: int) -> nn.Module:
        """Network ``index`` as a new :func:`sinc_model` holding its current parameters."""
        model = sinc_model(0, self.w1.dtype)
        with torch.no_grad():
            model[0].weight.copy_(self.w1[index].T)
            model[0].bias.copy_(self.b1[index, 0])
            model[2].weight.copy_(self.w2[index].T)
            model[2].bias.copy_(self.b2[index, 0])
        return model


def sinc_task(
    seed: int = 0,
    model: str | None = None,
    loss: str | None = None,
    n: int = SINC_POINTS,
    data_seed: int = 0,
) -> Task:
    """The sinc regression as a :class:`Task`: data from ``data_seed``, model from ``seed``.

    ``model`` picks another member of the lecture's family (:mod:`ravine.tasks.models`, built
    in float64 like the default), ``loss`` mse (default) or mae.
    """
    loss_name = loss or "mse"
    loss_fn = pick_loss("sinc", loss_name, REGRESSION_LOSSES)
    if model is None:
        spec_text, make_model = f"relu:units={SINC_HIDDEN}", sinc_model
    else:
        spec = parse_model(model)
        spec_text = spec.spec

        def make_model(s: int) -> nn.Module:
            return spec.build(1, 1, seed=s, dtype=torch.float64)

    inputs, targets = sinc_data(n, data_seed)

    @torch.no_grad()
    def mean_absolute_error(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float((outputs - targets).abs().mean())

    return Task(
        name="sinc",
        description=(
            f"fit sin(5πx)/(5πx) on {n} points x ~ U[−1, 1] with {spec_text}, loss {loss_name}"
        ),
        inputs=inputs,
        targets=targets,
        make_model=make_model,
        loss_fn=loss_fn,
        seed=seed,
        model_spec=spec_text,
        loss_name=loss_name,
        metric=mean_absolute_error,
        metric_name="mae",
    )
