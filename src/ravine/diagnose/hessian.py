"""The Hessian H of the loss over a model's trainable parameters, from Hessian-vector products.

Around θ′ the lecture writes the loss as its Taylor expansion

    L(θ) ≈ L(θ′) + (θ − θ′)ᵀ g + ½ (θ − θ′)ᵀ H (θ − θ′),   g = ∇L(θ′),  H_ij = ∂²L/∂θ_i∂θ_j (θ′)

At a critical point (g = 0) the eigenvalues λ of H decide: all λ > 0 is a local minimum; some
λ < 0 is a saddle point, and stepping along that eigenvector u lowers the loss, since
uᵀHu = λ‖u‖² < 0.

Everything here needs only H·v, computed by double backward (Pearlmutter's trick):
H·v = ∇_θ (∇_θ L · v), one extra backward pass and never the P×P matrix. On top of it:

- :func:`hessian_vector_product` — H·v;
- :func:`exact_hessian` — the whole matrix, column by column, for small models (tests, pictures);
- :func:`hessian_eigs` — the extreme eigenpairs (λ, u) by Lanczos iteration;
- :func:`hessian_trace` — tr(H) by Hutchinson's estimator;
- :func:`hessian_density` — the smoothed eigenvalue density by stochastic Lanczos quadrature.

Conventions shared by all of them:

- **θ** is the flat vector of the model's trainable parameters (``requires_grad=True``) in the
  order of ``model.parameters()``; vectors v and results H·v are flat in that order (see
  :func:`flatten` and :func:`unflatten`). P is its length.
- **Data.** ``inputs, targets`` are one batch, and L = ``loss_fn(model(inputs), targets)``. Or
  ``inputs`` is an iterable of ``(x, y)`` batches (a DataLoader) and ``targets`` is None: then
  L is the average over every sample, L = Σ_b n_b L_b / Σ_b n_b, each batch weighted by its
  size n_b (the length of x's first dimension) — which is right when ``loss_fn`` averages over
  its batch (``reduction="mean"``, torch's default). A DataLoader is iterated once per H·v; a
  one-shot iterator (a generator) is read into a list first. Tensors are moved to the
  parameters' device.
- **Mode.** Nothing here calls ``model.train()`` or ``model.eval()``: the Hessian is that of the
  model in the mode the caller set. In train mode dropout and batch normalization make L, and
  so H, depend on the random masks and the batch (and batch normalization updates its running
  statistics on every forward pass); call ``model.eval()`` first for the Hessian of the
  deterministic network. ``.grad`` fields are left untouched.
- **Precision.** H·v is computed in the parameters' dtype; the Lanczos vectors, the tridiagonal
  matrix and the results of the eigen-solvers are float64.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "exact_hessian",
    "flatten",
    "hessian_density",
    "hessian_eigs",
    "hessian_trace",
    "hessian_vector_product",
    "trainable_parameters",
    "unflatten",
]

LossFn = Callable[[Any, Any], Tensor]

WHICH = ("largest", "smallest", "both")


# ---------------------------------------------------------------------------------------------
# θ as one flat vector
# ---------------------------------------------------------------------------------------------


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters θ the Hessian is taken over: those with ``requires_grad=True``, in the
    order of ``model.parameters()`` (possibly an empty list)."""
    return [p for p in model.parameters() if p.requires_grad]


def flatten(tensors: Sequence[Tensor]) -> Tensor:
    """θ = (θ_1, …, θ_P): the tensors' entries concatenated in order into one 1-D tensor."""
    if len(tensors) == 0:
        raise ValueError("flatten needs at least one tensor, got an empty sequence")
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vector: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    """The inverse of :func:`flatten`: ``vector`` (P entries) cut into views shaped like the
    tensors of ``like`` (P = Σ numel), keeping ``vector``'s dtype and device."""
    sizes = [t.numel() for t in like]
    if vector.dim() != 1 or vector.numel() != sum(sizes):
        raise ValueError(
            f"vector must be 1-D with {sum(sizes)} entries (the tensors' total size), "
            f"got shape {tuple(vector.shape)}"
        )
    return [chunk.view(t.shape) for chunk, t in zip(torch.split(vector, sizes), like, strict=True)]


# ---------------------------------------------------------------------------------------------
# The data: one batch, or batches weighted by their size
# ---------------------------------------------------------------------------------------------


def _batch_size(x: Any) -> int:
    """n_b: the length of the first dimension of x (of its first tensor, for a tuple or dict)."""
    if isinstance(x, Tensor):
        return 1 if x.dim() == 0 else x.shape[0]
    if isinstance(x, (list, tuple)) and x:
        return _batch_size(x[0])
    if isinstance(x, dict) and x:
        return _batch_size(next(iter(x.values())))
    return len(x)


