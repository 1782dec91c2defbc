"""A sweep over η: R settings of one problem trained together, stacked along a run axis.

For settings r = 1 … R with learning rates η_r, every run starts from the same θ⁰ and follows
the rule with its own η:

    θ_r^{t+1} ← θ_r^t − (η_r·s(t) / σ_r^t) · m_r^t        s(t): the schedule's multiplier

The R copies of each parameter are stacked along a new first axis, shape (R, ...), and the
optimizer's own parts (:func:`ravine.optim.update.apply_rule`) update all of them at once with
η as a tensor of shape (R, 1, …, 1); their state tensors (m, Σg², v, …) get the same stacked
shape. The gradient of all R runs comes from one call: a surface's exact gradient takes θ of
shape (R, 2) as it is (as :func:`ravine.surfaces.descend` uses it), a network's comes from
``vmap(grad(functional_call(model, θ_r, x)))`` over the stacked parameters. Runs never mix,
so run r's trajectory is the one a single run with η_r follows, and a run that diverges
(its loss becomes inf or nan) keeps its nan to its own row.

A network is trained full batch: L(θ) = loss(model_θ(all inputs), all targets), one update per
step, on every example of the task (no validation split).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from ..optim import catalog
from ..optim.update import apply_rule
from ..surfaces import SURFACES, Surface
from ..surfaces import surface as build_surface
from ..tasks import TASKS, Task
from ..tasks import task as build_task
from ..validation import check_above, check_count, is_count, require
from .grid import learning_rates
from .result import DIVERGENCE, SweepResult

CURVE_POINTS = 200  # points kept of each loss curve (plus the final loss)
# A network's runs are trained in chunks whose widest activation, R·N·width numbers, fits in
# this many bytes: past a CPU's cache each element costs more (the sinc net, float64, 1 thread:
# 0.3-0.4 ms per run and step in chunks of 8, 0.8-0.9 ms in chunks of 64, 0.9-1.1 ms alone).
CHUNK_BYTES = 2 * 1024 * 1024


# --- the problems: R copies of θ and the gradient of all of them ----------------------------


class _SurfaceRuns:
    """R runs on a surface: θ (R, 2), the surface's own batched gradient."""

    kind = "surface"

    def __init__(self, surface: Surface, runs: int, dtype: torch.dtype, start=None) -> None:
        self.surface = surface
        start = torch.as_tensor(surface.start if start is None else start, dtype=dtype)
        if start.shape != (2,) or not bool(torch.isfinite(start).all()):
            raise ValueError(f"start must be one point (θ1, θ2) of finite numbers, got {start!r}")
        self.parameters = {"theta": start.expand(runs, 2).clone()}

    def gradients(self) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        return {"theta": self.surface.gradient(self.parameters["theta"])}, None

    def losses(self) -> torch.Tensor:
        return self.surface.loss(self.parameters["theta"])


# Layers without parameters that act on each number alone, so they apply to R runs as they are.
_ELEMENTWISE = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Identity)


