"""The losses a task can train with, and the metric it reports, by name.

Regression, outputs ŷ and targets y of shape (N, 1):

    mse   L = (1/N) Σ_n (ŷ_n − y_n)²
    mae   L = (1/N) Σ_n |ŷ_n − y_n|

Classification into C classes, logits z_n ∈ ℝ^C, labels y_n ∈ {0, …, C − 1}, p_n = softmax(z_n):

    cross-entropy   L = −(1/N) Σ_n ln p_{n, y_n}
    mse             L = (1/N) Σ_n Σ_k (p_{n,k} − [k = y_n])²   (softmax outputs against one-hot
                                                                 targets, the lecture's comparison)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def softmax_mse(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(1/N) Σ_n Σ_k (softmax(z_n)_k − one_hot(y_n)_k)², logits (N, C), labels (N,)."""
    p = torch.softmax(logits, dim=-1)
    one_hot = nn.functional.one_hot(labels, p.shape[-1]).to(p.dtype)
    return ((p - one_hot) ** 2).sum(-1).mean()


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """−(1/N) Σ_n ln softmax(z_n)_{y_n} over every position: logits (…, C), labels (…)."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


REGRESSION_LOSSES: dict[str, LossFn] = {
    "mse": nn.functional.mse_loss,
    "mae": nn.functional.l1_loss,
}
CLASSIFICATION_LOSSES: dict[str, LossFn] = {
    "cross-entropy": cross_entropy,
    "mse": softmax_mse,
}


def pick_loss(task: str, name: str, losses: dict[str, LossFn]) -> LossFn:
    """``losses[name]``; ValueError naming the task and its valid losses otherwise."""
    if name not in losses:
        raise ValueError(f"task {task!r} has no loss {name!r}; valid: {', '.join(losses)}")
    return losses[name]


@torch.no_grad()
def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of positions whose largest logit is the label."""
    return float((logits.argmax(-1) == labels).float().mean())
