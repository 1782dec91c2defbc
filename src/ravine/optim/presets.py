"""torch.optim's optimizers as choices of (m, σ): same signatures, defaults and results.

Each class is one composition of the parts; none repeats the math. ``foreach`` is accepted so
code written for torch.optim runs unchanged (it chooses torch's kernels and does not change
results). ``fused=True`` takes ravine's fast path (:mod:`ravine.optim.fused`), on every preset
— RMSprop, RAdam and NAdam included, which torch has no fused kernel for. ``capturable=True`` and
``differentiable=True`` are torch features ravine does not offer and raise ValueError.
``nonfinite`` is ravine's (see :class:`~ravine.optim.optimizer.Optimizer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import interop
from .directions import ExponentialAverage, HeavyBall, NesterovAverage
from .magnitudes import Rectified, SecondMoment, SquareAverage, SumOfSquares, Unit
from .optimizer import LearningRate, Optimizer
from .parts import require


def _refuse_torch_only(capturable: bool = False, differentiable: bool = False) -> None:
    require(not capturable, "capturable", capturable, "False (CUDA-graph capture is torch's)")
    require(not differentiable, "differentiable", differentiable, "False")


def _pair(betas: Any) -> tuple[Any, Any]:
    require(isinstance(betas, (tuple, list)) and len(betas) == 2, "betas", betas, "a pair (β1, β2)")
    return tuple(float(b) if hasattr(b, "item") else b for b in betas)


class SGD(Optimizer):
    """torch.optim.SGD: m = heavy-ball momentum (or g), σ = 1.

    b ← μ·b + (1 − τ)·g (b = g on the first step), m = b, or m = g + μ·b with nesterov;
    θ ← θ − η·m. Weight decay adds λ·θ to g.
    """

    torch_format = interop.SGD  # how torch.optim.SGD saves its state

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        _refuse_torch_only(differentiable=differentiable)
        super().__init__(
            params,
            lr,
            HeavyBall(momentum, dampening, nesterov),
            Unit(),
            weight_decay=weight_decay,
            maximize=maximize,
            nonfinite=nonfinite,
            fused=bool(fused),
        )


class Adagrad(Optimizer):
    """torch.optim.Adagrad: m = g, σ = sqrt(Σ g²) + ε, η^t = η / (1 + (t−1)·lr_decay)."""

    torch_format = interop.ADAGRAD  # how torch.optim.Adagrad saves its state

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        _refuse_torch_only(differentiable=differentiable)
        super().__init__(
            params,
            lr,
            None,
            SumOfSquares(eps, initial_accumulator_value, lr_decay),
            weight_decay=weight_decay,
            maximize=maximize,
            nonfinite=nonfinite,
            fused=bool(fused),
        )


class RMSprop(Optimizer):
    """torch.optim.RMSprop: σ = sqrt(v) + ε with v ← α·v + (1−α)·g² from v = 0.

    Without momentum m = g. With momentum μ the buffer accumulates the scaled gradient,
    b ← μ·b + g/σ and θ ← θ − η·b (σ first, then m). ``centered`` subtracts the squared mean
    gradient inside the root.
    """

    torch_format = interop.RMSPROP  # how torch.optim.RMSprop saves its state

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        *,
        fused: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        _refuse_torch_only(capturable, differentiable)
        super().__init__(
            params,
            lr,
            HeavyBall(momentum),
            SquareAverage(alpha, eps, centered),
            weight_decay=weight_decay,
            maximize=maximize,
            scale_first=True,
            nonfinite=nonfinite,
            fused=bool(fused),
        )


class Adam(Optimizer):
    """torch.optim.Adam (Kingma & Ba 2015): Momentum + RMSProp with bias correction.

    m̂ = m/(1−β1^t) with m ← β1·m + (1−β1)·g; σ = sqrt(v/(1−β2^t)) + ε with
    v ← β2·v + (1−β2)·g² (its running maximum with ``amsgrad``); θ ← θ − η·m̂/σ.
    ``decoupled_weight_decay=True`` is AdamW.
    """

    torch_format = interop.ADAM  # how torch.optim.Adam saves its state

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool = False,
        decoupled_weight_decay: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        _refuse_torch_only(capturable, differentiable)
        beta1, beta2 = _pair(betas)
        super().__init__(
            params,
            lr,
            ExponentialAverage(beta1),
            SecondMoment(beta2, eps, amsgrad),
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            nonfinite=nonfinite,
            fused=bool(fused),
        )


class AdamW(Adam):
    """torch.optim.AdamW (Loshchilov & Hutter 2019): Adam with θ ← θ·(1 − η·λ) instead of
    adding λ·θ to the gradient; weight_decay defaults to 1e-2."""

    torch_format = interop.ADAMW  # how torch.optim.AdamW saves its state

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            decoupled_weight_decay=True,
            nonfinite=nonfinite,
            fused=bool(fused),
        )


class RAdam(Optimizer):
    """torch.optim.RAdam (Liu et al. 2020): Adam's m̂ with the rectified σ (σ = 1 while the
    variance estimate is untrustworthy, ρ_t <= 5) — warm-up built into σ."""

    torch_format = interop.RADAM  # how torch.optim.RAdam saves its state

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        _refuse_torch_only(capturable, differentiable)
        beta1, beta2 = _pair(betas)
        super().__init__(
            params,
            lr,
            ExponentialAverage(beta1),
            Rectified(beta2, eps),
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            nonfinite=nonfinite,
            fused=bool(fused),
        )


class NAdam(Optimizer):
    """torch.optim.NAdam (Dozat 2016): Adam's σ with a Nesterov-style m whose momentum μ_t
    warms up by ``momentum_decay``."""

    torch_format = interop.NADAM  # how torch.optim.NAdam saves its state

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool = False,
        nonfinite: str = "raise",
    ) -> None:
        _refuse_torch_only(capturable, differentiable)
        beta1, beta2 = _pair(betas)
        super().__init__(
            params,
            lr,
            NesterovAverage(beta1, momentum_decay),
            SecondMoment(beta2, eps, root_last=True),
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            nonfinite=nonfinite,
            fused=bool(fused),
        )
