"""m_i^t — the direction of the step: past gradients combined with their signs kept.

Each class computes one m of the rule θ_i^{t+1} ← θ_i^t − (η^t/σ_i^t)·m_i^t. Hyperparameters are
read from the parameter group (so groups may differ); the constructor's values are the defaults.
State tensors use torch.optim's key names so that states carry over between the two.
"""

from __future__ import annotations

import torch

from ..validation import check_flag, check_nonnegative, check_range, is_real, require
from .base import (
    Direction,
    Term,
    beta,
    check_beta,
    power,
    scalar_dtype,
    traced,
)


class Gradient(Direction):
    """m^t = g^t: the gradient itself (vanilla gradient descent)."""

    runs_on_floats = True

    def passes_gradient(self, group):
        return True

    def __call__(self, grad, state, group, step):
        return grad

    def formula(self) -> str:
        return "m = g"


class LectureMomentum(Direction):
    """The lecture's movement: m^t = λ·m^{t−1} − η^t·g^{t−1}, m^0 = 0, and θ^t = θ^{t−1} + m^t.

    λ is the group key ``momentum`` (in [0, 1)). The movement carries −η inside it, so a
    learning rate that changes over time changes the memory too; for a constant η this equals
    heavy-ball momentum with zero dampening. State: ``movement`` (same shape as θ).
    """

    runs_on_floats = True

    carries_lr = True

    def __init__(self, momentum: float = 0.9) -> None:
        super().__init__(momentum=momentum)

    def check(self, group):
        check_range("momentum", group["momentum"], 0, 1, closed="[)")

    def init_state(self, param, state, group):
        state["movement"] = torch.zeros_like(param, memory_format=torch.preserve_format)

    def __call__(self, grad, state, group, step):
        movement, lr = state["movement"], group["lr"]
        movement.mul_(group["momentum"])  # m^t = λ·m^{t−1} − η·g^{t−1}
        if isinstance(lr, torch.Tensor):  # one η per run
            return movement.sub_(lr * grad)
        return movement.add_(grad, alpha=-lr)

    def formula(self) -> str:
        return f"m = λ·m − η·g (movement, λ={self.hyperparameters['momentum']})"


class HeavyBall(Direction):
    """torch.optim.SGD's momentum: b ← μ·b + (1 − τ)·g with b = g on the first step; m = b.

    With ``nesterov``, m = g + μ·b. μ is ``momentum`` (>= 0; 0 turns the buffer off and m = g),
    τ is ``dampening`` (in [0, 1]). Nesterov needs μ > 0 and τ = 0. State: ``momentum_buffer``.
    """

    runs_on_floats = True

    def __init__(self, momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False):
        super().__init__(momentum=momentum, dampening=dampening, nesterov=nesterov)

    def check(self, group):
        check_nonnegative("momentum", group["momentum"])
        dampening = group["dampening"]
        require(
            is_real(dampening) and 0 <= dampening <= 1,
            "dampening",
            dampening,
            "in [0, 1]",
        )
        check_flag("nesterov", group["nesterov"])
        if group["nesterov"]:
            require(group["momentum"] > 0, "momentum", group["momentum"], "> 0 with nesterov=True")
            require(dampening == 0, "dampening", dampening, "0 with nesterov=True")

    def passes_gradient(self, group):
        return group["momentum"] == 0

    def __call__(self, grad, state, group, step):
        mu = group["momentum"]
        if mu == 0:
            return grad
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = grad.detach().clone()  # b^1 = g^1
        else:
            buf.mul_(mu).add_(grad, alpha=1 - group["dampening"])  # b ← μ·b + (1−τ)·g
        if group["nesterov"]:
            return grad.add(buf, alpha=mu)  # m = g + μ·b
        return buf

    def formula(self) -> str:
        h = self.hyperparameters
        m = "g + μ·b" if h["nesterov"] else "b"
        return f"b = μ·b + (1−τ)·g, m = {m} (μ={h['momentum']}, τ={h['dampening']})"


class ExponentialAverage(Direction):
    """Adam's first moment: m ← β1·m + (1 − β1)·g, m̂ = m / (1 − β1^t).

    β1 is ``betas[0]``. With ``bias_correction=False`` the raw average m is returned.
    State: ``exp_avg``.
    """

    runs_on_floats = True

    def __init__(self, beta1: float = 0.9, bias_correction: bool = True) -> None:
        super().__init__(betas=(beta1, None))
        self.bias_correction = bias_correction

    def check(self, group):
        check_beta(group, 0)

    def init_state(self, param, state, group):
        state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)

    def __call__(self, grad, state, group, step):
        beta1 = beta(group, 0)
        exp_avg = state["exp_avg"].lerp_(grad, 1 - beta1)  # m ← β1·m + (1−β1)·g
        if not self.bias_correction:
            return exp_avg
        return (Term(exp_avg, 1.0, 1 - power(beta1, step)),)  # m̂ = m / (1 − β1^t)

    def formula(self) -> str:
        b1 = self.hyperparameters["betas"][0]
        hat = ", m̂ = m/(1−β1^t)" if self.bias_correction else ""
        return f"m = β1·m + (1−β1)·g{hat} (β1={b1})"


class NesterovAverage(Direction):
    """NAdam's direction (Dozat 2016, as torch.optim.NAdam computes it).

    μ_t = β1·(1 − ½·0.96^{t·ψ}), Π_t = Π_{s≤t} μ_s, and with m ← β1·m + (1 − β1)·g:

        m̂ = (1 − μ_t)/(1 − Π_t) · g + μ_{t+1}/(1 − Π_t·μ_{t+1}) · m

    β1 is ``betas[0]``, ψ is ``momentum_decay`` (>= 0). State: ``exp_avg``, ``mu_product``
    (a scalar tensor, as torch keeps it).
    """

    runs_on_floats = True

    scalar_state = ("mu_product",)

    def __init__(self, beta1: float = 0.9, momentum_decay: float = 4e-3) -> None:
        super().__init__(betas=(beta1, None), momentum_decay=momentum_decay)

    def check(self, group):
        check_beta(group, 0)
        check_nonnegative("momentum_decay", group["momentum_decay"])

    def init_state(self, param, state, group):
        state["mu_product"] = torch.tensor(1.0, dtype=scalar_dtype())
        state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)

    def __call__(self, grad, state, group, step):
        beta1, psi = beta(group, 0), group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * power(0.96, step * psi))  # μ_t
        mu_next = beta1 * (1.0 - 0.5 * power(0.96, (step + 1) * psi))  # μ_{t+1}
        state["mu_product"] *= mu  # Π_t
        product = state["mu_product"] if traced(step) else float(state["mu_product"])
        exp_avg = state["exp_avg"].lerp_(grad, 1 - beta1)  # m ← β1·m + (1−β1)·g
        return (
            Term(grad, 1.0 - mu, 1.0 - product),  # (1 − μ_t)/(1 − Π_t) · g
            Term(exp_avg, mu_next, 1.0 - product * mu_next),  # μ_{t+1}/(1 − Π_t·μ_{t+1}) · m
        )

    def formula(self) -> str:
        h = self.hyperparameters
        return (
            "m̂ = (1−μ_t)/(1−Πμ)·g + μ_{t+1}/(1−Πμ·μ_{t+1})·m, "
            f"μ_t = β1·(1−½·0.96^(tψ)) (β1={h['betas'][0]}, ψ={h['momentum_decay']})"
        )