def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, Tensor):
        return x.to(device)
    if isinstance(x, (list, tuple)):
        return type(x)(_to_device(item, device) for item in x)
    if isinstance(x, dict):
        return {key: _to_device(value, device) for key, value in x.items()}
    return x


class _Batches:
    """The (x, y) batches L averages over, re-iterable."""

    def __init__(self, inputs: Any, targets: Any) -> None:
        if targets is not None:
            self._source: Iterable = [(inputs, targets)]
            return
        if isinstance(inputs, Tensor):
            raise ValueError(
                "targets is None, so inputs must be an iterable of (x, y) batches such as a "
                f"DataLoader; got a single Tensor of shape {tuple(inputs.shape)} — pass its "
                "targets too"
            )
        try:
            iterator = iter(inputs)
        except TypeError:
            raise ValueError(
                "targets is None, so inputs must be an iterable of (x, y) batches such as a "
                f"DataLoader; got {type(inputs).__name__}"
            ) from None
        # a one-shot iterator would be empty on the second pass: keep its batches
        self._source = list(iterator) if iterator is inputs else inputs

    def __iter__(self) -> Iterator[tuple[int, Any, Any]]:
        for index, batch in enumerate(self._source):
            if isinstance(batch, Tensor) or not isinstance(batch, (list, tuple)) or len(batch) != 2:
                described = (
                    f"a Tensor of shape {tuple(batch.shape)}"
                    if isinstance(batch, Tensor)
                    else f"a {type(batch).__name__}"
                )
                raise ValueError(
                    f"with targets=None each batch must be a pair (x, y); batch {index} is "
                    f"{described}"
                )
            yield index, batch[0], batch[1]


# ---------------------------------------------------------------------------------------------
# H·v by double backward
# ---------------------------------------------------------------------------------------------


class _HessianOperator:
    """v ↦ H·v for the loss of ``model`` on the data, H·v = ∇_θ (∇_θ L · v).

    With one batch the graph of ∇_θ L is built once and kept for every product; with several
    it is rebuilt batch by batch (memory of one batch) and the products are summed with
    weights n_b / Σ n_b.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, inputs: Any, targets: Any) -> None:
        self.parameters = trainable_parameters(model)
        if not self.parameters:
            raise ValueError(
                f"{type(model).__name__} has no trainable parameters (none with "
                "requires_grad=True); the Hessian needs at least one"
            )
        names = {id(p): name for name, p in model.named_parameters()}
        self.names = [names.get(id(p), f"#{i}") for i, p in enumerate(self.parameters)]
        self.size = sum(p.numel() for p in self.parameters)
        self.dtype = self.parameters[0].dtype
        self.device = self.parameters[0].device
        self._model, self._loss_fn = model, loss_fn
        self._batches = _Batches(inputs, targets)
        self._single = targets is not None
        self._kept: tuple[Tensor | None, ...] | None = None

    def _gradient(self, index: int, x: Any, y: Any) -> tuple[Tensor | None, ...]:
        """∇_θ L_b with its graph (create_graph=True), after checking L_b and ∇_θ L_b."""
        x, y = _to_device(x, self.device), _to_device(y, self.device)
        with torch.enable_grad():
            loss = self._loss_fn(self._model(x), y)
            if not isinstance(loss, Tensor):
                raise ValueError(
                    f"loss_fn must return a torch.Tensor holding one number, got "
                    f"{type(loss).__name__}"
                )
            if loss.numel() != 1:
                raise ValueError(
                    "loss_fn must return a scalar (the loss averaged over the batch), got a "
                    f"tensor of shape {tuple(loss.shape)} on batch {index}; use reduction='mean'"
                )
            loss = loss.reshape(())
            if not bool(torch.isfinite(loss.detach())):
                raise ValueError(
                    f"the loss is {loss.item()} on batch {index}: it must be finite for the "
                    "Hessian to exist"
                )
            if not loss.requires_grad:
                raise ValueError(
                    "the loss does not depend on the model's trainable parameters (it has no "
                    "gradient); check that loss_fn uses the model's output"
                )
            gradient = torch.autograd.grad(
                loss, self.parameters, create_graph=True, allow_unused=True
            )
        for name, g in zip(self.names, gradient, strict=True):
            if g is not None and not bool(torch.isfinite(g.detach()).all()):
                bad = int((~torch.isfinite(g.detach())).sum())
                raise ValueError(
                    f"the gradient of parameter {name!r} has {bad} of {g.numel()} entries nan "
                    f"or inf on batch {index}; the Hessian needs a finite gradient"
                )
        return gradient

    def _product(self, gradient: tuple[Tensor | None, ...], vector: Tensor) -> Tensor:
        """H_b·v from the kept graph of ∇_θ L_b, flat, in the parameters' dtype."""
        outputs, directions = [], []
        for g, v in zip(gradient, unflatten(vector, self.parameters), strict=True):
            if g is not None and g.requires_grad:  # a gradient constant in θ adds nothing to H
                outputs.append(g)
                directions.append(v.to(dtype=g.dtype))
        if not outputs:
            return torch.zeros(self.size, dtype=self.dtype, device=self.device)
        with torch.enable_grad():
            columns = torch.autograd.grad(
                outputs, self.parameters, directions, retain_graph=True, allow_unused=True
            )
        return flatten(
            [
                torch.zeros_like(p) if c is None else c
                for c, p in zip(columns, self.parameters, strict=True)
            ]
        ).to(self.dtype)

    def apply(self, vectors: Callable[[int], Tensor], count: int) -> Tensor:
        """Rows H·v_i for v_i = vectors(i), i < count: a (count, P) tensor."""
        out = torch.zeros(count, self.size, dtype=self.dtype, device=self.device)
        if self._single:
            if self._kept is None:
                ((index, x, y),) = list(self._batches)
                self._kept = self._gradient(index, x, y)
            for i in range(count):
                out[i] = self._product(self._kept, vectors(i).to(self.device))
        else:
            total = 0
            for index, x, y in self._batches:
                n = _batch_size(x)
                gradient = self._gradient(index, x, y)
                for i in range(count):
                    out[i] += n * self._product(gradient, vectors(i).to(self.device))
                total += n
                del gradient
            if total == 0:
                raise ValueError("inputs yielded no samples: the loss over no data is undefined")
            out /= total
        if not bool(torch.isfinite(out).all()):
            raise ValueError(
                "a Hessian-vector product H·v came out nan or inf although the loss and the "
                "gradient are finite: the second derivatives overflow at these parameters"
            )
        return out

    def __call__(self, vector: Tensor) -> Tensor:
        """H·v for one flat vector v."""
        return self.apply(lambda _: vector, 1)[0]


