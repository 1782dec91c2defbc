"""The fast path: one compiled pass over flat buffers for any (m, σ, η) composition.

The eager step (:func:`ravine.optim.update.apply_rule`) runs each part's tensor operations one
after another, parameter by parameter: every operation is a pass over memory, and every
parameter a round of Python. The fast path keeps the same arithmetic and changes where it runs:

1. **Flat buffers.** On its first step a parameter group's parameters of one device and dtype
   (a *bucket*) are copied into one flat buffer θ and re-pointed at their slices of it
   (``p.data`` becomes a view; the Parameter objects stay the same). The state the parts keep
   (m, σ², …) is created flat too, and ``optimizer.state[p]`` holds views into it, so
   ``state_dict``, the Monitor and the eager path read and write the same memory. A flat
   gradient buffer receives the gradients; after the first copy ``p.grad`` is left pointing at
   its slice, so a loop that zeroes gradients in place (``zero_grad(set_to_none=False)``)
   accumulates straight into it and no copy is needed on later steps.
2. **One kernel.** :func:`apply_rule` on the flat tensors is compiled with ``torch.compile``;
   the compiler fuses the parts' element-wise operations into one loop over memory. η^t and t
   enter as 0-d tensors, so a schedule never triggers a recompilation; the parts compute their
   step-dependent scalars (bias corrections, RAdam's ρ_t) as tensor arithmetic on t when
   traced (see :func:`ravine.optim.base.traced`), powers β^t as exponentials (see
   :func:`ravine.optim.base.power`): the compiled loop recomputes such scalars for every
   vector of numbers, and they must stay cheap there.

The result equals the eager path up to rounding: the compiler may reassociate a product, and
the step-dependent scalars (η^t, 1 − β^t, ρ_t, …) are computed in θ's precision (float32 for
float32 and bfloat16 θ, where the eager path uses Python's doubles) because a double among
float32 tensors keeps the compiler from vectorizing the loop (Adam on 20M parameters: 31 ms
against 10 ms). The tests bound the difference at 1e-6 of ‖θ‖ in float32 over 100 steps, for
every catalog optimizer; float64 θ matches to 1e-12.

**When the eager path runs instead** (with identical results): a group where some parameter
has no gradient on this step, parameters whose step counts differ (an eager step or an added
group left them apart), non-contiguous parameters, sparse gradients, DTensor parameters
(FSDP2), a step the Monitor samples σ on, a step inside the user's own ``torch.compile`` (the
eager step is what gets compiled there), a group whose kernel the compiler refused past its
recompile limit (from then on, with one warning), and where ``torch.compile`` is unavailable.

**Cost.** The first step of a composition compiles its kernel: seconds (more on a cold
compiler cache), reported by ``benchmarks/optimizer_step.py``. Extra memory: the flat gradient
buffer (the size of the parameters); the parameters and state are moved, not copied, one
tensor at a time. The step copies the gradients into the flat buffer before it lists them
itself (:func:`gather_ready_gradients`), so each replaced gradient is freed as soon as it is copied
and the buffer never sits beside a second full copy (20M float32 parameters: about 40 MiB
above the parameters and Adam's state at the first step's peak, the compiler's working
memory, instead of 122).
"""

from __future__ import annotations

import operator
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from .base import Direction, Magnitude, scalar_dtype

try:  # the compiler is part of torch, but not on every platform
    from torch._dynamo import is_dynamo_supported
    from torch._dynamo.exc import FailOnRecompileLimitHit

    FUSED_AVAILABLE = bool(is_dynamo_supported())
except Exception:  # pragma: no cover - platform dependent
    FUSED_AVAILABLE = False

    class FailOnRecompileLimitHit(Exception):  # type: ignore[no-redef]
        """Never raised where the compiler is missing."""


class Optimizer(Protocol):
    """What the fast path reads and writes of the optimizer shell
    (:class:`ravine.optim.optimizer.Optimizer`): its groups and state as torch keeps them, the
    composition (m, σ, the order), the Monitor's σ request, and the buckets it keeps."""

    param_groups: list[dict[str, Any]]
    state: dict[torch.Tensor, dict[str, Any]]
    direction: Direction
    magnitude: Magnitude
    scale_first: bool
    sigma_record: dict | None
    _buckets: dict[tuple, Bucket]  # (group index, (device, dtype)) → its flat buffers
    _eager_since: set[int]  # groups updated eagerly since their last fused step
    _past_recompile_limit: set[int]  # groups the compiler refused: eager from then on

    @property
    def scalar_state(self) -> tuple[str, ...]: ...

    def _update_group(self, items: list, group: dict[str, Any], lr: float) -> None: ...


