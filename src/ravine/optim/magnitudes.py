"""σ_i^t — the magnitude of the step: past gradients' sizes, their signs dropped.

Each class computes one σ of the rule θ_i^{t+1} ← θ_i^t − (η^t/σ_i^t)·m_i^t; returning None
means σ = 1 and the optimizer skips the division. Hyperparameters are read from the parameter
group; the constructor's values are the defaults. ``step`` is t counted from 1 (the number of
updates this parameter has had, this one included). State keys are torch.optim's.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..validation import check_flag, check_nonnegative, check_range
from .base import (
    Magnitude,
    beta,
    check_beta,
    power,
    traced,
)
from .tensor_list import TensorList, zeros_like


def _zeros(param: torch.Tensor | TensorList) -> torch.Tensor | TensorList:
    return zeros_like(param)


def average_of_squares(average: torch.Tensor, grad: torch.Tensor, decay: float) -> torch.Tensor:
    """In place: average ← decay·average + (1 − decay)·g², the moving average of g² that
    RMSProp (decay α) and Adam (decay β2) keep. Returns ``average``."""
    return average.mul_(decay).addcmul_(grad, grad, value=1 - decay)


def running_maximum(maximum: Any, value: Any) -> Any:
    """In place: maximum ← max(maximum, value), element by element (AMSGrad's max of v).
    Returns ``maximum``."""
    if isinstance(maximum, torch.Tensor):
        return torch.maximum(maximum, value, out=maximum)
    return maximum.maximum_(value)  # a TensorList or a Pair


def _lecture_sigma(square: torch.Tensor, eps: float) -> torch.Tensor:
    """σ = sqrt(mean of squares) (+ ε). In the lecture's rules σ = 0 only where every gradient so
    far was 0 (or so tiny that g² underflows), so m = 0 there too; σ is then taken as 1 so the
    step is 0 (or tiny), not 0/0."""
    sigma = square.sqrt()
    if eps > 0:
        sigma.add_(eps)  # (an ε below the dtype's smallest number rounds away: keep the guard)
    return sigma.masked_fill_(sigma == 0, 1.0)


class Unit(Magnitude):
    """σ = 1: no per-parameter scaling (vanilla GD, momentum)."""

    runs_on_floats = True

    def __call__(self, grad, state, group, step):
        return None

    def formula(self) -> str:
        return "σ = 1"


class RootMeanSquare(Magnitude):
    """The lecture's Adagrad: σ_i^t = sqrt( 1/(t+1) · Σ_{s=0..t} (g_i^s)² ) (+ ε).

    With a fixed η the first step is θ¹ = θ⁰ − η·g⁰/|g⁰| = θ⁰ ∓ η. ``eps`` (>= 0, default 0 —
    the lecture has none) is added to σ. State: ``sum`` (Σ g²).
    """

    runs_on_floats = True

    def __init__(self, eps: float = 0.0) -> None:
        super().__init__(eps=eps)

    def check(self, group):
        check_nonnegative("eps", group["eps"])

    def init_state(self, param, state, group):
        state["sum"] = _zeros(param)

    def __call__(self, grad, state, group, step):
        total = state["sum"].addcmul_(grad, grad)  # Σ_s (g^s)²
        return _lecture_sigma(total.mul(1.0 / step), group["eps"])  # mean over `step` gradients

    def formula(self) -> str:
        return "σ = sqrt(Σ g² / (t+1))"


class LectureRMSProp(Magnitude):
    """The lecture's RMSProp: σ^0 = |g^0|, σ^t = sqrt(α·(σ^{t−1})² + (1−α)·(g^t)²) (+ ε).

    α is ``alpha`` in (0, 1): small α lets σ follow the newest gradient quickly (brakes fast when
    the slope steepens). Unlike torch.optim.RMSprop, σ starts at |g^0| rather than from 0.
    ``eps`` (>= 0, default 0) is added to σ. State: ``square_avg`` ((σ^t)²).
    """

    runs_on_floats = True

    def __init__(self, alpha: float = 0.9, eps: float = 0.0) -> None:
        super().__init__(alpha=alpha, eps=eps)

    def check(self, group):
        check_range("alpha", group["alpha"], 0, 1, closed="()")
        check_nonnegative("eps", group["eps"])

    def init_state(self, param, state, group):
        state["square_avg"] = _zeros(param)

    def __call__(self, grad, state, group, step):
        square = state["square_avg"]
        if traced(step):  # in the compiled kernel: the same choice, without a branch
            alpha = torch.where(step == 1, 0.0, group["alpha"])
            square.copy_(alpha * square + (1 - alpha) * grad * grad)
        elif step == 1:
            square.copy_(grad * grad)  # (σ^0)² = (g^0)²
        else:
            average_of_squares(square, grad, group["alpha"])  # α·σ² + (1−α)·g²
        return _lecture_sigma(square, group["eps"])

    def formula(self) -> str:
        return f"σ = sqrt(α·σ² + (1−α)·g²), σ⁰ = |g⁰| (α={self.hyperparameters['alpha']})"


class SumOfSquares(Magnitude):
    """torch.optim.Adagrad: σ = sqrt(s) + ε with s ← s + g², s⁰ = ``initial_accumulator_value``.

    torch also divides η by 1 + (t − 1)·``lr_decay`` on each parameter's own step count; ravine
    folds that factor into σ (σ·(1 + (t−1)·lr_decay)), which gives the same step. s⁰ is the
    group's own ``initial_accumulator_value``; torch.optim.Adagrad reads only the constructor's
    and ignores a group's (the one place where a per-group value makes the two differ).
    State: ``sum``.
    """

    runs_on_floats = True

    def __init__(
        self, eps: float = 1e-10, initial_accumulator_value: float = 0.0, lr_decay: float = 0.0
    ) -> None:
        super().__init__(
            eps=eps, initial_accumulator_value=initial_accumulator_value, lr_decay=lr_decay
        )

    def check(self, group):
        for key in ("eps", "initial_accumulator_value", "lr_decay"):
            check_nonnegative(key, group[key])

    def init_state(self, param, state, group):
        state["sum"] = torch.full_like(
            param, group["initial_accumulator_value"], memory_format=torch.preserve_format
        )

    def __call__(self, grad, state, group, step):
        total = state["sum"].addcmul_(grad, grad)  # s ← s + g²
        sigma = total.sqrt().add_(group["eps"])
        if group["lr_decay"]:
            sigma.mul_(1 + (step - 1) * group["lr_decay"])  # η / (1 + (t−1)·lr_decay)
        return sigma

    def formula(self) -> str:
        return "σ = sqrt(Σ g²) + ε"


class SquareAverage(Magnitude):
    """torch.optim.RMSprop: v ← α·v + (1−α)·g², v⁰ = 0, σ = sqrt(v) + ε.

    With ``centered``, also ḡ ← α·ḡ + (1−α)·g and σ = sqrt(v − ḡ²) + ε. α is ``alpha`` in
    [0, 1) (torch accepts α = 0: σ = |g| + ε). State: ``square_avg`` and, centered, ``grad_avg``.
    """

    runs_on_floats = True

    def __init__(self, alpha: float = 0.99, eps: float = 1e-8, centered: bool = False) -> None:
        super().__init__(alpha=alpha, eps=eps, centered=centered)

    def check(self, group):
        check_range("alpha", group["alpha"], 0, 1, closed="[)")
        check_nonnegative("eps", group["eps"])
        check_flag("centered", group["centered"])

    def init_state(self, param, state, group):
        state["square_avg"] = _zeros(param)
        if group["centered"]:
            state["grad_avg"] = _zeros(param)

    def __call__(self, grad, state, group, step):
        alpha = group["alpha"]
        square = average_of_squares(state["square_avg"], grad, alpha)  # v
        if group["centered"]:
            if "grad_avg" not in state:  # centered switched on after the first step
                state["grad_avg"] = _zeros(grad)
            mean = state["grad_avg"].lerp_(grad, 1 - alpha)  # ḡ
            sigma = square.addcmul(mean, mean, value=-1).sqrt_()  # sqrt(v − ḡ²)
        else:
            sigma = square.sqrt()
        return sigma.add_(group["eps"])

    def formula(self) -> str:
        centered = " − ḡ²" if self.hyperparameters["centered"] else ""
        return f"σ = sqrt(v{centered}) + ε, v = α·v + (1−α)·g² (α={self.hyperparameters['alpha']})"


class SecondMoment(Magnitude):
    """Adam's second moment: v ← β2·v + (1−β2)·g², v̂ = v/(1 − β2^t), σ = sqrt(v̂) + ε.

    With ``amsgrad``, v is replaced by its running maximum. β2 is ``betas[1]``.
    ``root_last`` takes the root after dividing by 1 − β2^t, the order torch's NAdam uses
    (Adam's divides the root), so each preset rounds exactly as its torch class does.
    State: ``exp_avg_sq`` and, with amsgrad, ``max_exp_avg_sq``.
    """

    runs_on_floats = True

    def __init__(
        self,
        beta2: float = 0.999,
        eps: float = 1e-8,
        amsgrad: bool = False,
        *,
        root_last: bool = False,
    ) -> None:
        super().__init__(betas=(None, beta2), eps=eps, amsgrad=amsgrad)
        self.root_last = root_last

    def check(self, group):
        check_beta(group, 1)
        check_nonnegative("eps", group["eps"])
        check_flag("amsgrad", group["amsgrad"])

    def init_state(self, param, state, group):
        state["exp_avg_sq"] = _zeros(param)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros(param)

    def __call__(self, grad, state, group, step):
        beta2 = beta(group, 1)
        v = average_of_squares(state["exp_avg_sq"], grad, beta2)
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:  # amsgrad switched on after the first step
                state["max_exp_avg_sq"] = _zeros(grad)
            v = running_maximum(state["max_exp_avg_sq"], v)
        bias = 1 - power(beta2, step)
        # each root computed in place on its own new tensor: one temporary, not two
        root = v.div(bias).sqrt_() if self.root_last else v.sqrt().div_(bias**0.5)
        return root.add_(group["eps"])  # sqrt(v̂) + ε

    def formula(self) -> str:
        h = self.hyperparameters
        v = "max(v)" if h["amsgrad"] else "v"
        return f"σ = sqrt({v}/(1−β2^t)) + ε, v = β2·v + (1−β2)·g² (β2={h['betas'][1]})"


class Rectified(Magnitude):
    """RAdam's rectified second moment (Liu et al. 2020, as torch.optim.RAdam computes it).

    ρ∞ = 2/(1−β2) − 1 and ρ_t = ρ∞ − 2t·β2^t/(1−β2^t). While ρ_t <= 5 the variance of v̂ is
    too large to trust and σ = 1 (an SGD-with-momentum step); after that

        σ = (sqrt(v) + ε) / (sqrt(1−β2^t) · r_t),  r_t = sqrt((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t))

    β2 is ``betas[1]``. State: ``exp_avg_sq``.
    """

    runs_on_floats = True

    def __init__(self, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(betas=(None, beta2), eps=eps)

    def check(self, group):
        check_beta(group, 1)
        check_nonnegative("eps", group["eps"])

    def init_state(self, param, state, group):
        state["exp_avg_sq"] = _zeros(param)

    def __call__(self, grad, state, group, step):
        beta2 = beta(group, 1)
        v = average_of_squares(state["exp_avg_sq"], grad, beta2)
        rho_t, rho_inf = rectification_lengths(beta2, step)
        if traced(step):  # in the compiled kernel: σ = 1 where ρ_t <= 5, without a branch
            r2 = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            scale = ((1 - power(beta2, step)) * r2.clamp(min=0)) ** 0.5
            return torch.where(rho_t > 5.0, (v.sqrt() + group["eps"]) / scale, 1.0)
        if rho_t <= 5.0:
            return None  # σ = 1
        r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return v.sqrt().add_(group["eps"]).div_(math.sqrt(1 - beta2**step) * r)

    def formula(self) -> str:
        b2 = self.hyperparameters["betas"][1]
        return f"σ = (sqrt(v)+ε)/(sqrt(1−β2^t)·r_t) once ρ_t > 5, else 1 (β2={b2})"


def rectification_lengths(beta2: float, step: float) -> tuple[float, float]:
    """(ρ_t, ρ∞): RAdam's length of the approximated simple moving average at step t, and its
    limit. ρ∞ = 2/(1−β2) − 1, ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t)."""
    rho_inf = 2 / (1 - beta2) - 1
    decayed = power(beta2, step)
    return rho_inf - 2 * step * decayed / (1 - decayed), rho_inf
