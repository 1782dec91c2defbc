"""H·v, the product of the Hessian with a vector, by double backward (Pearlmutter's trick):

    H·v = ∇_θ (∇_θ L · v),

one extra backward pass and never the P×P matrix; and on it the whole matrix for small models,
column by column. θ is the flat vector of the trainable parameters (:func:`flatten`); the data
is one batch or batches weighted by their size (the package's conventions:
:mod:`ravine.diagnose.hessian`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ...validation import is_count, require

LossFn = Callable[[Any, Any], Tensor]  # loss_fn(model(x), y) -> L, a scalar tensor

COUNT = "an int ≥ 1"  # how the Hessian's functions word a count in their messages


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


def batch_size(x: Any) -> int:
    """n_b: the length of the first dimension of x (of its first tensor, for a tuple or dict)."""
    if isinstance(x, Tensor):
        return 1 if x.dim() == 0 else x.shape[0]
    if isinstance(x, (list, tuple)) and x:
        return batch_size(x[0])
    if isinstance(x, dict) and x:
        return batch_size(next(iter(x.values())))
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
                n = batch_size(x)
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
    require(
        is_count(max_parameters) and max_parameters >= 1, "max_parameters", max_parameters, COUNT
    )
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
