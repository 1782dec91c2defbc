"""The effective learning rates η^t/σ_i^t of a ravine optimizer's step, as the Monitor records
them.

For a ravine :class:`~ravine.optim.Optimizer` the Monitor records the distribution of η^t/σ_i^t
over every parameter entry i: ``effective_lr_min``, ``_q05``, ``_q25``, ``_median``, ``_q75``,
``_q95``, ``_max``, on every ``effective_lr_every``-th step (default :data:`EFFECTIVE_LR_EVERY`
= 40; nan on the others). Min and max are exact; the quantiles come from a fixed uniform sample
of :data:`EFFECTIVE_LR_SAMPLE` entries (exact when the model has fewer). Not recorded for
torch.optim optimizers, nor for ``scale_first`` rules (torch's RMSprop with momentum), where σ
divides g before the momentum.

On a sampled step the Monitor hands the optimizer a :class:`SigmaSample` as its
``sigma_record``; the optimizer stores (η^t, σ^t) of each parameter's step there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

EFFECTIVE_LR_EVERY = 40  # η^t/σ_i^t is sampled on every EFFECTIVE_LR_EVERY-th step
EFFECTIVE_LR_SAMPLE = 16_384  # entries of η/σ the quantiles are computed from
EFFECTIVE_LR_QUANTILES = (
    ("q05", 0.05),
    ("q25", 0.25),
    ("median", 0.5),
    ("q75", 0.75),
    ("q95", 0.95),
)
EFFECTIVE_LR_KEYS = tuple(
    ["effective_lr_min"]
    + [f"effective_lr_{q}" for q, _ in EFFECTIVE_LR_QUANTILES]
    + ["effective_lr_max"]
)


class SigmaSample(dict):
    """The ``sigma_record`` a Monitor gives a ravine Optimizer on a sampled step. The optimizer
    stores (η^t, σ^t) per parameter; this dict keeps only what the summary needs — η^t,
    (min σ, max σ) and σ at the sampled entries — so each σ^t is freed as soon as its
    parameter's update is done, as it is without a monitor."""

    def __init__(self, offsets: dict[torch.Tensor, torch.Tensor | None]) -> None:
        super().__init__()
        self._offsets = offsets  # parameter → its sampled entries (None: all of them)

    def __setitem__(self, param: torch.Tensor, value: tuple) -> None:
        if param not in self._offsets:
            return  # a parameter the monitor does not watch
        lr, sigma = value
        if sigma is None:  # σ = 1
            sigma = torch.ones((), dtype=param.dtype, device=param.device)
        flat = torch.broadcast_to(sigma, param.shape).reshape(-1)
        offsets = self._offsets[param]
        picked = flat.clone() if offsets is None else flat[offsets]
        super().__setitem__(param, (float(lr), torch.stack(torch.aminmax(flat)), picked))


class EffectiveLearningRates:
    """Reads η^t/σ_i^t of the watched ``parameters`` at entries fixed once (seed 0)."""

    def __init__(self, parameters: Sequence[torch.Tensor]) -> None:
        self.parameters = list(parameters)
        self._offsets = dict(zip(self.parameters, _sample_offsets(self.parameters), strict=True))

    def sample(self) -> SigmaSample:
        """An empty ``sigma_record`` for the optimizer to fill during one step."""
        return SigmaSample(self._offsets)

    def summary(self, record: SigmaSample | None) -> list[float]:
        """[min, q05, q25, median, q75, q95, max] of η^t/σ_i^t over every parameter entry i:
        min and max exact, the quantiles from the fixed sample of entries; nan for a step that
        was skipped or left a parameter without a gradient."""
        if record is None or any(p not in record for p in self.parameters):
            return [math.nan] * len(EFFECTIVE_LR_KEYS)
        rates, extremes, picked = zip(*(record[p] for p in self.parameters), strict=True)
        sigma = torch.cat(picked).double().cpu().numpy()
        lows, highs = torch.stack(extremes).double().cpu().numpy().T  # min σ, max σ
        rates = np.asarray(rates, dtype=np.float64)
        with np.errstate(divide="ignore"):  # σ = 0: an infinite effective learning rate
            sample = np.repeat(rates, [len(x) for x in picked]) / sigma  # η^t/σ_i^t
            smallest, largest = float(np.min(rates / highs)), float(np.max(rates / lows))
        return [smallest, *_quantiles(sample), largest]


def _sample_offsets(parameters: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
    """Fixed entries of each parameter the effective-lr quantiles are read from: all of them
    when the model has at most EFFECTIVE_LR_SAMPLE, else that many drawn uniformly (seed 0)."""
    sizes = [p.numel() for p in parameters]
    total = sum(sizes)
    if total <= EFFECTIVE_LR_SAMPLE:
        return [None] * len(sizes)
    generator = torch.Generator().manual_seed(0)
    picks = torch.randint(total, (EFFECTIVE_LR_SAMPLE,), generator=generator).sort().values
    ends = torch.tensor(sizes).cumsum(0)
    owner = torch.bucketize(picks, ends, right=True)
    starts = ends - torch.tensor(sizes)
    return [(picks[owner == i] - starts[i]).to(p.device) for i, p in enumerate(parameters)]


def _quantiles(values: np.ndarray) -> list[float]:
    """The EFFECTIVE_LR_QUANTILES of ``values``, interpolated linearly between order statistics
    (numpy's default method; one sort is faster than numpy's partition for several levels)."""
    ordered = np.sort(values)
    levels = np.array([q for _, q in EFFECTIVE_LR_QUANTILES]) * (len(ordered) - 1)
    return np.interp(levels, np.arange(len(ordered)), ordered).tolist()
