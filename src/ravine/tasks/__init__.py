"""Built-in offline tasks: a data set (generated or bundled), the lecture's model for it, and its
loss, as one :class:`Task`.

``task(name, seed)`` builds one; :data:`TASKS` lists the names. A task is data plus a model
factory, so the same data can train many differently-seeded networks (as the minimum-ratio
experiment does).
"""

from __future__ import annotations

from collections.abc import Callable

from .base import Task
from .diabetes import diabetes_data, diabetes_task
from .digits import digits_data, digits_task
from .losses import CLASSIFICATION_LOSSES, REGRESSION_LOSSES, accuracy, softmax_mse
from .models import MODELS, ModelSpec, parse_model
from .sequence import reverse_task
from .sinc import SINC_POINTS, sinc, sinc_data, sinc_model, sinc_task

# name → builder(seed, model, loss) → Task; a new task adds one line here
TASKS: dict[str, Callable[..., Task]] = {
    "sinc": sinc_task,
    "diabetes": diabetes_task,
    "digits": digits_task,
    "reverse": reverse_task,
}


def task(name: str, seed: int = 0, model: str | None = None, loss: str | None = None) -> Task:
    """The task called ``name``, its model's initialization seeded by ``seed``; ``model`` a
    model spec (:mod:`ravine.tasks.models`) and ``loss`` a loss name (:mod:`ravine.tasks.losses`)
    replace the task's defaults. ValueError naming what is wrong and what is valid otherwise."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    return TASKS[name](seed=seed, model=model, loss=loss)


__all__ = [
    "CLASSIFICATION_LOSSES",
    "MODELS",
    "REGRESSION_LOSSES",
    "SINC_POINTS",
    "TASKS",
    "ModelSpec",
    "Task",
    "accuracy",
    "diabetes_data",
    "diabetes_task",
    "digits_data",
    "digits_task",
    "parse_model",
    "reverse_task",
    "sinc",
    "sinc_data",
    "sinc_model",
    "sinc_task",
    "softmax_mse",
    "task",
]
