"""Exact resume: a run saved to a file after K steps and continued by fresh objects (a new model,
optimizer, scheduler and Monitor, each loaded from the file) ends bit for bit where the run
that never stopped ends — parameters (``torch.equal``), learning rates, and the Monitor's
records, cos(g^t, g^{t−1}) across the break included.

Every optimizer of the catalog (and the torch options that add state: momentum, nesterov,
centered, amsgrad) × every way η^t is driven (none, a warm-up and a decay schedule through
``Scheduler``, a callable ``lr`` on the optimizer, a metric-driven ``plateau``) × with and
without a Monitor. The data are drawn with the global RNG (mini-batches and dropout), so its
state is in the checkpoint too.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch

from ravine.diagnose.monitor import EVERY, Monitor
from ravine.optim import catalog, lecture, presets
from ravine.schedules import Scheduler, from_spec

STEPS = 15  # the whole run
K = 7  # steps before the checkpoint
LR = 0.05

OPTIMIZERS = {
    "sgd": lambda ps, lr: presets.SGD(ps, lr=lr),
    "sgd-momentum": lambda ps, lr: presets.SGD(ps, lr=lr, momentum=0.9, weight_decay=1e-2),
    "sgd-nesterov": lambda ps, lr: presets.SGD(ps, lr=lr, momentum=0.9, nesterov=True),
    "adagrad": lambda ps, lr: presets.Adagrad(ps, lr=lr, lr_decay=1e-2),
    "rmsprop": lambda ps, lr: presets.RMSprop(ps, lr=lr),
    "rmsprop-centered": lambda ps, lr: presets.RMSprop(ps, lr=lr, centered=True),
    "rmsprop-momentum": lambda ps, lr: presets.RMSprop(ps, lr=lr, momentum=0.9),
    "adam": lambda ps, lr: presets.Adam(ps, lr=lr),
    "adam-amsgrad": lambda ps, lr: presets.Adam(ps, lr=lr, amsgrad=True),
    "adamw": lambda ps, lr: presets.AdamW(ps, lr=lr),
    "radam": lambda ps, lr: presets.RAdam(ps, lr=lr),
    "nadam": lambda ps, lr: presets.NAdam(ps, lr=lr),
    "lecture-gd": lambda ps, lr: lecture.GD(ps, lr=lr),
    "lecture-momentum": lambda ps, lr: lecture.Momentum(ps, lr=lr),
    "lecture-adagrad": lambda ps, lr: lecture.Adagrad(ps, lr=lr),
    "lecture-rmsprop": lambda ps, lr: lecture.RMSProp(ps, lr=lr),
}

WARMUP_COSINE = "linear-warmup:steps=5 >> cosine:steps=20"


def inverse_sqrt_lr(t: int) -> float:
    """A plain function as the optimizer's lr: η^t = η/√(t+1)."""
    return LR / math.sqrt(t + 1)


# How η^t is driven: (the optimizer's lr, the Scheduler's spec or None, a metric-driven one).
SCHEDULES = {
    "constant": (LR, None),
    "warmup-cosine": (LR, WARMUP_COSINE),
    "exponential": (LR, "exponential:gamma=0.9"),
    "plateau": (LR, "plateau:factor=0.5,patience=0,threshold=0.05"),
    "lr-function": (inverse_sqrt_lr, None),
    "lr-schedule": (LR * from_spec(WARMUP_COSINE), None),
}


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=g)
    return x, torch.sin(x.sum(dim=1, keepdim=True))


X, Y = _data()


MONITOR = {"every": 1, "effective_lr_every": 1}  # every number measured on every step


