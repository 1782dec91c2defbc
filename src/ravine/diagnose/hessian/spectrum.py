"""The Hessian's eigenvalues from products H·v alone: the extreme eigenpairs by Lanczos
iteration, tr(H) by Hutchinson's estimator, and the eigenvalue density by stochastic Lanczos
quadrature (the conventions are the package's: :mod:`ravine.diagnose.hessian`).

At a critical point the eigenvalues λ of H decide its kind: all λ > 0 is a local minimum; some
λ < 0 is a saddle point, and stepping along that eigenvector u lowers the loss, since
uᵀHu = λ‖u‖² < 0. None of these needs the P×P matrix.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ...validation import check_positive, is_count, is_real, require
from .product import COUNT, LossFn, _HessianOperator

WHICH = ("largest", "smallest", "both")
DENSITY_CHUNK = 4096  # points t of the density grid computed at once (memory: t × nodes)
# |t − θ_j| / σ beyond which exp(−z²/2) is 0 in float64 (below its smallest subnormal from
# z ≈ 38.6): those nodes are left out of the density at t.
UNDERFLOW = 40.0


# ---------------------------------------------------------------------------------------------
# Lanczos: a Krylov basis Q and the projection QᵀHQ
# ---------------------------------------------------------------------------------------------


class _KrylovBasis:
    """Orthonormal float64 vectors q_1, …, q_m (rows of Q), grown on demand."""

    def __init__(self, size: int, device: torch.device, capacity: int) -> None:
        self.size, self.count = size, 0
        self._vectors = torch.empty(min(capacity, 32), size, dtype=torch.float64, device=device)
        self._capacity = capacity

    @property
    def q(self) -> Tensor:
        return self._vectors[: self.count]

    def append(self, vector: Tensor) -> None:
        if self.count == self._vectors.shape[0]:
            grown = torch.empty(
                min(2 * self.count, self._capacity),
                self.size,
                dtype=torch.float64,
                device=self._vectors.device,
            )
            grown[: self.count] = self._vectors
            self._vectors = grown
        self._vectors[self.count] = vector
        self.count += 1

    def orthogonalize(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """(w − QQᵀw, Qᵀw), by classical Gram–Schmidt done twice (full reorthogonalization)."""
        coefficients = torch.zeros(self.count, dtype=torch.float64, device=w.device)
        if self.count:
            for _ in range(2):
                c = self.q @ w
                w = w - c @ self.q
                coefficients = coefficients + c
        return w, coefficients

    def random_unit(self, generator: torch.Generator) -> Tensor:
        """A Gaussian vector orthogonal to Q, normalized (drawn on the CPU: same on any device)."""
        v = torch.randn(self.size, generator=generator, dtype=torch.float64)
        v, _ = self.orthogonalize(v.to(self._vectors.device))
        return v / torch.linalg.vector_norm(v)


class _Lanczos:
    """Block Lanczos with full reorthogonalization, one vector at a time.

    The Krylov space span{V, HV, H²V, …} of b random unit vectors V is built as q_n = the part
    of H q_{n−b} orthogonal to q_1, …, q_{n−1}, normalized (b = 1: the three-term Lanczos
    recurrence β_{n} q_{n} = H q_{n−1} − α_{n−1} q_{n−1} − β_{n−1} q_{n−2}). Every H q_n is
    orthogonalized against all of Q at once, and its coefficients Qᵀ H q_n fill column n of
    M = QᵀHQ (band-diagonal: tridiagonal for b = 1). What is left, ρ_n = (I − QQᵀ) H q_n, is
    kept for the newest vectors: for a Ritz pair (θ, y = Qs) of M,

        ‖H y − θ y‖ = ‖Σ_n s_n ρ_n‖,

    the bound on |θ − λ| that decides convergence. A ρ below the tolerance is dropped
    (deflation); when all are dropped, span Q is invariant under H and M holds eigenvalues of H
    exactly. b random starts find an eigenvalue repeated up to b times as many times.
    """

    def __init__(
        self,
        product: Callable[[Tensor], Tensor],
        size: int,
        device: torch.device,
        block: int,
        generator: torch.Generator,
        capacity: int,
        tolerance: float,
    ) -> None:
        self._product, self._block, self._generator = product, block, generator
        self._tolerance = tolerance
        self.basis = _KrylovBasis(size, device, capacity)
        self._projection = torch.zeros(0, 0, dtype=torch.float64)  # M, grown on demand
        self._pending: list[tuple[int, Tensor]] = []  # (n, ρ_n), oldest first
        self._dropped: list[tuple[int, float]] = []  # (n, ‖ρ_n‖) given up as negligible
        self.scale = 0.0  # ‖H‖ ≥ max ‖H q_n‖

    @property
    def count(self) -> int:
        return self.basis.count

    def grow(self) -> bool:
        """Add one vector q_n (one H·v product); False when span Q is invariant or full."""
        basis = self.basis
        if basis.count == basis.size:
            return False
        if basis.count < self._block:
            q = basis.random_unit(self._generator)
        else:
            while self._pending:
                n, rho = self._pending.pop(0)
                rho, _ = basis.orthogonalize(rho)
                norm = float(torch.linalg.vector_norm(rho))
                if norm > self._tolerance * self.scale:
                    q = rho / norm
                    break
                self._dropped.append((n, norm))
            else:
                return False
        for i, (n, rho) in enumerate(self._pending):  # keep every ρ orthogonal to Q
            self._pending[i] = (n, rho - (q @ rho) * q)
        basis.append(q)
        hq = self._product(q)
        self.scale = max(self.scale, float(torch.linalg.vector_norm(hq)))
        rho, column = basis.orthogonalize(hq)  # column = Qᵀ H q_n
        n = basis.count - 1
        column = column.cpu()
        if n == self._projection.shape[0]:
            grown = torch.zeros(max(32, 2 * n), max(32, 2 * n), dtype=torch.float64)
            grown[:n, :n] = self._projection
            self._projection = grown
        self._projection[: n + 1, n] = column
        self._projection[n, : n + 1] = column
        self._pending.append((n, rho))
        return True

    def ritz(self) -> tuple[Tensor, Tensor]:
        """Ritz values θ (ascending) and the eigenvectors s of M = QᵀHQ as columns (CPU)."""
        m = self.count
        return torch.linalg.eigh(self._projection[:m, :m])

    def residuals(self, s: Tensor) -> Tensor:
        """Upper bounds on ‖H y_i − θ_i y_i‖ for the Ritz vectors y_i = Q s_i (columns of s)."""
        bound = torch.zeros(s.shape[1], dtype=torch.float64)
        if self._pending:
            indices = [n for n, _ in self._pending]
            rho = torch.stack([r for _, r in self._pending])
            combined = s[indices].to(rho.device).T @ rho  # Σ_n s_n ρ_n, one row per Ritz pair
            bound = bound + torch.linalg.vector_norm(combined, dim=1).cpu()
        for n, norm in self._dropped:
            bound = bound + norm * s[n].abs()
        return bound


def _wanted_indices(count: int, k: int, which: str) -> Tensor:
    """Indices into ascending Ritz values θ_1 ≤ … ≤ θ_m: the k largest (descending), the k
    smallest (ascending), or both, largest first."""
    ascending = torch.arange(count)
    largest, smallest = ascending.flip(0)[:k], ascending[:k]
    if which == "largest":
        return largest
    if which == "smallest":
        return smallest
    return torch.cat([largest, smallest])


def hessian_eigs(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any,
    k: int = 1,
    which: str = "both",
    *,
    max_iter: int | None = None,
    tol: float = 1e-10,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """The extreme eigenpairs H u = λ u of the Hessian, by Lanczos iteration.

    Lanczos builds an orthonormal basis q_1, …, q_m of the Krylov space span{q_1, Hq_1, …,
    H^{m−1}q_1} (q_1 random) by the three-term recurrence

        β_{j+1} q_{j+1} = H q_j − α_j q_j − β_j q_{j−1},   α_j = q_jᵀ H q_j,

    every new vector reorthogonalized against all previous ones (full reorthogonalization: no
    spurious copies of converged eigenvalues), so that T_m = QᵀHQ = tridiag(β, α, β). The
    eigenpairs (θ_i, s_i) of T_m give Ritz pairs (θ_i, y_i = Qᵀs_i) with residual
    ‖H y_i − θ_i y_i‖ = β_{m+1} |s_{m,i}|. The iteration stops when every wanted Ritz pair has
    residual ≤ tol · ‖H‖ (‖H‖ estimated by max ‖H q_j‖), so that |θ_i − λ| ≤ tol · ‖H‖ for
    some eigenvalue λ of H — usually far less, ≈ residual² / gap. tol is raised to 64 ε of the
    parameters' dtype (1.4e-14 in float64, 7.6e-6 in float32): H·v is no more exact.

    One starting vector sees a repeated eigenvalue (an exact multiplicity, e.g. from identical
    output units) only once, so Lanczos starts from a block of k random vectors (block Lanczos:
    Krylov space span{V, HV, H²V, …}, M = QᵀHQ banded): each of the k wanted eigenvalues is
    found as often as it occurs. For k = 1 this is the plain recurrence above. When the Krylov
    space becomes invariant, or m reaches P, the answer is exact.

    ``which``: "largest" — the k algebraically largest eigenvalues (most positive), descending;
    "smallest" — the k algebraically smallest (most negative), ascending; "both" — 2k values,
    the k largest descending then the k smallest ascending (the two groups share eigenpairs
    when 2k > P). A negative smallest eigenvalue means θ is no local minimum; its eigenvector
    u is the lecture's escape direction.

    ``max_iter`` caps m (H·v products, and float64 vectors of P entries kept in memory);
    default min(P, max(200, 30k)). If it is reached first, a RuntimeWarning gives the residual
    and the current Ritz values are returned. ``seed`` seeds a ``torch.Generator`` for the
    starting vectors (the global RNG is not touched): the same seed gives the same result.

    Returns ``(eigenvalues, eigenvectors)``: float64 tensors on the parameters' device, of
    shapes (n,) and (n, P), n = k (2k for "both"); eigenvectors are rows of unit norm, flat in
    the order of ``model.parameters()`` (see :func:`unflatten`), signed so that their entry of
    largest magnitude is positive.
    """
    _check_eigs_arguments(k, which, max_iter, tol)
    generator = _generator(seed)
    operator = _HessianOperator(model, loss_fn, inputs, targets)
    p = operator.size
    if k > p:
        raise ValueError(f"k must be at most P = {p} (the number of trainable parameters), got {k}")
    need = min(p, 2 * k if which == "both" else k)  # Ritz values needed for the answer
    steps = min(p, max_iter if max_iter is not None else max(200, 30 * k))
    if steps < need:
        raise ValueError(
            f"max_iter must be at least {need} to give {need} eigenvalues, got {max_iter}"
        )
    tolerance = max(float(tol), 64 * torch.finfo(operator.dtype).eps)

    def product(q: Tensor) -> Tensor:  # H·q in float64
        return operator(q.to(operator.dtype)).to(torch.float64)

    lanczos = _Lanczos(product, p, operator.device, k, generator, steps, tolerance)
    theta, s, chosen, worst = _converge(lanczos, need, k, which, tolerance, steps)
    if worst is not None:
        warnings.warn(
            f"hessian_eigs: Lanczos stopped at max_iter = {steps} before reaching tol = "
            f"{tolerance:.1e}: the largest relative residual ‖Hy − θy‖/‖H‖ is {worst:.1e}; "
            "pass a larger max_iter",
            RuntimeWarning,
            stacklevel=2,
        )
    values = theta[chosen].to(operator.device)
    vectors = s[:, chosen].T.to(operator.device) @ lanczos.basis.q  # y_i = Qᵀ s_i, as rows
    return values, _unit_rows(vectors)


def _check_eigs_arguments(k: Any, which: Any, max_iter: Any, tol: Any) -> None:
    """hessian_eigs's arguments in their domains (k against P is checked once P is known)."""
    if which not in WHICH:
        raise ValueError(f"which must be one of {', '.join(map(repr, WHICH))}; got {which!r}")
    require(is_count(k) and k >= 1, "k", k, COUNT)
    if max_iter is not None:
        require(is_count(max_iter) and max_iter >= 1, "max_iter", max_iter, COUNT)
    check_positive("tol", tol)


