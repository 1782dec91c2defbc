"""The doctor as a Hugging Face ``TrainerCallback`` (``pip install 'ravine[transformers]'``)::

    from ravine.integrations.transformers import DoctorCallback

    trainer = Trainer(model=model, args=args, train_dataset=data)
    DoctorCallback(every=500).attach(trainer)
    trainer.train()   # the verdict, its evidence and the remedy at the end of training

The Monitor watches the optimizer the Trainer built or was given (ravine's or torch's, inside
accelerate's wrapper) and the model's parameters. Hooks: ``on_train_begin`` attaches it (after
the Trainer has loaded a checkpoint's optimizer) and a forward hook on the model that reads the
loss of each training forward pass (the model's output ``'loss'``, or its first element, as the
Trainer's default ``compute_loss`` takes it); ``on_pre_optimizer_step`` reads η^t;
``on_step_end`` records the step with the mean of its micro-batches' losses and prints the
reading every ``every`` steps; ``on_log`` adds the last step's ``doctor/loss``,
``doctor/gradient_norm``, ``doctor/update_ratio``, ``doctor/gradient_cosine`` and
``doctor/lr`` to the Trainer's logs (and to ``state.log_history``); ``on_save`` writes the
Monitor's state into the checkpoint folder (:data:`STATE_FILE`); ``on_train_end`` prints the
reading of the whole run and takes the hooks off.

**The gradient before clipping.** The Trainer clips gradients (``max_grad_norm``, 1.0 by
default) before ``on_pre_optimizer_step`` and the optimizer's step, where the Monitor would
read g: ‖g‖ would then be the clipped norm, at most ``max_grad_norm``, and a gradient that
shrinks from 100 to 10 would look kept. So with :meth:`DoctorCallback.attach` the doctor reads g^t
as the Trainer begins clipping it (the Trainer's own call of its accelerator's
``clip_grad_norm_``, which it makes on every step, with or without clipping; the doctor takes
that call back at the end of training), and the update ratio ‖Δθ‖/‖θ‖ is the step actually
taken. Passed as ``Trainer(callbacks=[doctor])`` it does not know the Trainer and reads g
after clipping.

**Where the numbers are logged.** The Trainer hands ``logs`` to its callbacks in order, and it
puts the reporting integrations (TensorBoard, W&B, …) before the callbacks passed to it: so
:meth:`DoctorCallback.attach` puts the doctor first, where they all see its numbers; passed as
``Trainer(callbacks=[doctor])`` they reach the console and ``state.log_history`` only.

**Resuming.** ``trainer.train(resume_from_checkpoint=...)`` at step s reads the Monitor's state
from ``output_dir/checkpoint-s`` (the folder the Trainer wrote and ``resume_from_checkpoint=True``
finds) and goes on with its record as if never stopped. (Not through the Trainer's
``stateful_callbacks``: those are JSON, and restoring them rebuilds the callback from its
arguments, which a held batch is not.)

A custom ``compute_loss`` whose loss is not the model's output is not seen: the training forward
pass must return the loss.
"""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..files import replace_atomically
from .doctor import DoctorFront, extra_missing

try:
    import transformers
except ImportError as error:  # pragma: no cover - the extra is installed where tests run
    raise extra_missing("transformers", "transformers", error) from error

STATE_FILE = "ravine_doctor.pt"  # the Monitor's state, in each checkpoint folder


def _output_loss(output: Any) -> Any:
    """The loss in a model's output, as the Trainer's default ``compute_loss`` takes it."""
    if isinstance(output, Mapping):
        return output.get("loss")
    if isinstance(output, (tuple, list)) and output:
        return output[0]
    return output if isinstance(output, torch.Tensor) else None


