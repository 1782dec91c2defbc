"""Drive any optimizer's η with a ravine schedule: a torch LRScheduler."""

from __future__ import annotations

from typing import Any

import torch

from .core import Schedule


class Scheduler(torch.optim.lr_scheduler.LRScheduler):
    """η^t = η_group · schedule(t) for every parameter group, t = the number of ``step()``
    calls so far — torch's LambdaLR convention, for torch's optimizers and ravine's alike.

    Call ``step()`` after ``optimizer.step()``; for a metric-driven schedule pass the measured
    value, ``step(metric)``, and it is observed for the step just taken.

    ``state_dict()`` holds the step count and what the schedule observed (not the schedule,
    which is code), so ``load_state_dict`` into a Scheduler built with the same schedule
    continues the same sequence; a different schedule is refused. The order of loading does
    not matter: ``load_state_dict`` also puts back each group's η as the saved run had it, so
    building this Scheduler after ``optimizer.load_state_dict`` (which sets η^0 on the groups,
    as every torch scheduler does when built) loses nothing.

    torch.compile: η changes every step, so keep it out of compiled code's constants: give the
    optimizer a tensor ``lr=torch.tensor(0.001)`` (torch's or ravine's; ravine keeps it a
    tensor) and this scheduler fills that tensor in place, so ``torch.compile(optimizer.step)``
    is compiled once (ravine's: 3 graphs; with a float η, 4: dynamo makes η a symbol after its
    first change).
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, schedule: Schedule, last_epoch: int = -1
    ) -> None:
        if not isinstance(schedule, Schedule):
            raise ValueError(
                f"schedule must be a ravine Schedule (see ravine.schedules), got {schedule!r}"
            )
        self.schedule = schedule
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = self.schedule(self.last_epoch)
        return [base * factor for base in self.base_lrs]

    _get_closed_form_lr = get_lr

    def step(self, metric: float | None = None) -> None:  # type: ignore[override]
        if metric is not None:
            self.schedule.observe(metric, self.last_epoch)
        super().step()

    def state_dict(self) -> dict[str, Any]:
        saved = {k: v for k, v in super().state_dict().items() if k != "schedule"}
        saved["schedule_spec"] = self.schedule.signature
        saved["schedule_state"] = self.schedule.state_dict()
        return saved

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        spec = state_dict.pop("schedule_spec", self.schedule.signature)
        if spec != self.schedule.signature:
            raise ValueError(
                f"this state was saved by a Scheduler running {spec!r}, "
                f"but this one runs {self.schedule.signature!r}"
            )
        self.schedule.load_state_dict(state_dict.pop("schedule_state", {}))
        super().load_state_dict(state_dict)
        # η of the next step, as the saved run had it: building a scheduler sets η^0
        for group, lr in zip(self.optimizer.param_groups, self.get_last_lr(), strict=True):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