def hessian_vector_product(
    model: nn.Module, loss_fn: LossFn, inputs: Any, targets: Any, vector: Tensor
) -> Tensor:
    """H·v by double backward (Pearlmutter): H·v = ∇_θ (∇_θ L(θ) · v).

    ``vector`` is v, flat over the trainable parameters θ (shape (P,), the order of
    ``model.parameters()``, any float dtype); the result is H·v with the same layout, in the
    parameters' dtype and on their device. Costs about two backward passes and no P×P matrix.
    L is ``loss_fn(model(inputs), targets)``, or the size-weighted average over the batches of
    ``inputs`` when ``targets`` is None (see the module docstring).
    """
    operator = _HessianOperator(model, loss_fn, inputs, targets)
    if not isinstance(vector, Tensor) or tuple(vector.shape) != (operator.size,):
        shape = tuple(vector.shape) if isinstance(vector, Tensor) else type(vector).__name__
        raise ValueError(
            f"vector must be a tensor of shape ({operator.size},), one entry per trainable "
            f"parameter, got {shape}"
        )
    return operator(vector.detach())


def exact_hessian(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any,
    max_parameters: int = 5000,
) -> Tensor:
    """The whole Hessian H_ij = ∂²L/∂θ_i∂θ_j as a P×P tensor, column j = H·e_j.

    P Hessian-vector products; the result is symmetrized, (H + Hᵀ)/2, so that it is exactly
    symmetric in floating point. In the parameters' dtype, on their device. Refuses models with
    P > ``max_parameters``: the matrix needs P² numbers, while :func:`hessian_eigs`,
    :func:`hessian_trace` and :func:`hessian_density` need only products H·v.
    """
    if isinstance(max_parameters, bool) or not isinstance(max_parameters, int):
        raise ValueError(f"max_parameters must be an int ≥ 1, got {max_parameters!r}")
    if max_parameters < 1:
        raise ValueError(f"max_parameters must be an int ≥ 1, got {max_parameters}")
    operator = _HessianOperator(model, loss_fn, inputs, targets)
    p = operator.size
    if p > max_parameters:
        raise ValueError(
            f"the model has P = {p} trainable parameters, over max_parameters = "
            f"{max_parameters}: the exact Hessian would hold P² = {p * p} numbers. Use "
            "hessian_eigs (extreme eigenvalues), hessian_trace or hessian_density, which need "
            "only Hessian-vector products, or raise max_parameters"
        )

    def unit(j: int) -> Tensor:  # e_j
        e = torch.zeros(p, dtype=operator.dtype, device=operator.device)
        e[j] = 1
        return e

    h = operator.apply(unit, p)  # row j = (H e_j)ᵀ = column j, H being symmetric
    return (h + h.T) / 2


