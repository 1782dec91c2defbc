"""Choosing η before training: the learning-rate range test.

Start from the model's initial θ and take N updates on successive mini-batches while η rises
exponentially from η_min to η_max, one η per update:

    η_k = η_min · (η_max / η_min)^(k / (N − 1)),   k = 0 … N − 1        (units of η)

Each step records the batch loss L_k — measured at θ_k, before the update that uses η_k — and
its exponential moving average with Adam's bias correction (the same correction as Adam's
first moment, which removes the pull towards the zero it starts from):

    a_k = β·a_{k−1} + (1 − β)·L_k,  a_{−1} = 0;      L̄_k = a_k / (1 − β^(k+1))

While η is too small to move θ, L̄ stays flat; as η grows the loss falls; past some η the steps
overshoot (the lecture's valley: a step larger than 2 / curvature bounces between the walls)
and the loss climbs. The test stops early when L̄_k > ``divergence`` · min_{j ≤ k} L̄_j or the
loss is not finite. The batches are reshuffled on each pass over the data and every batch has
exactly B examples (each pass leaves out the N mod B examples it cannot fill a batch with), so
the loss's noise is the same all along the curve.

**The suggestion** is η at the minimum of the smoothed curve, divided by 10:

    η* = η_{k*} / 10,   k* = argmin_k L̄_k

Why this rule: at the minimum of L̄ the loss has stopped falling, which means η there is
already at the edge of the steps that overshoot; one order of magnitude below it η still
lowers the loss fast but leaves room for the curvature to grow as training moves into
sharper regions, and for the noise of one batch. The minimum of a smoothed curve is also a
steadier landmark than the alternative — the η where L̄ falls most steeply, a derivative of
a noisy curve — so :attr:`RangeTest.steepest_lr` is reported beside it but not suggested.
Sources: the range test itself is Leslie N. Smith's, "Cyclical Learning Rates for Training
Neural Networks" (WACV 2017, arXiv:1506.01186), who raised η linearly over whole epochs and
read the bounds off the accuracy curve; the exponential sweep over about a hundred
mini-batches with a bias-corrected smoothed loss and the "minimum divided by ten" reading are
the form the fast.ai course and library made common (2017–2018).

**The smoothing's lag.** An EMA trails the curve it smooths by β/(1 − β) steps on average,
and along the exponential sweep one step multiplies η by (η_max/η_min)^(1/(N−1)); so L̄'s
minimum sits about a factor ``lag_factor`` = (η_max/η_min)^(β/((1−β)(N−1))) above the raw
curve's turning point. The defaults — 10⁻⁶ … 10 over N = 200 updates, β = 0.9 — keep that lag
near a factor 2, which the rule's factor 10 absorbs. (fast.ai's β = 0.98 over 100 updates
would lag by 49 updates, more than three decades of η on this sweep; with β = 0.9 over 100
updates the lag is a factor 4.3, and on the diabetes task with Adam, seed 0, the suggestion
then came out about 10 times above the best η of a sweep of full runs, against 1.7 times with
200 updates.)

Afterwards the model's parameters, buffers and gradients, its train/eval mode and the
optimizer's state (moments, step counts, η of every group, a callable η^t of ravine's
optimizers) are put back exactly as they were, so a caller can run the test on the model and
optimizer it is about to train.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..optim import catalog
from ..optim.optimizer import NonFiniteGradientError
from ..sweep.grid import log_spaced
from ..tasks import Task
from ..tasks import task as build_task
from ..tasks.losses import LossFn
from ..validation import WHOLE, check_above, check_count, check_positive, check_range
from .loop import BATCH_SIZE, VALIDATION, check_batch_norm, check_batch_size, split

LR_MIN = 1e-6  # η_0, the first update's learning rate
LR_MAX = 10.0  # η_{N−1}, the last one's
STEPS = 200  # N, updates in the sweep
MIN_STEPS = 10  # fewer updates cannot show a curve with a minimum
SMOOTHING = 0.9  # β of the loss's moving average
DIVERGENCE = 4.0  # stop when L̄_k exceeds this multiple of its lowest value so far
BACKOFF = 10.0  # the suggestion is the minimum's η divided by this
RULE = (
    f"η at the minimum of the bias-corrected smoothed loss, divided by {BACKOFF:g}: one "
    "order of magnitude below the η where the loss stops falling"
)


@dataclass
class RangeTest:
    """What a range test measured: η_k, the batch loss L_k and its smoothed L̄_k of every
    recorded update (finite losses only), the suggested η* (None when nothing was recorded),
    the rule that gave it, and why the sweep stopped before its N updates (None when it ran
    them all). ``warning`` says when the curve gives no reliable suggestion."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    rule: str
    stopped: str | None
    lr_min: float
    lr_max: float
    steps: int
    batch_size: int
    smoothing: float
    divergence: float
    seed: int
    warning: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # task, optimizer and its options

    @property
    def minimum(self) -> int | None:
        """k*, the index of the smoothed curve's minimum."""
        return int(np.argmin(self.smoothed)) if self.smoothed else None

    @property
    def minimum_lr(self) -> float | None:
        """η_{k*}, the η where the smoothed loss is lowest."""
        return None if self.minimum is None else self.lrs[self.minimum]

    @property
    def steepest_lr(self) -> float | None:
        """The η where L̄ falls fastest per unit of ln η up to its minimum (reported, not
        suggested): argmin_k (L̄_{k+1} − L̄_k) / (ln η_{k+1} − ln η_k), k < k*."""
        k = self.minimum
        if k is None or k < 1:
            return None
        slope = np.diff(self.smoothed[: k + 1]) / np.diff(np.log(self.lrs[: k + 1]))
        return self.lrs[int(np.argmin(slope))]

    @property
    def lag_factor(self) -> float:
        """How far above the raw curve's features the smoothed curve's lie, in η:
        (η_max/η_min)^(β/((1−β)(N−1)))."""
        return lag_factor(self.lr_min, self.lr_max, self.steps, self.smoothing)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.settings,
            "lr_min": self.lr_min,
            "lr_max": self.lr_max,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "smoothing": self.smoothing,
            "divergence": self.divergence,
            "seed": self.seed,
            "recorded": len(self.lrs),
            "suggestion": self.suggestion,
            "rule": self.rule,
            "minimum_lr": self.minimum_lr,
            "minimum_loss": None if self.minimum is None else self.smoothed[self.minimum],
            "steepest_lr": self.steepest_lr,
            "lag_factor": self.lag_factor,
            "stopped": self.stopped,
            "warning": self.warning,
            "lrs": self.lrs,
            "losses": self.losses,
            "smoothed": self.smoothed,
        }


