"""Built-in offline tasks: a data set (generated or bundled), the lecture's model for it, and its
loss, as one :class:`Task`.

``task(name, seed)`` builds one; :data:`TASKS` lists the names. A task is data plus a model
factory, so the same data can train many differently-seeded networks (as the minimum-ratio
experiment does).
"""

from __future__ import annotations

from collections.abc import Callable

from .base import Task
from .sinc import SINC_POINTS, sinc, sinc_data, sinc_model, sinc_task

# name → builder(seed) → Task; a new task adds one line here
TASKS: dict[str, Callable[..., Task]] = {
    "sinc": sinc_task,
}


def task(name: str, seed: int = 0) -> Task:
    """The task called ``name`` with its model's initialization seeded by ``seed``; ValueError
    listing the valid names otherwise."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    return TASKS[name](seed=seed)


__all__ = [
    "SINC_POINTS",
    "TASKS",
    "Task",
    "sinc",
    "sinc_data",
    "sinc_model",
    "sinc_task",
    "task",
]
