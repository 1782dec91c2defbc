"""Sweeps at stacked speed: many settings of η for one problem, trained together.

``sweep("sinc", "adam", lrs="1e-4:1e-1:16", steps=500)`` trains 16 copies of the sinc network,
one per η, stacked along a run axis, and returns a :class:`SweepResult` (final loss per η, loss
curves, the best η, the runs that diverged). ``parse_lrs`` reads the command line's η specs and
``log_spaced`` is the log-spaced η grid they (and the range test) use.

    grid.py      the η grid: log_spaced, parse_lrs
    stacked.py   R runs stacked along a new first axis, one update for all: sweep;
                 StackedNetworks, R networks side by side as one module
    result.py    SweepResult: curves, divergence, the best η
    plot.py      the sweep's figure (imports matplotlib)
"""

from .grid import LR_SPEC_HELP, log_spaced, parse_lrs
from .result import SweepResult, single_run_parameters
from .stacked import CURVE_POINTS, StackedNetworks, runs_per_chunk, sweep

__all__ = [
    "CURVE_POINTS",
    "LR_SPEC_HELP",
    "StackedNetworks",
    "SweepResult",
    "log_spaced",
    "parse_lrs",
    "runs_per_chunk",
    "single_run_parameters",
    "sweep",
]