def sweep_lrs(lr_min: float, lr_max: float, steps: int) -> list[float]:
    """η_k = η_min·(η_max/η_min)^(k/(N−1)) for k = 0 … N−1: the first update's η is
    ``lr_min``, the last one's ``lr_max`` (units of η); the grid of
    :func:`ravine.sweep.log_spaced`."""
    _check_sweep(lr_min, lr_max, steps)
    return log_spaced(lr_min, lr_max, steps)


def smooth_losses(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """The bias-corrected moving average L̄_k = a_k/(1 − β^(k+1)), a_k = β·a_{k−1} +
    (1 − β)·L_k, a_{−1} = 0 (units of the loss). L̄_0 = L_0; β = 0 gives the losses back."""
    _check_beta(beta)
    average, smoothed = 0.0, []
    for k, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta ** (k + 1)))
    return smoothed


def suggest_lr(lrs: list[float], smoothed: list[float]) -> float | None:
    """η* = η_{k*}/10 with k* = argmin_k L̄_k (see the module's docstring for why); None for
    an empty curve."""
    if len(lrs) != len(smoothed):
        raise ValueError(f"{len(lrs)} learning rates for {len(smoothed)} smoothed losses")
    if not smoothed:
        return None
    return lrs[int(np.argmin(smoothed))] / BACKOFF


def lag_factor(lr_min: float, lr_max: float, steps: int, beta: float = SMOOTHING) -> float:
    """(η_max/η_min)^(β/((1−β)(N−1))): the EMA's mean lag of β/(1−β) steps, as a factor of η
    along the exponential sweep (dimensionless, >= 1)."""
    _check_sweep(lr_min, lr_max, steps)
    _check_beta(beta)
    return (lr_max / lr_min) ** (beta / ((1 - beta) * (steps - 1)))