def _unit_rows(vectors: Tensor) -> Tensor:
    """Each row divided by its norm and signed so that its entry of largest magnitude is
    positive: one answer for an eigenvector that is defined up to its sign."""
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
    peak = vectors.gather(1, vectors.abs().argmax(dim=1, keepdim=True))
    return vectors * torch.where(peak < 0, -1.0, 1.0).to(vectors.dtype)


def _converge(
    lanczos: _Lanczos, need: int, k: int, which: str, tolerance: float, steps: int
) -> tuple[Tensor, Tensor, Tensor, float | None]:
    """Grow the Krylov basis until the wanted Ritz pairs have converged — each residual
    ‖H y − θ y‖ ≤ tolerance · ‖H‖ — or span Q is invariant under H (its Ritz values are then
    exact), or Q has ``steps`` vectors. Returns the Ritz values θ, the eigenvectors s of
    M = QᵀHQ, the indices of the wanted pairs, and the largest relative residual when the
    steps ran out first (None when converged)."""
    size = lanczos.basis.size
    while True:
        grew = lanczos.grow()
        m = lanczos.count
        if m < need and grew:
            continue
        theta, s = lanczos.ritz()
        chosen = _wanted_indices(m, k, which)
        if not grew or m == size:  # span Q is invariant under H: its Ritz values are exact
            return theta, s, chosen, None
        scale = max(lanczos.scale, float(theta.abs().max()), torch.finfo(torch.float64).tiny)
        residual = lanczos.residuals(s[:, chosen])
        worst = float(residual.max()) / scale
        if worst <= tolerance:
            return theta, s, chosen, None
        if m == steps:
            return theta, s, chosen, worst


