"""Many tensors as one: the default eager step runs the rule once for a whole group.

:class:`TensorList` holds a group's tensors of one device and dtype and offers the tensor
methods the parts use (``mul_``, ``addcmul_``, ``lerp_``, ``sqrt``, ``/`` …), each carried out by
torch's multi-tensor kernels (``torch._foreach_*``): one call for all the tensors instead of one
per tensor. So :func:`~ravine.optim.update.apply_rule` and every part, written once as the
lecture's equation, run on one tensor (sweeps, surfaces), on a list (the default step) and on a
flat buffer (the fast path). An operation without a multi-tensor kernel runs tensor by tensor.

:class:`ListState` is the state the parts read and write for the list: each key gives the
list of the parameters' own state tensors (``optimizer.state[p][key]``, shared, not copied),
and a list a part stores anew is written back into each parameter's state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

Scalar = int | float


class TensorList:
    """Tensors of one device and dtype, operated on together (see the module's docstring)."""

    __slots__ = ("tensors",)

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self.tensors = list(tensors)

    # --- what the parts and apply_rule read -------------------------------------------------

    def __len__(self) -> int:
        return len(self.tensors)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self.tensors)

    def _each(self, other: Any) -> list[Any]:
        return other.tensors if isinstance(other, TensorList) else other

    # --- in place ---------------------------------------------------------------------------

    def mul_(self, other: Any) -> TensorList:
        torch._foreach_mul_(self.tensors, self._each(other))
        return self

    def add_(self, other: Any, *, alpha: Scalar = 1) -> TensorList:
        if isinstance(other, TensorList):
            torch._foreach_add_(self.tensors, other.tensors, alpha=alpha)
        else:
            torch._foreach_add_(self.tensors, other * alpha if alpha != 1 else other)
        return self

    def sub_(self, other: Any) -> TensorList:
        torch._foreach_sub_(self.tensors, self._each(other))
        return self

    def div_(self, other: Any) -> TensorList:
        torch._foreach_div_(self.tensors, self._each(other))
        return self

    def addcmul_(self, a: TensorList, b: TensorList, *, value: Scalar = 1) -> TensorList:
        torch._foreach_addcmul_(self.tensors, a.tensors, b.tensors, value=value)
        return self

    def addcdiv_(self, a: TensorList, b: TensorList, *, value: Scalar = 1) -> TensorList:
        torch._foreach_addcdiv_(self.tensors, a.tensors, b.tensors, value=value)
        return self

    def lerp_(self, end: TensorList, weight: Scalar) -> TensorList:
        torch._foreach_lerp_(self.tensors, end.tensors, weight)
        return self

    def sqrt_(self) -> TensorList:
        torch._foreach_sqrt_(self.tensors)
        return self

    def copy_(self, other: TensorList) -> TensorList:
        torch._foreach_copy_(self.tensors, other.tensors)
        return self

    def masked_fill_(self, masks: TensorList, value: Scalar) -> TensorList:
        for tensor, mask in zip(self.tensors, masks.tensors, strict=True):
            tensor.masked_fill_(mask, value)
        return self

    def maximum_(self, other: TensorList) -> TensorList:
        """self ← max(self, other) element by element (AMSGrad's running maximum)."""
        torch._foreach_maximum_(self.tensors, other.tensors)
        return self

    # --- new lists --------------------------------------------------------------------------

    def clone(self) -> TensorList:
        return TensorList([t.clone() for t in self.tensors])

    def detach(self) -> TensorList:
        return TensorList([t.detach() for t in self.tensors])

    def sqrt(self) -> TensorList:
        return TensorList(torch._foreach_sqrt(self.tensors))

    def add(self, other: Any, *, alpha: Scalar = 1) -> TensorList:
        if isinstance(other, TensorList):
            return TensorList(torch._foreach_add(self.tensors, other.tensors, alpha=alpha))
        return TensorList(torch._foreach_add(self.tensors, other * alpha))

    def mul(self, other: Any) -> TensorList:
        return TensorList(torch._foreach_mul(self.tensors, self._each(other)))

    def div(self, other: Any) -> TensorList:
        return TensorList(torch._foreach_div(self.tensors, self._each(other)))

    def addcmul(self, a: TensorList, b: TensorList, *, value: Scalar = 1) -> TensorList:
        return TensorList(torch._foreach_addcmul(self.tensors, a.tensors, b.tensors, value=value))

    def __neg__(self) -> TensorList:
        return TensorList(torch._foreach_neg(self.tensors))

    def __mul__(self, other: Any) -> TensorList:
        return self.mul(other)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> TensorList:
        return self.div(other)

    def __eq__(self, other: Any) -> TensorList:  # type: ignore[override]
        return TensorList([t == other for t in self.tensors])

    __hash__ = None  # type: ignore[assignment]

    def abs(self) -> TensorList:
        return TensorList(torch._foreach_abs(self.tensors))


def zeros_like(like: torch.Tensor | TensorList) -> torch.Tensor | TensorList:
    """Zeros shaped like a tensor or like each tensor of a list."""
    if isinstance(like, TensorList):
        return TensorList([torch.zeros_like(t, memory_format=torch.preserve_format) for t in like])
    return torch.zeros_like(like, memory_format=torch.preserve_format)


class ListState(dict):
    """The parts' state for a list of parameters: ``state[key]`` is the list of each parameter's
    own tensor (shared); a list stored under a key is stored back into each parameter's state
    (a part that creates its state lazily, as SGD's momentum buffer)."""

    def __init__(self, states: Sequence[dict[str, Any]]) -> None:
        self.states = states
        first = states[0]
        super().__init__(
            {
                key: TensorList([s[key] for s in states])
                if isinstance(value, torch.Tensor) and value.dim() > 0
                else value
                for key, value in first.items()
            }
        )

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if isinstance(value, TensorList):
            for state, tensor in zip(self.states, value.tensors, strict=True):
                state[key] = tensor
