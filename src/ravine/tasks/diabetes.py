"""A real regression: scikit-learn's bundled diabetes data (442 patients, 10 measurements each:
age, sex, body-mass index, blood pressure, six blood serum values; the target is a measure of
the disease's progression one year later, 25 … 346). Efron, Hastie, Johnstone, Tibshirani,
"Least Angle Regression", Annals of Statistics 2004; shipped with scikit-learn, no download.

    data     x ∈ ℝ^10 and y, each standardized to mean 0 and standard deviation 1 over the whole
             set (the feature normalization of the lecture); order as shipped (a training run
             draws its own seeded split)
    models   the lecture-1 family of :mod:`ravine.tasks.models` (default ``sigmoid:units=64``,
             y = b + Σ_i c_i·sigmoid(b_i + Σ_j w_ij·x_j))
    losses   mse (default) or mae, on the standardized target
    metric   mean absolute error in the target's own units (progression points)
"""

from __future__ import annotations

import torch

from .base import Task
from .losses import REGRESSION_LOSSES, pick_loss
from .models import parse_model

DIABETES_MODEL = "sigmoid:units=64"


def diabetes_data(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(x (442, 10), y (442, 1), the target's standard deviation), both standardized."""
    from sklearn.datasets import load_diabetes  # bundled with scikit-learn: read from disk

    raw = load_diabetes(scaled=False)
    x = torch.as_tensor(raw.data, dtype=torch.float64)
    y = torch.as_tensor(raw.target, dtype=torch.float64).reshape(-1, 1)
    x = (x - x.mean(0)) / x.std(0)
    scale = float(y.std())
    y = (y - y.mean()) / scale
    return x.to(dtype), y.to(dtype), scale


def diabetes_task(seed: int = 0, model: str | None = None, loss: str | None = None) -> Task:
    """The diabetes regression with the model ``model`` (a spec) and loss ``loss``."""
    spec = parse_model(model or DIABETES_MODEL)
    loss_name = loss or "mse"
    loss_fn = pick_loss("diabetes", loss_name, REGRESSION_LOSSES)
    inputs, targets, scale = diabetes_data()

    @torch.no_grad()
    def error_in_units(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float((outputs - targets).abs().mean()) * scale

    return Task(
        name="diabetes",
        description=(
            f"predict diabetes progression from 10 measurements ({len(inputs)} patients, "
            f"scikit-learn), model {spec.spec}, loss {loss_name}"
        ),
        inputs=inputs,
        targets=targets,
        make_model=lambda s: spec.build(inputs.shape[1], 1, seed=s),
        loss_fn=loss_fn,
        seed=seed,
        model_spec=spec.spec,
        loss_name=loss_name,
        metric=error_in_units,
        metric_name="mae (points)",
    )