def _generator(seed: Any) -> torch.Generator:
    """The random probes' own generator, seeded with ``seed`` (an int): the same seed gives the
    same result, and the global RNG is not touched."""
    require(is_count(seed), "seed", seed, "an int")
    return torch.Generator().manual_seed(int(seed))


# ---------------------------------------------------------------------------------------------
# tr(H) and the eigenvalue density, by random probes
# ---------------------------------------------------------------------------------------------


def hessian_trace(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any,
    *,
    samples: int = 100,
    seed: int = 0,
) -> float:
    """tr(H) = Σ_i λ_i by Hutchinson's estimator with Rademacher probes.

        tr(H) ≈ (1/S) Σ_{s=1}^{S} v_sᵀ H v_s,   v_s ∈ {−1, +1}^P uniformly at random,

    unbiased since E[v vᵀ] = I. One sample has variance Var(vᵀHv) = 2 Σ_{i≠j} H_ij², so the
    estimate's standard error is √(2 Σ_{i≠j} H_ij² / S): exact for any S when H is diagonal.
    S = ``samples`` H·v products; ``seed`` seeds a ``torch.Generator`` (global RNG untouched).
    """
    require(is_count(samples) and samples >= 1, "samples", samples, COUNT)
    generator = _generator(seed)
    operator = _HessianOperator(model, loss_fn, inputs, targets)
    total = 0.0
    for _ in range(samples):
        v = torch.randint(0, 2, (operator.size,), generator=generator).to(operator.dtype) * 2 - 1
        v = v.to(operator.device)
        total += float(v.to(torch.float64) @ operator(v).to(torch.float64))  # v_sᵀ H v_s
    return total / samples


