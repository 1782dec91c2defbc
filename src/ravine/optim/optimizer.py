"""The stateful shell of the rule: a ``torch.optim.Optimizer`` for any direction m and σ.

    θ_i^{t+1} ← θ_i^t − (η^t / σ_i^t) · m_i^t

:class:`Optimizer` keeps the parameter groups, the per-parameter state, the non-finite policy
and the choice of path (eager, or the fast path of :mod:`ravine.optim.fused`); the arithmetic of
one step is :func:`ravine.optim.update.apply_rule`, and m and σ come from the parts in
``directions`` and ``magnitudes``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any

import torch

from ..schedules.rate import SCHEDULE, LearningRate, attach_schedule, next_rate, show_next_rate
from ..validation import check_choice, check_flag, check_nonnegative, require
from .base import Direction, Magnitude, merge_defaults
from .base import scalar_dtype as _scalar_dtype
from .directions import Gradient
from .fused import (
    fused_group_step,
    fused_step,
    gather_ready_gradients,
    gradients_to_check,
    whole_groups,
)
from .interop import as_ravine_state_dict
from .magnitudes import Unit
from .slices import in_slices, sliceable
from .tensor_list import ListState, TensorList
from .update import apply_rule

NONFINITE_POLICIES = ("raise", "skip", "ignore")


class NonFiniteGradientError(FloatingPointError):
    """A gradient held nan or inf; the step was refused and nothing was changed.

    ``parameter`` names the parameter (its name when the optimizer was given named parameters,
    else ``group G, index I``) and ``step`` is the optimizer step that was refused (counted
    from 0, the number of steps taken before it).
    """

    def __init__(self, parameter: str, step: int, bad: int, total: int) -> None:
        self.parameter, self.step = parameter, step
        super().__init__(
            f"non-finite gradient in parameter {parameter} at step {step}: {bad} of {total} "
            "entries are nan or inf; the parameters and the optimizer state are unchanged. "
            "Pass nonfinite='skip' to skip such steps, or nonfinite='ignore' to apply them "
            "as torch.optim does."
        )


class Optimizer(torch.optim.Optimizer):
    r"""Apply θ ← θ − (η^t/σ^t)·m^t for any direction m and magnitude σ.

    Per step, for every parameter θ with a gradient g (t counts that parameter's updates):

    .. code-block:: text

        g ← −g                          if maximize
        g ← g + λ·θ                     if weight_decay λ and not decoupled (L2, in the loss)
        θ ← θ·(1 − η^t·λ)               if weight_decay λ and decoupled (AdamW)
        m ← direction(g), σ ← magnitude(g)
        θ ← θ − η^t · m / σ             (θ ← θ + m/σ when m carries η, the lecture's movement)

    With ``scale_first=True`` σ divides the gradient before the direction accumulates it,
    m ← direction(g/σ), θ ← θ − η^t·m: torch's RMSprop with momentum works that way.

    Args:
        params: parameters, ``named_parameters()``, or parameter groups (dicts); a group may
            set any hyperparameter of its own.
        lr: η. A number >= 0 (units of θ per unit of m/σ), or a callable ``step -> η^t``
            called with the number of steps this group has taken (0 on the first step).
            ``group["lr"]`` always holds the η of the next step, so torch's LR schedulers
            work unchanged (with a callable, the callable decides).
        direction: m, a :class:`~ravine.optim.base.Direction` (default: the gradient).
        magnitude: σ, a :class:`~ravine.optim.base.Magnitude` (default: σ = 1).
        weight_decay: λ >= 0.
        decoupled_weight_decay: shrink θ directly instead of adding λ·θ to the gradient.
        maximize: ascend instead of descend.
        scale_first: divide g by σ before the direction sees it (see above).
        fused: take the fast path (:mod:`ravine.optim.fused`): flat buffers and one compiled
            kernel per step, the same numbers up to rounding; where it cannot run, the step
            falls back to this eager path.
        foreach: run the eager step on lists of tensors (torch's multi-tensor kernels, one call
            per operation for a whole group): None (default) on accelerators, and on the CPU
            for groups of at least 10 small tensors (at most 8,192 entries each; the others
            one by one, as torch's CPU default); True anywhere; False never. The numbers are
            the same either way.
        nonfinite: what a nan or inf gradient does: ``"raise"`` (default) raises
            :class:`NonFiniteGradientError` with parameters and state untouched; ``"skip"``
            skips the whole step and counts it in :attr:`skipped_steps`; ``"ignore"`` applies
            it as torch.optim does.

    Parameters without a gradient are left alone and their step count does not advance.
    Sparse gradients are refused.

    ``sigma_record``: None (the default: nothing is kept), or a dict that a monitor
    (:class:`ravine.diagnose.monitor.Monitor`) sets before a step it samples; each parameter's
    update then stores ``sigma_record[param] = (η^t, σ^t)`` (σ^t None when σ = 1), from which
    the effective learning rate η^t/σ_i^t follows.
    """

    sigma_record: dict[torch.Tensor, tuple[float, torch.Tensor | None]] | None = None

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 1e-3,
        direction: Direction | None = None,
        magnitude: Magnitude | None = None,
        *,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        maximize: bool = False,
        scale_first: bool = False,
        nonfinite: str = "raise",
        fused: bool = False,
        foreach: bool | None = None,
    ) -> None:
        self.direction = Gradient() if direction is None else direction
        self.magnitude = Unit() if magnitude is None else magnitude
        require(isinstance(self.direction, Direction), "direction", direction, "a ravine Direction")
        require(isinstance(self.magnitude, Magnitude), "magnitude", magnitude, "a ravine Magnitude")
        check_choice("nonfinite", nonfinite, NONFINITE_POLICIES)
        check_flag("scale_first", scale_first)
        check_flag("fused", fused)
        self.scale_first = scale_first
        self.nonfinite = nonfinite
        self.fused = fused
        domain = "None, True or False"
        require(foreach is None or isinstance(foreach, bool), "foreach", foreach, domain)
        self.foreach = foreach
        self._buckets: dict = {}  # the fast path's flat buffers (see ravine.optim.fused)
        self._eager_since: set[int] = set()  # groups updated eagerly since their last fused step
        self._past_recompile_limit: set[int] = set()  # groups the compiler refused (fused.py)
        self.skipped_steps = 0
        self._shared_norms: dict[int, tuple[torch.Tensor, int, torch.Tensor]] | None = None
        defaults = dict(
            lr=lr,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            **merge_defaults(self.direction, self.magnitude),
        )
        super().__init__(params, defaults)

    # --- groups ---------------------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (torch's contract) after checking every hyperparameter it will use.

        A group whose hyperparameters are out of their domain raises ValueError and is not
        added, so the optimizer is unchanged.
        """
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        try:
            attach_schedule(group)
            group.setdefault("steps", 0)
            check_nonnegative("weight_decay", group["weight_decay"])
            for key in ("decoupled_weight_decay", "maximize"):
                check_flag(key, group[key])
            self.direction.check(group)
            self.magnitude.check(group)
        except ValueError:
            self.param_groups.pop()
            raise

    @property
    def scalar_state(self) -> tuple[str, ...]:
        """The state keys the parts keep as one number shared by a parameter's entries (NAdam's
        Π μ), besides ``step``: kept in torch's scalar dtype, not shaped like the parameter."""
        return self.direction.scalar_state + self.magnitude.scalar_state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("fused", False)
        self.__dict__.setdefault("foreach", None)
        self._buckets, self._eager_since, self._past_recompile_limit = {}, set(), set()
        for group in self.param_groups:
            group.setdefault(SCHEDULE, None)
            group.setdefault("steps", 0)

    def state_dict(self) -> dict[str, Any]:
        """torch's state_dict plus ravine's count of skipped steps.

        A callable η^t is code, not state: it is left out (as torch's LambdaLR leaves out
        functions), so the dict can be saved with any schedule, and the optimizer it is loaded
        into keeps its own. The group's step count, which the schedule reads, is saved.
        """
        saved = super().state_dict()
        for group in saved["param_groups"]:
            group.pop(SCHEDULE, None)
        saved["skipped_steps"] = self.skipped_steps
        return saved

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's load_state_dict, for ravine's dicts and torch.optim's of the same algorithm
        (translated by :mod:`ravine.optim.interop`). A dict of another algorithm, another number
        of parameters or other shapes raises ValueError before anything is loaded."""
        state_dict = as_ravine_state_dict(self, state_dict)
        self.skipped_steps = int(state_dict.pop("skipped_steps", 0))
        schedules = [group.get(SCHEDULE) for group in self.param_groups]
        super().load_state_dict(state_dict)
        for group, schedule in zip(self.param_groups, schedules, strict=True):
            group[SCHEDULE] = schedule
            group.setdefault("steps", 0)
            show_next_rate(group)
        # torch casts every state tensor but ``step`` to the parameter's dtype; scalars such as
        # NAdam's Π μ go back to the scalar dtype they were saved in (an exact round trip).
        for state in self.state.values():
            for key in self.scalar_state:
                if key in state:
                    state[key] = state[key].to(device="cpu", dtype=_scalar_dtype())

    # --- the step -------------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        compiling = torch.compiler.is_compiling()
        rates = [_rate(next_rate(group), compiling) for group in self.param_groups]
        # the fast path's groups ready as they are; gathered first, before ``work`` holds the
        # old gradients, so that each is freed once copied. Inside the user's torch.compile
        # the eager step is what gets compiled (see _step_count)
        fused = self.fused and not compiling
        # norms someone read this step (the Monitor): used, and dropped, before gathering
        # moves p.grad (so no old gradient is kept alive beside the flat buffer)
        screened = self._screened_by_shared_norms()
        gathered = gather_ready_gradients(self) if fused else {}
        whole = whole_groups(self, gathered)
        work = self._gradients(skip=whole)
        self._refuse_sparse(work)
        if self.nonfinite != "ignore" and not (
            screened or _all_finite(gradients_to_check(gathered, work))
        ):
            if self.nonfinite == "raise":
                raise self._nonfinite_error(self._gradients())
            self.skipped_steps += 1
            return loss
        for index, (group, items, lr) in enumerate(
            zip(self.param_groups, work, rates, strict=True)
        ):
            if index in whole:
                fused_step(self, index, group, [whole[index]], lr)
            elif not (fused and fused_group_step(self, index, group, items, lr)):
                self._update_group(items, group, lr)
                self._eager_since.add(index)
            group["steps"] += 1
            show_next_rate(group)
        return loss

    def share_gradient_norms(
        self, params: Sequence[torch.Tensor], norms: Sequence[torch.Tensor]
    ) -> None:
        """Norms ‖g_p‖ (0-d tensors) of this step's gradients, computed by someone who read
        them anyway — the Monitor does, in its step pre-hook. The next ``step()`` then checks
        finiteness from these instead of reading every gradient again, provided they cover
        every parameter it updates and each ``p.grad`` is still the tensor they were computed
        from, unchanged since (its version counter); otherwise it reads the gradients itself.
        A non-finite norm proves nothing alone (squares may overflow): the entries decide."""
        self._shared_norms = {
            id(p): (p.grad, p.grad._version, norm)
            for p, norm in zip(params, norms, strict=True)
            if p.grad is not None
        }

    def _screened_by_shared_norms(self) -> bool:
        """True when shared norms (see :meth:`share_gradient_norms`) show every gradient this
        step updates finite; False when they cannot tell. Used once: they are dropped here."""
        shared, self._shared_norms = self._shared_norms, None
        if not shared or self.nonfinite == "ignore":
            return False
        norms = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                found = shared.get(id(p))
                if found is None or found[0] is not p.grad or found[1] != p.grad._version:
                    return False
                norms.append(found[2])
        return bool(norms) and bool(torch.isfinite(torch.stack(norms)).all())

    def _gradients(self, skip: Container[int] = ()) -> list[list[tuple[torch.Tensor, Any]]]:
        """Each group's (parameter, gradient) pairs, for the parameters with a gradient; none for
        the groups numbered in ``skip``."""
        return [
            [] if index in skip else [(p, p.grad) for p in group["params"] if p.grad is not None]
            for index, group in enumerate(self.param_groups)
        ]

    def _update_group(
        self, items: list[tuple[torch.Tensor, torch.Tensor]], group: dict, lr: float
    ) -> None:
        """The eager step of one group: the parameters that can share a step as lists (one
        multi-tensor call per operation, :mod:`ravine.optim.tensor_list`), the others one by
        one. The numbers are the same either way.

        By default (``foreach=None``) lists hold every parameter on an accelerator (CUDA), where
        one multi-tensor kernel replaces a launch per tensor. On the CPU, where torch's
        multi-tensor operations loop over the tensors on one thread and pass over all of them
        once per operation (a per-tensor step keeps each tensor in cache), lists hold only the
        tensors of at most :data:`CPU_LIST_LIMIT` entries, and only when at least
        :data:`CPU_LIST_MIN` of them share a step: there a step is mostly the cost of calling
        each operation. Measured in training loops on the digits (batch 32, one thread), the
        whole update as lists against one by one: 6 tensors 1.02–1.03×, 10 tensors 0.93–0.97×,
        17 tensors 0.87–0.95×, 34 tensors 0.86–0.93× (Adam, SGD with momentum); Adam on 8
        tensors of 65,536 entries: 1.7–2.4× (so larger tensors step one by one).
        ``foreach=True`` asks for lists for every tensor, ``False`` never."""
        # one by one throughout: lists not chosen, a step the Monitor samples σ on, a step
        # inside torch.compile (grouping reads each step count as a number, a graph break per
        # parameter), or by default too few CPU tensors for a list
        if (
            self.foreach is False
            or self.sigma_record is not None
            or torch.compiler.is_compiling()
            or (self.foreach is None and len(items) < CPU_LIST_MIN and _all_on_cpu(items))
        ):
            for param, grad in items:
                self._update(param, grad, group, lr, self.state[param])
            return
        scalar_keys = ("step", *self.scalar_state)
        lists: dict[tuple, list[tuple[torch.Tensor, torch.Tensor, dict]]] = {}
        for param, grad in items:
            state = self.state[param]  # looked up once: a tensor's hash is a Python call
            key = self._list_key(param, grad, state, scalar_keys)
            if key is None:
                self._update(param, grad, group, lr, state)
            else:
                lists.setdefault(key, []).append((param, grad, state))
        for key, members in lists.items():
            few = self.foreach is None and key[0].type == "cpu" and len(members) < CPU_LIST_MIN
            if len(members) == 1 or few:
                for param, grad, state in members:
                    self._update(param, grad, group, lr, state)
            else:
                self._update_list(members, group, lr)

    def _list_key(
        self,
        param: torch.Tensor,
        grad: torch.Tensor,
        state: dict[str, Any],
        scalar_keys: tuple[str, ...] = ("step",),
    ) -> tuple | None:
        """Which list ``param`` joins: parameters of one device and dtype at the same step
        (with the same shared scalars ``scalar_keys``, NAdam's Π μ, and the same ``state``
        entries); None for one stepped alone: by default a CPU tensor of more than
        :data:`CPU_LIST_LIMIT` entries (see :meth:`_update_group`), a 0-d or complex
        parameter, a gradient of another dtype or layout."""
        device = param.device
        if (
            (self.foreach is None and device.type == "cpu" and param.numel() > CPU_LIST_LIMIT)
            or param.dim() == 0
            or param.is_complex()
            or grad.dtype != param.dtype
            or grad.layout != torch.strided
        ):
            return None
        if not state:  # not stepped yet: its state is made when its list is
            return (device, param.dtype)
        # the same step, shared scalars and state entries (a buffer made lazily)
        scalars = tuple(float(state[k]) for k in scalar_keys if k in state)
        return (device, param.dtype, scalars, *state)

    def _update_list(
        self, members: list[tuple[torch.Tensor, torch.Tensor, dict]], group: dict, lr: float
    ) -> None:
        """θ ← θ − (η/σ)·m for parameters that share their step count, as lists; ``members``
        are (θ, g, θ's state) triples."""
        for param, _, state in members:
            if not state:
                self._init_state(param, state, group)
        states = [state for _, _, state in members]
        for state in states:
            _advance(state["step"])
        first = states[0]
        self._apply(
            TensorList([p for p, _, _ in members]),
            TensorList([g for _, g, _ in members]),
            ListState(states),
            group,
            lr,
            _step_count(first),
        )
        for key in self.scalar_state:  # updated on the first parameter's copy: share it
            if key in first:
                torch._foreach_copy_([s[key] for s in states[1:]], [first[key]] * (len(states) - 1))

    def _init_state(self, param: torch.Tensor, state: dict[str, Any], group: dict) -> None:
        """A parameter's state before its first step: t = 0 and the parts' buffers."""
        state["step"] = torch.tensor(0.0, dtype=_scalar_dtype())
        self.direction.init_state(param, state, group)
        self.magnitude.init_state(param, state, group)

    def _update(
        self,
        param: torch.Tensor,
        grad: torch.Tensor,
        group: dict,
        lr: float,
        state: dict[str, Any] | None = None,
    ) -> None:
        """θ ← θ − (η/σ)·m for one parameter (``state``: its state, when already looked up)."""
        if state is None:
            state = self.state[param]
        if not state:
            self._init_state(param, state, group)
        _advance(state["step"])
        if self.sigma_record is None and sliceable(
            param, grad, state, lr, self.direction, self.magnitude
        ):
            step = _step_count(state)
            for theta, grad_slice, state_slice in in_slices(param, grad, state):
                self._apply(theta, grad_slice, state_slice, group, lr, step)
            return
        theta = param
        if param.is_complex():  # torch's convention: a complex number is a pair of reals
            theta, grad = torch.view_as_real(param), torch.view_as_real(grad)
            state = RealView(state)
        sigma = self._apply(theta, grad, state, group, lr, _step_count(state))
        if self.sigma_record is not None:  # a monitor samples η^t/σ_i^t on this step
            self.sigma_record[param] = (lr, sigma)

    def _apply(self, theta, grad, state, group, lr, step) -> torch.Tensor | None:
        """:func:`~ravine.optim.update.apply_rule` with this optimizer's parts; returns σ."""
        return apply_rule(
            theta, grad, state, group, lr, step, self.direction, self.magnitude, self.scale_first
        )

    # --- bad input ------------------------------------------------------------------------

    def _name(self, group_index: int, index: int) -> str:
        names = self.param_groups[group_index].get("param_names")
        where = f"group {group_index}, index {index}"
        return f"{names[index]!r} ({where})" if names else where

    def _refuse_sparse(self, work: list[list[tuple[torch.Tensor, torch.Tensor]]]) -> None:
        for gi, items in enumerate(work):
            for param, grad in items:
                if grad.is_sparse:
                    index = _index_in(self.param_groups[gi]["params"], param)
                    raise RuntimeError(
                        f"{type(self).__name__} does not support sparse gradients; parameter "
                        f"{self._name(gi, index)} has one. Use a dense embedding "
                        "(sparse=False) or torch.optim.SparseAdam."
                    )

    def _nonfinite_error(self, work) -> NonFiniteGradientError:
        for gi, items in enumerate(work):
            for param, grad in items:
                finite = torch.isfinite(grad)
                if not bool(finite.all()):
                    index = _index_in(self.param_groups[gi]["params"], param)
                    bad = int(finite.numel() - finite.sum())
                    step = self.param_groups[gi]["steps"]
                    return NonFiniteGradientError(self._name(gi, index), step, bad, grad.numel())
        raise AssertionError("no non-finite gradient found")  # pragma: no cover


class RealView(dict):
    """A complex parameter's state seen as pairs of reals (``torch.view_as_real``), as torch.optim
    updates complex parameters. Tensors stay complex in ``optimizer.state`` (so state_dicts
    match torch's): the parts update real views of them in place, and a tensor a part stores
    anew is stored back complex."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__({key: _as_real(value) for key, value in state.items()})
        self.complex_state = state

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        old = self.complex_state.get(key)
        pair = isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[-1] == 2
        if pair and (old is None or (isinstance(old, torch.Tensor) and old.is_complex())):
            value = torch.view_as_complex(value.contiguous())
        self.complex_state[key] = value


def _as_real(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_complex():
        return torch.view_as_real(value)
    return value


def _rate(lr: Any, compiling: bool) -> Any:
    """η^t as the step uses it: a 1-element tensor ``lr`` as its number, so that the eager step
    computes exactly as with a number; inside torch.compile as the tensor itself, which the
    compiled step reads without a constant to recompile for (torch's own way)."""
    if isinstance(lr, torch.Tensor) and lr.numel() == 1 and not compiling:
        return lr.item()
    return lr


def _all_on_cpu(items: list[tuple[torch.Tensor, torch.Tensor]]) -> bool:
    return all(param.device.type == "cpu" for param, _ in items)


_ONE = torch.tensor(1.0)


def _advance(step: torch.Tensor) -> None:
    """t ← t + 1, in place. A CPU count adds a kept 0-d one: adding the number 1 wraps it in
    a new tensor every time (1.8 µs against 0.8 µs a parameter; torch's multi-tensor add is no
    cheaper on 0-d tensors, 1.3 µs each). Exact either way: t is a whole number."""
    if step.device.type == "cpu" and not torch.compiler.is_compiling():
        step.add_(_ONE)
    else:
        step += 1


def _step_count(state: dict[str, Any]) -> Any:
    """t, this parameter's step count, for the parts: a Python number in the eager step (their
    scalars then round as torch.optim's do); inside torch.compile the 0-d tensor itself, so
    that t is an input of the compiled step, not a constant that changes every step and makes
    torch recompile it (the parts compute their step-dependent scalars as tensor arithmetic
    there, as in the fast path's kernel; :func:`ravine.optim.base.traced`)."""
    step = state["step"]
    return step if torch.compiler.is_compiling() else step.item()


def _all_finite(grads: list[torch.Tensor]) -> bool:
    """True when every gradient is finite, with one host sync. A sum is finite unless an entry
    is nan or inf or the sum overflows; only in those rare cases is each entry checked.

    On the CPU (reading a number there syncs nothing) each large gradient is summed alone, on
    all of torch's threads, and the small ones through one ``_foreach_norm`` (a Euclidean norm,
    finite on the same terms but for squares overflowing beyond about 1e19: then too each
    entry is checked), which loops on one thread but without a call per tensor; a few are
    summed one by one. The results are added as Python numbers. Measured, 2 cores: Adam's 20M
    float32 gradients in 100 tensors 3.5 ms summed against 6.4 ms as norms; 1,000 tensors of
    100 entries 1.2 ms as norms against 1.6 ms summed; a 4-tensor network 6 µs against 13 µs
    through a stacked tensor. Elsewhere (and for complex gradients) a few tensors (the fast
    path's flat buffers) are summed one by one and many in one ``_foreach_norm``, stacked and
    read once."""
    if not grads:
        return True
    if all(grad.device.type == "cpu" and not grad.is_complex() for grad in grads):
        screened = math.isfinite(_cpu_screen(grads))
    else:
        few = len(grads) <= _SUMMED_ONE_BY_ONE
        screens = torch.stack([g.sum() for g in grads] if few else torch._foreach_norm(grads))
        screened = bool(torch.isfinite(screens).all())
    return screened or all(bool(torch.isfinite(grad).all()) for grad in grads)


def _cpu_screen(grads: list[torch.Tensor]) -> float:
    """A number finite only if every CPU gradient is (see :func:`_all_finite`): the sums of
    the large ones, each on all threads, and of a few small ones, plus the norms of many small
    ones read in one ``_foreach_norm``."""
    small = [grad for grad in grads if grad.numel() < _SUMMED_ALONE]
    if len(small) <= _SUMMED_ONE_BY_ONE:
        return sum(float(grad.sum()) for grad in grads)
    alone = [grad for grad in grads if grad.numel() >= _SUMMED_ALONE]
    total = sum(float(grad.sum()) for grad in alone)
    return total + float(torch.stack(torch._foreach_norm(small)).sum())


_SUMMED_ONE_BY_ONE = 8  # up to this many gradients are summed one by one (see _all_finite)

# By default, CPU parameters of at most CPU_LIST_LIMIT entries step as lists when at least
# CPU_LIST_MIN of them share a step (see Optimizer._update_group for the measurements)
CPU_LIST_LIMIT = 8192
CPU_LIST_MIN = 10
# CPU gradients of at least this many entries are summed alone (see _all_finite): torch splits
# a reduction over its threads from 32,768 entries on
_SUMMED_ALONE = 32768


def _index_in(params: list[torch.Tensor], param: torch.Tensor) -> int:
    return next(i for i, p in enumerate(params) if p is param)
