"""Small pieces of English for the verdicts: lists, counts and seeds written as a reader says
them, never as Python prints them (no ``[4, 3]``, no ``1.0 steps``, no ``True``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["by_seed", "count", "join", "plural", "rise", "spread", "times"]


def join(items: Sequence[Any], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    shown = [str(item) for item in items]
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} {last} {shown[-1]}"


def count(value: float) -> str:
    """A count, or a mean of counts: whole numbers without a decimal point and with a
    thousands separator (``3``, ``1,200``), others with three significant digits or one
    decimal, whichever is longer (``2.5``, ``194.5``)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"


def plural(number: float, word: str, words: str | None = None) -> str:
    """``1 network``, ``2 networks`` (``words``: the plural where it is not word + s)."""
    return f"{count(number)} {word if number == 1 else words or word + 's'}"


def spread(values: Sequence[float]) -> str:
    """The mean of ``values`` and their range, ``0.0875 (0.076–0.0939)``; ``450 in every seed``
    when they are all equal (not ``450 (450–450)``)."""
    mean = sum(values) / len(values)
    if min(values) == max(values):
        return f"{mean:.3g} in every seed"
    return f"{mean:.3g} ({min(values):.3g}–{max(values):.3g})"


def times(number: int) -> str:
    """``once``, ``twice``, ``3 times``."""
    return {1: "once", 2: "twice"}.get(number, f"{number:,} times")


def rise(factor: float, start: str = "its start") -> str:
    """How high a loss went, given its largest value over its first one: ``never rose above
    its start`` for 1 (the start itself is the largest), else ``rose to ×1.3 its start`` —
    never ``×1``, which would read as no rise."""
    if factor <= 1:
        return f"never rose above {start}"
    shown = f"{factor:.3g}"
    if float(shown) == 1:
        return f"rose at most {100 * (factor - 1):.2g}% above {start}"
    return f"rose to ×{shown} {start}"


def by_seed(values: Sequence[float | None], seeds: Sequence[Any], noun: str = "step") -> str:
    """Where each seed got to, read aloud: ``at step 3 in every seed``, ``at steps 4 and 3
    (seeds 0 and 1)``; None is ``never``."""
    shown = ["never" if v is None else count(v) for v in values]
    if len(set(shown)) == 1:
        if values[0] is None:
            return "never" if len(shown) == 1 else "never, in any seed"
        one = f"at {noun} {shown[0]}"
        return one if len(shown) == 1 else f"{one} in every seed"
    if None in values:
        return join(
            [
                ("never" if v is None else f"at {noun} {s}") + f" (seed {seed})"
                for v, s, seed in zip(values, shown, seeds, strict=True)
            ]
        )
    return f"at {noun}s {join(shown)} (seeds {join(seeds)})"


def final_loss(loss: float | None) -> str:
    """A run's final loss in 3 significant digits, "diverged" where it has none."""
    return "diverged" if loss is None else f"{loss:.3g}"
