"""The recorder: what the Monitor measures on each optimizer step (the package's docstring
shows the two lines that attach it).

**Order.** The gradients g^t and θ^t are read by a hook that runs inside ``optimizer.step()``
just before the update (``register_step_pre_hook``), and θ^{t+1} by one just after it
(``register_step_post_hook``), so ``monitor.step(loss)`` may come anywhere after
``optimizer.step()`` — before or after ``zero_grad()``. Call it once per optimizer step, with the
loss L(θ^t) whose gradient that step used. When ``step`` computes the gradient in a closure
(PyTorch Lightning), build the Monitor with ``closure=True`` and call :meth:`Monitor.read_gradients`
between the closure and the update (Lightning's ``on_before_optimizer_step``) instead; an
optimizer that evaluates its closure several times per step (L-BFGS) is not supported.

**Each step records** (record t; norms are Euclidean, over every trainable parameter of the
model that the optimizer updates; a parameter without a gradient counts as a zero gradient):

- ``step``: t, the optimizer's step counted from 0; ``loss``: L(θ^t);
- ``gradient_norm``: ‖g^t‖, on every step;
- on every ``every``-th step (t = 0, k, 2k, …; default k = :data:`EVERY` = 8), exact there and
  nan on the others: ``gradient_cosine``: cos(g^t, g^{t−1}) = ⟨g^t, g^{t−1}⟩ /
  (‖g^t‖·‖g^{t−1}‖) — near −1 when the gradient flips back and forth across a valley (nan at
  t = 0); ``update_norm``: ‖Δθ^t‖ = ‖θ^{t+1} − θ^t‖; ``weight_norm``: ‖θ^t‖;
  ``update_ratio``: ‖Δθ^t‖ / ‖θ^t‖. ``every=1`` measures them on every step;
- per parameter (``layers=True``): the same five, as ``gradient_norm/<name>``,
  ``gradient_cosine/<name>``, ``update_norm/<name>``, ``weight_norm/<name>``,
  ``update_ratio/<name>`` (``<name>`` from ``model.named_parameters()``);
- for a ravine :class:`~ravine.optim.Optimizer`, the distribution of the effective learning
  rates η^t/σ_i^t (:mod:`.effective_lr`).

Records go to ``monitor.history`` (a list of dicts; :meth:`Monitor.series` and the properties
``loss``, ``gradient_norm``, … give numpy arrays), and optionally to a CSV file
(``csv=path``) and TensorBoard (``tensorboard=logdir``; :mod:`.logs`). :meth:`Monitor.diagnose`
reads them (:mod:`.verdict`); ``guard=`` stops a run that blows up and restores the last good
state (:mod:`.guard`).

**Cost.** Every step: one fused pass over the gradients (``torch._foreach_norm``) and one host
sync, in ``monitor.step``; a ravine optimizer's finiteness check then reads these norms instead
of the gradients (:meth:`~ravine.optim.Optimizer.share_gradient_norms`), so watching it costs
no extra pass. Every k-th step, four more: ⟨g^t, g^{t−1}⟩, ‖θ^t‖ and a copy of θ^t
before the update, ‖θ^t − θ^{t+1}‖ after it. Memory: one copy of θ, and of g while it waits
one step (:mod:`.previous_gradient`). On a 1,055,242-parameter MLP (batch 256, CPU, one thread)
the defaults add about 1.5–2% to a training step and ``every=1`` about 7–10%
(``benchmarks/monitor_overhead.py``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...optim import Optimizer
from ...validation import check_count, check_flag, require
from .effective_lr import EFFECTIVE_LR_EVERY, EFFECTIVE_LR_KEYS, EffectiveLearningRates
from .guard import Guard, GuardState, TrainingStopped
from .logs import RecordLog
from .previous_gradient import PreviousGradient
from .verdict import (
    DIVERGE_FACTOR,
    FLAT,
    GRAD_TOL,
    LARGE,
    SMALL,
    Diagnosis,
    default_window,
    diagnose_training,
)

EVERY = 8  # ‖Δθ‖, ‖θ‖ and cos(g^t, g^{t−1}) are measured on every EVERY-th step
LAYER_KEYS = ("gradient_norm", "gradient_cosine", "update_norm", "weight_norm", "update_ratio")


class Monitor:
    """Record every optimizer step of ``model`` and diagnose the run (see the module docstring).

    Args:
        model: the network; its trainable parameters that ``optimizer`` updates are watched,
            named by ``model.named_parameters()``.
        optimizer: any ``torch.optim.Optimizer``; with a ravine
            :class:`~ravine.optim.Optimizer` the effective learning rates are recorded too.
        csv: a path: write one row per record there (a header of the record's keys first).
        tensorboard: a log directory: write every number of a record as a TensorBoard scalar
            (needs the ``tensorboard`` package).
        effective_lr_every: sample η^t/σ_i^t every this many steps (an integer >= 0; 0: never).
        layers: record per-parameter numbers too (``gradient_norm/<name>``, …).
        log_every: write every this many records to the CSV file and TensorBoard (>= 1); the
            history in memory always has every record.
        guard: stop training on a non-finite gradient or loss or an exploding loss, raising
            :class:`TrainingStopped`, and keep the last good state for :meth:`restore`
            (:mod:`ravine.diagnose.monitor.guard`): True (a :class:`Guard` with its defaults),
            a Guard, or None/False (default: no guard, nothing is checked or copied).
        closure: ``optimizer.step()`` computes the gradient in a closure: read it when told
            (:meth:`read_gradients`), not before the step.

    Call :meth:`close` (or use ``with Monitor(...) as monitor:``) to remove the hooks and close
    the files.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        csv: str | Path | None = None,
        tensorboard: str | Path | None = None,
        every: int = EVERY,
        effective_lr_every: int = EFFECTIVE_LR_EVERY,
        layers: bool = True,
        log_every: int = 1,
        guard: bool | Guard | None = None,
        closure: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        check_count("every", every, 1)
        check_count("effective_lr_every", effective_lr_every, 0)
        check_count("log_every", log_every, 1)
        check_flag("layers", layers)
        check_flag("closure", closure)
        require(
            guard is None or isinstance(guard, (bool, Guard)),
            "guard",
            guard,
            "True, False, None or a Guard(explode=..., keep_every=...)",
        )
        named = list(model.named_parameters())
        trainable = [(name, p) for name, p in named if p.requires_grad]
        if not trainable:
            raise ValueError(
                f"model has no trainable parameters (requires_grad=True): {len(named)} "
                "parameters, none trainable; the Monitor records gradients and updates of "
                "trainable parameters"
            )
        updated = {id(p) for group in optimizer.param_groups for p in group["params"]}
        watched = [(name, p) for name, p in trainable if id(p) in updated]
        if not watched:
            raise ValueError(
                f"none of the model's {len(trainable)} trainable parameters is in the "
                "optimizer's param_groups; pass the optimizer that updates this model"
            )
        self.model, self.optimizer = model, optimizer
        self.names = [name for name, _ in watched]
        self.parameters = [p for _, p in watched]
        self.every, self.layers, self.log_every = every, layers, log_every
        self.history: list[dict[str, float]] = []

        rule = isinstance(optimizer, Optimizer) and not optimizer.scale_first  # η^t/σ^t known
        self.effective_lr_every = effective_lr_every if rule else 0
        self._effective_lr = (
            EffectiveLearningRates(self.parameters) if self.effective_lr_every else None
        )

        self._theta_before = [torch.empty_like(p, requires_grad=False) for p in self.parameters]
        self._previous = PreviousGradient()  # g^{t−1}, for cos(g^t, g^{t−1})
        self._read_before_update: tuple | None = None  # what the pre-hook read
        self._awaiting_loss: tuple | None = None  # the step's numbers, awaiting the loss
        self._sampling = False  # η/σ is sampled on this step
        self._steps_seen = 0  # optimizer steps seen: the next step's t
        self.guard = Guard() if guard is True else guard or None
        self._guard = (
            None if self.guard is None else GuardState(self.guard, model, optimizer, self.names)
        )

        self.columns = self._columns()
        # gradient_norm/<name>, gradient_cosine/<name>, update_norm/…, weight_norm/…, update_ratio/…
        self._layer_keys = [tuple(f"{key}/{name}" for key in LAYER_KEYS) for name in self.names]
        self._log = RecordLog(self.columns, csv, tensorboard)  # closed by close()
        self._handles = [optimizer.register_step_post_hook(self._after_step)]
        self.closure = closure  # g^t is read by read_gradients(), not by the step pre-hook
        if not closure:
            self._handles.append(optimizer.register_step_pre_hook(self._before_step))

    # --- the hooks ----------------------------------------------------------------------------

    @torch.no_grad()
    def _before_step(self, optimizer, args, kwargs) -> None:
        """Inside optimizer.step(), before the update: ‖g^t‖; on a detailed step also
        ⟨g^t, g^{t−1}⟩, ‖θ^t‖ and a copy of θ^t."""
        t, params = self._steps_seen, self.parameters
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        grads = [g.to_dense() if g.is_sparse else g for g in grads]
        norms = torch._foreach_norm(grads)  # ‖g_p^t‖
        if isinstance(optimizer, Optimizer):  # its finiteness check reads these, not g again
            optimizer.share_gradient_norms(params, norms)
        if self._guard is not None:  # (may raise: before anything has changed)
            self._guard_before_update(t, grads, norms)
        dots = weights = None
        if t % self.every == 0:
            dots = self._previous.products(t, grads)  # ⟨g_p^t, g_p^{t−1}⟩, ‖g_p^{t−1}‖
            weights = torch._foreach_norm(params)  # ‖θ_p^t‖
            torch._foreach_copy_(self._theta_before, params)  # θ^t
        self._read_before_update = (t, norms, weights, dots)
        self._previous.pass_on(t, grads, norms, needed=(t + 1) % self.every == 0)
        if self.effective_lr_every:  # (set on every step: a step that raised left it set)
            self._sampling = t % self.effective_lr_every == 0
            optimizer.sigma_record = self._effective_lr.sample() if self._sampling else None

    def read_gradients(self) -> None:
        """With ``closure=True``: read g^t (and θ^t) now, inside ``optimizer.step()`` after its
        closure has computed the gradient and before the update — the step pre-hook's work."""
        if not self.closure:
            raise RuntimeError("read_gradients() is for a Monitor(..., closure=True)")
        self._before_step(self.optimizer, (), {})

    @torch.no_grad()
    def _after_step(self, optimizer, args, kwargs) -> None:
        """Inside optimizer.step(), after the update: ‖θ^t − θ^{t+1}‖ on a detailed step, and
        η^t/σ_i^t on a sampled one; the numbers wait for monitor.step(loss)."""
        if self._read_before_update is None:
            return  # a step whose pre-hook did not run: nothing to record
        t, norms, weights, dots = self._read_before_update
        self._read_before_update = None
        values = list(norms)
        if weights is not None:
            torch._foreach_sub_(self._theta_before, self.parameters)  # θ^t − θ^{t+1} = −Δθ^t
            values += weights + torch._foreach_norm(self._theta_before)  # ‖θ_p^t‖, ‖Δθ_p^t‖
            if dots is not None:
                values += dots
        summary = None
        if self._sampling:
            summary = self._effective_lr.summary(optimizer.sigma_record)
            optimizer.sigma_record, self._sampling = None, False
        self._awaiting_loss = (t, values, weights is not None, dots is not None, summary)
        self._steps_seen += 1

    # --- the record ---------------------------------------------------------------------------

    @property
    def awaiting_loss(self) -> bool:
        """Whether an ``optimizer.step()`` has run whose record still waits for
        ``monitor.step(loss)`` (False after a step that a gradient scaler skipped)."""
        return self._awaiting_loss is not None

    def step(self, loss: torch.Tensor | float) -> dict[str, float]:
        """Record the step just taken: ``loss`` is L(θ^t), the loss whose gradient
        ``optimizer.step()`` used (a number or a one-element tensor). Returns the record."""
        if self._awaiting_loss is None:
            incomplete = self._read_before_update is not None
            raise RuntimeError(
                "monitor.step(loss) needs an optimizer.step() since the last monitor.step(): "
                "call it once per step, after optimizer.step()"
                + (" (the last optimizer.step() did not complete)" if incomplete else "")
            )
        t, tensors, detailed, cosines, summary = self._awaiting_loss
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                raise ValueError(
                    f"loss must be one number, got a tensor of shape {tuple(loss.shape)}"
                )
            values = torch.stack([loss.detach().reshape(()), *tensors]).tolist()
        elif isinstance(loss, numbers.Real) and not isinstance(loss, bool):  # nan, inf too
            values = [float(loss), *torch.stack(tensors).tolist()]
        else:
            raise TypeError(f"loss must be a number or a one-element tensor, got {loss!r}")
        self._awaiting_loss = None  # (the .tolist() above is the step's one host sync)
        record = self._make_record(t, values, detailed, cosines, summary)
        self.history.append(record)
        if len(self.history) % self.log_every == 0:
            self._log.write(record)
        if self._guard is not None:  # (may raise: the record is kept, the verdict reads it)
            reason = self._guard.judge_loss(t, record["loss"], self.history)
            if reason is not None:
                self._stop(t, reason, loss=record["loss"])
        return record

    def _make_record(
        self,
        t: int,
        values: list[float],
        detailed: bool,
        cosines: bool,
        summary: list[float] | None,
    ) -> dict[str, float]:
        """The record of step t from L^t and the per-parameter numbers: ‖g_p^t‖, and on a
        detailed step ‖θ_p^t‖, ‖Δθ_p^t‖, ⟨g_p^t, g_p^{t−1}⟩, ‖g_p^{t−1}‖."""
        count = len(self.parameters)
        nan = [math.nan] * count
        g, w, u, d, h = (values[1 + i * count : 1 + (i + 1) * count] for i in range(5))
        if not detailed:
            w = u = nan
        if not cosines:
            d = h = nan
        gradient, weight, update = _total_norm(g), _total_norm(w), _total_norm(u)
        record: dict[str, float] = {
            "step": t,
            "loss": values[0],
            "gradient_norm": gradient,
            "gradient_cosine": _ratio(sum(d), gradient * _total_norm(h)),  # cos(g^t, g^{t−1})
            "update_norm": update,
            "weight_norm": weight,
            "update_ratio": _ratio(update, weight),  # ‖Δθ^t‖/‖θ^t‖
        }
        if self.effective_lr_every:
            record.update(zip(EFFECTIVE_LR_KEYS, summary or nan[:1] * 7, strict=True))
        if self.layers:
            for keys, gi, wi, ui, di, hi in zip(self._layer_keys, g, w, u, d, h, strict=True):
                record[keys[0]] = gi
                record[keys[1]] = _ratio(di, gi * hi)
                record[keys[2]] = ui
                record[keys[3]] = wi
                record[keys[4]] = _ratio(ui, wi)
        return record

    def _columns(self) -> list[str]:
        columns = [
            "step",
            "loss",
            "gradient_norm",
            "gradient_cosine",
            "update_norm",
            "weight_norm",
            "update_ratio",
        ]
        if self.effective_lr_every:
            columns += EFFECTIVE_LR_KEYS
        if self.layers:
            columns += [f"{key}/{name}" for name in self.names for key in LAYER_KEYS]
        return columns

    # --- reading it back ----------------------------------------------------------------------

    def series(self, key: str) -> np.ndarray:
        """The values of one record key over the history, oldest first (float64)."""
        if key not in self.columns:
            raise KeyError(f"no record key {key!r}; the keys are: {', '.join(self.columns)}")
        return np.array([record[key] for record in self.history], dtype=np.float64)

    @property
    def steps(self) -> np.ndarray:
        return self.series("step").astype(np.int64)

    @property
    def loss(self) -> np.ndarray:
        """L(θ^t) per record."""
        return self.series("loss")

    @property
    def gradient_norm(self) -> np.ndarray:
        """‖g^t‖ per record."""
        return self.series("gradient_norm")

    @property
    def gradient_cosine(self) -> np.ndarray:
        """cos(g^t, g^{t−1}) per record (nan on the first)."""
        return self.series("gradient_cosine")

    @property
    def update_norm(self) -> np.ndarray:
        """‖Δθ^t‖ per record."""
        return self.series("update_norm")

    @property
    def update_ratio(self) -> np.ndarray:
        """‖Δθ^t‖/‖θ^t‖ per record."""
        return self.series("update_ratio")

    def diagnose(
        self,
        window: int | None = None,
        *,
        critical: Callable[[], Any] | tuple | None = None,
        hessian_max_eigenvalue: float | Callable[[], float] | None = None,
        flat: float = FLAT,
        large: float = LARGE,
        small: float = SMALL,
        grad_tol: float = GRAD_TOL,
        diverge_factor: float = DIVERGE_FACTOR,
    ) -> Diagnosis:
        """Why the loss is (not) falling over the last ``window`` records (by default the last
        half, at most 200 and at least :data:`~.verdict.MIN_WINDOW`, as the doctor and a log's
        reading choose; the criteria and the ``evidence`` are :func:`diagnose_training`'s).

        ``critical`` decides the kind of a critical point when the gradient is small: a callable
        returning a :class:`~ravine.diagnose.critical.CriticalPoint` (or anything with ``kind``),
        or a tuple ``(loss_fn, inputs, targets)``, which calls
        ``classify_critical_point(model, loss_fn, inputs, targets, grad_tol=grad_tol)`` at θ now.
        ``hessian_max_eigenvalue`` is λ_max (a number or a callable); η is the optimizer's
        largest group ``lr`` (for σ = 1, plain gradient descent, the test η·λ_max ≥ 2 is exact).
        """
        if isinstance(critical, tuple):
            critical = self._critical_point_check(critical, grad_tol)
        lr = max(float(group["lr"]) for group in self.optimizer.param_groups)
        return diagnose_training(
            self.loss,
            self.gradient_norm,
            self.gradient_cosine,
            window=default_window(len(self.steps)) if window is None else window,
            steps=self.steps,
            lr=lr,
            hessian_max_eigenvalue=hessian_max_eigenvalue,
            critical=critical,
            update_ratio=self.update_ratio,
            flat=flat,
            large=large,
            small=small,
            grad_tol=grad_tol,
            diverge_factor=diverge_factor,
        )

    def _critical_point_check(self, batch: tuple, grad_tol: float) -> Callable[[], Any]:
        if len(batch) != 3:
            raise ValueError(
                f"critical must be a callable or a tuple (loss_fn, inputs, targets), got a tuple "
                f"of {len(batch)}"
            )
        loss_fn, inputs, targets = batch

        def check() -> Any:
            from ..critical import classify_critical_point  # imported only when needed

            return classify_critical_point(self.model, loss_fn, inputs, targets, grad_tol=grad_tol)

        return check

    # --- saving and resuming ------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to record on as if it had never stopped: the history, the
        step count t, and g^{t−1} with its per-parameter norms while the next step's
        cos(g^t, g^{t−1}) still needs them (copies; one gradient at most). Take it after
        ``monitor.step(loss)`` and save it with ``torch.save`` beside the model's and the
        optimizer's; it loads with ``torch.load(path, weights_only=True)``.
        """
        if self._awaiting_loss is not None:
            raise RuntimeError(
                "state_dict() between optimizer.step() and monitor.step(loss) would lose the "
                f"record of step {self._awaiting_loss[0]}: call monitor.step(loss) first"
            )
        return {
            "names": list(self.names),
            "columns": list(self.columns),
            "history": [dict(record) for record in self.history],
            "steps": self._steps_seen,
            **self._previous.state_dict(),  # kept_gradients, kept_norms, kept_step, …
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Go on from a saved :meth:`state_dict`, in a fresh Monitor (no step recorded yet) of
        the same parameter names and record keys (``layers``, and ``effective_lr_every`` with a
        ravine optimizer, as saved). The loaded records are written again to this Monitor's
        CSV file, which it began anew; TensorBoard keeps the earlier event files in its log
        directory, so nothing is written there again."""
        if self._steps_seen or self.history or self._awaiting_loss is not None:
            raise RuntimeError(
                f"load_state_dict needs a Monitor that has recorded nothing; this one has seen "
                f"{self._steps_seen} steps: build a fresh Monitor to resume into"
            )
        keys = {"names", "columns", "history", "steps", "kept_gradients", "kept_norms"}
        missing = sorted((keys | {"kept_step", "copy_gradients"}) - set(state_dict))
        if missing:
            raise ValueError(f"not a Monitor state_dict: it lacks {', '.join(missing)}")
        if list(state_dict["names"]) != self.names:
            raise ValueError(
                f"this state was saved by a Monitor of the parameters {state_dict['names']}, "
                f"but this one watches {self.names}"
            )
        if list(state_dict["columns"]) != self.columns:
            differ = sorted(set(state_dict["columns"]) ^ set(self.columns))
            raise ValueError(
                f"this state's records have other keys than this Monitor's ({', '.join(differ)} "
                "in one of them only): build it with the saved layers and effective_lr_every"
            )
        self._previous.load_state_dict(state_dict, self.parameters)
        self._steps_seen = int(state_dict["steps"])
        self.history = [dict(record) for record in state_dict["history"]]
        written = self.history[self.log_every - 1 :: self.log_every]  # what the saved one wrote
        self._log.write_csv_rows(written)

    # --- the guard ----------------------------------------------------------------------------

    def _guard_before_update(
        self, t: int, grads: list[torch.Tensor], norms: list[torch.Tensor]
    ) -> None:
        """In the pre-hook, before the update: stop on a non-finite gradient (raising here, inside
        optimizer.step(), means the update never runs), else copy θ^t and the optimizer's state
        on a kept step."""
        found = self._guard.nonfinite_gradient(grads, norms)
        if found is not None:
            reason, name = found
            norm = _total_norm([float(n) for n in norms])
            self._stop(t, reason, parameter=name, gradient_norm=norm)
        self._guard.keep(t)

    def _stop(
        self,
        t: int,
        reason: str,
        *,
        loss: float | None = None,
        parameter: str | None = None,
        gradient_norm: float | None = None,
    ) -> None:
        """Raise TrainingStopped with the doctor's verdict on the record so far (a step stopped
        before its loss was recorded counts with loss nan and its gradient norm)."""
        losses, norms = list(self.loss), list(self.gradient_norm)
        cosines, steps = list(self.gradient_cosine), list(self.steps)
        if loss is None:
            losses, norms = [*losses, math.nan], [*norms, gradient_norm]
            cosines, steps = [*cosines, math.nan], [*steps, t]
        window = default_window(len(losses))
        diagnosis = diagnose_training(
            losses,
            norms,
            cosines,
            window=window,
            steps=steps,
            diverge_factor=self.guard.explode or DIVERGE_FACTOR,
        )
        good = self._guard.good
        raise TrainingStopped(
            self,
            t,
            reason,
            diagnosis,
            loss=loss,
            parameter=parameter,
            restored_step=None if good is None else good.step,
        )

    def restore(self) -> int:
        """Put back what the guard kept before the update of the last kept step s whose loss was
        good: θ, the model's buffers, the optimizer's per-parameter state and its groups'
        hyperparameters (η included), bit for bit, and this monitor's record up to step s − 1.
        Returns s; the next ``optimizer.step()`` redoes step s (take a smaller η first, say).

        Records from step s on are dropped (the CSV file and TensorBoard keep what was
        written). The buffers are those of when step s's update began, after its forward pass:
        a redone step s counts its batch in batch-norm's running statistics twice. Groups added
        after s keep their hyperparameters; an LR scheduler's own count is not the monitor's to
        restore. Needs a guarded monitor with a good state kept.
        """
        if self.guard is None:
            raise RuntimeError(
                "restore() needs a guarded Monitor: Monitor(model, optimizer, guard=True)"
            )
        step = self._guard.restore()
        self.history = [record for record in self.history if record["step"] < step]
        self._steps_seen = step
        self._read_before_update = self._awaiting_loss = None
        self._previous.forget()
        if self.effective_lr_every:
            self._sampling = False
            self.optimizer.sigma_record = None
        return step

    @property
    def _copy_gradients(self) -> bool:
        """Whether g^{t−1} is copied: the loop reuses its gradient buffers in place."""
        return self._previous.copied

    # --- the end ------------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the hooks and close the CSV file and the TensorBoard writer."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if isinstance(self.optimizer, Optimizer):
            self.optimizer.sigma_record = None
        self._log.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<Monitor of {len(self.parameters)} parameters, {len(self.history)} records, "
            f"effective lr every {self.effective_lr_every or 'never'}>"
        )


def _total_norm(values: list[float]) -> float:
    """sqrt(Σ x²): the norm of all parameters from the norms of each."""
    return math.sqrt(sum(x * x for x in values))


def _ratio(top: float, bottom: float) -> float:
    """top/bottom; nan when bottom is 0 (inf when only bottom is)."""
    if bottom == 0:
        return math.nan if top == 0 else math.inf
    return top / bottom
