"""One vocabulary of domain checks for every package.

Every check raises ``ValueError("<name> must be <domain>, got <value>")``: it names the
argument, says what is allowed and shows what was given, e.g.
``ValueError("alpha must be in (0, 1), got 1.5")``. Each returns the value it accepted, so a
check can stand where the value is used. The CLI turns such an error into one line and exit
status 2.

This module imports nothing of ravine: every layer may use it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

# How a value is called in messages. A count: library arguments say "an integer", the command
# line and the training loop, read by people who type numbers, say "a whole number". A real
# number: "a finite number" where infinity would slip through unnoticed, "a number" where the
# message is about the bound (a schedule's factor, a threshold).
INTEGER = "an integer"
WHOLE = "a whole number"
FINITE = "a finite number"
NUMBER = "a number"


def require(ok: bool, name: str, value: Any, domain: str) -> None:
    """Raise ``ValueError("<name> must be <domain>, got <value>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must be {domain}, got {value!r}")


def is_real(value: Any) -> bool:
    """True for a finite real number (an int or a float, not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_count(value: Any) -> bool:
    """True for an integer (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_count(name: str, value: Any, low: int = 1, *, noun: str = INTEGER) -> int:
    """An integer >= ``low``: a number of steps, samples, runs, folds, ...

    ``noun`` words the message (:data:`INTEGER` or :data:`WHOLE`)."""
    require(is_count(value) and value >= low, name, value, f"{noun} >= {low}")
    return int(value)


def check_positive(name: str, value: Any, *, noun: str = FINITE) -> float:
    """A finite number > 0 (a learning rate, a tolerance, a scale)."""
    require(is_real(value) and value > 0, name, value, f"{noun} > 0")
    return value


def check_nonnegative(name: str, value: Any, *, noun: str = FINITE) -> float:
    """A finite number >= 0 (a weight decay, a momentum, an ε)."""
    require(is_real(value) and value >= 0, name, value, f"{noun} >= 0")
    return value


def check_above(name: str, value: Any, low: float, *, noun: str = FINITE) -> float:
    """A finite number > ``low`` (a divergence factor > 1)."""
    require(is_real(value) and value > low, name, value, f"{noun} > {low:g}")
    return value


def check_range(name: str, value: Any, low: float, high: float, *, closed: str = "[]") -> float:
    """A finite number in the interval written by ``closed``: '[]', '[)', '(]' or '()'."""
    ok = is_real(value)
    if ok:
        above = value >= low if closed[0] == "[" else value > low
        below = value <= high if closed[1] == "]" else value < high
        ok = above and below
    require(ok, name, value, f"in {closed[0]}{low:g}, {high:g}{closed[1]}")
    return value


def check_flag(name: str, value: Any) -> bool:
    """True or False, nothing that merely converts to one."""
    require(isinstance(value, bool), name, value, "True or False")
    return value


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """One of ``choices``."""
    require(value in choices, name, value, "one of " + ", ".join(map(repr, choices)))
    return value
