"""ravine across processes (``torch.distributed``): the second derivatives DDP does not share.

Under :class:`~torch.nn.parallel.DistributedDataParallel` with R ranks, rank r computes the
loss L_r of its own shard of the batch, and DDP's backward averages the gradients:

    every rank's p.grad = ∇_θ L_DDP,   L_DDP = (1/R) Σ_r L_r

which is the gradient of the whole batch's loss when the shards have equal sizes (DDP's own
convention). ravine's optimizers and the Monitor read p.grad, so they need nothing more: every
rank takes the same step and records the same ‖g‖. The loss each rank computes is its own
shard's, L_r: give the Monitor the whole batch's, ``monitor.step(all_reduce_mean(loss))``.

Second derivatives are not communicated. :func:`ravine.diagnose.hessian_vector_product` on a
rank gives H_r·v, the Hessian of that rank's shard only. The Hessian of L_DDP is the average

    H·v = (1/R) Σ_r H_r·v

which :func:`distributed_hessian_vector_product` computes with one all-reduce (R·P numbers for
P parameters, no P×P matrix).
"""

from __future__ import annotations

from typing import Any

import torch.distributed as dist
from torch import Tensor, nn

from .diagnose.hessian import LossFn, hessian_vector_product

__all__ = ["all_reduce_mean", "distributed_hessian_vector_product"]


def _require_process_group(what: str) -> None:
    if not dist.is_available():
        raise RuntimeError(f"{what} needs torch.distributed, which this build of PyTorch lacks")
    if not dist.is_initialized():
        raise RuntimeError(
            f"{what} needs an initialized process group: call "
            "torch.distributed.init_process_group() first (torchrun sets up its environment)"
        )


def all_reduce_mean(tensor: Tensor, group: Any = None) -> Tensor:
    """(1/R) Σ_r x_r: the average of ``tensor`` over the R ranks of ``group`` (default: all).

    Every rank must call it with a tensor of the same shape and dtype; each gets the average,
    in a new tensor (``tensor`` is left unchanged), in the units of ``tensor``.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(
            f"tensor must have a floating-point or complex dtype to be averaged, got {tensor.dtype}"
        )
    _require_process_group("all_reduce_mean")
    total = tensor.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)  # Σ_r x_r
    return total.div_(dist.get_world_size(group))


def distributed_hessian_vector_product(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Any,
    targets: Any,
    vector: Tensor,
    group: Any = None,
) -> Tensor:
    """H·v of DDP's loss L_DDP = (1/R) Σ_r L_r: the average of each rank's H_r·v.

    Every rank of ``group`` calls it with its own shard (``inputs, targets`` as in
    :func:`~ravine.diagnose.hessian_vector_product`: one batch, or an iterable of batches with
    ``targets=None``) and the same v (``vector``, flat over the trainable parameters, shape
    (P,)); each gets the same H·v, shape (P,), in the parameters' dtype. ``model`` may be the
    DistributedDataParallel wrapper: the product is taken on the module it wraps, so no
    gradient is all-reduced on the way. With shards of equal size, H is the Hessian of the
    whole batch's loss; with unequal ones it is the average of per-shard Hessians, as DDP's
    gradient is the average of per-shard gradients. Parameters sharded as DTensors (FSDP2)
    are refused.
    """
    if isinstance(model, nn.parallel.DistributedDataParallel):
        model = model.module
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    sharded = [name for name, p in model.named_parameters() if p.requires_grad and _is_dtensor(p)]
    if sharded:
        raise ValueError(
            f"parameters {', '.join(sharded)} are DTensors (sharded by FSDP2 or tensor "
            "parallelism); the Hessian-vector product needs whole parameters on every rank: "
            "use the DistributedDataParallel model, or an unsharded copy of it"
        )
    _require_process_group("distributed_hessian_vector_product")
    local = hessian_vector_product(model, loss_fn, inputs, targets, vector)  # H_r·v
    return all_reduce_mean(local, group)  # (1/R) Σ_r H_r·v


def _is_dtensor(tensor: Tensor) -> bool:
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # pragma: no cover - PyTorch without DTensor
        return False
    return isinstance(tensor, DTensor)
