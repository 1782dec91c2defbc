"""The lecture's own optimizers, exactly as its equations write them.

They differ from torch.optim's namesakes on purpose:

- :class:`Adagrad` divides by the root *mean* square, σ^t = sqrt(Σ_{s≤t} (g^s)² / (t+1)), with a
  fixed η and no ε, so its first step moves every parameter by exactly ±η (torch divides by the
  root of the *sum* plus ε: the classic Adagrad, which equals this one with η^t = η/√(t+1)).
- :class:`RMSProp` starts from σ^0 = |g^0| (torch starts its average from 0 and adds ε).
- :class:`Momentum` keeps the movement m^t = λ·m^{t−1} − η·g^{t−1} with η inside it.

The lecture's Adam ("RMSProp + Momentum") is the Adam paper's algorithm, which is
torch.optim.Adam: use :class:`ravine.optim.Adam`.
"""

from __future__ import annotations

from .base import Direction, Magnitude
from .directions import LectureMomentum
from .magnitudes import LectureRMSProp, RootMeanSquare
from .optimizer import LearningRate
from .presets import Preset


class GD(Preset):
    """Vanilla gradient descent: θ^{t+1} ← θ^t − η·g^t."""

    @staticmethod
    def parts(
        lr: LearningRate = 1e-2,
        *,
        weight_decay: float = 0,
        maximize: bool = False,
        nonfinite: str = "raise",
        fused: bool = False,
    ) -> tuple[Direction | None, Magnitude | None]:
        return None, None


class Momentum(Preset):
    """Gradient descent + momentum (lecture 2): m^0 = 0, m^{t+1} = λ·m^t − η·g^t,
    θ^{t+1} = θ^t + m^{t+1}. ``momentum`` is λ in [0, 1)."""

    @staticmethod
    def parts(
        lr: LearningRate = 1e-2,
        momentum: float = 0.9,
        *,
        weight_decay: float = 0,
        maximize: bool = False,
        nonfinite: str = "raise",
        fused: bool = False,
    ) -> tuple[Direction | None, Magnitude | None]:
        return LectureMomentum(momentum), None


class Adagrad(Preset):
    """The lecture's Adagrad: θ_i^{t+1} ← θ_i^t − η/σ_i^t · g_i^t,
    σ_i^t = sqrt( 1/(t+1) · Σ_{s=0..t} (g_i^s)² ). ``eps`` (default 0) is added to σ."""

    @staticmethod
    def parts(
        lr: LearningRate = 1e-2,
        eps: float = 0.0,
        *,
        weight_decay: float = 0,
        maximize: bool = False,
        nonfinite: str = "raise",
        fused: bool = False,
    ) -> tuple[Direction | None, Magnitude | None]:
        return None, RootMeanSquare(eps)


class RMSProp(Preset):
    """The lecture's RMSProp: θ_i^{t+1} ← θ_i^t − η/σ_i^t · g_i^t, σ_i^0 = |g_i^0|,
    σ_i^t = sqrt( α·(σ_i^{t−1})² + (1−α)·(g_i^t)² ), 0 < α < 1. ``eps`` (default 0) is added
    to σ."""

    @staticmethod
    def parts(
        lr: LearningRate = 1e-2,
        alpha: float = 0.9,
        eps: float = 0.0,
        *,
        weight_decay: float = 0,
        maximize: bool = False,
        nonfinite: str = "raise",
        fused: bool = False,
    ) -> tuple[Direction | None, Magnitude | None]:
        return None, LectureRMSProp(alpha, eps)
