"""The rule θ_i^{t+1} ← θ_i^t − (η^t / σ_i^t) · m_i^t as parts that compose.

- directions (m): :class:`Gradient`, :class:`LectureMomentum`, :class:`HeavyBall`,
  :class:`ExponentialAverage`, :class:`NesterovAverage`;
- magnitudes (σ): :class:`Unit`, :class:`RootMeanSquare`, :class:`LectureRMSProp`,
  :class:`SumOfSquares`, :class:`SquareAverage`, :class:`SecondMoment`, :class:`Rectified`;
- η^t: a number or a callable ``step -> learning rate``;
- :func:`clip_gradient_norm_`: torch's clipping, sharing its reading of g with the step's check;
- :class:`Optimizer` applies any pair; the named optimizers are compositions:
  torch.optim's (:class:`SGD`, :class:`Adagrad`, :class:`RMSprop`, :class:`Adam`,
  :class:`AdamW`, :class:`RAdam`, :class:`NAdam`) and the lecture's (:mod:`ravine.optim.lecture`).
"""

from . import lecture
from .base import Direction, Magnitude
from .catalog import CATALOG, create, describe, parse_options
from .clip import clip_gradient_norm_
from .directions import ExponentialAverage, Gradient, HeavyBall, LectureMomentum, NesterovAverage
from .magnitudes import (
    LectureRMSProp,
    Rectified,
    RootMeanSquare,
    SecondMoment,
    SquareAverage,
    SumOfSquares,
    Unit,
)
from .optimizer import NonFiniteGradientError, Optimizer
from .presets import SGD, Adagrad, Adam, AdamW, NAdam, RAdam, RMSprop

__all__ = [
    "CATALOG",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Direction",
    "ExponentialAverage",
    "Gradient",
    "HeavyBall",
    "LectureMomentum",
    "LectureRMSProp",
    "Magnitude",
    "NAdam",
    "NesterovAverage",
    "NonFiniteGradientError",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rectified",
    "RootMeanSquare",
    "SecondMoment",
    "SquareAverage",
    "SumOfSquares",
    "Unit",
    "clip_gradient_norm_",
    "create",
    "describe",
    "lecture",
    "parse_options",
]