# ---------------------------------------------------------------------------------------------
# Lanczos: a Krylov basis Q and the projection QᵀHQ
# ---------------------------------------------------------------------------------------------


class _KrylovBasis:
    """Orthonormal float64 vectors q_1, …, q_m (rows of Q), grown on demand."""

    def __init__(self, size: int, device: torch.device, capacity: int) -> None:
        self.size, self.count = size, 0
        self._rows = torch.empty(min(capacity, 32), size, dtype=torch.float64, device=device)
        self._capacity = capacity

    @property
    def q(self) -> Tensor:
        return self._rows[: self.count]

    def append(self, vector: Tensor) -> None:
        if self.count == self._rows.shape[0]:
            grown = torch.empty(
                min(2 * self.count, self._capacity),
                self.size,
                dtype=torch.float64,
                device=self._rows.device,
            )
            grown[: self.count] = self._rows
            self._rows = grown
        self._rows[self.count] = vector
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
        v, _ = self.orthogonalize(v.to(self._rows.device))
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
            rows = [n for n, _ in self._pending]
            rho = torch.stack([r for _, r in self._pending])
            combined = s[rows].to(rho.device).T @ rho  # Σ_n s_n ρ_n, one row per Ritz pair
            bound = bound + torch.linalg.vector_norm(combined, dim=1).cpu()
        for n, norm in self._dropped:
            bound = bound + norm * s[n].abs()
        return bound


def _wanted(count: int, k: int, which: str) -> Tensor:
    """Indices into ascending Ritz values θ_1 ≤ … ≤ θ_m: the k largest (descending), the k
    smallest (ascending), or both, largest first."""
    ascending = torch.arange(count)
    largest, smallest = ascending.flip(0)[:k], ascending[:k]
    if which == "largest":
        return largest
    if which == "smallest":
        return smallest
    return torch.cat([largest, smallest])


def _check_count(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int ≥ {low}, got {value!r}")
    return value


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return seed


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
    if which not in WHICH:
        raise ValueError(f"which must be one of {', '.join(map(repr, WHICH))}; got {which!r}")
    _check_count("k", k)
    if max_iter is not None:
        _check_count("max_iter", max_iter)
    if (
        isinstance(tol, bool)
        or not isinstance(tol, (int, float))
        or not (math.isfinite(tol) and tol > 0)
    ):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    generator = torch.Generator().manual_seed(_check_seed(seed))
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
    converged, worst = False, math.inf
    while True:
        grew = lanczos.grow()
        m = lanczos.count
        if m < need and grew:
            continue
        theta, s = lanczos.ritz()
        chosen = _wanted(m, k, which)
        if not grew or m == p:  # span Q is invariant under H: its Ritz values are exact
            converged = True
            break
        scale = max(lanczos.scale, float(theta.abs().max()), torch.finfo(torch.float64).tiny)
        residual = lanczos.residuals(s[:, chosen])
        worst = float(residual.max()) / scale
        if worst <= tolerance:
            converged = True
            break
        if m == steps:
            break
    if not converged:
        warnings.warn(
            f"hessian_eigs: Lanczos stopped at max_iter = {steps} before reaching tol = "
            f"{tolerance:.1e}: the largest relative residual ‖Hy − θy‖/‖H‖ is {worst:.1e}; "
            "pass a larger max_iter",
            RuntimeWarning,
            stacklevel=2,
        )
    values = theta[chosen].to(operator.device)
    vectors = s[:, chosen].T.to(operator.device) @ lanczos.basis.q  # y_i = Qᵀ s_i, as rows
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
    peak = vectors.gather(1, vectors.abs().argmax(dim=1, keepdim=True))
    vectors = vectors * torch.where(peak < 0, -1.0, 1.0).to(vectors.dtype)
    return values, vectors


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
    _check_count("samples", samples)
    generator = torch.Generator().manual_seed(_check_seed(seed))
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
    _check_count("runs", runs)
    _check_count("steps", steps)
    if sigma is not None and not (
        isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0
    ):
        raise ValueError(f"sigma must be a finite number > 0 (eigenvalue units), got {sigma!r}")
    generator = torch.Generator().manual_seed(_check_seed(seed))
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
    # φ(t) = Σ_j τ_j g_σ(t − θ_j), in chunks of t to bound memory
    density = torch.empty_like(t)
    for start in range(0, t.numel(), 4096):
        z = (t[start : start + 4096, None] - theta[None, :]) / sigma
        density[start : start + 4096] = (torch.exp(-0.5 * z * z) @ tau) / (
            sigma * math.sqrt(2 * math.pi)
        )
    return t, density
