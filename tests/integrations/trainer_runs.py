"""The four runs both trainers' callbacks are checked on, as plain torch: least squares on a
well-scaled and a badly scaled problem, and the lecture's two-weight network started at its
saddle point. Each run is one full batch per optimizer step, so both trainers take the same
steps as a hand-written loop would."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ravine import optim
from ravine.diagnose.monitor import Monitor

STEPS = 40  # optimizer steps per run: the doctor reads the last half, 20


@dataclass
class Run:
    """A run with a known cause: the full batch (inputs, targets), the model's factory, η, and
    the verdict (and critical-point kind) it must get."""

    name: str
    inputs: torch.Tensor
    targets: torch.Tensor
    make_model: type
    lr: float
    verdict: str
    kind: str | None = None

    def optimizer(self, parameters) -> torch.optim.Optimizer:
        """Plain gradient descent at η: ravine's SGD on the healthy and the bouncing run,
        torch's on the others (the callbacks watch either)."""
        if self.name in ("healthy", "bouncing"):
            return optim.SGD(parameters, lr=self.lr)
        return torch.optim.SGD(parameters, lr=self.lr)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The mean squared error."""
        return ((outputs - targets) ** 2).mean()


class Line(nn.Module):
    """y = w·x, started at w = 0 (least squares)."""

    def __init__(self, features: int = 2) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight


class TwoWeights(nn.Module):
    """The lecture's network y = w₂·(w₁·x) started at w₁ = w₂ = 0: with data x = 1, y = 1 the
    loss (w₁w₂ − 1)² has a zero gradient there and a Hessian [[0, −2], [−2, 0]], eigenvalues
    ±2 — a saddle point."""

    def __init__(self) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros(()))
        self.w2 = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2 * (self.w1 * x[:, 0])


def least_squares(scales: tuple[float, float], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """64 samples of two features scaled by ``scales``; y = x·(1, −2) + noise."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 2, generator=generator) * torch.tensor(scales)
    y = x @ torch.tensor([1.0, -2.0]) + 0.1 * torch.randn(64, generator=generator)
    return x, y


def largest_curvature(x: torch.Tensor) -> float:
    """λ_max of the Hessian 2XᵀX/n of the mean squared error of y = w·x."""
    return float(torch.linalg.eigvalsh(2 * x.T @ x / len(x))[-1])


def the_runs() -> list[Run]:
    even = least_squares((1.0, 1.0))
    uneven = least_squares((10.0, 0.1))
    ones = (torch.ones(8, 1), torch.ones(8))
    return [
        Run("healthy", *even, Line, 0.1 / largest_curvature(even[0]), "progressing"),
        Run("diverging", *even, Line, 5.0 / largest_curvature(even[0]), "diverged"),
        # η = 2/λ_max: the steep direction bounces between the valley's walls, |1 − ηλ| = 1
        Run("bouncing", *uneven, Line, 2.0 / largest_curvature(uneven[0]), "oscillating"),
        Run("saddle", *ones, TwoWeights, 0.1, "near a critical point", "saddle point"),
    ]


RUNS = the_runs()


def same_records(a: list[dict[str, float]], b: list[dict[str, float]]) -> bool:
    """Whether two Monitor histories hold the same records, number for number (nan = nan)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x.keys() != y.keys():
            return False
        for key in x:
            both_nan = math.isnan(x[key]) and math.isnan(y[key])
            if not (both_nan or x[key] == y[key]):
                return False
    return True


def hand_written_history(run: Run, steps: int = STEPS) -> list[dict[str, float]]:
    """The Monitor's record of the run trained by a plain loop: what a callback must match."""
    torch.manual_seed(0)
    model = run.make_model()
    optimizer = run.optimizer(model.parameters())
    monitor = Monitor(model, optimizer, layers=False)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = run.loss(model(run.inputs), run.targets)
        loss.backward()
        optimizer.step()
        monitor.step(loss)
    monitor.close()
    return monitor.history
