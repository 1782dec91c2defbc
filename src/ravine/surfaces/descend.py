"""Descent on a surface: any ravine optimizer, any schedule, many runs at once.

The runs (one per learning rate, or per start) are the rows of one tensor θ of shape (R, 2),
so a step updates every run with the same few tensor operations — the optimizer's own
parts (:func:`ravine.optim.update.apply_rule`), with one η per row. A single run in float64 on
a surface with a point gradient runs the same parts on two Python floats instead
(:class:`ravine.optim.pair.Pair`): a torch operation on two numbers costs microseconds of
dispatch, and a 10,000-step run is what the explorer redraws on every change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..optim import catalog
from ..optim.base import Direction, Magnitude
from ..optim.optimizer import Optimizer
from ..optim.pair import Pair
from ..optim.update import apply_rule
from .library import Surface


class Stopped(Exception):
    """A descent given ``stop`` was asked to stop before its last step (nothing is returned)."""


# How often (in steps) a descent asks its ``stop``: rarely enough to cost nothing.
STOP_EVERY = 256


@dataclass
class Trajectory:
    """Everything a descent recorded. R runs, N steps.

    ``theta`` (N+1, R, 2): θ before each step and after the last; ``sigma`` (N, R, 2): σ^t of
    each step (None for an optimizer whose σ = 1); ``rates`` (N, R): η^t of each step.
    ``optimizer`` is the catalog name, or for a composed rule its m and σ in words.
    """

    surface: Surface
    optimizer: str
    lr: torch.Tensor
    theta: torch.Tensor
    sigma: torch.Tensor | None
    rates: torch.Tensor

    @property
    def steps(self) -> int:
        return self.theta.shape[0] - 1

    @property
    def final(self) -> torch.Tensor:
        """θ after the last step, (R, 2)."""
        return self.theta[-1]

    @property
    def loss(self) -> torch.Tensor:
        """L(θ^t) for t = 0 … N, (N+1, R)."""
        return self.surface.loss(self.theta)

    @property
    def gradient_norm(self) -> torch.Tensor:
        """‖∇L(θ^t)‖ for t = 0 … N, (N+1, R)."""
        return torch.linalg.vector_norm(self.surface.gradient(self.theta), dim=-1)

    @property
    def effective_lr(self) -> torch.Tensor:
        """η^t/σ_i^t of each step and parameter, (N, R, 2)."""
        rates = self.rates.unsqueeze(-1)
        return rates.expand(*self.rates.shape, 2) if self.sigma is None else rates / self.sigma

    @property
    def distance(self) -> torch.Tensor:
        """Distance from the final θ to the surface's nearest minimum, (R,)."""
        return self.surface.distance(self.final)


# A rule composed from its parts: (m, σ); None stands for m = g, or σ = 1.
Composition = tuple[Direction | None, Magnitude | None]


