"""What a task is: training data, a model factory and a loss, under a name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .losses import LossFn


@dataclass(frozen=True)
class Task:
    """One training problem: L(θ) = loss_fn(model_θ(inputs), targets).

    ``inputs`` (N, ...) and ``targets`` (N, ...) are the whole training set (full batch);
    ``make_model(seed)`` builds a freshly initialized model (its parameters θ drawn from a
    generator seeded with ``seed``, the global RNG untouched); ``loss_fn(outputs, targets)``
    returns the scalar training loss. ``seed`` is the seed of :attr:`model`.
    """

    name: str
    description: str
    inputs: torch.Tensor
    targets: torch.Tensor
    make_model: Callable[[int], nn.Module]
    loss_fn: LossFn
    seed: int = 0
    model_spec: str = ""
    loss_name: str = "mse"
    metric: Callable[[torch.Tensor, torch.Tensor], float] | None = None
    metric_name: str = ""
    classes: int | None = None

    @property
    def parameters(self) -> int:
        """P, the number of trainable parameters of the task's model."""
        return sum(p.numel() for p in self.make_model(self.seed).parameters() if p.requires_grad)

    def model(self, seed: int | None = None) -> nn.Module:
        """A new model seeded with ``seed`` (default: the task's own seed)."""
        return self.make_model(self.seed if seed is None else seed)

    @property
    def size(self) -> int:
        """N, the number of examples."""
        return len(self.inputs)

    def loss(self, model: nn.Module) -> torch.Tensor:
        """L(θ) of ``model`` on the whole training set, a scalar tensor with its graph."""
        return self.loss_fn(model(self.inputs), self.targets)
