"""The lecture's claims as experiments: run → data, figures, a verdict from measured numbers.

Each module has NAME, TITLE, CLAIM and ``run(out, quick) -> Result``; :data:`ORDER` lists
them in the lecture's order and :func:`run_all` runs them.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..report import Result
from .base import Experiment, failure

# name → module, in the order the lecture makes the claims
ORDER: dict[str, str] = {
    "stuck": "stuck",
    "tiny-lr": "tiny_lr",
    "adagrad-bursts": "adagrad_bursts",
    "decay": "decay",
    "rmsprop": "rmsprop",
    "full-rule": "full_rule",
    "adam-parts": "adam_parts",
    "adam-defaults": "adam_defaults",
    "warmup-variance": "warmup_variance",
    "warmup-attention": "warmup_attention",
    "classification-loss": "classification_loss",
    "normalization": "normalization",
    "minimum-ratio": "minimum_ratio",
    "batch-size": "batch_size",
    "momentum": "momentum",
    "batch-norm": "batch_norm",
    "lr-find": "lr_find",
    "general-guide": "general_guide",
}


def experiment(name: str) -> Experiment:
    """The experiment module called ``name``; ValueError listing the valid names otherwise."""
    if name not in ORDER:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(ORDER)}")
    return importlib.import_module(f"{__name__}.{ORDER[name]}")  # type: ignore[return-value]


def run_all(
    out: Path,
    only: Iterable[str] | None = None,
    quick: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Result]:
    """Run the experiments (all, or ``only`` those) in order; figures go under ``out``."""
    names = list(ORDER) if not only else list(only)
    modules = [experiment(name) for name in names]  # unknown names fail before any run
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for index, module in enumerate(modules):
        if progress is not None:
            progress(module.NAME, index, len(modules))
        start = time.perf_counter()
        try:
            result = module.run(out, quick=quick)
        except Exception as error:  # one broken experiment must not lose the others' results
            result = failure(module, error)
        result.seconds = time.perf_counter() - start
        results.append(result)
    if progress is not None:
        progress("", len(modules), len(modules))
    return results


__all__ = ["ORDER", "Experiment", "Result", "experiment", "run_all"]