def _model_loss(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    """L(θ) on a held batch: the model called on it as the Trainer calls it."""
    output = model(**batch) if isinstance(batch, Mapping) else model(batch)
    loss = _output_loss(output)
    if loss is None:
        raise ValueError("critical needs a model whose output holds the loss")
    return loss


def checkpoint_folder(args: Any, state: Any) -> Path:
    """The folder the Trainer writes a checkpoint of step ``state.global_step`` to."""
    name = f"{transformers.trainer_utils.PREFIX_CHECKPOINT_DIR}-{state.global_step}"
    return Path(args.output_dir) / name


class DoctorCallback(DoctorFront, transformers.TrainerCallback):
    """The Monitor on a Hugging Face run, the doctor's reading at the end of training and every
    ``every`` steps (the module docstring; the arguments are :class:`~ravine.integrations.
    doctor.TrainerDoctor`'s: ``every``, ``window``, ``critical``, ``measure_every``,
    ``layers``, ``report``). After training, ``monitor`` holds the record and ``diagnosis`` the
    last verdict."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)  # TrainerDoctor's arguments, keywords only
        self._hook: Any = None
        self._listening = False  # training forward passes count; the Hessian's do not
        self._unlogged: dict[str, float] = {}  # the last record's numbers, for the next log
        self._trainer: Any = None  # known through attach(): g^t is then read before clipping
        self._clip: Any = None  # the accelerator's clip_grad_norm_ while the doctor reads first
        self._read = False  # g^t of this step already read (as clipping began)

    def attach(self, trainer: transformers.Trainer) -> DoctorCallback:
        """Put this callback first among ``trainer``'s, ahead of its reporting integrations, so
        that they log its numbers too. Returns the callback."""
        callbacks = trainer.callback_handler.callbacks
        if self in callbacks:
            callbacks.remove(self)
        callbacks.insert(0, self)
        self._trainer = weakref.ref(trainer)
        return self

    # --- the hooks ----------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        if state.global_step > 0:
            self._load(checkpoint_folder(args, state) / STATE_FILE, state.global_step)
        accelerator = self._accelerator()
        self.doctor.attach(model, optimizer, closure=accelerator is not None)
        self._unlogged, self._read = {}, False
        if accelerator is not None:
            self._read_before_clipping(accelerator, optimizer)
        if self._hook is not None:
            self._hook.remove()
        self._hook = model.register_forward_hook(self._read_loss, with_kwargs=True)
        self._listening = True

    def _read_loss(self, module, args, kwargs, output) -> None:
        """A forward hook: the loss of a training forward pass (train mode, with gradients)."""
        if not (self._listening and module.training and torch.is_grad_enabled()):
            return
        loss = _output_loss(output)
        if loss is not None:
            self.doctor.add_loss(loss)
            self.doctor.hold(kwargs if kwargs else args[0])

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        if not self._read:  # (read as clipping began, or now: a Trainer that clipped otherwise)
            self.doctor.before_step(optimizer)
        self._read = False

    def on_step_end(self, args, state, control, **kwargs):
        numbers = self.doctor.record()
        if numbers:
            self._unlogged = numbers
        if numbers is not None and self.doctor.due():
            self._report(state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self._unlogged or logs is None:
            return
        logs.update(self._unlogged)
        history = state.log_history
        if history and history[-1].get("step") == state.global_step:
            history[-1].update(self._unlogged)  # (the Trainer appended its copy of logs)
        self._unlogged = {}

    def on_save(self, args, state, control, **kwargs):
        if not args.should_save or self.doctor.monitor is None:
            return
        folder = checkpoint_folder(args, state)
        if not folder.is_dir():
            warnings.warn(
                f"ravine doctor: no checkpoint folder {folder} to save the Monitor's state in",
                stacklevel=2,
            )
            return
        contents = self.doctor.state_dict()
        replace_atomically(folder / STATE_FILE, lambda temporary: torch.save(contents, temporary))

    def on_train_end(self, args, state, control, **kwargs):
        self._report(state)
        self._listening = False
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        accelerator = self._accelerator()
        if self._clip is not None and accelerator is not None:
            del accelerator.clip_grad_norm_  # the class's method again
        self._clip = None
        self.doctor.detach()

    # --- helpers ------------------------------------------------------------------------------

    def _accelerator(self) -> Any:
        """The accelerator of the Trainer given to :meth:`attach` (None without one)."""
        trainer = self._trainer() if self._trainer is not None else None
        return getattr(trainer, "accelerator", None)

    def _read_before_clipping(self, accelerator: Any, optimizer: Any) -> None:
        """Read g^t (and η^t, θ^t) when the Trainer calls ``accelerator.clip_grad_norm_``, before
        it scales the gradients, once per step."""
        if self._clip is not None:  # a second train() on the same Trainer
            del accelerator.clip_grad_norm_
        clip = accelerator.clip_grad_norm_

        def read_then_clip(*args: Any, **kwargs: Any) -> Any:
            if not self._read:
                self.doctor.before_step(optimizer)
                self._read = True
            return clip(*args, **kwargs)

        accelerator.clip_grad_norm_ = self._clip = read_then_clip

    def _load(self, path: Path, step: int) -> None:
        """The Monitor's state saved with the checkpoint the Trainer resumes from."""
        if not os.path.isfile(path):
            warnings.warn(
                f"ravine doctor: resuming at step {step} without the Monitor's state ({path} "
                "is missing): its record starts anew here, counting steps from 0",
                stacklevel=2,
            )
            return
        self.doctor.load_state_dict(torch.load(path, weights_only=True))

    def _report(self, state: Any) -> None:
        self._listening = False  # (the Hessian's forward passes are not training's)
        try:
            reading = self.doctor.diagnose(_model_loss)
        finally:
            self._listening = True
        if state.is_world_process_zero:
            self.doctor.report(reading)
