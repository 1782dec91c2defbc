"""Sweeps at batch speed: many settings of η for one problem, trained together.

``sweep("sinc", "adam", lrs="1e-4:1e-1:16", steps=500)`` trains 16 copies of the sinc network,
one per η, as one stacked batch, and returns a :class:`SweepResult` (final loss per η, loss
curves, the best η, the runs that diverged). ``parse_lrs`` reads the command line's η specs.
"""

from .batch import (
    CURVE_POINTS,
    LR_SPEC_HELP,
    SweepResult,
    log_spaced,
    parse_lrs,
    single_run_parameters,
    sweep,
)

__all__ = [
    "CURVE_POINTS",
    "LR_SPEC_HELP",
    "SweepResult",
    "log_spaced",
    "parse_lrs",
    "single_run_parameters",
    "sweep",
]
