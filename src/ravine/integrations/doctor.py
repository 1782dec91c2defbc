"""The doctor inside someone else's training loop: what the Lightning and the Hugging Face
callbacks share, with neither framework imported.

A trainer owns the loop, so the :class:`~ravine.diagnose.monitor.Monitor` is fed from its
hooks: before each update the callback reads η^t (:meth:`TrainerDoctor.before_step`); the
Monitor's own hooks on ``optimizer.step()`` read ‖g^t‖, θ^t and θ^{t+1} (where the trainer
computes the gradient in a closure inside ``step()``, as Lightning does, the callback tells the
Monitor when to read g^t and θ^t: after the closure, before the update); after the step the
callback hands over the loss L(θ^t) (:meth:`TrainerDoctor.add_loss`, :meth:`TrainerDoctor.record`).
With gradient accumulation over k micro-batches the step's loss is the mean of theirs,
L = (1/k) Σ_b L_b — the loss whose gradient the step used.

Each record gives the numbers the trainer logs (:data:`LOGGED`, prefixed ``doctor/``): L(θ^t),
‖g^t‖, ‖Δθ^t‖/‖θ^t‖, cos(g^t, g^{t−1}) and η^t (the largest group ``lr``). The ratio and the
cosine are measured on every ``measure_every``-th step (the Monitor's ``every``), and only
measured numbers are logged.

:meth:`TrainerDoctor.reading` is the verdict, its evidence and the lecture's remedy
(:meth:`Monitor.diagnose`, worded by :func:`ravine.diagnose.doctor.reading_text`); with a
held batch it asks the true Hessian what kind of critical point θ sits at.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..diagnose.critical import classify_critical_point
from ..diagnose.doctor import reading_text
from ..diagnose.monitor import EVERY, GRAD_TOL, MIN_WINDOW, Diagnosis, Monitor, default_window
from ..validation import check_count, check_flag, require

PREFIX = "doctor/"  # the logged numbers' names: doctor/loss, doctor/gradient_norm, …
LOGGED = ("loss", "gradient_norm", "update_ratio", "gradient_cosine")  # + "lr", η^t


def extra_missing(package: str, extra: str, error: ImportError) -> ImportError:
    """The ImportError for a callback whose trainer is not installed, naming the extra."""
    return ImportError(
        f"ravine.integrations.{extra} needs the {package} package: pip install 'ravine[{extra}]'"
        f" ({error})"
    )


def torch_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    """The torch optimizer inside a trainer's wrapper (accelerate's ``AcceleratedOptimizer``,
    Lightning's ``LightningOptimizer``): the one whose ``step()`` runs the hooks."""
    seen = 0
    while seen < 8:
        inner = getattr(optimizer, "optimizer", None) or getattr(optimizer, "_optimizer", None)
        if not isinstance(inner, torch.optim.Optimizer) or inner is optimizer:
            break
        optimizer, seen = inner, seen + 1
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "the trainer's optimizer must be a torch.optim.Optimizer, got "
            f"{type(optimizer).__name__}"
        )
    return optimizer


class _BatchLoss(nn.Module):
    """L(θ) on a held batch as a module: ``forward(batch)`` returns the trainer's loss, so the
    Hessian tools (``loss_fn(model(inputs), targets)``) see the model's own parameters."""

    def __init__(self, model: nn.Module, loss_of: Callable[[nn.Module, Any], torch.Tensor]):
        super().__init__()
        self.model, self._loss_of = model, loss_of

    def forward(self, batch: Any) -> torch.Tensor:
        return self._loss_of(self.model, batch)


def _the_loss(output: torch.Tensor, _: Any) -> torch.Tensor:
    return output


