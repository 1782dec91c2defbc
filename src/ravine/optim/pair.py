"""One run on a surface as two Python floats: the parts' arithmetic without a tensor per step.

A descent on a two-parameter surface moves two numbers. Each torch operation on a tensor of
two numbers costs about 3 µs of dispatch for a few nanoseconds of arithmetic, so a step of the
lecture's Adagrad (nine operations) spent 30 µs on overhead. :class:`Pair` holds θ = (θ1, θ2)
— or m, σ, g — as two Python floats and offers the tensor methods the parts use (``mul_``,
``addcmul_``, ``lerp_``, ``sqrt`` …), so :func:`~ravine.optim.update.apply_rule` and every part
that declares ``runs_on_floats`` run on it unchanged, as they run on one tensor, a
:class:`~ravine.optim.tensor_list.TensorList` or the compiled flat buffer.

The arithmetic is IEEE double precision, as a float64 tensor's; torch's kernels may fuse a
multiply and an add into one rounding (FMA) where Python rounds twice, so the two agree to
rounding, not always to the last bit. A division by zero or the square root of a negative
number gives inf or nan as on a tensor, not a Python exception.
"""

from __future__ import annotations

import math
from typing import Any

Scalar = int | float


def _div(a: float, b: float) -> float:
    """a / b with IEEE semantics: ±inf or nan for b = 0 instead of ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _sqrt(a: float) -> float:
    """√a with IEEE semantics: nan for a < 0 (and for nan) instead of ValueError."""
    return math.sqrt(a) if a >= 0 else (a if a != a else math.nan)


def _maximum(a: float, b: float) -> float:
    """max(a, b), nan when either is nan (as torch.maximum)."""
    if a != a or b != b:
        return math.nan
    return a if a >= b else b


def _lerp(start: float, end: float, weight: float) -> float:
    """start + w·(end − start), in the two forms torch's lerp uses (by w < ½), so a weight near
    1 reaches ``end`` exactly."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


class Pair:
    """Two floats (x, y) with the tensor methods the parts use (see the module's docstring).

    ``other`` in an operation is a Pair (element by element) or a number (both elements).
    In-place methods end in ``_`` and return the Pair itself, as a tensor's do.
    """

    __slots__ = ("x", "y")

    def __init__(self, x: float, y: float) -> None:
        self.x = x
        self.y = y

    def tolist(self) -> list[float]:
        return [self.x, self.y]

    def __repr__(self) -> str:
        return f"Pair({self.x!r}, {self.y!r})"

    # --- in place ---------------------------------------------------------------------------

    def mul_(self, other: Any) -> Pair:
        if type(other) is Pair:
            self.x *= other.x
            self.y *= other.y
        else:
            self.x *= other
            self.y *= other
        return self

    def add_(self, other: Any, *, alpha: Scalar = 1) -> Pair:
        if type(other) is Pair:
            if alpha == 1:
                self.x += other.x
                self.y += other.y
            else:
                self.x += alpha * other.x
                self.y += alpha * other.y
        else:
            self.x += alpha * other
            self.y += alpha * other
        return self

    def sub_(self, other: Any) -> Pair:
        return self.add_(other, alpha=-1)

    def div_(self, other: Any) -> Pair:
        x, y = (other.x, other.y) if type(other) is Pair else (other, other)
        try:
            self.x, self.y = self.x / x, self.y / y
        except ZeroDivisionError:
            self.x, self.y = _div(self.x, x), _div(self.y, y)
        return self

    def addcmul_(self, a: Pair, b: Pair, *, value: Scalar = 1) -> Pair:
        """self + value·a·b."""
        self.x += value * a.x * b.x
        self.y += value * a.y * b.y
        return self

    def addcdiv_(self, a: Pair, b: Pair, *, value: Scalar = 1) -> Pair:
        """self + value·(a/b)."""
        try:
            x, y = a.x / b.x, a.y / b.y
        except ZeroDivisionError:
            x, y = _div(a.x, b.x), _div(a.y, b.y)
        self.x += value * x
        self.y += value * y
        return self

    def lerp_(self, end: Pair, weight: Scalar) -> Pair:
        self.x = _lerp(self.x, end.x, weight)
        self.y = _lerp(self.y, end.y, weight)
        return self

    def sqrt_(self) -> Pair:
        self.x, self.y = _sqrt(self.x), _sqrt(self.y)
        return self

    def copy_(self, other: Pair) -> Pair:
        self.x, self.y = other.x, other.y
        return self

    def masked_fill_(self, mask: Pair, value: Scalar) -> Pair:
        if mask.x:
            self.x = value
        if mask.y:
            self.y = value
        return self

    def maximum_(self, other: Pair) -> Pair:
        """self ← max(self, other) element by element (nan wins, as torch.maximum)."""
        self.x = _maximum(self.x, other.x)
        self.y = _maximum(self.y, other.y)
        return self

    # --- new pairs --------------------------------------------------------------------------

    def clone(self) -> Pair:
        return Pair(self.x, self.y)

    detach = clone

    def sqrt(self) -> Pair:
        return Pair(_sqrt(self.x), _sqrt(self.y))

    def add(self, other: Any, *, alpha: Scalar = 1) -> Pair:
        return self.clone().add_(other, alpha=alpha)

    def mul(self, other: Any) -> Pair:
        return self.clone().mul_(other)

    def div(self, other: Any) -> Pair:
        return self.clone().div_(other)

    def addcmul(self, a: Pair, b: Pair, *, value: Scalar = 1) -> Pair:
        return self.clone().addcmul_(a, b, value=value)

    def abs(self) -> Pair:
        return Pair(abs(self.x), abs(self.y))

    def __neg__(self) -> Pair:
        return Pair(-self.x, -self.y)

    def __mul__(self, other: Any) -> Pair:
        return self.mul(other)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Pair:
        return self.div(other)

    def __eq__(self, other: Any) -> Pair:  # type: ignore[override]
        if type(other) is Pair:
            return Pair(self.x == other.x, self.y == other.y)
        return Pair(self.x == other, self.y == other)

    __hash__ = None  # type: ignore[assignment]
