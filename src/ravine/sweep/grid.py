"""The η grid of a sweep: learning rates equally spaced in log η, and the command line's specs.

    η_k = low·(high/low)^(k/(count−1)),   k = 0 … count−1        (units of η)

:func:`log_spaced` is the one place this grid is computed: a sweep's ``A:B:N`` spec
(:func:`parse_lrs`) and the range test's rising η (:func:`ravine.training.sweep_lrs`) both
take it from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from ..validation import is_count, is_real, require


def log_spaced(low: float, high: float, count: int) -> list[float]:
    """``count`` learning rates from ``low`` to ``high`` equally spaced in log η:
    η_k = low·(high/low)^(k/(count−1)), k = 0 … count−1, computed as
    low·exp(ln(high/low)·k/(count−1)); both ends exact (units of η)."""
    if not (_positive(low) and _positive(high) and low < high):
        raise ValueError(f"a log-spaced grid needs 0 < low < high, got low={low!r}, high={high!r}")
    if not (is_count(count) and count >= 2):
        raise ValueError(f"a log-spaced grid needs at least 2 points, got {count!r}")
    log_ratio = math.log(high / low)  # ln(high/low)
    inner = [low * math.exp(log_ratio * k / (count - 1)) for k in range(1, count - 1)]
    return [float(low), *inner, float(high)]


LR_SPEC_HELP = (
    "η as X, a list X,Y,Z, or A:B:N (N values from A to B equally spaced in log η, "
    "e.g. 1e-4:1e-1:16)"
)


def parse_lrs(text: str) -> list[float]:
    """A learning-rate spec → the list of η.

    ``"1e-3"`` one η; ``"1e-3,3e-3,1e-2"`` a list; ``"1e-8:1e-5:200"`` 200 η from 1e-8 to 1e-5
    equally spaced in log η (:func:`log_spaced`). Every η must be a finite number > 0.
    A bad spec raises ValueError in one line, naming it and the valid forms.
    """
    form = "expected X, X,Y,... or A:B:N with numbers > 0 and 0 < A < B, N >= 2"
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"bad learning-rate spec {text!r}: A:B:N has 3 parts; {form}")
        try:
            low, high = float(parts[0]), float(parts[1])
            count = int(parts[2])
        except ValueError:
            raise ValueError(
                f"bad learning-rate spec {text!r}: A and B must be numbers and N a whole "
                f"number; {form}"
            ) from None
        try:
            return log_spaced(low, high, count)
        except ValueError as error:
            raise ValueError(f"bad learning-rate spec {text!r}: {error}; {form}") from None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"bad learning-rate spec {text!r}: {form}") from None
    bad = [v for v in values if not _positive(v)]
    if bad:
        raise ValueError(f"bad learning-rate spec {text!r}: η = {bad[0]:g} is not > 0; {form}")
    return values


def learning_rates(lrs: str | float | Sequence[float] | torch.Tensor) -> list[float]:
    """The η of a sweep's settings from a spec (:func:`parse_lrs`), one number, a sequence or
    a tensor; each a finite number > 0, at least one."""
    if isinstance(lrs, str):
        return parse_lrs(lrs)
    if isinstance(lrs, torch.Tensor):
        values = lrs.reshape(-1).tolist()
    elif isinstance(lrs, (int, float)) and not isinstance(lrs, bool):
        values = [lrs]
    else:
        values = list(lrs)
    if not values:
        raise ValueError("lrs is empty; give at least one learning rate")
    for value in values:
        require(_positive(value), "every learning rate", value, "a finite number > 0")
    return [float(v) for v in values]


def _positive(value: Any) -> bool:
    return is_real(value) and value > 0
