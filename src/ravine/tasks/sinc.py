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
