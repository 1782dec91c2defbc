"""Run a ravine optimizer and its torch.optim counterpart side by side and measure the gap.

The model is a small tanh network on a fixed regression set, trained with mini-batches so
every step sees a different real gradient; its two layers are two parameter groups, and one
extra parameter never receives a gradient. Both optimizers start from the same weights and see
the same batches (with ``maximize`` they ascend −loss, so training stays bounded). The gap is
the largest ‖θ_ravine − θ_torch‖_∞ / ‖θ_torch‖_∞ over the parameter tensors.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .catalog import create, entry


@dataclass(frozen=True)
class Comparison:
    """The gap after ``steps`` steps between ravine's optimizer and torch's."""

    name: str
    steps: int
    dtype: str
    relative_error: float
    final_loss: float


def _problem(dtype: torch.dtype, seed: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(64, 6, generator=gen, dtype=dtype)
    targets = (
        torch.sin(inputs @ torch.randn(6, 1, generator=gen, dtype=dtype)) + 0.1 * inputs[:, :1]
    )
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    model.unused = torch.nn.Parameter(torch.randn(3, generator=gen))  # never gets a gradient
    return model.to(dtype), inputs, targets


def _groups(model: torch.nn.Module, per_group: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    layers = [
        [model[0].weight, model[0].bias, model.unused],
        [model[2].weight, model[2].bias],
    ]
    return [
        {"params": params, **options} for params, options in zip(layers, per_group, strict=True)
    ]


def compare_with_torch(
    name: str,
    options: dict[str, Any] | None = None,
    per_group: Sequence[dict[str, Any]] = ({}, {}),
    *,
    steps: int = 100,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    batch_size: int = 16,
    scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
) -> Comparison:
    """Train the same model with ravine's ``name`` and its torch.optim class; return the gap.

    ``options`` are keyword arguments for both constructors, ``per_group`` the overrides of the
    two parameter groups, ``scheduler`` an optional factory ``optimizer -> LR scheduler``
    stepped after every optimizer step, one per optimizer. Raises ValueError for an optimizer
    that has no torch counterpart.
    """
    known = entry(name)
    if known.torch_class is None:
        raise ValueError(f"{name} is the lecture's own rule and has no torch.optim counterpart")
    # Both get every default ravine's entry resolves to, so a ravine default that differs
    # from torch's (the lecture's η, say) is compared like for like.
    options = {**known.defaults(), **(options or {})}
    torch_keys = inspect.signature(known.torch_class).parameters
    torch_options = {k: v for k, v in options.items() if k in torch_keys}
    models, optimizers, schedulers = [], [], []
    for build in (
        lambda groups: create(name, groups, **options),
        lambda groups: known.torch_class(groups, **torch_options),
    ):
        model, inputs, targets = _problem(dtype, seed)
        models.append(model)
        optimizers.append(build(_groups(model, per_group)))
        if scheduler is not None:
            schedulers.append(scheduler(optimizers[-1]))
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        start = (step * batch_size) % inputs.shape[0]
        x, y = inputs[start : start + batch_size], targets[start : start + batch_size]
        for model, optimizer in zip(models, optimizers, strict=True):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            # Ascent on −loss when maximizing: the same descent, kept bounded.
            (-loss if options.get("maximize") else loss).backward()
            optimizer.step()
        for lr_scheduler in schedulers:
            lr_scheduler.step()
    error = 0.0
    for mine, theirs in zip(models[0].parameters(), models[1].parameters(), strict=True):
        scale = theirs.detach().abs().max().clamp_min(torch.finfo(dtype).tiny)
        error = max(error, float((mine - theirs).detach().abs().max() / scale))
    return Comparison(name, steps, str(dtype).removeprefix("torch."), error, loss.item())
