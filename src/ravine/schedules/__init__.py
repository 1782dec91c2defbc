"""η^t — learning-rate schedules as plain, picklable callables: step t (from 0) → η^t/η.

Build one in Python (``linear_warmup(500) >> cosine(9500)``, ``0.5 * exponential(0.99)``) or
from a spec (``from_spec("linear-warmup:steps=500 >> cosine:steps=9500")``); drive any
optimizer with :class:`Scheduler`, or give a ravine optimizer ``lr=base * schedule``.
"""

import torch

from .core import Join, Product, Scale, Schedule
from .library import (
    Constant,
    Cosine,
    CosineRestarts,
    Exponential,
    InverseSqrt,
    InverseTime,
    LinearWarmup,
    MultiStep,
    OneCycle,
    Polynomial,
    StepDecay,
    Transformer,
    WarmupCosine,
)
from .metric import Plateau, ResNetWarmup
from .scheduler import Scheduler
from .spec import SCHEDULES, from_spec

# Lower-case names that read like the spec names.
constant = Constant
step = StepDecay
multistep = MultiStep
exponential = Exponential
inverse_time = InverseTime
inverse_sqrt = InverseSqrt
polynomial = Polynomial
cosine = Cosine
cosine_restarts = CosineRestarts
linear_warmup = LinearWarmup
transformer = Transformer
warmup_cosine = WarmupCosine
one_cycle = OneCycle
resnet_warmup = ResNetWarmup
plateau = Plateau


def _schedule_classes(base: type = Schedule) -> list[type]:
    found = []
    for sub in base.__subclasses__():
        found += [sub, *_schedule_classes(sub)]
    return found


# A schedule is plain data (frozen dataclasses of numbers and other schedules), so
# torch.load(weights_only=True) — what Lightning and Hugging Face resume with — may rebuild
# one where torch's own LambdaLR saved it in its state_dict.
torch.serialization.add_safe_globals(_schedule_classes())

__all__ = [
    "SCHEDULES",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Exponential",
    "InverseSqrt",
    "InverseTime",
    "Join",
    "LinearWarmup",
    "MultiStep",
    "OneCycle",
    "Plateau",
    "Polynomial",
    "Product",
    "ResNetWarmup",
    "Scale",
    "Schedule",
    "Scheduler",
    "StepDecay",
    "Transformer",
    "WarmupCosine",
    "constant",
    "cosine",
    "cosine_restarts",
    "exponential",
    "from_spec",
    "inverse_sqrt",
    "inverse_time",
    "linear_warmup",
    "multistep",
    "one_cycle",
    "plateau",
    "polynomial",
    "resnet_warmup",
    "step",
    "transformer",
    "warmup_cosine",
]
