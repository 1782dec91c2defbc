"""K-fold cross-validation (the general guide's way to choose a model without leaning on one
split): the examples cut into K folds (scikit-learn's ``KFold``), one run per fold validated
on it, and the mean and spread of their final numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..tasks import Task
from ..tasks import task as build_task
from ..validation import WHOLE, check_count
from .loop import Run, train


def make_folds(n: int, k: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """K-fold cross-validation by scikit-learn's ``KFold(k, shuffle=True,
    random_state=seed)``: range(n) shuffled with ``seed`` and cut into ``k`` folds, the first
    ``n % k`` of them one example larger; fold i is (every other example, fold i), each in
    ascending order. ``k`` >= 2 and <= n."""
    from sklearn.model_selection import KFold

    k = check_count("folds", k, 2, noun=WHOLE)
    if k > n:
        raise ValueError(f"folds={k} is more than the {n} examples")
    cut = KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n))
    return [
        (torch.as_tensor(kept, dtype=torch.long), torch.as_tensor(held, dtype=torch.long))
        for kept, held in cut
    ]


@dataclass
class CrossValidation:
    """K runs, run i validated on fold i; the mean and spread of their final numbers."""

    runs: list[Run]

    def _finals(self, key: str) -> list[float]:
        values = [getattr(r.final, key) for r in self.runs if r.final is not None]
        return [v for v in values if v is not None]

    def mean(self, key: str) -> float | None:
        """The mean over the folds of ``key`` (``val_loss``, ``val_metric``, …) at the end."""
        values = self._finals(key)
        return float(np.mean(values)) if values else None

    def std(self, key: str) -> float | None:
        values = self._finals(key)
        return float(np.std(values)) if values else None

    def to_json(self) -> dict[str, Any]:
        keys = ("train_loss", "val_loss", "train_metric", "val_metric")
        return {
            "folds": len(self.runs),
            "mean": {k: self.mean(k) for k in keys},
            "std": {k: self.std(k) for k in keys},
            "runs": [r.to_json() for r in self.runs],
        }


def cross_validate(
    task: Task | str,
    optimizer: str = "adam",
    *,
    folds: int = 5,
    each_fold: Callable[[int], dict[str, Any]] | None = None,
    **kwargs: Any,
) -> CrossValidation:
    """K-fold cross-validation: :func:`train` once per fold (same seed, so the same initial θ),
    validated on that fold. ``kwargs`` are :func:`train`'s (``validation`` does not apply);
    ``each_fold(i)`` may add or replace some for fold i (its progress line, its log folder).
    A schedule is copied for each fold, so one that observes the loss starts afresh."""
    seed = kwargs.get("seed", 0)
    task = build_task(task, seed=seed) if isinstance(task, str) else task
    kwargs.pop("validation", None)
    schedule = kwargs.pop("schedule", None)
    runs = []
    for i, part in enumerate(make_folds(task.size, folds, seed)):
        settings = {**kwargs, **(each_fold(i) if each_fold is not None else {})}
        runs.append(
            train(
                task, optimizer, indices=part, fold=i, schedule=copy.deepcopy(schedule), **settings
            )
        )
        if runs[-1].interrupted is not None:  # asked to stop: the later folds are not run
            break
    return CrossValidation(runs)