class Run:
    """A model, its optimizer, a Scheduler (or None) and a Monitor (or None), built fresh.

    ``monitor``: the Monitor's keyword arguments, or None for no Monitor. ``set_to_none``: how
    ``zero_grad`` clears the gradients (False reuses their buffers in place).
    """

    def __init__(
        self,
        optimizer: str,
        schedule: str,
        monitor: dict | None,
        seed: int,
        set_to_none: bool = True,
    ) -> None:
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Dropout(0.25), torch.nn.Linear(6, 1)
        )
        lr, spec = SCHEDULES[schedule]
        self.optimizer = OPTIMIZERS[optimizer](self.model.parameters(), lr)
        self.scheduler = None if spec is None else Scheduler(self.optimizer, from_spec(spec))
        self.metric = spec is not None and self.scheduler.schedule.metric_driven
        self.monitor = None if monitor is None else Monitor(self.model, self.optimizer, **monitor)
        self.set_to_none = set_to_none
        self.lrs: list[float] = []

    def train(self, steps: int) -> None:
        """``steps`` steps on random mini-batches of 8, with dropout: the global RNG draws both."""
        for _ in range(steps):
            self.lrs.append(self.optimizer.param_groups[0]["lr"])
            batch = torch.randint(len(X), (8,))
            self.optimizer.zero_grad(set_to_none=self.set_to_none)
            loss = torch.nn.functional.mse_loss(self.model(X[batch]), Y[batch])
            loss.backward()
            self.optimizer.step()
            if self.monitor is not None:
                self.monitor.step(loss)
            if self.scheduler is not None:
                self.scheduler.step(loss.item() if self.metric else None)
        self.lrs.append(self.optimizer.param_groups[0]["lr"])

    def save(self, path) -> None:
        """Everything the run needs to go on, in one file."""
        checkpoint = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "lrs": self.lrs,
        }
        if self.scheduler is not None:
            checkpoint["scheduler"] = self.scheduler.state_dict()
        if self.monitor is not None:
            checkpoint["monitor"] = self.monitor.state_dict()
        torch.save(checkpoint, path)

    def load(self, path, skip: tuple[str, ...] = ()) -> None:
        """Into fresh objects (the Scheduler was built before: building one resets the lr);
        ``skip`` names parts of the checkpoint left unloaded, to see that each one matters."""
        checkpoint = torch.load(path, weights_only=True)
        self.model.load_state_dict(checkpoint["model"])
        if "optimizer" not in skip:
            self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        if self.monitor is not None and "monitor" not in skip:
            self.monitor.load_state_dict(checkpoint["monitor"])
        if "rng" not in skip:
            torch.set_rng_state(checkpoint["rng"])
        self.lrs = checkpoint["lrs"][:-1]  # the lr before step K is read again by train()

    def parameters(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.model.parameters()]

    def same_parameters(self, other: Run) -> bool:
        pairs = zip(self.parameters(), other.parameters(), strict=True)
        return all(torch.equal(a, b) for a, b in pairs)


def _same_records(a: list[dict[str, float]], b: list[dict[str, float]]) -> bool:
    """The same records, bit for bit (nan equals nan)."""
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        if ra.keys() != rb.keys():
            return False
        for key in ra:
            x, y = ra[key], rb[key]
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                return False
    return True


def _resumed(optimizer, schedule, monitor, path, k=K, steps=STEPS, skip=(), **options) -> Run:
    """k steps, saved to ``path``; a fresh Run loaded from it takes the other steps − k."""
    first = Run(optimizer, schedule, monitor, seed=0, **options)
    first.train(k)
    first.save(path)
    torch.manual_seed(12345)  # the RNG moves on elsewhere; the checkpoint brings it back
    second = Run(optimizer, schedule, monitor, seed=1, **options)  # another θ⁰: the file has θ
    second.load(path, skip)
    second.train(steps - k)
    return second


@functools.cache
def _whole(optimizer: str, schedule: str) -> Run:
    """The run that never stops, with a Monitor (which only reads: the plain runs match it)."""
    run = Run(optimizer, schedule, MONITOR, seed=0)
    run.train(STEPS)
    return run


@pytest.mark.parametrize("monitor", [None, MONITOR], ids=["plain", "monitor"])
@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_resume_is_bit_identical(optimizer, schedule, monitor, tmp_path):
    whole = _whole(optimizer, schedule)
    resumed = _resumed(optimizer, schedule, monitor, tmp_path / "checkpoint.pt")

    assert resumed.same_parameters(whole)
    assert resumed.lrs == whole.lrs
    if whole.scheduler is not None:
        assert resumed.scheduler.state_dict() == whole.scheduler.state_dict()
    if monitor is not None:
        assert _same_records(resumed.monitor.history, whole.monitor.history)
        assert [r["step"] for r in resumed.monitor.history] == list(range(STEPS))
        assert math.isfinite(resumed.monitor.history[K]["gradient_cosine"])  # g^{K−1} kept


@pytest.mark.parametrize("schedule", [s for s in SCHEDULES if s != "constant"])
def test_each_schedule_changes_the_rate_across_the_break(schedule):
    """The rate changes before and after step K, so the resumed rates test the saved state."""
    lrs = _whole("sgd", schedule).lrs
    assert len(set(lrs[: K + 1])) > 1 and len(set(lrs[K:])) > 1


def test_every_catalog_optimizer_is_covered():
    probe = [torch.zeros(1, requires_grad=True)]
    covered = {type(make(probe, LR)) for make in OPTIMIZERS.values()}
    assert {entry.factory for entry in catalog.CATALOG.values()} <= covered


# --- the Monitor's state ------------------------------------------------------------------------


def _resume_with_reused_buffers(options: dict, k: int, steps: int, path) -> tuple[Run, Run]:
    whole = Run("adam", "warmup-cosine", options, seed=0, set_to_none=False)
    whole.train(steps)
    resumed = _resumed("adam", "warmup-cosine", options, path, k, steps, set_to_none=False)
    return whole, resumed


