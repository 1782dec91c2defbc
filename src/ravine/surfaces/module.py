"""A surface as a model: θ = (θ1, θ2) as an ``nn.Parameter``, so anything written for
networks — optimizers, the Monitor, the Hessian tools — runs on the lecture's surfaces."""

from __future__ import annotations

import torch
from torch import nn

from .library import Surface


class SurfaceModel(nn.Module):
    """``model()`` returns L(θ); θ starts at ``start`` (default: the surface's start).

    Use :func:`surface_loss` as the loss function where one is expected,
    ``loss_fn(model(inputs), targets)``: the inputs and targets are ignored.
    """

    def __init__(self, surface: Surface, start=None, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.surface = surface
        point = surface.start if start is None else start
        self.theta = nn.Parameter(torch.as_tensor(point, dtype=dtype).clone().reshape(2))

    def forward(self, inputs: torch.Tensor | None = None) -> torch.Tensor:
        return self.surface.loss(self.theta)


def surface_loss(outputs: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
    """The loss of a :class:`SurfaceModel`: its output is already L(θ)."""
    return outputs