@dataclass
class Bucket:
    """One group's parameters of one device and dtype, laid out in flat buffers."""

    params: list[torch.Tensor]
    offsets: list[int]
    theta: torch.Tensor  # θ, flat; each parameter's data is a view of it
    grad: torch.Tensor  # g, flat
    state: dict[str, Any]  # the parts' state for the flat θ, and "step" (0-d)
    grad_views: list[torch.Tensor] = field(default_factory=list)
    pointers: list[int] = field(default_factory=list)  # each parameter's data_ptr, to notice moves
    scalars: dict[str, torch.Tensor] = field(default_factory=dict)  # per-parameter copies, a row
    linked: dict[str, Any] | None = None  # optimizer.state of the first parameter, as linked

    def slices(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [
            flat[o : o + p.numel()].view_as(p)
            for p, o in zip(self.params, self.offsets, strict=True)
        ]

    def intact(self, params: list[torch.Tensor]) -> bool:
        """The parameters are still these, still views of θ."""
        return (
            len(params) == len(self.params)
            and all(map(operator.is_, params, self.params))
            and [p.data_ptr() for p in params] == self.pointers
        )


_KERNEL = """
def kernel(theta, grad, state, group, lr, step, direction, magnitude, scale_first):
    apply_rule(theta, grad, state, group, lr, step, direction, magnitude, scale_first)
"""
_kernels: dict[tuple, Any] = {}


def compiled_kernel(direction: Direction, magnitude: Magnitude, scale_first: bool) -> Any:
    """The compiled :func:`apply_rule` for this composition. Each composition gets a function of
    its own (its own code object), so the compiler's cache of one never evicts another's."""
    key = (type(direction), type(magnitude), scale_first)
    if key not in _kernels:
        from .update import apply_rule

        namespace: dict[str, Any] = {"apply_rule": apply_rule}
        exec(
            compile(_KERNEL, f"<ravine fused kernel {key[0].__name__}/{key[1].__name__}>", "exec"),
            namespace,
        )
        _kernels[key] = torch.compile(namespace["kernel"], dynamic=True)
    return _kernels[key]


def fused_group_step(
    optimizer: Optimizer,
    index: int,
    group: dict[str, Any],
    items: list[tuple[torch.Tensor, torch.Tensor]],
    lr: float,
) -> bool:
    """Update ``group`` (number ``index``) through the flat buffers; False (nothing changed)
    when this step must take the eager path. ``items``, the group's (parameter, gradient)
    pairs, is emptied when the fast path runs: it must not keep the gradients it replaces."""
    params = group["params"]
    if (
        not FUSED_AVAILABLE
        or optimizer.sigma_record is not None
        or index in optimizer._past_recompile_limit
        or len(items) != len(params)
        or not params
    ):
        return False
    keys: dict[tuple, list[torch.Tensor]] = {}
    for p in params:
        if (
            p.grad is None
            or p.grad.is_sparse
            or not p.is_contiguous()
            or p.is_complex()  # the eager path views it as pairs of reals
            or _is_dtensor(p)
        ):
            return False
        keys.setdefault((p.device, p.dtype), []).append(p)
    buckets = []
    for key, members in keys.items():
        bucket = optimizer._buckets.get((index, key))
        if bucket is None or not _ready(optimizer, index, bucket, members):
            bucket = _build(optimizer, group, members)
            if bucket is None:
                return False
            optimizer._buckets[(index, key)] = bucket
        buckets.append(bucket)
    items.clear()  # the caller's references to the old gradients: each is freed once copied
    fused_step(optimizer, index, group, buckets, lr)
    return True


def fused_step(
    optimizer: Optimizer, index: int, group: dict[str, Any], buckets: list[Bucket], lr: float
) -> None:
    """One step of group ``index`` through its ready ``buckets``: the compiled kernel on each.

    A bucket the compiler refuses (its recompile limit reached, see :func:`_run_kernel`) takes
    the eager step instead, with the eager path's numbers, and so does its group from then on."""
    optimizer._eager_since.discard(index)
    for bucket in buckets:
        _copy_gradients_in(bucket)
        if not _run_kernel(optimizer, index, group, bucket, lr):
            optimizer._update_group([(p, p.grad) for p in bucket.params], group, lr)
            optimizer._eager_since.add(index)
            continue
        for key, row in bucket.scalars.items():  # t (and Π μ) into each parameter's state
            row.copy_(bucket.state[key])


def _run_kernel(
    optimizer: Optimizer, index: int, group: dict[str, Any], bucket: Bucket, lr: float
) -> bool:
    """The compiled kernel on one bucket; False, with nothing changed, when the compiler refuses
    to compile it once more.

    Dynamo compiles a function again for every new value of what it treats as a constant (a
    dtype, a flag, a β whose logarithm the parts take), up to ``recompile_limit`` (8) versions;
    past that, it would warn and run the kernel's Python uncompiled, slowly, for good. Instead
    it is asked to raise (``fail_on_recompile_limit_hit``) and the group is marked to take the
    eager step from then on, with one warning of ravine's own."""
    # η and t (and what the parts compute from them) in θ's precision, at least float32: a
    # double among float32 tensors would keep the compiler from vectorizing the kernel
    scalar = torch.float64 if bucket.theta.dtype == torch.float64 else torch.float32
    lr_tensor = torch.tensor(lr, dtype=scalar, device=bucket.theta.device)
    traced_group = {k: v for k, v in group.items() if k not in ("params", "param_names")}
    traced_group["lr"] = lr_tensor
    bucket.state["step"] += 1
    step = bucket.state["step"].to(device=bucket.theta.device, dtype=scalar)
    before = set(bucket.state)
    kernel = compiled_kernel(optimizer.direction, optimizer.magnitude, optimizer.scale_first)
    try:
        with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
            kernel(
                bucket.theta,
                bucket.grad,
                bucket.state,
                traced_group,
                lr_tensor,
                step,
                optimizer.direction,
                optimizer.magnitude,
                optimizer.scale_first,
            )
    except FailOnRecompileLimitHit:
        bucket.state["step"] -= 1  # exact: a whole number
        if not optimizer._past_recompile_limit:
            warnings.warn(
                f"ravine's fast path (fused=True): torch.compile reached its recompile limit "
                f"({torch._dynamo.config.recompile_limit}) on parameter group {index}; that "
                "group takes the eager step from now on (the numbers of fused=False). Groups "
                "that differ in dtype or in hyperparameters such as betas each need a "
                "compiled version.",
                RuntimeWarning,
                stacklevel=5,
            )
        optimizer._past_recompile_limit.add(index)
        return False
    if set(bucket.state) != before:  # a part created its state on this step
        _link_state(optimizer, bucket)
    return True


def _ready(optimizer: Optimizer, index: int, bucket: Bucket, members: list[torch.Tensor]) -> bool:
    """The bucket still describes these parameters: no eager step since its last fused one, the
    parameters still views of its θ, and the optimizer's state still its views (a
    ``load_state_dict`` replaces it)."""
    return (
        index not in optimizer._eager_since
        and bucket.intact(members)
        and optimizer.state.get(members[0]) is bucket.linked
    )


def _is_dtensor(p: torch.Tensor) -> bool:
    return type(p.data).__name__ == "DTensor"


def _build(optimizer: Optimizer, group: dict[str, Any], params: list[torch.Tensor]):
    """Lay ``params`` and their state out flat; None when their states cannot share one step
    count (they were updated different numbers of times)."""
    states = [optimizer.state.get(p, {}) for p in params]
    counts = {float(s["step"]) if "step" in s else 0.0 for s in states}
    if len(counts) != 1 or (counts != {0.0} and not all(states)):
        return None
    sizes = [p.numel() for p in params]
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    total = sum(sizes)
    like = params[0]
    theta = torch.empty(total, dtype=like.dtype, device=like.device)
    for p, o in zip(params, offsets, strict=True):  # one tensor at a time: the old one is freed
        view = theta[o : o + p.numel()].view_as(p)
        view.copy_(p.detach())
        p.data = view
    state: dict[str, Any] = {}
    shared = {"step", *optimizer.scalar_state}
    if states[0]:
        for key, value in states[0].items():
            if key in shared or not isinstance(value, torch.Tensor):  # t, NAdam's Π μ
                state[key] = value.clone() if isinstance(value, torch.Tensor) else value
            else:  # one tensor per parameter, the parameter's shape (0-d for a 0-d parameter)
                flat = torch.empty(total, dtype=value.dtype, device=theta.device)
                for s, p, o in zip(states, params, offsets, strict=True):
                    flat[o : o + p.numel()].copy_(s[key].reshape(-1))
                state[key] = flat
    else:
        state["step"] = torch.tensor(0.0, dtype=scalar_dtype())
        optimizer.direction.init_state(theta, state, group)
        optimizer.magnitude.init_state(theta, state, group)
    for key in shared & set(state):  # on θ's device, where the kernel updates them
        if isinstance(state[key], torch.Tensor):
            state[key] = state[key].to(theta.device)
    bucket = Bucket(params, offsets, theta, torch.empty_like(theta), state)  # g: filled each step
    bucket.pointers = [p.data_ptr() for p in params]
    bucket.grad_views = bucket.slices(bucket.grad)
    _link_state(optimizer, bucket)
    return bucket


def _link_state(optimizer: Optimizer, bucket: Bucket) -> None:
    """``optimizer.state[p]``: views of the flat state, and each parameter's own copy of the
    scalars (t, Π μ), as the eager path keeps them, refreshed after every fused step. A
    scalar's copies are the elements of one row, so that one copy refreshes them all (a
    thousand parameters: one operation instead of a thousand)."""
    total = bucket.theta.numel()
    views = {
        key: bucket.slices(value)
        for key, value in bucket.state.items()
        if isinstance(value, torch.Tensor) and value.dim() == 1 and value.numel() == total
    }
    bucket.scalars = {
        key: value.expand(len(bucket.params)).clone()
        for key, value in bucket.state.items()
        if key not in views and isinstance(value, torch.Tensor)
    }
    for i, p in enumerate(bucket.params):
        optimizer.state[p] = {
            key: views[key][i]
            if key in views
            else bucket.scalars[key][i]
            if key in bucket.scalars
            else value
            for key, value in bucket.state.items()
        }
    bucket.linked = optimizer.state[bucket.params[0]]


def _copy_gradients_in(bucket: Bucket) -> None:
    """Bring each p.grad into the flat gradient buffer, and leave p.grad pointing at its slice."""
    for p, view in zip(bucket.params, bucket.grad_views, strict=True):
        if p.grad is not view:  # one at a time, so each old gradient is freed as it goes
            view.copy_(p.grad)
            p.grad = view


def _gradients_in_place(bucket: Bucket) -> bool:
    """Every p.grad of the bucket is already its slice of the flat gradient buffer."""
    return all(map(operator.is_, [p.grad for p in bucket.params], bucket.grad_views))


def gather_ready_gradients(optimizer: Optimizer) -> dict[int, list[Bucket]]:
    """Copy the gradients of every ready bucket whose parameters all have a dense gradient into
    its flat buffer; return each group's buckets so gathered, by group index.

    Called by the step before it lists the gradients itself, so that each replaced gradient is
    freed as soon as it is copied: the flat buffer never sits beside a second full copy of the
    gradients."""
    gathered: dict[int, list[Bucket]] = {}
    for (index, _), bucket in optimizer._buckets.items():
        if not _ready(optimizer, index, bucket, bucket.params):
            continue
        if not _gradients_in_place(bucket):
            if any(p.grad is None or p.grad.is_sparse for p in bucket.params):
                continue
            _copy_gradients_in(bucket)
        gathered.setdefault(index, []).append(bucket)
    return gathered


def whole_groups(optimizer: Optimizer, gathered: dict[int, list[Bucket]]) -> dict[int, Bucket]:
    """The groups ready for the kernel as they are: group index → its bucket, where one gathered
    bucket holds exactly the group's parameters (so their gradients are dense and contiguous:
    the step needs to look at nothing else). None on a step the Monitor samples σ on (it runs
    eagerly)."""
    if not FUSED_AVAILABLE or optimizer.sigma_record is not None:
        return {}
    whole = {}
    for index, found in gathered.items():
        params = optimizer.param_groups[index]["params"]
        if (
            len(found) == 1
            and len(params) == len(found[0].params)
            and all(map(operator.is_, params, found[0].params))
        ):
            whole[index] = found[0]
    return whole


def gradients_to_check(
    gathered: dict[int, list[Bucket]], work: list[list[tuple[torch.Tensor, Any]]]
) -> list[torch.Tensor]:
    """The tensors whose finiteness decides the step: the flat gradient of each ``gathered``
    bucket (see :func:`gather_ready_gradients`), and every gradient ``work`` lists outside them. One
    reduction over a flat buffer instead of one per tensor."""
    tensors: list[torch.Tensor] = []
    for index, items in enumerate(work):
        buckets = gathered.get(index, [])
        covered = {id(p) for bucket in buckets for p in bucket.params}
        tensors += [bucket.grad for bucket in buckets]
        tensors += [grad for param, grad in items if id(param) not in covered]
    return tensors