def descend(
    surface: Surface,
    optimizer: str | Composition = "gd",
    *,
    lr: float | Sequence[float] = 1e-2,
    options: dict[str, Any] | None = None,
    schedule: Callable[[int], float] | None = None,
    steps: int = 1000,
    start: Sequence[float] | torch.Tensor | None = None,
    dtype: torch.dtype = torch.float64,
    stop: Callable[[], bool] | None = None,
) -> Trajectory:
    """Run ``optimizer`` on ``surface``: θ_i^{t+1} ← θ_i^t − (η^t/σ_i^t)·m_i^t.

    ``optimizer`` is a catalog name (e.g. ``"lecture-adagrad"``) or any composition
    ``(direction, magnitude)`` of the parts in :mod:`ravine.optim.directions` and
    :mod:`ravine.optim.magnitudes` (None: m = g, or σ = 1), whose hyperparameters are the
    parts' own; a composition equal to a named optimizer's parts gives its numbers exactly.

    Args:
        lr: η, one number or one per run.
        options: the optimizer's other hyperparameters (as ``ravine.optim.create`` takes them).
        schedule: η^t/η as a function of the step (a ravine schedule or any callable).
        steps: N, the number of updates.
        start: θ⁰, one point (b, w) or one per run, shape (R, 2); default: the surface's start.
        stop: asked every :data:`STOP_EVERY` steps; when it returns True the descent raises
            :class:`Stopped` (a server stopping, a result no longer wanted). It changes no number.

    Returns the :class:`Trajectory` of all R runs, R = the number of learning rates or starts.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if callable(lr):  # an optimizer takes lr=η·schedule; here η and η^t/η come apart
        raise ValueError(
            f"lr must be a number or one per run, got a schedule ({type(lr).__name__}); give "
            "η as lr and the schedule as schedule=, e.g. lr=1.0, schedule=inverse_sqrt()"
        )
    rates = torch.as_tensor(lr, dtype=dtype).reshape(-1)
    first = torch.as_tensor(surface.start if start is None else start, dtype=dtype)
    first = first.reshape(-1, 2)
    runs = max(len(rates), len(first))
    for what, size in (("learning rates", len(rates)), ("starts", len(first))):
        if size not in (1, runs):
            raise ValueError(
                f"got {len(rates)} learning rates and {len(first)} starts; "
                f"give one of either or the same number of both ({what}: {size})"
            )
    theta = first.expand(runs, 2).clone()
    # Building the optimizer checks every hyperparameter and gives the parts and the group.
    rule = _build(optimizer, theta, float(rates[0]), options)
    group = dict(rule.param_groups[0])
    state: dict[str, Any] = {}
    rule.direction.init_state(theta, state, group)
    rule.magnitude.init_state(theta, state, group)

    per_run = rates.unsqueeze(-1).expand(runs, 1).clone() if len(rates) > 1 else None
    multipliers = [1.0] * steps if schedule is None else [float(schedule(t)) for t in range(steps)]
    if _on_floats(surface, rule, runs, dtype):
        history, sigmas = _run_on_floats(surface, theta, state, group, rule, multipliers, stop)
    else:
        history = torch.empty(steps + 1, runs, 2, dtype=dtype)
        history[0] = theta
        with torch.no_grad():  # (nothing here needs autograd; it also halves each op's overhead)
            sigmas = _run(
                surface, theta, state, group, rule, rates, per_run, multipliers, history, stop
            )
    used = torch.tensor(multipliers, dtype=dtype).unsqueeze(-1) * rates.unsqueeze(0)
    name = optimizer if isinstance(optimizer, str) else describe(optimizer)
    return Trajectory(surface, name, rates, history, sigmas, used.expand(steps, runs))


def describe(composition: Composition) -> str:
    """A composed rule in words: its m and σ formulas, e.g. ``"m = g; σ = sqrt(Σ g² / (t+1))"``."""
    rule = Optimizer([torch.zeros(1)], 1.0, *composition)
    return f"{rule.direction.formula()}; {rule.magnitude.formula()}"


def _build(optimizer: str | Composition, theta: torch.Tensor, lr: float, options) -> Optimizer:
    """The optimizer over ``theta`` (building it checks every hyperparameter)."""
    if isinstance(optimizer, str):
        return catalog.create(optimizer, [theta], lr=lr, **(options or {}))
    if not (isinstance(optimizer, tuple) and len(optimizer) == 2):
        raise ValueError(
            f"optimizer must be a catalog name or a pair (direction, magnitude), got {optimizer!r}"
        )
    if options:
        raise ValueError("a composed rule takes its hyperparameters in its parts, not options")
    return Optimizer([theta], lr, *optimizer)


def _run(surface, theta, state, group, rule, rates, per_run, multipliers, history, stop=None):
    """The loop: N updates of θ in place, θ and σ written to the history."""
    parts = rule.direction, rule.magnitude, rule.scale_first
    steps, runs = len(multipliers), theta.shape[0]
    sigmas = sigma_rows = None
    rows = history.unbind(0)  # views: copying into one is cheaper than indexing each step
    base = float(rates[0])
    constant = all(m == 1.0 for m in multipliers)
    for t in range(steps):
        if stop is not None and t % STOP_EVERY == 0 and stop():
            raise Stopped(f"the descent was stopped at step {t} of {steps}")
        # η^t: a number for one rate, a column (R, 1) for many
        if per_run is None:
            eta = base * multipliers[t]
        else:
            eta = per_run if constant else per_run * multipliers[t]
        group["lr"] = eta
        sigma = apply_rule(theta, surface.gradient(theta), state, group, eta, t + 1, *parts)
        rows[t + 1].copy_(theta)
        if sigma is not None:
            if sigmas is None:
                sigmas = torch.full((steps, runs, 2), float("nan"), dtype=theta.dtype)
                sigma_rows = sigmas.unbind(0)
            sigma_rows[t].copy_(sigma)
    return sigmas


def _on_floats(surface: Surface, rule: Optimizer, runs: int, dtype: torch.dtype) -> bool:
    """True when the descent can run on two Python floats: one run, float64 (a Python float's
    precision), a surface with a point gradient and parts that run on a Pair."""
    return (
        runs == 1
        and dtype == torch.float64
        and surface.point_gradient is not None
        and rule.direction.runs_on_floats
        and rule.magnitude.runs_on_floats
    )


def _as_float(value: Any) -> Any:
    """A part's state entry for the float loop: a tensor shaped like θ becomes a Pair, a 0-d
    tensor (NAdam's Π μ) a NumPy scalar of its dtype, which rounds as the tensor does."""
    if not isinstance(value, torch.Tensor):
        return value
    return Pair(*value.reshape(2).tolist()) if value.dim() > 0 else value.numpy()[()]


def _run_on_floats(surface, theta, state, group, rule, multipliers, stop=None):
    """The loop of one run on two floats: the same parts and arithmetic as :func:`_run`, equal
    to it to rounding (see :mod:`ravine.optim.pair`). Returns the history (N+1, 1, 2) and σ."""
    parts = rule.direction, rule.magnitude, rule.scale_first
    gradient = surface.point_gradient
    point = Pair(*theta.reshape(2).tolist())
    on_floats = {key: _as_float(value) for key, value in state.items()}
    steps, base, nan = len(multipliers), group["lr"], (math.nan, math.nan)
    path: list[tuple[float, float]] = [(point.x, point.y)]
    sigmas: list[tuple[float, float]] | None = None
    for t in range(steps):
        if stop is not None and t % STOP_EVERY == 0 and stop():
            raise Stopped(f"the descent was stopped at step {t} of {steps}")
        eta = group["lr"] = base * multipliers[t]
        g = Pair(*gradient(point.x, point.y))
        sigma = apply_rule(point, g, on_floats, group, eta, t + 1, *parts)
        path.append((point.x, point.y))
        if sigma is not None:
            if sigmas is None:
                sigmas = [nan] * t
            sigmas.append((sigma.x, sigma.y))
        elif sigmas is not None:
            sigmas.append(nan)
    history = torch.tensor(path, dtype=torch.float64).unsqueeze(1)
    if sigmas is None:
        return history, None
    return history, torch.tensor(sigmas, dtype=torch.float64).unsqueeze(1)
