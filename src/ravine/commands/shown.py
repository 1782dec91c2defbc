"""How the commands print a number: a loss or metric in 4 significant digits, zeros kept; a
point, loss or distance in 6, with ∞ for an overflow and words (or a dash in a table) where it
is not a number — never Python's "inf" and "nan"."""

from __future__ import annotations

import math


def four_digits(value: float) -> str:
    """A loss or metric as printed: 4 significant digits, zeros kept (2.000 beside 1.992, not
    2)."""
    return f"{value:#.4g}".replace(".e", "e").removesuffix(".")


def number(value: float, nan: str = "undefined (not a number)") -> str:
    """``value`` in 6 significant digits, ∞ for an overflow, ``nan`` where it is not a number
    (a point reached by ∞ − ∞; a table says "—")."""
    if math.isnan(value):
        return nan
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.6g}"