def range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    lr_min: float = LR_MIN,
    lr_max: float = LR_MAX,
    steps: int = STEPS,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    smoothing: float = SMOOTHING,
    divergence: float = DIVERGENCE,
    progress: Callable[[int, int, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> RangeTest:
    """The range test on ``model`` trained by ``optimizer`` (any torch optimizer: every
    parameter group gets η_k) with ``loss_fn(model(x), y)`` on mini-batches of ``batch_size``
    rows of ``inputs``/``targets``, the order drawn from a generator seeded with ``seed + 1``
    (as :func:`ravine.training.train` does). η_k sweeps ``lr_min`` … ``lr_max`` over ``steps``
    updates; ``smoothing`` is β, ``divergence`` the stopping multiple (see the module).
    ``progress(k, steps, L_k)`` is called after each update k (from 1); ``stop()`` is polled
    after it (Ctrl-C): when True the sweep stops there, ``stopped`` says so, and the curve so
    far is read as usual.

    The model's parameters, buffers and mode and the optimizer's state are restored before
    this returns (or raises). Bad arguments raise ValueError naming the value and what is
    valid, before anything changes. The divergence test assumes a loss >= 0.
    """
    _check_sweep(lr_min, lr_max, steps)
    _check_beta(smoothing)
    check_above("divergence", divergence, 1)
    if len(inputs) != len(targets):
        raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
    check_batch_size(batch_size, len(inputs))
    check_batch_norm(model, batch_size, len(inputs), last=False)  # only full batches are cut
    lrs = sweep_lrs(lr_min, lr_max, steps)
    test = RangeTest(
        lrs=[],
        losses=[],
        smoothed=[],
        suggestion=None,
        rule=RULE,
        stopped=None,
        lr_min=float(lr_min),
        lr_max=float(lr_max),
        steps=steps,
        batch_size=batch_size,
        smoothing=float(smoothing),
        divergence=float(divergence),
        seed=seed,
    )
    with _restored(model, optimizer):
        model.train()
        shuffle = torch.Generator().manual_seed(seed + 1)
        batches = _batches(len(inputs), batch_size, shuffle)
        test.stopped = _rising_updates(
            test, lrs, batches, model, optimizer, loss_fn, inputs, targets, progress, stop
        )
    test.suggestion = suggest_lr(test.lrs, test.smoothed)
    test.warning = _warning(test)
    return test


def lr_find(
    task: Task | str,
    optimizer: str = "adam",
    *,
    options: dict[str, Any] | None = None,
    lr_min: float = LR_MIN,
    lr_max: float = LR_MAX,
    steps: int = STEPS,
    batch_size: int = BATCH_SIZE,
    validation: float = VALIDATION,
    seed: int = 0,
    smoothing: float = SMOOTHING,
    divergence: float = DIVERGENCE,
    progress: Callable[[int, int, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> RangeTest:
    """The range test on a built-in task: the task's model seeded with ``seed``, the catalog
    optimizer ``optimizer`` with ``options`` (every hyperparameter but η, which the sweep
    sets), on the training part of the same seeded split that :func:`ravine.training.train`
    uses with ``validation`` (the held-out part is never touched). So the suggestion applies
    to ``train(task, optimizer, lr=suggestion, options=options, seed=seed, ...)``.
    ``progress`` and ``stop`` are :func:`range_test`'s.
    """
    settings = dict(options or {})
    if "lr" in settings:
        raise ValueError(
            f"the range test sets η itself (from lr_min to lr_max); remove lr={settings['lr']!r} "
            "from the options"
        )
    _check_sweep(lr_min, lr_max, steps)
    task = build_task(task, seed=seed) if isinstance(task, str) else task
    check_count("batch_size", batch_size, noun=WHOLE)  # named before a bad split is
    train_idx, val_idx = split(task.size, validation, seed)
    check_batch_size(batch_size, len(train_idx), task, len(val_idx))
    model = task.model(seed)
    opt = catalog.create(optimizer, model.parameters(), lr=lr_min, **settings)
    test = range_test(
        model,
        opt,
        task.loss_fn,
        task.inputs[train_idx],
        task.targets[train_idx],
        lr_min=lr_min,
        lr_max=lr_max,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        smoothing=smoothing,
        divergence=divergence,
        progress=progress,
        stop=stop,
    )
    test.settings = {
        "task": task.name,
        "model": task.model_spec,
        "loss": task.loss_name,
        "optimizer": optimizer,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "train_size": len(train_idx),
    }
    return test


def _rising_updates(
    test: RangeTest,
    lrs: list[float],
    batches: Iterator[torch.Tensor],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    progress: Callable[[int, int, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> str | None:
    """The sweep itself: update k on the next batch with η_k, recording L_k (at θ_k, before
    the update) and L̄_k in ``test``. Returns why it stopped early (a non-finite loss or
    gradient, L̄_k above ``test.divergence`` times its lowest, or ``stop()``; it names update
    k as the (k+1)-th, counted from 1 as training counts), None after every η."""
    beta, divergence = test.smoothing, test.divergence
    average, best = 0.0, math.inf
    for k, lr in enumerate(lrs):
        for group in optimizer.param_groups:
            group["lr"] = lr  # η_k
        batch = next(batches)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs[batch]), targets[batch])
        value = float(loss.detach())  # L_k at θ_k
        if not math.isfinite(value):
            return f"the loss at update {k + 1} (η = {lr:.3g}) is {value}"
        average = beta * average + (1 - beta) * value  # a_k
        smoothed = average / (1 - beta ** (k + 1))  # L̄_k
        test.lrs.append(lr)
        test.losses.append(value)
        test.smoothed.append(smoothed)
        best = min(best, smoothed)
        if smoothed > divergence * best:
            return (
                f"the smoothed loss {smoothed:.4g} at update {k + 1} (η = {lr:.3g}) exceeded "
                f"{divergence:g} × its lowest, {best:.4g}"
            )
        loss.backward()
        try:
            optimizer.step()
        except NonFiniteGradientError as error:
            return f"the gradient at update {k + 1} (η = {lr:.3g}) is not finite: {error}"
        if progress is not None:
            progress(k + 1, len(lrs), value)
        if stop is not None and stop():
            done = k + 1
            return f"interrupted after update {done} (η = {lr:.3g}), {done} of {len(lrs)} recorded"
    return None


class _restored:
    """Context: on exit, put back the model's parameters, buffers, gradients and mode and the
    optimizer's state (including a callable η^t, set aside while the sweep sets η)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model, self.optimizer = model, optimizer

    def __enter__(self) -> None:
        self.training = self.model.training
        self.params = list(self.model.parameters())
        self.grads = [None if p.grad is None else p.grad.detach().clone() for p in self.params]
        self.weights = copy.deepcopy(self.model.state_dict())
        self.state = copy.deepcopy(self.optimizer.state_dict())
        self.schedules = [group.get("lr_schedule") for group in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            if group.get("lr_schedule") is not None:
                group["lr_schedule"] = None  # the sweep's η_k, not the schedule's, for now

    def __exit__(self, *exc: object) -> None:
        self.model.load_state_dict(self.weights)
        self.model.train(self.training)
        self.optimizer.load_state_dict(self.state)
        for param, grad in zip(self.params, self.grads, strict=True):
            param.grad = grad
        for group, schedule in zip(self.optimizer.param_groups, self.schedules, strict=True):
            if "lr_schedule" in group or schedule is not None:
                group["lr_schedule"] = schedule


def _batches(n: int, batch_size: int, generator: torch.Generator):
    """Endless full batches of indices: each pass a new permutation of range(n), cut into
    n // batch_size batches of exactly ``batch_size``."""
    usable = n - n % batch_size
    while True:
        order = torch.randperm(n, generator=generator)[:usable]
        yield from order.split(batch_size)


def _warning(test: RangeTest) -> str | None:
    k = test.minimum
    if k is None:
        return f"no update had a finite loss: {test.stopped}; lower lr_min (now {test.lr_min:g})"
    if k == 0:
        return (
            f"the smoothed loss was lowest at the first η ({test.lrs[0]:.3g}): the loss never "
            "fell, so the suggestion is below the sweep; lower lr_min"
        )
    if k == len(test.lrs) - 1 and test.stopped is None:
        return (
            f"the smoothed loss was still falling at the last η ({test.lrs[-1]:.3g}): raise "
            "lr_max to see where it turns"
        )
    return None


def _check_sweep(lr_min: Any, lr_max: Any, steps: Any) -> None:
    """η_min and η_max finite and > 0 with η_min < η_max, and N >= MIN_STEPS updates."""
    check_positive("lr_min", lr_min)
    check_positive("lr_max", lr_max)
    if lr_max <= lr_min:
        raise ValueError(
            f"lr_max must be larger than lr_min, got lr_min={lr_min} >= lr_max={lr_max}"
        )
    check_count("steps", steps, MIN_STEPS, noun=WHOLE)


def _check_beta(beta: Any) -> None:
    """β of the moving average, in [0, 1)."""
    check_range("smoothing β", beta, 0, 1, closed="[)")
