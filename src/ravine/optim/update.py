"""The kernel of the rule: one update θ ← θ − (η^t/σ^t)·m^t, in place.

    θ_i^{t+1} ← θ_i^t − (η^t / σ_i^t) · m_i^t

:func:`apply_rule` is the whole arithmetic of one step, written once. It runs on one
parameter's tensor (the eager path of :class:`~ravine.optim.optimizer.Optimizer`), on many runs
stacked along a leading axis with one η per run (:mod:`ravine.surfaces.descend`,
:mod:`ravine.sweep`), and compiled over a group's flat buffer (:mod:`ravine.optim.fused`) — as
torch's functional ``adam()`` sits under its ``Adam`` class. It keeps no state of its own: the
parts read and write the per-parameter ``state`` dict and the group's hyperparameters.
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Direction, Magnitude, as_terms


def apply_rule(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict[str, Any],
    group: dict[str, Any],
    lr: float | torch.Tensor,
    step: float,
    direction: Direction,
    magnitude: Magnitude,
    scale_first: bool = False,
) -> torch.Tensor | None:
    """θ ← θ − (η^t/σ^t)·m^t for one parameter, in place; ``step`` is t counted from 1.

    ``lr`` is η^t: a number, or a tensor that broadcasts against θ (one η per run when θ holds
    many runs side by side; ``group["lr"]`` must then be the same tensor). Returns σ^t (None
    when σ = 1), from which the effective learning rate η^t/σ^t follows.
    """
    if group["maximize"]:
        grad = -grad
    decay = group["weight_decay"]
    if decay != 0:
        if group["decoupled_weight_decay"]:
            param.mul_(1 - lr * decay)  # θ ← θ·(1 − η·λ)
        else:
            grad = grad.add(param, alpha=decay)  # g ← g + λ·θ
    if scale_first and not direction.passes_gradient(group):
        sigma = magnitude(grad, state, group, step)
        scaled = grad if sigma is None else grad / sigma
        m, sigma = direction(scaled, state, group, step), None
    else:
        m = direction(grad, state, group, step)
        sigma = magnitude(grad, state, group, step)
    base = 1.0 if direction.carries_lr else -lr  # the lecture's movement already holds −η
    for term in as_terms(m):
        rate = base * term.numerator / term.denominator
        if isinstance(rate, torch.Tensor):  # one η per run
            param.add_(rate * (term.tensor if sigma is None else term.tensor / sigma))
        elif sigma is None:
            param.add_(term.tensor, alpha=rate)
        else:
            param.addcdiv_(term.tensor, sigma, value=rate)  # θ ← θ − η·m/σ
    return sigma
