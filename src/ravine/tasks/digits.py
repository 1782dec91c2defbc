"""Classification: scikit-learn's bundled handwritten digits (1,797 images of 8×8 pixels with
16 grey levels, 10 classes; the UCI optical recognition test set), no download.

    data     x ∈ [0, 1]^64 (pixels / 16), label y ∈ {0, …, 9}; order as shipped (a training
             run draws its own seeded split)
    models   the family of :mod:`ravine.tasks.models` with 10 outputs, the logits z
             (default ``relu:units=64``)
    losses   cross-entropy of softmax(z) (default), or mse of softmax(z) against one-hot
             targets (:mod:`ravine.tasks.losses`)
    metric   accuracy
"""

from __future__ import annotations

import torch

from .base import Task
from .losses import CLASSIFICATION_LOSSES, accuracy, pick_loss
from .models import parse_model

DIGITS_MODEL = "relu:units=64"
DIGITS_CLASSES = 10


def digits_data(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(x (1797, 64) in [0, 1], labels (1797,) int64)."""
    from sklearn.datasets import load_digits  # bundled with scikit-learn: read from disk

    raw = load_digits()
    x = torch.as_tensor(raw.data, dtype=dtype) / 16
    return x, torch.as_tensor(raw.target, dtype=torch.int64)


def digits_task(seed: int = 0, model: str | None = None, loss: str | None = None) -> Task:
    """The digits classification with the model ``model`` (a spec) and loss ``loss``."""
    spec = parse_model(model or DIGITS_MODEL)
    loss_name = loss or "cross-entropy"
    loss_fn = pick_loss("digits", loss_name, CLASSIFICATION_LOSSES)
    inputs, labels = digits_data()
    return Task(
        name="digits",
        description=(
            f"classify {len(inputs)} handwritten 8×8 digits into 10 classes (scikit-learn), "
            f"model {spec.spec}, loss {loss_name}"
        ),
        inputs=inputs,
        targets=labels,
        make_model=lambda s: spec.build(inputs.shape[1], DIGITS_CLASSES, seed=s),
        loss_fn=loss_fn,
        seed=seed,
        model_spec=spec.spec,
        loss_name=loss_name,
        metric=accuracy,
        metric_name="accuracy",
        classes=DIGITS_CLASSES,
    )
