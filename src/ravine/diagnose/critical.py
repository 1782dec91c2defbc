"""Critical points: where the gradient vanishes, which kind they are, and how to leave a saddle.

Around θ′ the lecture expands the loss to second order,

    L(θ) ≈ L(θ′) + (θ − θ′)ᵀ g + ½ (θ − θ′)ᵀ H (θ − θ′),   g = ∇L(θ′),  H = ∇²L(θ′).

At a critical point g = 0 and the sign of vᵀHv, v = θ − θ′, decides: every eigenvalue λ of H
positive — a **local minimum** (L rises in every direction); every λ negative — a **local
maximum**; both signs — a **saddle point**. At a saddle, along an eigenvector u of H with λ < 0,

    L(θ′ + u) ≈ L(θ′) + ½ λ ‖u‖² < L(θ′),

so u is the way out (:func:`escape_direction`, :func:`move_along`). The lecture's *minimum
ratio* is the fraction of eigenvalues that are positive, #{λ > 0}/P: 1 at a strict local
minimum, and its homework counts a critical point with minimum ratio > 0.5 as "local-minimum-like".

- :func:`classify_critical_point` — ‖g‖, λ_min, λ_max, the minimum ratio and the kind, from the
  **true** Hessian;
- :func:`escape_direction` and :func:`move_along` — the eigenvector of the most negative λ and a
  step along it;
- :func:`train_to_critical_point` — ordinary descent, then Newton steps on the equation g(θ) = 0,
  which reach critical points of every kind (the lecture needed such a special method to get to
  critical points at all).

Why the true Hessian: the Gauss–Newton (or Fisher) approximation JᵀJ keeps only the part of H
made of first derivatives of the outputs; it is positive semi-definite by construction, so it can
never show a negative eigenvalue — every critical point would look like a minimum and no saddle
could ever be found. ravine uses the exact second derivatives (:mod:`ravine.diagnose.hessian`).

Conventions: θ is the flat vector of the model's trainable parameters in the order of
``model.parameters()``, P its length; L = ``loss_fn(model(inputs), targets)``, or the
size-weighted average over ``(x, y)`` batches when ``inputs`` is an iterable of batches and
``targets`` is None (as in :mod:`ravine.diagnose.hessian`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .. import optim, schedules
from ..validation import check_count, check_positive, is_real, require
from .hessian import (
    LossFn,
    exact_hessian,
    flatten,
    hessian_eigs,
    hessian_vector_product,
    trainable_parameters,
    unflatten,
)
from .hessian.product import batch_size

KINDS = ("local minimum", "local maximum", "saddle point", "not critical")

GRAD_TOL = 1e-3  # ‖g‖ below this counts as 0: the homework's criterion for a critical point
RATIO_THRESHOLD = 0.5  # minimum ratio above this is "local-minimum-like": the homework's rule
MAX_PARAMETERS = 5000  # up to this P the Hessian is built whole and eigendecomposed exactly
LANCZOS_TOL = 1e-10  # above it, Lanczos finds λ_min and λ_max to within this · max|λ|


# ---------------------------------------------------------------------------------------------
# L and g = ∇L
# ---------------------------------------------------------------------------------------------


def _parameters(model: nn.Module) -> list[nn.Parameter]:
    params = trainable_parameters(model)
    if not params:
        raise ValueError(
            f"{type(model).__name__} has no trainable parameters (none with requires_grad=True); "
            "a critical point needs at least one"
        )
    return params


def _batches(inputs: Any, targets: Any) -> list[tuple[Any, Any]]:
    if targets is not None:
        return [(inputs, targets)]
    if isinstance(inputs, Tensor):
        raise ValueError(
            "targets is None, so inputs must be an iterable of (x, y) batches; got a single "
            f"Tensor of shape {tuple(inputs.shape)} — pass its targets too"
        )
    try:
        return [tuple(batch) for batch in inputs]
    except TypeError:
        raise ValueError(
            f"targets is None, so inputs must be an iterable of (x, y) batches; got "
            f"{type(inputs).__name__}"
        ) from None


def training_loss(model: nn.Module, loss_fn: LossFn, inputs: Any, targets: Any) -> Tensor:
    """L(θ) as a scalar tensor with its graph: ``loss_fn(model(inputs), targets)``, or over
    ``(x, y)`` batches (``targets`` None) the size-weighted average L = Σ_b n_b L_b / Σ_b n_b.

    ValueError when ``loss_fn`` does not return a scalar tensor that depends on the trainable
    parameters, or when there are no samples.
    """
    total_loss, total = None, 0
    for index, (x, y) in enumerate(_batches(inputs, targets)):
        loss = loss_fn(model(x), y)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(
                f"loss_fn must return a scalar tensor (the loss averaged over the batch), "
                f"got {shape} on batch {index}; use reduction='mean'"
            )
        if not loss.requires_grad:
            raise ValueError(
                "the loss does not depend on the model's trainable parameters; check that "
                "loss_fn uses the model's output"
            )
        if targets is not None:  # one batch: L is its loss
            return loss.reshape(())
        n = batch_size(x)
        total_loss = (
            n * loss.reshape(()) if total_loss is None else total_loss + n * loss.reshape(())
        )
        total += n
    if total_loss is None or total == 0:
        raise ValueError("inputs yielded no samples: the loss over no data is undefined")
    return total_loss / total


def loss_and_gradient(
    model: nn.Module, loss_fn: LossFn, inputs: Any, targets: Any
) -> tuple[float, Tensor]:
    """(L(θ), g = ∇L(θ)): the loss (:func:`training_loss`) as a float and the gradient flat
    over the trainable parameters, detached, in their dtype. ``.grad`` fields are left
    untouched.

    ValueError when the model has no trainable parameters, when ``loss_fn`` does not return a
    scalar tensor that depends on them, or when L or g is not finite.
    """
    params = _parameters(model)
    with torch.enable_grad():
        loss = training_loss(model, loss_fn, inputs, targets)
        parts = torch.autograd.grad(loss, params, allow_unused=True)
    gradient = flatten(
        [torch.zeros_like(p) if d is None else d for d, p in zip(parts, params, strict=True)]
    ).detach()
    value = float(loss.detach())
    if not (math.isfinite(value) and bool(torch.isfinite(gradient).all())):
        raise ValueError(f"the loss ({value}) and its gradient must be finite")
    return value, gradient


# ---------------------------------------------------------------------------------------------
# Which kind of critical point
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriticalPoint:
    """What the Hessian says about θ′.

    ``gradient_norm`` ‖g‖ (loss units per parameter unit); ``min_eigenvalue`` and
    ``max_eigenvalue`` λ_min, λ_max of the true Hessian H; ``minimum_ratio`` #{λ > τ}/P (None
    when P is too large for the whole spectrum); ``kind`` one of :data:`KINDS`;
    ``local_minimum_like`` minimum_ratio > ratio_threshold (the homework's rule; None with the
    ratio). ``positive``, ``negative`` and ``zero`` count λ > τ, λ < −τ and |λ| ≤ τ (None when
    not computed); ``zero_tolerance`` is τ (absolute, eigenvalue units). ``eigenvalues`` holds
    the whole spectrum, ascending, when it was computed exactly (else the two extremes).
    ``method`` is "exact" (eigendecomposition of the P×P Hessian) or "lanczos".
    """

    gradient_norm: float
    min_eigenvalue: float
    max_eigenvalue: float
    minimum_ratio: float | None
    kind: str
    local_minimum_like: bool | None
    loss: float
    parameters: int
    positive: int | None
    negative: int | None
    zero: int | None
    zero_tolerance: float
    method: str
    eigenvalues: Tensor

    @property
    def strict_minimum_ratio(self) -> float | None:
        """#{λ > 0}/P with no tolerance: the homework's count, in which eigenvalues that are 0
        up to rounding (or up to the gradient not being exactly 0) count by their sign."""
        if self.method != "exact":
            return None
        return float((self.eigenvalues > 0).sum()) / self.parameters

    def to_json(self) -> dict[str, Any]:
        """The numbers as plain JSON values (the spectrum left out)."""
        return {
            "gradient_norm": self.gradient_norm,
            "min_eigenvalue": self.min_eigenvalue,
            "max_eigenvalue": self.max_eigenvalue,
            "minimum_ratio": self.minimum_ratio,
            "kind": self.kind,
            "local_minimum_like": self.local_minimum_like,
            "loss": self.loss,
            "parameters": self.parameters,
            "positive": self.positive,
            "negative": self.negative,
            "zero": self.zero,
            "zero_tolerance": self.zero_tolerance,
            "method": self.method,
        }


def zero_tolerance(eigenvalues: Tensor, parameters: int, dtype: torch.dtype) -> float:
    """τ = P · ε · max|λ|: eigenvalues with |λ| ≤ τ count as 0, neither positive nor negative.

    This is the numerical-rank tolerance of ``numpy.linalg.matrix_rank`` (ε the machine epsilon
    of the Hessian's dtype, 2.2e-16 in float64, 1.2e-7 in float32): below it the rounding of
    the second derivatives and of the eigendecomposition can flip a sign, so the sign is not
    measured. Eigenvalues above it are measured, however small beside λ_max.
    """
    scale = float(eigenvalues.abs().max()) if eigenvalues.numel() else 0.0
    return parameters * torch.finfo(dtype).eps * scale


def _kind(critical: bool, negative: bool, positive: bool) -> str:
    """The lecture's rule on the signs: no λ < 0 → local minimum; no λ > 0 but some λ < 0 →
    local maximum; both → saddle point."""
    if not critical:
        return "not critical"
    if negative and positive:
        return "saddle point"
    if negative:
        return "local maximum"
    return "local minimum"


def classify_critical_point(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any,
    grad_tol: float = GRAD_TOL,
    ratio_threshold: float = RATIO_THRESHOLD,
    *,
    zero_tol: float | None = None,
    max_parameters: int = MAX_PARAMETERS,
    seed: int = 0,
) -> CriticalPoint:
    """Is θ′ a critical point, and which kind — from the signs of the true Hessian's eigenvalues.

    - **critical**: ‖g‖ < ``grad_tol`` counts as g = 0 (the homework's criterion, 10⁻³); above
      it the kind is "not critical" (the eigenvalues are still reported).
    - **zero eigenvalues**: |λ| ≤ τ counts as 0, with τ = ``zero_tol`` · max|λ| when
      ``zero_tol`` is given (relative), else τ = P · ε · max|λ| (:func:`zero_tolerance`: the
      sign of a smaller λ is rounding). Zero eigenvalues are neither positive nor negative.
    - **kind**: no λ < −τ → "local minimum" (when some λ are 0 the test of second order cannot
      rule out a way down at higher order: a degenerate minimum, ``zero`` > 0); some λ < −τ
      and none > τ → "local maximum"; both signs → "saddle point". A Gauss–Newton/Fisher
      approximation is positive semi-definite and could never say "saddle point", which is
      why this is the true Hessian.
    - **minimum ratio** = #{λ > τ}/P, the lecture's fraction of positive eigenvalues (zero
      eigenvalues count as not positive, so a degenerate minimum has a ratio below 1);
      ``local_minimum_like`` = minimum ratio > ``ratio_threshold`` (the homework's rule, 0.5).
      The homework's own count without tolerance is :attr:`CriticalPoint.strict_minimum_ratio`.

    P ≤ ``max_parameters``: the whole Hessian (:func:`exact_hessian`) and
    ``torch.linalg.eigvalsh``.
    Larger P: λ_min and λ_max by Lanczos (:func:`hessian_eigs`, ``seed``), with τ at least
    its accuracy 10⁻¹⁰·max|λ|; the minimum ratio, which needs every eigenvalue, is then None.
    """
    grad_tol = float(check_positive("grad_tol", grad_tol))
    domain = "a number in [0, 1]"
    require(
        is_real(ratio_threshold) and 0 <= ratio_threshold <= 1,
        "ratio_threshold",
        ratio_threshold,
        domain,
    )
    if zero_tol is not None:
        domain = "a number in [0, 1) (relative to max|λ|)"
        require(is_real(zero_tol) and 0 <= zero_tol < 1, "zero_tol", zero_tol, domain)
    check_count("max_parameters", max_parameters, 1)
    loss, gradient = loss_and_gradient(model, loss_fn, inputs, targets)
    p, dtype = gradient.numel(), gradient.dtype
    gradient_norm = float(torch.linalg.vector_norm(gradient))
    if p <= max_parameters:
        hessian = exact_hessian(model, loss_fn, inputs, targets, max_parameters=max_parameters)
        signs = _exact_signs(hessian, zero_tol, dtype)
        ratio: float | None = signs.positive / p  # the minimum ratio
        like: bool | None = ratio > ratio_threshold
    else:
        values, _ = hessian_eigs(
            model, loss_fn, inputs, targets, k=1, which="both", tol=LANCZOS_TOL, seed=seed
        )
        signs = _extreme_signs(float(values[1]), float(values[0]), p, zero_tol, dtype)
        ratio, like = None, None
    return CriticalPoint(
        gradient_norm=gradient_norm,
        min_eigenvalue=float(signs.eigenvalues[0]),
        max_eigenvalue=float(signs.eigenvalues[-1]),
        minimum_ratio=ratio,
        kind=_kind(gradient_norm < grad_tol, signs.has_negative, signs.has_positive),
        local_minimum_like=like,
        loss=loss,
        parameters=p,
        positive=signs.positive,
        negative=signs.negative,
        zero=signs.zero,
        zero_tolerance=signs.zero_tolerance,
        method=signs.method,
        eigenvalues=signs.eigenvalues,
    )


@dataclass(frozen=True)
class _Signs:
    """The signs of H's eigenvalues at θ′: the spectrum (ascending; or λ_min, λ_max), τ, and
    how many are > τ, < −τ and within ±τ (None when only the extremes are known)."""

    eigenvalues: Tensor
    zero_tolerance: float
    has_negative: bool  # some λ < −τ
    has_positive: bool  # some λ > τ
    positive: int | None
    negative: int | None
    zero: int | None
    method: str


def _exact_signs(hessian: Tensor, zero_tol: float | None, dtype: torch.dtype) -> _Signs:
    """Every eigenvalue of the whole Hessian, by ``torch.linalg.eigvalsh``, counted by sign."""
    eigenvalues = torch.linalg.eigvalsh(hessian.to(torch.float64).contiguous())
    p, scale = eigenvalues.numel(), float(eigenvalues.abs().max())
    tau = zero_tol * scale if zero_tol is not None else zero_tolerance(eigenvalues, p, dtype)
    positive = int((eigenvalues > tau).sum())
    negative = int((eigenvalues < -tau).sum())
    zero = p - positive - negative
    return _Signs(eigenvalues, tau, negative > 0, positive > 0, positive, negative, zero, "exact")


def _extreme_signs(
    low: float, high: float, p: int, zero_tol: float | None, dtype: torch.dtype
) -> _Signs:
    """λ_min and λ_max from Lanczos: τ is at least what Lanczos resolves, 10⁻¹⁰·max|λ|, and
    the eigenvalues between them are not counted."""
    eigenvalues = torch.tensor([low, high], dtype=torch.float64)
    scale = max(abs(low), abs(high))
    floor = max(LANCZOS_TOL, 64 * torch.finfo(dtype).eps) * scale  # what Lanczos resolves
    tau = max(
        zero_tol * scale if zero_tol is not None else zero_tolerance(eigenvalues, p, dtype),
        floor,
    )
    return _Signs(eigenvalues, tau, low < -tau, high > tau, None, None, None, "lanczos")


# ---------------------------------------------------------------------------------------------
# Leaving a saddle point
# ---------------------------------------------------------------------------------------------


def escape_direction(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any,
    *,
    max_parameters: int = MAX_PARAMETERS,
    seed: int = 0,
) -> tuple[float, Tensor]:
    """(λ, u): the most negative eigenvalue of H and its unit eigenvector, the lecture's way out
    of a saddle point:

        L(θ′ + ε u) ≈ L(θ′) + ε gᵀu + ½ λ ε²,   ½ λ ε² < 0.

    u is flat over the trainable parameters (float64, the order of ``model.parameters()``; see
    :func:`move_along`). Its sign is chosen so that gᵀu ≤ 0: the first-order term does not
    raise the loss for ε > 0 (at an exact critical point, g = 0, both signs lower it alike; the
    sign is then the one whose largest-magnitude entry is positive). From the exact Hessian when
    P ≤ ``max_parameters``, else by Lanczos (:func:`hessian_eigs`, ``seed``).

    ValueError when no eigenvalue is negative (λ_min ≥ 0: θ′ is no saddle point and no
    direction lowers L at second order).
    """
    check_count("max_parameters", max_parameters, 1)
    _, gradient = loss_and_gradient(model, loss_fn, inputs, targets)
    p = gradient.numel()
    if p <= max_parameters:
        hessian = exact_hessian(model, loss_fn, inputs, targets, max_parameters=max_parameters)
        values, vectors = torch.linalg.eigh(hessian.to(torch.float64).contiguous())
        value, direction = float(values[0]), vectors[:, 0]
        peak = direction[direction.abs().argmax()]
        direction = direction if peak >= 0 else -direction
        tau = zero_tolerance(values, p, gradient.dtype)
    else:
        values, vectors = hessian_eigs(
            model, loss_fn, inputs, targets, k=1, which="smallest", seed=seed
        )
        value, direction = float(values[0]), vectors[0]
        tau = 0.0
    if not value < -tau:
        raise ValueError(
            f"escape_direction needs a negative eigenvalue of the Hessian, but the smallest is "
            f"λ_min = {value:.6g} (≥ −{tau:.2g}, the rounding tolerance): θ is no saddle point"
        )
    slope = float(gradient.to(torch.float64) @ direction)  # gᵀu
    if slope > 0:
        direction = -direction
    return value, direction


@torch.no_grad()
def move_along(model: nn.Module, direction: Tensor, distance: float) -> None:
    """θ ← θ + ε·u in place: ``direction`` u flat over the trainable parameters (P entries),
    ``distance`` ε in parameter units along u (u is used as given, not normalized)."""
    params = _parameters(model)
    if not math.isfinite(distance):
        raise ValueError(f"distance must be a finite number, got {distance}")
    for param, step in zip(params, unflatten(direction.detach(), params), strict=True):
        param.add_(step.to(dtype=param.dtype, device=param.device), alpha=distance)


# ---------------------------------------------------------------------------------------------
# Getting to a critical point
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriticalTraining:
    """How :func:`train_to_critical_point` went: ``descent_steps`` Adam updates, then
    ``newton_steps`` accepted steps on g(θ) = 0; the final loss and ‖g‖; ``reached`` when
    ‖g‖ < grad_tol; ``method`` the second phase ("newton" with the exact Hessian,
    "gradient-norm" by Hessian-vector products, or "none" when descent alone reached it);
    ``interrupted`` when ``stop()`` ended the descent early (no second phase then)."""

    descent_steps: int
    newton_steps: int
    loss: float
    gradient_norm: float
    reached: bool
    method: str
    interrupted: bool = False

    @property
    def steps(self) -> int:
        """Every update made, both phases."""
        return self.descent_steps + self.newton_steps


@torch.no_grad()
def _set_theta(params: list[nn.Parameter], theta: Tensor) -> None:
    for param, value in zip(params, unflatten(theta, params), strict=True):
        param.copy_(value.to(param.dtype))


def train_to_critical_point(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any,
    *,
    descent_steps: int = 5000,
    lr: float = 1e-2,
    newton_steps: int = 20,
    grad_tol: float = GRAD_TOL,
    max_parameters: int = MAX_PARAMETERS,
    gradient_norm_lr: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> CriticalTraining:
    """Train ``model`` in place until ‖∇L‖ < ``grad_tol``, in two phases.

    1. **Descent**: ``descent_steps`` full-batch Adam updates (:class:`ravine.optim.Adam`) with
       η^t = ``lr`` · cosine decay to 10⁻³·lr. The decay matters: with a constant η, Adam keeps
       rattling across the valley's floor and ‖g‖ stays above 10⁻³.
    2. **Newton on g(θ) = 0** when ‖g‖ is still ≥ grad_tol, for at most ``newton_steps``
       accepted steps. Descent is repelled by a saddle's negative directions; a method that
       solves g = 0 is attracted to critical points of every kind — the lecture's "special
       method" to reach them. The Jacobian of g is H, so the damped (Levenberg–Marquardt)
       Newton step for g = 0 is

           δ = −(H² + μI)⁻¹ H g = −Σ_i λ_i/(λ_i² + μ) (u_iᵀg) u_i,

       with (λ_i, u_i) the eigenpairs of the exact Hessian (P ≤ ``max_parameters``: for the
       sinc network, P = 385, one H and one eigendecomposition per step cost ~0.1 s). A step is
       kept when it lowers ‖g‖ (then μ ← μ/3), else μ ← 4μ and it is tried again (at most 20
       times). Near-zero λ_i get almost no step: along a direction without curvature no
       critical point is near. For P > ``max_parameters`` the phase instead minimizes ½‖g‖²
       with Adam, its gradient being ∇(½‖g‖²) = H g (:func:`hessian_vector_product`), η
       = ``gradient_norm_lr`` (default 10⁻³·lr, where the descent ended) cosine-decayed by
       10⁻³ over the ``newton_steps`` steps; the θ of smallest ‖g‖ is kept.

    ReLU networks put a limit on phase 2: the gradient jumps where a unit's kink crosses a data
    point, so ‖g‖ may stop falling above grad_tol; ``reached`` says whether it got there.
    ``progress(done, descent_steps + newton_steps)`` is called after each descent update;
    ``stop()`` (Ctrl-C) is polled after it, and when True training ends there, at the point
    reached (``interrupted``).
    """
    check_count("descent_steps", descent_steps, 0)
    check_count("newton_steps", newton_steps, 0)
    lr = float(check_positive("lr", lr))
    grad_tol = float(check_positive("grad_tol", grad_tol))
    check_count("max_parameters", max_parameters, 1)
    gradient_norm_lr = float(
        check_positive(
            "gradient_norm_lr", 1e-3 * lr if gradient_norm_lr is None else gradient_norm_lr
        )
    )
    params = _parameters(model)
    taken = descent_steps
    if descent_steps:
        rate = lr * schedules.cosine(descent_steps, end=1e-3)  # η^t
        adam = optim.Adam(params, lr=rate)
        for t in range(descent_steps):
            adam.zero_grad()
            training_loss(model, loss_fn, inputs, targets).backward()
            adam.step()
            if progress is not None:
                progress(t + 1, descent_steps + newton_steps)
            if stop is not None and stop():
                taken = t + 1
                break
        adam.zero_grad(set_to_none=True)
    loss, gradient = loss_and_gradient(model, loss_fn, inputs, targets)
    norm = float(torch.linalg.vector_norm(gradient))
    if taken < descent_steps:
        return CriticalTraining(taken, 0, loss, norm, norm < grad_tol, "none", interrupted=True)
    if norm < grad_tol or newton_steps == 0:
        return CriticalTraining(descent_steps, 0, loss, norm, norm < grad_tol, "none")
    p = gradient.numel()
    if p <= max_parameters:
        taken, loss, norm = _newton(model, loss_fn, inputs, targets, params, newton_steps, grad_tol)
        method = "newton"
    else:
        taken, loss, norm = _gradient_norm_descent(
            model, loss_fn, inputs, targets, params, newton_steps, grad_tol, gradient_norm_lr
        )
        method = "gradient-norm"
    return CriticalTraining(descent_steps, taken, loss, norm, norm < grad_tol, method)


def _newton(model, loss_fn, inputs, targets, params, steps, grad_tol) -> tuple[int, float, float]:
    """Levenberg–Marquardt on g(θ) = 0 with the exact Hessian (see train_to_critical_point)."""
    theta = flatten([p.detach() for p in params]).to(torch.float64)
    loss, gradient = loss_and_gradient(model, loss_fn, inputs, targets)
    norm = float(torch.linalg.vector_norm(gradient))
    mu, taken = None, 0
    while taken < steps and norm >= grad_tol:
        hessian = exact_hessian(model, loss_fn, inputs, targets, max_parameters=theta.numel())
        lam, vectors = torch.linalg.eigh(hessian.to(torch.float64).contiguous())  # λ_i, u_i
        coefficients = vectors.T @ gradient.to(torch.float64)  # u_iᵀg
        if mu is None:
            mu = (1e-3 * float(lam.abs().max())) ** 2 or 1.0  # μ starts at (10⁻³ λ_max)²
        for _ in range(20):
            delta = -(vectors @ (lam / (lam * lam + mu) * coefficients))  # δ
            _set_theta(params, theta + delta)
            new_loss, new_gradient = loss_and_gradient(model, loss_fn, inputs, targets)
            new_norm = float(torch.linalg.vector_norm(new_gradient))
            if new_norm < norm:
                theta, loss, gradient, norm = theta + delta, new_loss, new_gradient, new_norm
                mu = max(mu / 3, 1e-30)
                taken += 1
                break
            mu *= 4
        else:
            _set_theta(params, theta)  # no damping lowered ‖g‖: stuck (e.g. on a ReLU kink)
            break
    _set_theta(params, theta)
    return taken, loss, norm


def _gradient_norm_descent(
    model, loss_fn, inputs, targets, params, steps, grad_tol, lr
) -> tuple[int, float, float]:
    """Adam on ½‖g‖², whose gradient is H g (one Hessian-vector product per step)."""
    adam = optim.Adam(params, lr=lr * schedules.cosine(steps, end=1e-3))
    loss, gradient = loss_and_gradient(model, loss_fn, inputs, targets)
    norm, taken = float(torch.linalg.vector_norm(gradient)), 0
    best = (norm, loss, flatten([p.detach() for p in params]).clone())
    while taken < steps and norm >= grad_tol:
        product = hessian_vector_product(model, loss_fn, inputs, targets, gradient)  # H g
        for param, part in zip(params, unflatten(product, params), strict=True):
            param.grad = part.to(param.dtype).clone()
        adam.step()
        taken += 1
        loss, gradient = loss_and_gradient(model, loss_fn, inputs, targets)
        norm = float(torch.linalg.vector_norm(gradient))
        if norm < best[0]:
            best = (norm, loss, flatten([p.detach() for p in params]).clone())
    adam.zero_grad(set_to_none=True)
    norm, loss, theta = best
    _set_theta(params, theta)
    return taken, loss, norm
