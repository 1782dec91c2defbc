"""A large CPU parameter takes its eager step slice by slice: the same numbers, in less time and
memory.

    θ_i^{t+1} ← θ_i^t − (η^t / σ_i^t) · m_i^t

is computed entry by entry i, so the step of a tensor can be taken over consecutive slices of
its entries, each slice with the same η^t and t. The eager step makes temporaries the size of
the tensor it steps (Adam's σ = sqrt(v̂) + ε, a new tensor each step). On Linux, malloc keeps
freed blocks of up to 32 MiB for reuse; a larger one is mapped from the system afresh each time
and pays a page fault for every 4 KiB written. So a parameter of more than :data:`LARGE` bytes
steps in slices of :data:`SLICE_BYTES`, whose temporaries are reused.

Measured (benchmarks/optimizer_step.py, 2 cores, Adam on 20M float32 entries): one tensor
stepped whole 62 ms a step, in slices 36 ms (as 4 tensors of 5M entries stepped whole: 36 ms;
torch's for-loop 68 ms); slices of 2^20 to 2^22 entries 39 to 36 ms, of 2^23 (32 MiB) 56 ms.
SGD with momentum, which makes no temporary, 16 ms whole and 16–17 ms in slices.

Only parts that compute entry by entry are stepped this way: those marked ``runs_on_floats``
(their arithmetic runs on two Python floats, so no entry depends on another). A part of one's
own, which may read its whole tensor (a norm), steps the tensor whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from .base import Direction, Magnitude

LARGE = 32 << 20  # bytes: a parameter larger than this steps in slices
SLICE_BYTES = 16 << 20  # bytes of each slice (its last may be shorter)


def sliceable(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict[str, Any],
    lr: Any,
    direction: Direction,
    magnitude: Magnitude,
) -> bool:
    """True when ``param`` should step slice by slice: a real, contiguous CPU tensor of more
    than :data:`LARGE` bytes with a contiguous dense gradient and contiguous state, a
    number η, and parts that compute entry by entry; not inside torch.compile."""
    return (
        param.device.type == "cpu"
        and param.numel() * param.element_size() > LARGE
        and direction.runs_on_floats
        and magnitude.runs_on_floats
        and isinstance(lr, (int, float))
        and not torch.compiler.is_compiling()
        and not param.is_complex()
        and param.is_contiguous()
        and grad.layout == torch.strided
        and grad.is_contiguous()
        and grad.shape == param.shape
        and all(value.is_contiguous() for value in _entrywise(state, param.numel()).values())
    )


def in_slices(
    param: torch.Tensor, grad: torch.Tensor, state: dict[str, Any]
) -> Iterator[tuple[torch.Tensor, torch.Tensor, SliceState]]:
    """(θ, g, state) of each slice of ``param`` in turn, as flat views; the caller steps each
    before asking for the next. The state of a slice holds views of the parameter's state
    tensors, and its own copy of the other entries (NAdam's Π μ) as they were before the step,
    so that a scalar a part updates is updated once per step, not once per slice; the last
    slice's copies are kept. A tensor a part stores anew (SGD's momentum buffer on its first
    step) is gathered, slice by slice, into one tensor of the parameter's shape."""
    before = dict(state)  # entries made during the step stay out of the next slices' views
    numel, width = param.numel(), max(1, SLICE_BYTES // param.element_size())
    flat_param, flat_grad = param.view(-1), grad.view(-1)
    view = None
    for start in range(0, numel, width):
        view = SliceState(state, before, param.shape, start, min(start + width, numel))
        yield flat_param[view.start : view.end], flat_grad[view.start : view.end], view
        view.store_made()
    if view is not None:
        view.keep_scalars()


class SliceState(dict):
    """A parameter's state seen by one slice of its entries (see :func:`in_slices`)."""

    def __init__(
        self,
        state: dict[str, Any],
        before: dict[str, Any],
        shape: torch.Size,
        start: int,
        end: int,
    ) -> None:
        self.state, self.shape, self.start, self.end = state, shape, start, end
        self.made: list[str] = []
        numel = shape.numel()
        entrywise = _entrywise(before, numel)
        entries = {}
        for key, value in before.items():
            if key in entrywise:
                entries[key] = entrywise[key].view(-1)[start:end]
            elif isinstance(value, torch.Tensor):
                entries[key] = value.clone()  # as it was before the step, in every slice
            else:
                entries[key] = value
        super().__init__(entries)
        self.scalars = [key for key in self if key not in entrywise]

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        width = self.end - self.start
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.numel() == width:
            self.made.append(key)  # copied into the parameter's tensor once the slice is done
        elif key not in self.scalars:
            self.scalars.append(key)

    def store_made(self) -> None:
        """Copy the slice's new tensors into the parameter's (made at the first slice)."""
        for key in self.made:
            value = self[key]
            whole = self.state.get(key)
            if not (isinstance(whole, torch.Tensor) and whole.shape == self.shape):
                whole = self.state[key] = value.new_empty(self.shape)
            whole.view(-1)[self.start : self.end].copy_(value.view(-1))

    def keep_scalars(self) -> None:
        """Keep the slice's scalars (each slice computed the same) in the parameter's state."""
        for key in self.scalars:
            value, old = self[key], self.state.get(key)
            if isinstance(old, torch.Tensor) and isinstance(value, torch.Tensor):
                if old is not value and old.shape == value.shape:
                    old.copy_(value)
                    continue
            self.state[key] = value


def _entrywise(state: dict[str, Any], numel: int) -> dict[str, torch.Tensor]:
    """The state tensors with one entry per parameter entry (m, v), not scalars."""
    return {
        key: value
        for key, value in state.items()
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.numel() == numel
    }
