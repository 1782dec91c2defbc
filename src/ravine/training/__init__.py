"""Training the built-in tasks: the lecture's mini-batch loop with a validation split or K-fold
cross-validation (:mod:`.loop`), and the learning-rate range test (:mod:`.lr_find`).

This layer sits beside :mod:`ravine.experiments`: it uses the optimizers, schedules, tasks and
diagnostics, and the experiments and the command line use it.
"""

from .loop import (
    BATCH_SIZE,
    EPOCHS,
    VALIDATION,
    CrossValidation,
    Epoch,
    Run,
    Stop,
    cross_validate,
    make_folds,
    split,
    train,
)

__all__ = [
    "BATCH_SIZE",
    "EPOCHS",
    "VALIDATION",
    "CrossValidation",
    "Epoch",
    "Run",
    "Stop",
    "cross_validate",
    "make_folds",
    "split",
    "train",
]
