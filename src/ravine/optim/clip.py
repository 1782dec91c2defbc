"""Gradient clipping that shares its reading of g with the step's finiteness check.

    g ← g · min(1, c / ‖g‖),   ‖g‖ = ‖(‖g_1‖, …, ‖g_P‖)‖

over all of an optimizer's gradients, as ``torch.nn.utils.clip_grad_norm_`` computes it (its
own ``clip_grads_with_norm_`` does the scaling). The per-parameter norms it reads are handed to
the optimizer (:meth:`~ravine.optim.Optimizer.share_gradient_norms`), so a clipped step reads
the gradients once for both: a finite ‖g_p‖ before the scaling means a finite g_p after it.
"""

from __future__ import annotations

import torch

from ..validation import check_positive
from .optimizer import Optimizer


def clip_gradient_norm_(optimizer: Optimizer, max_norm: float) -> torch.Tensor:
    """Scale every gradient of ``optimizer``'s parameters so their total Euclidean norm is at
    most ``max_norm`` (a finite number > 0); returns the total norm before scaling, as torch's
    does. A non-finite total leaves the gradients to the step's check, which then reads them."""
    check_positive("max_norm", max_norm)
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not params:
        return torch.tensor(0.0)
    norms = torch._foreach_norm([p.grad for p in params])  # ‖g_p‖
    total = torch.linalg.vector_norm(torch.stack(norms))
    torch.nn.utils.clip_grads_with_norm_(params, max_norm, total)
    optimizer.share_gradient_norms(params, norms)  # after the scaling: its versions count
    return total
