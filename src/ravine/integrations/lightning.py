"""The doctor as a PyTorch Lightning callback (``pip install 'ravine[lightning]'``)::

    from ravine.integrations.lightning import DoctorCallback

    trainer = lightning.Trainer(callbacks=[DoctorCallback(every=500)])
    trainer.fit(model, data)   # the verdict, its evidence and the remedy at the end of fit

The Monitor watches ``trainer.optimizers[0]``, ravine's or torch's, and the LightningModule's
parameters. Hooks:

- ``on_train_start`` attaches it (after Lightning has built the optimizer and restored a
  checkpoint);
- ``on_before_optimizer_step`` — inside ``optimizer.step()``, after the closure that computes
  the gradient, before the update — reads g^t, θ^t and η^t;
- ``on_train_batch_end`` hands over the training step's loss L_b (``outputs['loss']`` times k:
  in automatic optimization Lightning divides it by the number k of accumulated batches; the
  step's loss is their mean), logs ``doctor/loss``, ``doctor/gradient_norm``,
  ``doctor/update_ratio``, ``doctor/gradient_cosine`` and ``doctor/lr`` with
  ``pl_module.log_dict`` (so whichever logger the Trainer has — TensorBoard, CSV, … — writes
  them, every ``log_every_n_steps``), and prints the reading every ``every`` steps;
- ``on_train_end`` prints the reading of the whole run; ``on_fit_end`` takes the hooks off.

``state_dict``/``load_state_dict`` put the Monitor's record in Lightning's checkpoints, so
``trainer.fit(model, ckpt_path=...)`` goes on with the record as if never stopped.

``critical=True`` holds the first training batch and, when the gradient is small, classifies θ
from the true Hessian of ``training_step`` on it (its ``self.log`` calls are muted meanwhile).
One optimizer, automatic optimization (with manual optimization, ``training_step`` must return
the loss and take one optimizer step per batch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .doctor import PREFIX, DoctorFront, extra_missing

try:
    import lightning.pytorch as pl
except ImportError as error:  # pragma: no cover - the extra is installed where tests run
    raise extra_missing("lightning", "lightning", error) from error


def _step_loss(outputs: Any) -> Any:
    """The loss in what ``training_step`` returned: a tensor, or a mapping's ``'loss'``."""
    if isinstance(outputs, Mapping):
        return outputs.get("loss")
    return outputs if isinstance(outputs, torch.Tensor) else None


def _training_step_loss(module: pl.LightningModule, batch: Any) -> torch.Tensor:
    """L(θ) on ``batch`` as ``training_step`` computes it, with its ``self.log`` muted (logging is
    not allowed outside the loop's hooks)."""
    module.log = module.log_dict = lambda *args, **kwargs: None
    try:
        loss = _step_loss(module.training_step(batch, 0))
    finally:
        del module.log, module.log_dict  # the class's methods again
    if loss is None:
        raise ValueError("critical=True needs a training_step that returns the loss")
    return loss


def _forget_unlogged(trainer: pl.Trainer, numbers: Mapping[str, float]) -> None:
    """Drop the doctor's numbers this step did not log from Lightning's step results: Lightning
    hands every number logged earlier in the epoch to the loggers again on each step, so
    ‖Δθ‖/‖θ‖ and cos(g^t, g^{t−1}), measured every ``measure_every`` steps, would be written on
    the steps between as copies of the last measured value (and read back as measurements)."""
    results = getattr(trainer, "_results", None)  # (Lightning's; no public way to unlog)
    for result in list(getattr(results, "values", lambda: [])()):
        name = getattr(getattr(result, "meta", None), "name", "")
        if name.startswith(PREFIX) and name not in numbers and hasattr(result, "reset"):
            result.reset()


class DoctorCallback(DoctorFront, pl.Callback):
    """The Monitor on a Lightning run, the doctor's reading at the end of fit and every ``every``
    steps (the module docstring; the arguments are :class:`~ravine.integrations.doctor.
    TrainerDoctor`'s: ``every``, ``window``, ``critical``, ``measure_every``, ``layers``,
    ``report``). After fit, ``monitor`` holds the record and ``diagnosis`` the last verdict."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if len(trainer.optimizers) != 1:
            raise ValueError(
                f"DoctorCallback watches one optimizer, the trainer has {len(trainer.optimizers)}"
            )
        # Lightning runs forward and backward in a closure inside optimizer.step(): g^t exists
        # only from on_before_optimizer_step on, which is where the Monitor reads it
        self.doctor.attach(pl_module, trainer.optimizers[0], closure=True)

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        self.doctor.before_step(optimizer)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.doctor.hold(batch)
        loss = _step_loss(outputs)
        if loss is not None:
            if pl_module.automatic_optimization:  # Lightning divided L_b by k for backward
                loss = loss * trainer.accumulate_grad_batches
            self.doctor.add_loss(loss)
        numbers = self.doctor.record()
        if numbers:
            pl_module.log_dict(numbers, on_step=True, on_epoch=False, batch_size=1)
            _forget_unlogged(trainer, numbers)
        if numbers is not None and self.doctor.due():
            self._report(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._report(trainer)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.doctor.detach()

    def _report(self, trainer: pl.Trainer) -> None:
        reading = self.doctor.diagnose(_training_step_loss)
        if trainer.is_global_zero:
            self.doctor.report(reading)

    def state_dict(self) -> dict[str, Any]:
        return self.doctor.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.doctor.load_state_dict(state_dict)
