"""A sweep over η: R settings of one problem trained together, as one batch.

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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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

CURVE_POINTS = 200  # points kept of each loss curve (plus the final loss)
# A run diverged when its loss became inf or nan, or ended above L⁰ + (DIVERGENCE − 1)·|L⁰|
# (for a positive loss: more than 10 times where it started; the Monitor's factor, 10).
DIVERGENCE = 10.0
# A network's runs are trained in batches whose widest activation, R·N·width numbers, fits in
# this many bytes: past a CPU's cache each element costs more (the sinc net, float64, 1 thread:
# 0.3-0.4 ms per run and step in batches of 8, 0.8-0.9 ms in batches of 64, 0.9-1.1 ms alone).
BATCH_BYTES = 2 * 1024 * 1024


# --- the η grid -----------------------------------------------------------------------------


def log_spaced(low: float, high: float, count: int) -> list[float]:
    """``count`` learning rates from ``low`` to ``high`` equally spaced in log η:
    η_k = low·(high/low)^(k/(count−1)), k = 0 … count−1; both ends exact."""
    if not (_positive(low) and _positive(high) and low < high):
        raise ValueError(f"a log-spaced grid needs 0 < low < high, got low={low!r}, high={high!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 2:
        raise ValueError(f"a log-spaced grid needs at least 2 points, got {count!r}")
    ratio = high / low
    inner = [low * ratio ** (k / (count - 1)) for k in range(1, count - 1)]
    return [float(low), *inner, float(high)]


LR_SPEC_HELP = (
    "η as X, a list X,Y,Z, or A:B:N (N values from A to B equally spaced in log η, "
    "e.g. 1e-4:1e-1:16)"
)


def parse_lrs(text: str) -> list[float]:
    """A learning-rate spec → the list of η.

    ``"1e-3"`` one η; ``"1e-3,3e-3,1e-2"`` a list; ``"1e-8:1e-5:200"`` 200 η from 1e-8 to 1e-5
    equally spaced in log η (:func:`log_spaced`). Every η must be a finite number > 0.
    A bad spec raises ValueError in one line, naming it and the valid forms.
    """
    form = "expected X, X,Y,... or A:B:N with numbers > 0 and 0 < A < B, N >= 2"
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"bad learning-rate spec {text!r}: A:B:N has 3 parts; {form}")
        try:
            low, high = float(parts[0]), float(parts[1])
            count = int(parts[2])
        except ValueError:
            raise ValueError(
                f"bad learning-rate spec {text!r}: A and B must be numbers and N a whole "
                f"number; {form}"
            ) from None
        try:
            return log_spaced(low, high, count)
        except ValueError as error:
            raise ValueError(f"bad learning-rate spec {text!r}: {error}; {form}") from None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"bad learning-rate spec {text!r}: {form}") from None
    bad = [v for v in values if not _positive(v)]
    if bad:
        raise ValueError(f"bad learning-rate spec {text!r}: η = {bad[0]:g} is not > 0; {form}")
    return values


def _positive(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _rates(lrs: str | float | Sequence[float] | torch.Tensor) -> list[float]:
    if isinstance(lrs, str):
        return parse_lrs(lrs)
    if isinstance(lrs, torch.Tensor):
        values = lrs.reshape(-1).tolist()
    elif isinstance(lrs, (int, float)) and not isinstance(lrs, bool):
        values = [lrs]
    else:
        values = list(lrs)
    if not values:
        raise ValueError("lrs is empty; give at least one learning rate")
    for value in values:
        if not _positive(value):
            raise ValueError(f"every learning rate must be a finite number > 0, got {value!r}")
    return [float(v) for v in values]


# --- the result -----------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What a sweep measured. R settings; K points of each loss curve.

    ``lrs`` (R): η of each setting. ``steps``: N, the updates each run took. ``curve_steps``
    (K): the steps t at which L(θ^t) was kept, 0 and N included; ``losses`` (K, R): L(θ^t) of
    each run there. ``final_loss`` (R): L(θ^N). ``diverged`` (R): the run's loss became inf or
    nan at a kept step, or ended above L⁰ + (``divergence`` − 1)·|L⁰| (for a positive loss:
    ``divergence`` times where it started); ``diverged_at`` (R): the first kept step where
    the loss was non-finite or above that line, else None. The best setting is the η with
    the lowest final loss among the runs that did not diverge (None when all did).
    ``parameters``: the final θ of every run stacked, name → (R, ...); ``state``: the
    optimizer's stacked state, name → {key: tensor}. ``seconds``: the sweep's wall time.
    """

    problem: str
    kind: str  # "surface" or "task"
    optimizer: str
    options: dict[str, Any]
    lrs: list[float]
    steps: int
    curve_steps: list[int]
    losses: torch.Tensor
    seconds: float
    schedule: str | None = None
    divergence: float = DIVERGENCE
    parameters: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    state: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    minimum: tuple[float, float] | None = None  # a surface's minimum

    @property
    def runs(self) -> int:
        """R, the number of settings."""
        return len(self.lrs)

    @property
    def initial_loss(self) -> float:
        """L(θ⁰), the same for every run."""
        return float(self.losses[0, 0])

    @property
    def final_loss(self) -> torch.Tensor:
        """L(θ^N) of each run, (R,)."""
        return self.losses[-1]

    @property
    def divergence_line(self) -> float:
        """L⁰ + (divergence − 1)·|L⁰|: a run that ends above it diverged."""
        return self.initial_loss + (self.divergence - 1) * abs(self.initial_loss)

    @property
    def diverged(self) -> torch.Tensor:
        """True for each run whose loss became inf or nan, or ended above the line, (R,)."""
        finite = torch.isfinite(self.losses).all(dim=0)
        return ~finite | (self.final_loss > self.divergence_line)

    @property
    def diverged_at(self) -> list[int | None]:
        """Per run that diverged, the first kept step whose loss was non-finite or above the
        line (None for the others)."""
        bad = ~torch.isfinite(self.losses) | (self.losses > self.divergence_line)
        first = bad.to(torch.int64).argmax(dim=0).tolist()
        diverged = self.diverged.tolist()
        return [self.curve_steps[k] if diverged[r] else None for r, k in enumerate(first)]

    @property
    def best_index(self) -> int | None:
        """r of the setting with the lowest final loss among the runs that did not diverge."""
        final = self.final_loss.masked_fill(self.diverged, math.inf)
        if bool(self.diverged.all()):
            return None
        return int(torch.argmin(final))

    @property
    def best_lr(self) -> float | None:
        """η of the best setting (None when every run diverged)."""
        index = self.best_index
        return None if index is None else self.lrs[index]

    @property
    def best_loss(self) -> float | None:
        """The final loss of the best setting (None when every run diverged)."""
        index = self.best_index
        return None if index is None else float(self.final_loss[index])

    @property
    def final(self) -> torch.Tensor | None:
        """A surface's final θ of each run, (R, 2); None for a network."""
        return self.parameters.get("theta") if self.kind == "surface" else None

    @property
    def distance(self) -> torch.Tensor | None:
        """A surface's distance from each run's final θ to its minimum, (R,)."""
        if self.final is None or self.minimum is None:
            return None
        minimum = torch.tensor(self.minimum, dtype=self.final.dtype)
        return torch.linalg.vector_norm(self.final - minimum, dim=-1)

    @property
    def settings_steps_per_second(self) -> float:
        """Throughput: R·N updates per second of the sweep's wall time."""
        return self.runs * self.steps / self.seconds if self.seconds > 0 else math.inf

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types; a non-finite number becomes None."""
        distance = self.distance
        final = self.final
        return {
            "problem": self.problem,
            "kind": self.kind,
            "optimizer": self.optimizer,
            "options": {k: _plain(v) for k, v in self.options.items()},
            "schedule": self.schedule,
            "steps": self.steps,
            "lrs": self.lrs,
            "initial_loss": _number(self.initial_loss),
            "final_loss": [_number(v) for v in self.final_loss.tolist()],
            "divergence": self.divergence,
            "diverged": self.diverged.tolist(),
            "diverged_at": self.diverged_at,
            "best": {
                "index": self.best_index,
                "lr": self.best_lr,
                "loss": _number(self.best_loss),
            },
            "curve_steps": self.curve_steps,
            "losses": [[_number(v) for v in row] for row in self.losses.T.tolist()],
            "final": None if final is None else [[_number(v) for v in p] for p in final.tolist()],
            "minimum": None if self.minimum is None else list(self.minimum),
            "distance": None if distance is None else [_number(v) for v in distance.tolist()],
            "seconds": self.seconds,
            "settings_steps_per_second": self.settings_steps_per_second,
        }


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


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
) -> SweepResult:
    """Run ``optimizer`` (a catalog name) once per learning rate, all runs at once.

    Args:
        problem: an error surface or a task (an object, or its name: ``"pokemon"``,
            ``"sinc"``, …). A task's network is trained full batch on all its examples.
        lrs: the η of each setting: a sequence, a tensor, or a spec (:func:`parse_lrs`,
            ``"1e-4:1e-1:16"``); each a finite number > 0.
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
        chunk: the runs trained together in one batch; the batches run one after another.
            Default: all of a surface's; for a network, as many as keep its widest activation
            (R·N·width numbers) within :data:`BATCH_BYTES`, about a CPU's cache.
        dtype: a surface's θ dtype (a network keeps its model's).

    Returns the :class:`SweepResult`. Bad input raises ValueError naming it, before any step.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise ValueError(f"points must be an integer >= 1, got {points!r}")
    if not (_positive(divergence) and divergence > 1):
        raise ValueError(f"divergence must be a finite number > 1, got {divergence!r}")
    rates = _rates(lrs)
    options = dict(options or {})
    if "lr" in options:
        raise ValueError("give the learning rates as lrs=, not options['lr']")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ValueError(f"chunk must be an integer >= 1 or None, got {chunk!r}")
    target = _problem(problem)
    if isinstance(target, Surface):
        size = len(rates) if chunk is None else chunk

        def make_runs(count: int) -> _SurfaceRuns | _NetworkRuns:
            return _SurfaceRuns(target, count, dtype, start)
    else:
        if start is not None:
            raise ValueError(f"start is for a surface; {target.name} is a task (use seed)")
        seed = target.seed if seed is None else seed
        size = _runs_per_batch(target, seed) if chunk is None else chunk

        def make_runs(count: int) -> _SurfaceRuns | _NetworkRuns:
            return _NetworkRuns(target, count, seed)

    multipliers = [1.0] * steps if schedule is None else [float(schedule(t)) for t in range(steps)]
    every = max(1, steps // points)
    kept = [*range(0, steps, every), steps]

    begun = time.perf_counter()
    batches = []
    for first in range(0, len(rates), size):
        part = rates[first : first + size]
        runs = make_runs(len(part))
        # Building the optimizer checks every hyperparameter and gives the parts and the group.
        rule = catalog.create(optimizer, list(runs.parameters.values()), lr=part[0], **options)
        with torch.no_grad():
            state, losses = _descend_together(runs, rule, part, multipliers, every)
        batches.append((runs.parameters, state, losses))
    seconds = time.perf_counter() - begun
    params, state, losses = _join(batches, rule.scalar_state)

    return SweepResult(
        problem=getattr(target, "name", str(problem)),
        kind=runs.kind,
        optimizer=optimizer,
        options=options,
        lrs=rates,
        steps=steps,
        curve_steps=kept,
        losses=losses,
        seconds=seconds,
        divergence=float(divergence),
        schedule=getattr(schedule, "spec", None if schedule is None else repr(schedule)),
        parameters=params,
        state=state,
        minimum=getattr(target, "minimum", None) if runs.kind == "surface" else None,
    )


def _runs_per_batch(task: Task, seed: int) -> int:
    """How many copies of the task's network keep the widest activation, R·N·width numbers,
    within BATCH_BYTES (at least 1)."""
    model = task.model(seed)
    widths = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)]
    if not widths:
        return 1_000_000
    per_run = len(task.inputs) * max(widths) * next(model.parameters()).element_size()
    return max(1, BATCH_BYTES // per_run)


def _join(batches, scalars):
    """The batches' stacked parameters, state and losses joined along the run axis; a scalar
    state (the same for every run, like NAdam's Π μ) is kept once."""
    if len(batches) == 1:
        return batches[0]
    params = {name: torch.cat([b[0][name] for b in batches]) for name in batches[0][0]}
    state = {
        name: {
            key: value if key in scalars else torch.cat([b[1][name][key] for b in batches])
            for key, value in batches[0][1][name].items()
        }
        for name in batches[0][1]
    }
    return params, state, torch.cat([b[2] for b in batches], dim=1)


def _descend_together(runs, rule, rates, multipliers, every):
    """N updates of every stacked parameter in place; returns the stacked state and the kept
    losses (K, R)."""
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
    kept.append(runs.losses())  # L(θ^N)
    return state, torch.stack(kept)


def single_run_parameters(result: SweepResult, index: int) -> dict[str, torch.Tensor]:
    """Run ``index``'s final parameters, name → tensor without the run axis (e.g. to load
    into the task's model with ``model.load_state_dict(..., strict=False)``)."""
    if not (0 <= index < result.runs):
        raise ValueError(f"index must be in [0, {result.runs}), got {index!r}")
    return {name: p[index].clone() for name, p in result.parameters.items()}
