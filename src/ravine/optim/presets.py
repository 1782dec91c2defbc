"""torch.optim's optimizers as choices of (m, σ): same signatures, defaults and results.

Each class is one composition of the parts; none repeats the math. ``foreach`` chooses, as in
torch, whether the eager step runs a group as lists of tensors (multi-tensor kernels; by default
on accelerators, not on the CPU); it does not change results. ``fused=True`` takes ravine's fast
path (:mod:`ravine.optim.fused`), on every preset — RMSprop, RAdam and NAdam included, which
torch has no fused kernel for. ``capturable=True`` and ``differentiable=True`` are torch
features ravine does not offer and raise ValueError. ``nonfinite`` is ravine's (see
:class:`~ravine.optim.optimizer.Optimizer`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, ClassVar

from ..validation import require
from . import interop
from .base import Direction, Magnitude
from .directions import ExponentialAverage, HeavyBall, NesterovAverage
from .magnitudes import Rectified, SecondMoment, SquareAverage, SumOfSquares, Unit
from .optimizer import LearningRate, Optimizer

# torch features ravine does not offer, with what is allowed instead
_TORCH_ONLY = {"capturable": "False (CUDA-graph capture is torch's)", "differentiable": "False"}


class Preset(Optimizer):
    """A named optimizer: one choice of (m, σ) under a fixed signature.

    A preset states two things of its own. Its signature is that of its :meth:`parts` (torch's,
    for torch's algorithms: the same arguments, order and defaults), and ``parts`` returns the
    direction m and the magnitude σ its hyperparameters choose (None: m = g, or σ = 1). What
    every preset does with the rest — η, weight decay, ``maximize``, ``nonfinite``, ``fused``,
    torch's kernel flags — is done here, once.
    """

    torch_format: ClassVar[interop.TorchFormat | None] = None  # how torch saves its state
    scale_first: ClassVar[bool] = False  # σ divides g before m accumulates it (torch's RMSprop)
    decoupled: ClassVar[bool] = False  # the default of decoupled_weight_decay where not an argument

    @staticmethod
    def parts(lr: LearningRate) -> tuple[Direction | None, Magnitude | None]:
        """(m, σ) for these hyperparameters; the signature is the preset's, ``params`` aside."""
        return None, None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = inspect.signature(cls.parts)
        params = inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        cls.__signature__ = own.replace(
            parameters=[params, *own.parameters.values()], return_annotation=inspect.Signature.empty
        )

    def __init__(self, params: Iterable[Any], *args: Any, **kwargs: Any) -> None:
        bound = inspect.signature(self.parts).bind(*args, **kwargs)
        bound.apply_defaults()
        settings = bound.arguments
        for flag, allowed in _TORCH_ONLY.items():
            require(not settings.get(flag), flag, settings.get(flag), allowed)
        direction, magnitude = self.parts(**settings)
        fused = settings.get("fused", False)
        super().__init__(
            params,
            settings["lr"],
            direction,
            magnitude,
            weight_decay=settings.get("weight_decay", 0),
            decoupled_weight_decay=settings.get("decoupled_weight_decay", self.decoupled),
            maximize=settings.get("maximize", False),
            scale_first=self.scale_first,
            nonfinite=settings.get("nonfinite", "raise"),
            # torch's signatures take fused=None; the lecture's rules take a bool, checked
            fused=bool(fused) if self.torch_format is not None else fused,
            foreach=settings.get("foreach"),
        )


def _pair(betas: Any) -> tuple[Any, Any]:
    require(isinstance(betas, (tuple, list)) and len(betas) == 2, "betas", betas, "a pair (β1, β2)")
    return tuple(float(b) if hasattr(b, "item") else b for b in betas)


class SGD(Preset):
    """torch.optim.SGD: m = heavy-ball momentum (or g), σ = 1.

    b ← μ·b + (1 − τ)·g (b = g on the first step), m = b, or m = g + μ·b with nesterov;
    θ ← θ − η·m. Weight decay adds λ·θ to g.
    """

    torch_format = interop.SGD  # how torch.optim.SGD saves its state

    @staticmethod
    def parts(
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
    ) -> tuple[Direction | None, Magnitude | None]:
        return HeavyBall(momentum, dampening, nesterov), Unit()


class Adagrad(Preset):
    """torch.optim.Adagrad: m = g, σ = sqrt(Σ g²) + ε, η^t = η / (1 + (t−1)·lr_decay)."""

    torch_format = interop.ADAGRAD  # how torch.optim.Adagrad saves its state

    @staticmethod
    def parts(
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
    ) -> tuple[Direction | None, Magnitude | None]:
        return None, SumOfSquares(eps, initial_accumulator_value, lr_decay)


class RMSprop(Preset):
    """torch.optim.RMSprop: σ = sqrt(v) + ε with v ← α·v + (1−α)·g² from v = 0.

    Without momentum m = g. With momentum μ the buffer accumulates the scaled gradient,
    b ← μ·b + g/σ and θ ← θ − η·b (σ first, then m). ``centered`` subtracts the squared mean
    gradient inside the root.
    """

    torch_format = interop.RMSPROP  # how torch.optim.RMSprop saves its state
    scale_first = True  # torch's RMSprop: b ← μ·b + g/σ

    @staticmethod
    def parts(
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
    ) -> tuple[Direction | None, Magnitude | None]:
        return HeavyBall(momentum), SquareAverage(alpha, eps, centered)


class Adam(Preset):
    """torch.optim.Adam (Kingma & Ba 2015): Momentum + RMSProp with bias correction.

    m̂ = m/(1−β1^t) with m ← β1·m + (1−β1)·g; σ = sqrt(v/(1−β2^t)) + ε with
    v ← β2·v + (1−β2)·g² (its running maximum with ``amsgrad``); θ ← θ − η·m̂/σ.
    ``decoupled_weight_decay=True`` is AdamW.
    """

    torch_format = interop.ADAM  # how torch.optim.Adam saves its state

    @staticmethod
    def parts(
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
    ) -> tuple[Direction | None, Magnitude | None]:
        beta1, beta2 = _pair(betas)
        return ExponentialAverage(beta1), SecondMoment(beta2, eps, amsgrad)


class AdamW(Adam):
    """torch.optim.AdamW (Loshchilov & Hutter 2019): Adam with θ ← θ·(1 − η·λ) instead of
    adding λ·θ to the gradient; weight_decay defaults to 1e-2."""

    torch_format = interop.ADAMW  # how torch.optim.AdamW saves its state
    decoupled = True

    @staticmethod
    def parts(
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
    ) -> tuple[Direction | None, Magnitude | None]:
        beta1, beta2 = _pair(betas)
        return ExponentialAverage(beta1), SecondMoment(beta2, eps, amsgrad)


class RAdam(Preset):
    """torch.optim.RAdam (Liu et al. 2020): Adam's m̂ with the rectified σ (σ = 1 while the
    variance estimate is untrustworthy, ρ_t <= 5) — warm-up built into σ."""

    torch_format = interop.RADAM  # how torch.optim.RAdam saves its state

    @staticmethod
    def parts(
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
    ) -> tuple[Direction | None, Magnitude | None]:
        beta1, beta2 = _pair(betas)
        return ExponentialAverage(beta1), Rectified(beta2, eps)


class NAdam(Preset):
    """torch.optim.NAdam (Dozat 2016): Adam's σ with a Nesterov-style m whose momentum μ_t
    warms up by ``momentum_decay``."""

    torch_format = interop.NADAM  # how torch.optim.NAdam saves its state

    @staticmethod
    def parts(
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
    ) -> tuple[Direction | None, Magnitude | None]:
        beta1, beta2 = _pair(betas)
        return NesterovAverage(beta1, momentum_decay), SecondMoment(beta2, eps, root_last=True)