def stacked_forward(model: nn.Module) -> Callable[..., torch.Tensor] | None:
    """For an ``nn.Sequential`` of ``nn.Linear`` and elementwise activations (the lecture's
    model family without normalization), the forward pass of R stacked copies at once:
    ``forward(theta, x)`` with θ name → (R, ...) and x (N, d) gives (R, N, outputs), each
    Linear as one batched product h·W_rᵀ + b_r. None for any other model.

    It computes what ``vmap(functional_call(model, ·, x))`` does, with kernels whose backward
    passes are cheaper on a CPU (about half the time of vmap's gradient for the sinc net).
    """
    if not isinstance(model, nn.Sequential):
        return None
    layers: list[tuple[str, str | None] | nn.Module] = []
    for name, module in model.named_children():
        if type(module) is nn.Linear:
            layers.append((f"{name}.weight", None if module.bias is None else f"{name}.bias"))
        elif type(module) in _ELEMENTWISE:
            layers.append(module)
        else:
            return None

    def forward(theta: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        h = inputs
        for layer in layers:
            if isinstance(layer, tuple):
                weight, bias = layer
                h = torch.matmul(h, theta[weight].transpose(-2, -1))  # (R, N, out)
                if bias is not None:
                    h = h + theta[bias].unsqueeze(-2)
            else:
                h = layer(h)
        return h

    return forward


class StackedNetworks(nn.Module):
    """R networks of one architecture side by side as one module, to train them as one model:
    their parameters stacked along a new first axis, name → (R, ...), the forward pass of all
    of them at once (:func:`stacked_forward`: inputs (N, d) → outputs (R, N, …)), and

        L(θ_1, …, θ_R) = Σ_r L_r(θ_r)   (:meth:`loss`, L_r = ``loss_fn`` of network r).

    θ_r enters only L_r, so ∂L/∂θ_r = ∇L_r(θ_r): an optimizer whose update is elementwise
    (SGD, Adam, …, with no global step such as clipping the norm) moves each network as it
    would alone, up to the rounding of the batched products — as the runs of :func:`sweep` do,
    here with a θ⁰ of each network's own (networks of other seeds) and any training loop.
    :meth:`network` takes network r out as a model of its own. The models must be ones
    :func:`stacked_forward` takes (ValueError otherwise); they are left untouched.
    """

    def __init__(self, models: Sequence[nn.Module], loss_fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        if not models:
            raise ValueError("StackedNetworks needs at least one model")
        self._forward = stacked_forward(models[0])
        layout = [(name, p.shape) for name, p in models[0].named_parameters()]
        same = all([(n, p.shape) for n, p in m.named_parameters()] == layout for m in models)
        if self._forward is None or not same:
            raise ValueError(
                "StackedNetworks takes nn.Sequential models of one layout made of nn.Linear "
                "and elementwise activations"
            )
        stacked, _ = stack_module_state(list(models))
        self.names = list(stacked)
        self.stacked = nn.ParameterList(nn.Parameter(p.detach().clone()) for p in stacked.values())
        self._template = copy.deepcopy(models[0])
        self._loss_of_outputs = vmap(loss_fn, in_dims=(0, None))  # (R, N, …) → (R,)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Every network's outputs, (R, N, …)."""
        return self._forward(dict(zip(self.names, self.stacked, strict=True)), inputs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Σ_r L_r from the stacked ``outputs`` and the shared ``targets``."""
        return self._loss_of_outputs(outputs, targets).sum()

    def network(self, index: int) -> nn.Module:
        """Network ``index`` as a model of its own, holding its current parameters."""
        model = copy.deepcopy(self._template)
        with torch.no_grad():
            for (_, param), stacked in zip(model.named_parameters(), self.stacked, strict=True):
                param.copy_(stacked[index])
        return model


class _NetworkRuns:
    """R copies of a task's network, stacked; the gradient of every run's full-batch loss at
    once: by :func:`stacked_forward` and one backward pass of Σ_r L_r (each θ_r gets ∇L_r, as
    runs share nothing) where the model allows, else by vmap(grad(functional_call))."""

    kind = "task"

    def __init__(self, task: Task, runs: int, seed: int) -> None:
        model = task.model(seed)
        buffers = [name for name, _ in model.named_buffers()]
        if buffers:
            raise ValueError(
                f"a sweep trains networks without buffers; {task.model_spec or task.name} keeps "
                f"{', '.join(buffers)} (batch normalization's running statistics)"
            )
        stacked, _ = stack_module_state([model] * runs)
        self.parameters = {name: p.detach().clone() for name, p in stacked.items()}
        self.inputs, self.targets = task.inputs, task.targets
        loss_fn = task.loss_fn
        self.forward = stacked_forward(model)
        if self.forward is not None:
            self._loss_of_outputs = vmap(loss_fn, in_dims=(0, None))  # (R, N, …) → (R,)
            return

        def loss(theta: dict[str, torch.Tensor], inputs, targets) -> torch.Tensor:
            return loss_fn(functional_call(model, theta, (inputs,)), targets)

        self._loss = vmap(loss, in_dims=(0, None, None))
        self._gradient = vmap(grad_and_value(loss), in_dims=(0, None, None))

    def gradients(self) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        if self.forward is None:
            return self._gradient(self.parameters, self.inputs, self.targets)
        with torch.enable_grad():
            theta = {name: p.detach().requires_grad_() for name, p in self.parameters.items()}
            losses = self._loss_of_outputs(self.forward(theta, self.inputs), self.targets)
            grads = torch.autograd.grad(losses.sum(), list(theta.values()))
        return dict(zip(theta, grads, strict=True)), losses.detach()

    def losses(self) -> torch.Tensor:
        if self.forward is None:
            return self._loss(self.parameters, self.inputs, self.targets)
        return self._loss_of_outputs(self.forward(self.parameters, self.inputs), self.targets)


def _problem(problem: str | Surface | Task) -> Surface | Task:
    if isinstance(problem, (Surface, Task)):
        return problem
    if isinstance(problem, str):
        if problem in TASKS:
            return build_task(problem)
        if problem in SURFACES:
            return build_surface(problem)
    raise ValueError(
        f"cannot sweep {problem!r}; give a Surface, a Task, or one of the names: "
        f"{', '.join([*TASKS, *SURFACES])}"
    )


# --- the sweep ------------------------------------------------------------------------------


def sweep(
    problem: str | Surface | Task,
    optimizer: str = "gd",
    *,
    lrs: str | float | Sequence[float] | torch.Tensor,
    steps: int = 1000,
    options: dict[str, Any] | None = None,
    schedule: Callable[[int], float] | None = None,
    seed: int | None = None,
    start: Sequence[float] | None = None,
    points: int = CURVE_POINTS,
    divergence: float = DIVERGENCE,
    chunk: int | None = None,
    dtype: torch.dtype = torch.float64,
    progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> SweepResult:
    """Run ``optimizer`` (a catalog name) once per learning rate, all runs at once.

    Args:
        problem: an error surface or a task (an object, or its name: ``"pokemon"``,
            ``"sinc"``, …). A task's network is trained full batch on all its examples.
        lrs: the η of each setting: a sequence, a tensor, or a spec
            (:func:`~ravine.sweep.parse_lrs`, ``"1e-4:1e-1:16"``); each a finite number > 0.
        steps: N, the updates of every run.
        options: the optimizer's other hyperparameters (``ravine.optim.create``'s), the same
            for every run.
        schedule: η^t/η as a function of the step t (counted from 0), the same for every run.
        seed: the network's initialization seed (default: the task's), the same θ⁰ for all.
        start: a surface's θ⁰ (θ1, θ2), the same for all (default: the surface's start).
        points: about how many points of each loss curve to keep (at equal step intervals,
            t = 0 and t = N always kept).
        divergence: a run whose final loss passes L⁰ + (divergence − 1)·|L⁰| is flagged as
            diverged (as is one whose loss became inf or nan); a number > 1.
        chunk: the runs trained together; the chunks run one after another. Default: all
            of a surface's; for a network, as many as keep its widest activation
            (R·N·width numbers) within :data:`CHUNK_BYTES`, about a CPU's cache.
        dtype: a surface's θ dtype (a network keeps its model's).
        progress: ``progress(done, total)`` after each step of each chunk: ``done`` of the
            ``total`` = steps × chunks.
        stop: polled after each step (Ctrl-C): when True the sweep stops there. The result
            then holds the chunks already done, or, when the first chunk was not done, its
            runs up to the step reached; ``interrupted`` says what is missing.

    Returns the :class:`SweepResult`. Bad input raises ValueError naming it, before any step.
    """
    steps = check_count("steps", steps)
    points = check_count("points", points)
    check_above("divergence", divergence, 1)
    rates = learning_rates(lrs)
    options = dict(options or {})
    if "lr" in options:
        raise ValueError("give the learning rates as lrs=, not options['lr']")
    require(
        chunk is None or (is_count(chunk) and chunk >= 1), "chunk", chunk, "an integer >= 1 or None"
    )
    target = _problem(problem)
    size, make_runs = _chunking(target, len(rates), chunk, seed, start, dtype)
    multipliers = [1.0] * steps if schedule is None else [float(schedule(t)) for t in range(steps)]
    every = max(1, steps // points)
    kept = [*range(0, steps, every), steps]

    begun = time.perf_counter()
    chunks = []
    total = steps * -(-len(rates) // size)  # steps × ⌈runs / chunk⌉
    done_runs, done_steps = 0, steps
    for first in range(0, len(rates), size):
        done = steps * (first // size)
        tick = None if progress is None else lambda t, done=done: progress(done + t, total)
        part = rates[first : first + size]
        runs = make_runs(len(part))
        # Building the optimizer checks every hyperparameter and gives the parts and the group.
        rule = catalog.create(optimizer, list(runs.parameters.values()), lr=part[0], **options)
        with torch.no_grad():
            state, losses, taken = _descend_together(
                runs, rule, part, multipliers, every, tick, stop
            )
        if taken == steps or not chunks:  # a whole chunk, or the first one's runs so far
            chunks.append((runs.parameters, state, losses))
            done_runs, done_steps = first + len(part), taken
        if stop is not None and stop():
            break
    seconds = time.perf_counter() - begun
    params, state, losses = _join(chunks, rule.scalar_state)
    interrupted = None
    if (done_runs, done_steps) != (len(rates), steps):  # stopped
        kept = [*range(0, done_steps, every), done_steps]
        interrupted = (
            f"interrupted: {done_runs} of {len(rates)} η run for {done_steps} of {steps} steps"
        )

    return SweepResult(
        problem=getattr(target, "name", str(problem)),
        kind=runs.kind,
        optimizer=optimizer,
        options=options,
        lrs=rates[:done_runs],
        steps=done_steps,
        curve_steps=kept,
        losses=losses,
        seconds=seconds,
        divergence=float(divergence),
        schedule=getattr(schedule, "spec", None if schedule is None else repr(schedule)),
        parameters=params,
        state=state,
        minima=getattr(target, "minima", None) if runs.kind == "surface" else None,
        interrupted=interrupted,
    )


def _chunking(
    target: Surface | Task,
    count: int,
    chunk: int | None,
    seed: int | None,
    start: Sequence[float] | None,
    dtype: torch.dtype,
) -> tuple[int, Callable[[int], _SurfaceRuns | _NetworkRuns]]:
    """How many of the ``count`` runs to train together, and the factory of that many
    stacked runs of ``target``: all of a surface's runs at once; a network's as many as
    :func:`runs_per_chunk` allows (unless ``chunk`` says)."""
    if isinstance(target, Surface):

        def surface_runs(runs: int) -> _SurfaceRuns | _NetworkRuns:
            return _SurfaceRuns(target, runs, dtype, start)

        return (count if chunk is None else chunk), surface_runs
    if start is not None:
        raise ValueError(f"start is for a surface; {target.name} is a task (use seed)")
    seed = target.seed if seed is None else seed

    def network_runs(runs: int) -> _SurfaceRuns | _NetworkRuns:
        return _NetworkRuns(target, runs, seed)

    return (runs_per_chunk(target, seed) if chunk is None else chunk), network_runs


def runs_per_chunk(task: Task, seed: int | None = None) -> int:
    """How many copies of the task's network keep the widest activation, R·N·width numbers,
    within CHUNK_BYTES (at least 1): the runs to train at once."""
    model = task.model(seed)
    widths = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)]
    if not widths:
        return 1_000_000
    per_run = len(task.inputs) * max(widths) * next(model.parameters()).element_size()
    return max(1, CHUNK_BYTES // per_run)


def _join(chunks, scalars):
    """The chunks' stacked parameters, state and losses joined along the run axis; a scalar
    state (the same for every run, like NAdam's Π μ) is kept once."""
    if len(chunks) == 1:
        return chunks[0]
    params = {name: torch.cat([c[0][name] for c in chunks]) for name in chunks[0][0]}
    state = {
        name: {
            key: value if key in scalars else torch.cat([c[1][name][key] for c in chunks])
            for key, value in chunks[0][1][name].items()
        }
        for name in chunks[0][1]
    }
    return params, state, torch.cat([c[2] for c in chunks], dim=1)


def _descend_together(runs, rule, rates, multipliers, every, tick=None, stop=None):
    """N updates of every stacked parameter in place (``tick(t)`` after update t, from 1;
    fewer when ``stop()`` turns True after one); returns the stacked state, the kept losses
    (K, R) and the updates made."""
    direction, magnitude, scale_first = rule.direction, rule.magnitude, rule.scale_first
    params = runs.parameters
    first = next(iter(params.values()))
    eta = torch.tensor(rates, dtype=first.dtype, device=first.device)
    # one group and one state per parameter; η as (R, 1, …, 1) to broadcast against θ (R, …)
    groups, state, column = {}, {}, {}
    for name, theta in params.items():
        group = dict(rule.param_groups[0])
        column[name] = eta.reshape(-1, *([1] * (theta.dim() - 1)))
        group["lr"] = column[name]
        state[name] = {}
        direction.init_state(theta, state[name], group)
        magnitude.init_state(theta, state[name], group)
        groups[name] = group
    constant = all(m == 1.0 for m in multipliers)
    kept: list[torch.Tensor] = []
    taken = 0
    for t, multiplier in enumerate(multipliers):
        grads, loss = runs.gradients()
        if t % every == 0:
            kept.append(runs.losses() if loss is None else loss)  # L(θ^t)
        for name, theta in params.items():
            group = groups[name]
            rate = column[name] if constant else column[name] * multiplier  # η_r^t
            group["lr"] = rate
            apply_rule(
                theta,
                grads[name],
                state[name],
                group,
                rate,
                t + 1,
                direction,
                magnitude,
                scale_first,
            )
        taken = t + 1
        if tick is not None:
            tick(taken)
        if stop is not None and stop():
            break
    kept.append(runs.losses())  # L(θ^N)
    return state, torch.stack(kept), taken
