"""g^{t−1}, kept one step so that the next can measure cos(g^t, g^{t−1}).

cos(g^t, g^{t−1}) = ⟨g^t, g^{t−1}⟩ / (‖g^t‖·‖g^{t−1}‖) is near −1 when the gradient flips back
and forth across a valley. g^{t−1} is kept by reference when the loop's ``zero_grad()`` sets
gradients to None (torch's default: the next backward makes new tensors), and copied when the
loop reuses its gradient buffers in place (``zero_grad(set_to_none=False)``, accumulation,
bucket views). Which of the two is found once: the first g^{t−1} is copied, and the next
step's buffers are compared with where it lived. Memory: one copy of g while it waits a step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class PreviousGradient:
    """The per-parameter gradients g_p^{t−1} and their norms ‖g_p^{t−1}‖, for step t."""

    def __init__(self) -> None:
        self.gradients: list[torch.Tensor] | None = None  # g_p^{t−1}, for the step after it
        self.norms: Sequence[torch.Tensor] = []  # ‖g_p^{t−1}‖
        self.step = -2  # the t − 1 of ``gradients``
        self.copied = False  # the loop reuses its gradient buffers in place: keep copies
        self.reuse_known = False  # whether the loop reuses its gradient buffers is known yet
        self._first_addresses: list[int] | None = None  # where the first copied g^{t−1} lived
        self._copies: list[torch.Tensor] | None = None  # the copies' buffers

    def products(self, t: int, gradients: Sequence[torch.Tensor]) -> list[torch.Tensor] | None:
        """[⟨g_p^t, g_p^{t−1}⟩ for each p] + [‖g_p^{t−1}‖ for each p] at step t, or None when
        g^{t−1} was not kept or was overwritten in place by g^t."""
        kept = self.gradients if self.step == t - 1 else None
        if kept is not None and self._first_addresses is not None:  # the first look decides
            addresses = zip(gradients, self._first_addresses, strict=True)
            self.copied = any(g.data_ptr() == address for g, address in addresses)
            self.reuse_known, self._first_addresses = True, None
        elif kept is not None and not self.copied:
            if any(g.data_ptr() == q.data_ptr() for g, q in zip(gradients, kept, strict=True)):
                # zero_grad(set_to_none=False), accumulation or bucket views: g^{t−1} was
                # overwritten in place; from now on it is copied
                self.copied, kept = True, None
        if kept is None:
            return None
        pairs = zip(gradients, kept, strict=True)
        return [*(torch.dot(g.reshape(-1), q.reshape(-1)) for g, q in pairs), *self.norms]

    def pass_on(
        self, t: int, gradients: list[torch.Tensor], norms: Sequence[torch.Tensor], needed: bool
    ) -> None:
        """After step t has read g^{t−1}: keep g^t and ‖g_p^t‖ for step t + 1 when ``needed``,
        else let them go."""
        self.gradients = None
        if not needed:
            return
        if self.reuse_known and not self.copied:
            self.gradients = gradients  # by reference: zero_grad() replaces them by new tensors
        else:  # copied — and, the first time, compared with the next gradients' buffers
            if self._copies is None:
                self._copies = [torch.empty_like(g) for g in gradients]
            torch._foreach_copy_(self._copies, gradients)
            self.gradients = self._copies
            if not self.reuse_known:
                self._first_addresses = [g.data_ptr() for g in gradients]
        self.norms, self.step = norms, t

    def forget(self) -> None:
        """Keep nothing: the next step measures no cosine (after a restore)."""
        self.gradients, self.norms, self.step = None, [], -2

    def state_dict(self) -> dict[str, Any]:
        """Copies of g^{t−1} and its norms while the next step still needs them (one gradient
        at most), and what is known of the loop's gradient buffers."""
        kept = None if self.gradients is None else [g.detach().clone() for g in self.gradients]
        return {
            "kept_gradients": kept,  # g^{t−1}, or None when no step needs it
            "kept_norms": [] if kept is None else [n.clone() for n in self.norms],
            "kept_step": self.step,  # the t − 1 of kept_gradients
            "copy_gradients": self.copied,
            "reuse_known": self.reuse_known,
        }

    def load_state_dict(self, state: dict[str, Any], parameters: Sequence[torch.Tensor]) -> None:
        """Go on from :meth:`state_dict`, moving g^{t−1} to the ``parameters``' devices."""
        kept, norms = state["kept_gradients"], state["kept_norms"]
        if kept is not None:
            kept = [g.to(p.device) for g, p in zip(kept, parameters, strict=True)]
            norms = [n.to(p.device) for n, p in zip(norms, parameters, strict=True)]
        self.gradients, self.norms = kept, list(norms)
        self.step = int(state["kept_step"])
        self.copied = bool(state["copy_gradients"])
        self.reuse_known = bool(state.get("reuse_known", False))