def test_monitor_defaults_keep_the_gradient_across_the_break(tmp_path):
    """With the default every = 8, the checkpoint after step 7 holds g^7, which step 8's cosine
    needs."""
    whole = Run("adam", "warmup-cosine", {}, seed=0)
    whole.train(2 * EVERY + 1)
    path = tmp_path / "checkpoint.pt"
    resumed = _resumed("adam", "warmup-cosine", {}, path, EVERY, 2 * EVERY + 1)
    assert resumed.same_parameters(whole)
    assert _same_records(resumed.monitor.history, whole.monitor.history)
    cosines = resumed.monitor.gradient_cosine
    assert math.isfinite(cosines[EVERY]) and math.isfinite(cosines[2 * EVERY])
    assert torch.load(path, weights_only=True)["monitor"]["kept_gradients"] is not None


def test_monitor_copying_reused_gradient_buffers_goes_on_copying(tmp_path):
    """zero_grad(set_to_none=False) reuses the gradient buffers: the Monitor found it at step 1
    (from a copy of g⁰, so no cosine is lost) and copies g since; the resumed Monitor must copy
    too (its first gradients are new tensors, so it could not find out again)."""
    whole, resumed = _resume_with_reused_buffers(MONITOR, K, STEPS, tmp_path / "c.pt")
    assert resumed.same_parameters(whole)
    assert _same_records(resumed.monitor.history, whole.monitor.history)
    cosines = resumed.monitor.gradient_cosine
    assert all(math.isfinite(c) for c in cosines[1:])


def test_monitor_finding_reused_buffers_after_the_break(tmp_path):
    steps = 2 * EVERY + 1
    whole, resumed = _resume_with_reused_buffers({}, EVERY, steps, tmp_path / "c.pt")
    assert resumed.same_parameters(whole)
    assert _same_records(resumed.monitor.history, whole.monitor.history)


@pytest.mark.parametrize(
    ("left_out", "what_differs"),
    [
        ("monitor", "history"),
        ("optimizer", "parameters"),
        ("rng", "parameters"),
    ],
)
def test_each_part_of_the_checkpoint_matters(left_out, what_differs, tmp_path):
    """Leave one part unloaded and the resumed run differs: the tests above can fail."""
    whole = _whole("adam", "constant")
    resumed = _resumed("adam", "constant", MONITOR, tmp_path / "c.pt", skip=(left_out,))
    if what_differs == "parameters":
        assert not resumed.same_parameters(whole)
    else:
        assert resumed.same_parameters(whole)
        assert not _same_records(resumed.monitor.history, whole.monitor.history)
        assert resumed.monitor.steps.tolist() == list(range(STEPS - K))  # t began again at 0
        assert math.isnan(resumed.monitor.gradient_cosine[0])  # g^{K−1} was lost


def test_a_resumed_monitor_writes_the_whole_csv(tmp_path):
    """The resumed Monitor begins its CSV file anew with every saved record, so the file ends
    as the uninterrupted run's does (``log_every=2``: every second record)."""
    options = {**MONITOR, "log_every": 2}
    whole = Run("rmsprop", "exponential", {**options, "csv": tmp_path / "whole.csv"}, seed=0)
    whole.train(STEPS)
    whole.monitor.close()
    resumed = _resumed(
        "rmsprop", "exponential", {**options, "csv": tmp_path / "run.csv"}, tmp_path / "c.pt"
    )
    resumed.monitor.close()
    text = (tmp_path / "run.csv").read_text()
    assert text == (tmp_path / "whole.csv").read_text()
    assert len(text.splitlines()) == 1 + STEPS // 2


def _stepped_monitor(**options) -> Monitor:
    run = Run("sgd", "constant", {**MONITOR, **options}, seed=0)
    run.train(2)
    return run.monitor


def test_state_dict_refuses_a_step_without_its_record():
    monitor = _stepped_monitor()
    model, optimizer = monitor.model, monitor.optimizer
    torch.nn.functional.mse_loss(model(X), Y).backward()
    optimizer.step()  # monitor.step(loss) not called yet
    with pytest.raises(RuntimeError, match="record of step 2"):
        monitor.state_dict()


def test_load_state_dict_refuses_a_monitor_that_has_recorded():
    state = _stepped_monitor().state_dict()
    with pytest.raises(RuntimeError, match="has seen 2 steps"):
        _stepped_monitor().load_state_dict(state)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("history"), "lacks history"),
        (lambda s: s.update(names=["a", "b"]), r"parameters \['a', 'b'\]"),
        (lambda s: s.update(columns=s["columns"][:-1]), "update_ratio/3.bias"),
    ],
    ids=["not-a-state", "other-parameters", "other-records"],
)
def test_load_state_dict_refuses_another_monitors_state(change, message):
    state = _stepped_monitor().state_dict()
    change(state)
    fresh = Run("sgd", "constant", MONITOR, seed=0).monitor
    with pytest.raises(ValueError, match=message):
        fresh.load_state_dict(state)
    assert fresh.history == [] and fresh.state_dict()["steps"] == 0  # nothing was loaded


def test_load_state_dict_refuses_other_record_keys():
    state = _stepped_monitor().state_dict()
    fresh = Run("sgd", "constant", {**MONITOR, "layers": False}, seed=0).monitor
    with pytest.raises(ValueError, match="saved layers and effective_lr_every"):
        fresh.load_state_dict(state)
