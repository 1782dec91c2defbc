"""Training the built-in tasks: the lecture's mini-batch loop with a validation split or K-fold
cross-validation (:mod:`.loop`), and the learning-rate range test (:mod:`.lr_find`).

This layer sits above the optimizers, schedules, tasks, diagnostics and sweeps (the range
test's η grid is :func:`ravine.sweep.log_spaced`), and below the report, the experiments and
the command line, which use it.
"""

from .folds import CrossValidation, cross_validate, make_folds
from .loop import (
    BATCH_SIZE,
    EPOCHS,
    VALIDATION,
    Epoch,
    Interruption,
    Run,
    Stop,
    split,
    train,
)
from .lr_find import (
    BACKOFF,
    DIVERGENCE,
    LR_MAX,
    LR_MIN,
    MIN_STEPS,
    SMOOTHING,
    STEPS,
    RangeTest,
    lag_factor,
    lr_find,
    range_test,
    smooth_losses,
    suggest_lr,
    sweep_lrs,
)

__all__ = [
    "BACKOFF",
    "BATCH_SIZE",
    "DIVERGENCE",
    "EPOCHS",
    "LR_MAX",
    "LR_MIN",
    "MIN_STEPS",
    "SMOOTHING",
    "STEPS",
    "VALIDATION",
    "CrossValidation",
    "Epoch",
    "Interruption",
    "RangeTest",
    "Run",
    "Stop",
    "cross_validate",
    "lag_factor",
    "lr_find",
    "make_folds",
    "range_test",
    "smooth_losses",
    "split",
    "suggest_lr",
    "sweep_lrs",
    "train",
]
