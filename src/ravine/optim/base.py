"""The parts' base classes: what m and σ have in common, their checks and shared helpers.

The lecture's summary rule, for every parameter i at step t:

    θ_i^{t+1} ← θ_i^t − (η^t / σ_i^t) · m_i^t

A :class:`Direction` computes m (past gradients with their signs), a :class:`Magnitude`
computes σ (past gradients' sizes, signs dropped). Both are small objects with no tensors of
their own: per-parameter tensors live in the optimizer's ``state[p]`` under torch.optim's key
names, and hyperparameters live in the parameter group, so each group can set its own values as
torch.optim allows. The values given to a part's constructor are the defaults of every group.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import torch

from ..validation import is_real, require

# torch.optim keeps β1 and β2 together as ``betas``; the direction reads index 0, the magnitude
# index 1, and a part that needs only one leaves the other slot ``None``.
BETAS = "betas"


class Part(ABC):
    """One part of the rule. Subclasses set ``symbol``, ``formula`` and the checks."""

    symbol = ""
    # State entries that are scalars in torch's scalar dtype (like ``step``), not tensors
    # shaped like the parameter; loading a state_dict must not cast them to θ's dtype.
    scalar_state: tuple[str, ...] = ()
    # True for a part whose arithmetic uses only the tensor methods a
    # :class:`~ravine.optim.pair.Pair` offers, so a single descent on a surface can run it on
    # two Python floats (:func:`ravine.surfaces.descend`); a part of one's own runs on tensors.
    runs_on_floats = False

    def __init__(self, **hyperparameters: Any) -> None:
        self.hyperparameters = hyperparameters

    def defaults(self) -> dict[str, Any]:
        """Group keys this part reads, with the values given to its constructor."""
        return dict(self.hyperparameters)

    def check(self, group: dict[str, Any]) -> None:
        """Raise ValueError naming the hyperparameter and its value when out of its domain."""
        return None  # a part without hyperparameters has nothing to check

    def init_state(self, param: torch.Tensor, state: dict[str, Any], group: dict) -> None:
        """Create this part's per-parameter tensors in ``state`` (called once per parameter)."""
        return None  # a stateless part keeps nothing

    @abstractmethod
    def formula(self) -> str:
        """The part's equation in the lecture's notation, with its default hyperparameters."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({args})"


class Term(NamedTuple):
    """One term of m: (numerator / denominator) · tensor.

    A direction returns terms when m is a tensor times scalars (Adam's m̂ = m/(1 − β1^t)) or a
    sum of such (NAdam). The optimizer folds the scalars into η, (−η·numerator)/denominator, as
    torch.optim does, so they cost no pass over memory and round exactly as torch's do.
    """

    tensor: torch.Tensor
    numerator: float = 1.0
    denominator: float = 1.0


def as_terms(m: torch.Tensor | tuple[Term, ...]) -> tuple[Term, ...]:
    """A direction's result as terms (a plain tensor is one term with factor 1)."""
    return m if isinstance(m, tuple) else (Term(m),)


class Direction(Part):
    """m_i^t: the direction of the step, built from past gradients with their signs.

    ``carries_lr`` is True for a direction whose m already holds −η (the lecture's movement);
    the optimizer then applies θ ← θ + m/σ instead of θ ← θ − η·m/σ.
    """

    symbol = "m"
    carries_lr = False

    def passes_gradient(self, group: dict) -> bool:
        """True when, for this group, m is the gradient itself (the direction keeps no memory)."""
        return False

    @abstractmethod
    def __call__(
        self, grad: torch.Tensor, state: dict[str, Any], group: dict, step: float
    ) -> torch.Tensor | tuple[Term, ...]:
        """Return m for this step (``step`` counts this parameter's updates from 1): a tensor,
        or :class:`Term` s whose sum is m when scalar factors can stay out of the tensors."""


class Magnitude(Part):
    """σ_i^t: the per-parameter scale of the step, from past gradients' sizes."""

    symbol = "σ"

    @abstractmethod
    def __call__(
        self, grad: torch.Tensor, state: dict[str, Any], group: dict, step: float
    ) -> torch.Tensor | None:
        """Return σ for this step, or None when σ = 1 (no division is done)."""


# --- hyperparameters read from a group --------------------------------------------------
# The domain checks themselves are ravine.validation's; a part calls them on ``group[key]``.


def beta(group: dict, index: int) -> float:
    """β1 (index 0) or β2 (index 1) of a group, from torch's ``betas`` pair."""
    return group[BETAS][index]


def check_beta(group: dict, index: int) -> None:
    betas = group[BETAS]
    require(
        isinstance(betas, (tuple, list)) and len(betas) == 2,
        BETAS,
        betas,
        "a pair (β1, β2)",
    )
    value = betas[index]
    require(is_real(value) and 0 <= value < 1, f"betas[{index}]", value, "in [0, 1)")


def merge_defaults(*parts: Part) -> dict[str, Any]:
    """Union of the parts' defaults; ``betas`` halves from different parts are joined."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.defaults().items():
            if key not in merged:
                merged[key] = value
            elif key == BETAS:
                merged[key] = tuple(
                    b if a is None else a for a, b in zip(merged[key], value, strict=True)
                )
            elif merged[key] != value:
                raise ValueError(
                    f"parts disagree on the default of {key!r}: {merged[key]!r} vs {value!r}"
                )
    return merged


def scalar_dtype() -> torch.dtype:
    """dtype torch.optim uses for its scalar state (``step``, ``mu_product``)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


# --- step-dependent scalars, eager or traced ------------------------------------------------


def traced(step: Any) -> bool:
    """True when the parts run inside the compiled kernel, where t is a 0-d tensor: they then
    write step-dependent choices as tensor arithmetic instead of Python branches."""
    return isinstance(step, torch.Tensor)


def power(base: Any, exponent: Any) -> Any:
    """``base ** exponent`` for an exponent that depends on the step (β^t). Traced (the exponent
    a 0-d tensor) it is computed as exp(exponent · ln base): the compiled loop recomputes such
    scalars for every vector of numbers it handles (the compiler does not hoist them out of
    the loop), and a power there made Adam's kernel compute-bound, 12% to 80% over the
    memory-bandwidth floor, where an exponential is lost in the memory traffic."""
    if not traced(exponent) or not isinstance(base, (int, float)):
        return base**exponent
    if base == 0:
        return exponent * 0.0  # 0^t = 0 for the t >= 1 a step has
    return torch.exp(exponent * math.log(base))
