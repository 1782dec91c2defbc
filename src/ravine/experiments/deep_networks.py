"""Several seeds of one network of the lecture's family, trained at once, full batch.

For the lecture-1 experiments on depth (fat-or-tall, more-layers): the R seeds of one model
spec (:func:`ravine.tasks.parse_model`) are stacked along a first axis and trained by one
optimizer on the sum of their losses,

    L(θ_1, …, θ_R) = Σ_r L_r(θ_r),   L_r = (1/N) Σ_n (f_{θ_r}(x_n) − y_n)²  on seed r's split,

so ∂L/∂θ_r = ∂L_r/∂θ_r and an elementwise optimizer (Adam) updates every seed exactly as it
would alone. Seed r's initial θ_r is the one ``spec.build(…, seed=r)`` draws and its split is
:func:`ravine.training.split` with seed r, the model and split ``ravine train --seed r``
uses; an epoch of ``ravine train --batch-size N`` (N the training examples) is one update
here. A hidden layer is h ← act(h·W + b), batched over seeds by ``torch.baddbmm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..optim import catalog
from ..tasks import parse_model
from ..tasks import task as build_task
from ..training import split

ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid}


@dataclass
class DepthRun:
    """The losses of one spec over its seeds: ``train`` and ``val`` (R,) after the last update,
    ``curves`` (training, validation) per recorded update, each a list of R-lists; ``every``
    the updates between records (record 0 is the initial model)."""

    spec: str
    parameters: int
    seeds: list[int]
    train: list[float]
    val: list[float]
    curves: dict[str, list[list[float]]]
    every: int


def stack_layers(spec: str, inputs: int, seeds: Sequence[int], dtype: torch.dtype):
    """The Linear layers of ``spec`` built for each seed, stacked: a list of (W (R, in, out),
    b (R, 1, out)) leaves, first to last, and the spec's activation name. P per seed too."""
    model_spec = parse_model(spec)
    if model_spec.norm != "none":
        raise ValueError(f"spec {spec!r}: only norm=none stacks, got norm={model_spec.norm}")
    models = [model_spec.build(inputs, 1, seed=s, dtype=dtype) for s in seeds]
    linears = [[m for m in model if isinstance(m, nn.Linear)] for model in models]
    layers = []
    for depth in range(len(linears[0])):
        weight = torch.stack([ls[depth].weight.detach().T for ls in linears]).clone()
        bias = torch.stack([ls[depth].bias.detach()[None, :] for ls in linears]).clone()
        layers.append((weight.requires_grad_(), bias.requires_grad_()))
    parameters = sum(p.numel() for p in models[0].parameters())
    return layers, model_spec.activation, parameters


def forward(layers, activation: str, x: torch.Tensor) -> torch.Tensor:
    """f_θ(x) for every seed: x (R, N, d) → (R, N, 1); act(h·W + b) on every hidden layer."""
    act = ACTIVATIONS[activation]
    h = x
    for weight, bias in layers[:-1]:
        h = act(torch.baddbmm(bias, h, weight))
    weight, bias = layers[-1]
    return torch.baddbmm(bias, h, weight)


def train_seeds(
    task_name: str,
    spec: str,
    seeds: Sequence[int],
    *,
    lr: float,
    updates: int,
    validation: float,
    every: int = 10,
    dtype: torch.dtype | None = None,
) -> DepthRun:
    """Full-batch Adam (η = ``lr``) for ``updates`` updates on ``task_name`` with the model
    ``spec``, once per seed, all seeds at once; mean squared error on the training and
    validation parts of each seed's split, recorded every ``every`` updates; ``dtype`` (default
    the task's) the precision of data and parameters."""
    task = build_task(task_name, model=spec)
    dtype = dtype or task.inputs.dtype
    splits = [split(task.size, validation, s) for s in seeds]
    x_train, y_train, x_val, y_val = (
        torch.stack([data[part] for part in parts]).to(dtype)
        for parts, data in (
            ([t for t, _ in splits], task.inputs),
            ([t for t, _ in splits], task.targets),
            ([v for _, v in splits], task.inputs),
            ([v for _, v in splits], task.targets),
        )
    )
    layers, activation, parameters = stack_layers(spec, task.inputs.shape[1], seeds, dtype)
    optimizer = catalog.create("adam", [p for pair in layers for p in pair], lr=lr)

    def losses() -> tuple[list[float], list[float]]:
        with torch.no_grad():
            train_loss = ((forward(layers, activation, x_train) - y_train) ** 2).mean((1, 2))
            val_loss = ((forward(layers, activation, x_val) - y_val) ** 2).mean((1, 2))
        return train_loss.tolist(), val_loss.tolist()

    curves: dict[str, list[list[float]]] = {"train": [], "val": []}
    for step in range(updates + 1):
        if step % every == 0 or step == updates:
            train_loss, val_loss = losses()
            curves["train"].append(train_loss)
            curves["val"].append(val_loss)
        if step == updates:
            break
        optimizer.zero_grad(set_to_none=True)
        per_seed = ((forward(layers, activation, x_train) - y_train) ** 2).mean((1, 2))
        per_seed.sum().backward()  # Σ_r L_r: each seed gets its own gradient
        optimizer.step()
    return DepthRun(spec, parameters, list(seeds), train_loss, val_loss, curves, every)