def _lanczos_quadrature(
    product: Callable[[Tensor], Tensor],
    size: int,
    device: torch.device,
    steps: int,
    generator: torch.Generator,
    tolerance: float,
) -> tuple[Tensor, Tensor]:
    """Nodes θ_j and weights τ_j = (s_j)_1² of the m-point Gauss quadrature of the spectral
    measure of H seen from a random unit vector v = q_1: vᵀ f(H) v ≈ Σ_j τ_j f(θ_j)."""
    lanczos = _Lanczos(product, size, device, 1, generator, steps, tolerance)
    while lanczos.count < steps:
        if not lanczos.grow():  # an invariant Krylov space: the quadrature is exact for v
            break
    theta, s = lanczos.ritz()
    return theta, s[0] ** 2


def hessian_density(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any,
    *,
    runs: int = 10,
    steps: int = 60,
    grid: Tensor | Sequence[float] | None = None,
    sigma: float | None = None,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """The Hessian's eigenvalue density, smoothed by a Gaussian, by stochastic Lanczos
    quadrature.

    The density of λ_1, …, λ_P smoothed with g_σ(x) = exp(−x²/2σ²)/(σ√(2π)) is

        φ(t) = (1/P) Σ_i g_σ(t − λ_i) = (1/P) tr g_σ(t − H) = E_v[vᵀ g_σ(t − H) v]

    for v uniform on the unit sphere. Each of R = ``runs`` random v gives, after m = ``steps``
    Lanczos iterations (fully reorthogonalized), the Gauss quadrature vᵀ f(H) v ≈ Σ_j τ_j
    f(θ_j) with nodes θ_j (eigenvalues of T_m) and weights τ_j = (first entry of T_m's j-th
    eigenvector)², Σ_j τ_j = 1; so

        φ(t) ≈ (1/R) Σ_r Σ_j τ_j^(r) g_σ(t − θ_j^(r)),

    exact in expectation over v when m ≥ P, and ∫ φ(t) dt = 1. R·m H·v products in all.

    ``sigma`` (eigenvalue units): default 1 % of the span of the nodes (1 % of their magnitude,
    or 1, when they coincide). ``grid``: the points t (1-D); default evenly spaced over the
    nodes' span widened by 5σ on each side, spaced at most σ/5 (at least 1001 points).
    Returns ``(grid, density)``: float64 1-D tensors on the CPU. ``seed`` seeds a
    ``torch.Generator`` (global RNG untouched).
    """
    require(is_count(runs) and runs >= 1, "runs", runs, COUNT)
    require(is_count(steps) and steps >= 1, "steps", steps, COUNT)
    if sigma is not None:
        domain = "a finite number > 0 (eigenvalue units)"
        require(is_real(sigma) and sigma > 0, "sigma", sigma, domain)
    generator = _generator(seed)
    operator = _HessianOperator(model, loss_fn, inputs, targets)
    tolerance = 64 * torch.finfo(operator.dtype).eps

    def product(q: Tensor) -> Tensor:
        return operator(q.to(operator.dtype)).to(torch.float64)

    nodes, weights = [], []
    for _ in range(runs):
        theta, tau = _lanczos_quadrature(
            product, operator.size, operator.device, min(steps, operator.size), generator, tolerance
        )
        nodes.append(theta)
        weights.append(tau.cpu() / runs)
    theta, tau = torch.cat(nodes).cpu(), torch.cat(weights)
    return _smoothed_density(theta, tau, grid, sigma)


def _smoothed_density(
    theta: Tensor, tau: Tensor, grid: Tensor | Sequence[float] | None, sigma: float | None
) -> tuple[Tensor, Tensor]:
    """(t, φ(t)) with φ(t) = Σ_j τ_j g_σ(t − θ_j): the quadrature's nodes θ_j and weights τ_j
    (CPU, float64) smoothed by the Gaussian g_σ; ``grid`` and ``sigma`` as
    :func:`hessian_density` takes them."""
    low, high = float(theta.min()), float(theta.max())
    if sigma is None:
        span = high - low
        sigma = 0.01 * span if span > 0 else 0.01 * (abs(high) or 1.0)
    if grid is None:
        count = max(1001, math.ceil((high - low + 10 * sigma) / (sigma / 5)) + 1)
        t = torch.linspace(low - 5 * sigma, high + 5 * sigma, count, dtype=torch.float64)
    else:
        t = torch.as_tensor(grid, dtype=torch.float64).detach().cpu()
        if t.dim() != 1 or t.numel() == 0:
            raise ValueError(f"grid must be a non-empty 1-D sequence, got shape {tuple(t.shape)}")
    # φ(t) = Σ_j τ_j g_σ(t − θ_j), in chunks of t to bound memory; in each chunk only the
    # nodes within UNDERFLOW·σ of it, as every other term is exactly 0 in float64
    density = torch.zeros_like(t)
    for start in range(0, t.numel(), DENSITY_CHUNK):
        points = t[start : start + DENSITY_CHUNK]
        reach = UNDERFLOW * sigma
        near = (theta >= float(points.min()) - reach) & (theta <= float(points.max()) + reach)
        if not bool(near.any()):
            continue
        z = (points[:, None] - theta[near][None, :]) / sigma
        density[start : start + DENSITY_CHUNK] = (torch.exp(-0.5 * z * z) @ tau[near]) / (
            sigma * math.sqrt(2 * math.pi)
        )
    return t, density