class TrainerDoctor:
    """The Monitor, fed by a trainer's hooks, and the doctor's reading of it (module docstring).

    Args:
        every: print the reading every this many optimizer steps (an integer >= 1), or None:
            only at the end of fit.
        window: the number of latest steps the verdict is about (>= 2); None: the last half of
            the run, at most 200 (:func:`~ravine.diagnose.monitor.default_window`).
        critical: how to tell a saddle point from a minimum when the gradient is small — None or
            False: not at all; True: the Hessian of the loss on the first training batch, held;
            a tuple ``(loss_fn, inputs, targets)`` or a callable returning a
            :class:`~ravine.diagnose.critical.CriticalPoint`, as :meth:`Monitor.diagnose` takes;
            anything else is a batch to hold, as the trainer's training step takes it.
        measure_every: the Monitor's ``every``: ‖Δθ‖/‖θ‖ and cos(g^t, g^{t−1}) are measured on
            every this many steps (1: on all, at some 7–10% of a step's time).
        layers: also record per-parameter numbers (the Monitor's ``layers``).
        report: where a reading goes (default: ``print``).
    """

    def __init__(
        self,
        *,
        every: int | None = None,
        window: int | None = None,
        critical: Any = None,
        measure_every: int = EVERY,
        layers: bool = False,
        report: Callable[[str], Any] = print,
    ) -> None:
        if every is not None:
            check_count("every", every, 1)
        if window is not None:
            check_count("window", window, MIN_WINDOW)
        check_count("measure_every", measure_every, 1)
        check_flag("layers", layers)
        require(callable(report), "report", report, "a callable taking a line of text")
        self.every, self.window, self.critical = every, window, critical
        self.measure_every, self.layers, self.report = measure_every, layers, report
        self.monitor: Monitor | None = None
        self.diagnosis: Diagnosis | None = None  # the last reading's
        self.held: Any = None  # the batch the Hessian is sampled on (critical=True)
        self._pending: dict[str, Any] | None = None  # a checkpoint's state, until attach
        self._losses: list[torch.Tensor | float] = []  # L_b of the step's micro-batches
        self._lr = math.nan  # η^t
        self._stepping = False  # an optimizer step was begun since the last record

    @property
    def holds_a_batch(self) -> bool:
        """Whether the Hessian is to be sampled on a batch of training (``critical=True``) that
        is not held yet."""
        return self.critical is True and self.held is None

    def hold(self, batch: Any) -> None:
        """Keep ``batch`` for the Hessian (the first one offered, with ``critical=True``)."""
        if self.holds_a_batch:
            self.held = batch

    # --- the Monitor's life -------------------------------------------------------------------

    def attach(self, model: nn.Module, optimizer: Any, *, closure: bool = False) -> Monitor:
        """A fresh Monitor on ``model`` and the trainer's optimizer; it goes on from a loaded
        checkpoint's state when there is one. ``closure``: the trainer computes the gradient
        in a closure inside ``optimizer.step()``, and :meth:`before_step` runs after it."""
        self.detach()
        self.monitor = Monitor(
            model,
            torch_optimizer(optimizer),
            every=self.measure_every,
            layers=self.layers,
            closure=closure,
        )
        self._losses, self._stepping, self.diagnosis = [], False, None
        if self._pending is not None:
            state, self._pending = self._pending, None
            self.monitor.load_state_dict(state)
        return self.monitor

    def detach(self) -> None:
        """Take the Monitor's hooks off the optimizer; its record stays readable."""
        if self.monitor is not None:
            self.monitor.close()

    def state_dict(self) -> dict[str, Any]:
        """The Monitor's state (:meth:`Monitor.state_dict`) for the trainer's checkpoint; a
        loaded state not yet attached passes through; empty before any Monitor."""
        if self.monitor is not None:
            return {"monitor": self.monitor.state_dict()}
        return {"monitor": self._pending} if self._pending is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Keep a checkpoint's state for the next :meth:`attach` (the trainer restores callbacks
        before it has built the optimizer)."""
        if state.get("monitor") is not None:
            self._pending = state["monitor"]

    # --- each step ----------------------------------------------------------------------------

    def before_step(self, optimizer: Any) -> None:
        """Before the update: η^t, the largest group ``lr``; with ``closure``, g^t too."""
        groups = torch_optimizer(optimizer).param_groups
        self._lr = max(float(group["lr"]) for group in groups)
        self._stepping = True
        if self.monitor is not None and self.monitor.closure:
            self.monitor.read_gradients()

    def add_loss(self, loss: Any) -> None:
        """One micro-batch's loss L_b (a one-element tensor or a number)."""
        if isinstance(loss, torch.Tensor):
            loss = loss.detach()
        self._losses.append(loss)

    def record(self) -> dict[str, float] | None:
        """After a micro-batch: when an optimizer step has run, record it with the mean of the
        micro-batches' losses and return the numbers to log; else None. A step that a gradient
        scaler skipped records nothing and forgets its losses."""
        monitor = self.monitor
        if monitor is None or not monitor.awaiting_loss:
            if self._stepping:  # begun, never run (skipped): its losses are no one's
                self._losses, self._stepping = [], False
            return None
        if not self._losses:
            raise RuntimeError(
                "an optimizer step ran but no loss reached the doctor: the training step must "
                "return the loss (a tensor, or a dict or model output with 'loss')"
            )
        losses = [torch.as_tensor(loss, dtype=torch.float64).reshape(()) for loss in self._losses]
        loss = torch.stack([x.cpu() for x in losses]).mean()  # L = (1/k) Σ_b L_b
        self._losses, self._stepping = [], False
        record = monitor.step(loss)
        numbers = {PREFIX + key: float(record[key]) for key in LOGGED}
        numbers[PREFIX + "lr"] = self._lr
        return {key: value for key, value in numbers.items() if math.isfinite(value)}

    def due(self) -> bool:
        """Whether the reading is asked for after the step just recorded (every ``every``)."""
        if self.every is None or self.monitor is None or not self.monitor.history:
            return False
        return (int(self.monitor.history[-1]["step"]) + 1) % self.every == 0

    # --- the reading --------------------------------------------------------------------------

    def diagnose(self, loss_of: Callable[[nn.Module, Any], torch.Tensor] | None = None) -> str:
        """The reading of the record so far: the verdict, the evidence and the remedy as text
        (:attr:`diagnosis` keeps the :class:`Diagnosis`). ``loss_of(model, batch)`` is the
        trainer's loss on a batch, for the Hessian on the held one."""
        monitor = self.monitor
        if monitor is None or not monitor.history:
            return "ravine doctor: no optimizer step was recorded, nothing to diagnose"
        steps = len(monitor.history)
        window = self.window or default_window(steps)
        heading = f"ravine doctor, {steps} steps recorded (last: step {int(monitor.steps[-1])})"
        try:
            self.diagnosis = monitor.diagnose(window=window, critical=self._critical(loss_of))
        except ValueError as error:  # fewer records than the window, and not diverged
            return f"{heading}: not diagnosed yet ({error})"
        return reading_text(heading, self.diagnosis.to_json())

    def _critical(self, loss_of: Callable[[nn.Module, Any], torch.Tensor] | None) -> Any:
        """What :meth:`Monitor.diagnose` takes as ``critical``, from this doctor's setting."""
        critical = self.critical
        if critical is None or critical is False:
            return None
        if callable(critical) or (
            isinstance(critical, tuple) and len(critical) == 3 and callable(critical[0])
        ):
            return critical
        batch = self.held if critical is True else critical
        if batch is None or loss_of is None:
            return None  # no batch seen (or no way to take its loss): the kind stays unknown
        model = _BatchLoss(self.monitor.model, loss_of)
        target = torch.zeros(())  # (one batch: the loss is the model's output itself)
        return lambda: classify_critical_point(model, _the_loss, batch, target, grad_tol=GRAD_TOL)


class DoctorFront:
    """What both callbacks show the user, placed before the framework's callback class in their
    bases: built from :class:`TrainerDoctor`'s arguments (``every``, ``window``, ``critical``,
    ``measure_every``, ``layers``, ``report``), ``monitor`` (the record) and ``diagnosis`` (the
    last verdict)."""

    def __init__(
        self,
        *,
        every: int | None = None,
        window: int | None = None,
        critical: Any = None,
        measure_every: int = EVERY,
        layers: bool = False,
        report: Callable[[str], Any] = print,
    ) -> None:
        super().__init__()
        self.doctor = TrainerDoctor(
            every=every,
            window=window,
            critical=critical,
            measure_every=measure_every,
            layers=layers,
            report=report,
        )

    @property
    def monitor(self) -> Monitor | None:
        return self.doctor.monitor

    @property
    def diagnosis(self) -> Diagnosis | None:
        return self.doctor.diagnosis
