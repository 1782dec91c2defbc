"""The Monitor's guard: it stops training on a non-finite gradient (before the update), a
non-finite loss or an exploding loss, names the step and the parameter, gives the doctor's
verdict, and restores the last good θ and optimizer state bit for bit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import ravine.optim as ro
from ravine.diagnose.monitor import (
    DIVERGE_FACTOR,
    Guard,
    Monitor,
    TrainingStopped,
    divergence_line,
)

INT_OF_SIZE = {8: torch.int64, 4: torch.int32, 2: torch.int16}


def bits(t: torch.Tensor) -> torch.Tensor:
    """A tensor's bits, so torch.equal compares bitwise (nan == nan, −0 != 0)."""
    t = t.detach()
    return t.view(INT_OF_SIZE[t.element_size()]).clone() if t.is_floating_point() else t.clone()


def everything(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """θ, the model's buffers, the optimizer's state and groups, as bits."""
    state = {
        i: {k: bits(v) if isinstance(v, torch.Tensor) else v for k, v in optimizer.state[p].items()}
        for i, p in enumerate(model.parameters())
        if p in optimizer.state
    }
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    return {
        "theta": [bits(p) for p in model.parameters()],
        "buffers": [bits(b) for b in model.buffers()],
        "state": state,
        "groups": groups,
        "skipped": getattr(optimizer, "skipped_steps", None),
    }


def assert_same(a: dict, b: dict) -> None:
    for key in ("theta", "buffers"):
        assert len(a[key]) == len(b[key])
        assert all(torch.equal(x, y) for x, y in zip(a[key], b[key], strict=True)), key
    assert a["state"].keys() == b["state"].keys()
    for i, entries in a["state"].items():
        assert entries.keys() == b["state"][i].keys()
        for k, v in entries.items():
            same = (
                torch.equal(v, b["state"][i][k])
                if isinstance(v, torch.Tensor)
                else v == b["state"][i][k]
            )
            assert same, f"state {k!r} of parameter {i}"
    assert a["groups"] == b["groups"]
    assert a["skipped"] == b["skipped"]


@pytest.fixture(autouse=True)
def one_thread():
    """Batch norm on tiny batches is thousands of times slower on two busy threads than on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def net(norm: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Linear(3, 8)] + ([nn.BatchNorm1d(8)] if norm else []) + [nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(8, 1)).double()


DATA = torch.Generator().manual_seed(1)
X = torch.randn(64, 3, generator=DATA, dtype=torch.float64)
Y = torch.sin(X.sum(1, keepdim=True))


def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
    start = (t * 16) % 64
    return X[start : start + 16], Y[start : start + 16]


def forward_backward(model, optimizer, t, scale=1.0):
    optimizer.zero_grad()
    x, y = batch(t)
    loss = scale * nn.functional.mse_loss(model(x), y)
    loss.backward()
    return loss


def train(model, optimizer, monitor, steps, start=0):
    for t in range(start, start + steps):
        loss = forward_backward(model, optimizer, t)
        optimizer.step()
        monitor.step(loss)


OPTIMIZERS = {
    "ravine nadam": lambda params: ro.NAdam(params, lr=0.01),
    "ravine sgd skip": lambda params: ro.SGD(params, lr=0.05, momentum=0.9, nonfinite="skip"),
    "torch adam": lambda params: torch.optim.Adam(params, lr=0.01),
}


# --- a non-finite gradient ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("poison", [math.nan, math.inf])
def test_nonfinite_gradient_stops_before_the_update_naming_the_first_bad_parameter(name, poison):
    model = net()
    optimizer = OPTIMIZERS[name](model.parameters())
    monitor = Monitor(model, optimizer, guard=True)
    train(model, optimizer, monitor, 5)
    forward_backward(model, optimizer, 5)
    model[2].bias.grad[0] = poison  # the last parameter ...
    model[0].bias.grad[3] = poison  # ... and one before it: the first in named order is named
    before = everything(model, optimizer)
    with pytest.raises(TrainingStopped) as raised:
        optimizer.step()  # raised in the pre-hook: the update never runs
    assert_same(before, everything(model, optimizer))
    stop = raised.value
    assert (stop.step, stop.parameter, stop.loss) == (5, "0.bias", None)
    assert "step 5" in str(stop) and "'0.bias'" in str(stop) and "1 of 8 entries" in str(stop)
    assert stop.diagnosis.verdict == "diverged"
    assert stop.diagnosis.evidence["first_nonfinite_step"] == 5
    assert "the doctor says diverged" in str(stop)
    assert stop.restored_step == 4
    assert isinstance(stop, FloatingPointError)
    with pytest.raises(RuntimeError, match=r"needs an optimizer\.step"):
        monitor.step(1.0)  # the stopped step was never recorded


def test_a_gradient_whose_norm_overflows_but_whose_entries_are_finite_does_not_stop():
    p = nn.Parameter(torch.zeros(4))
    model = nn.ParameterList([p])
    optimizer = ro.SGD([p], lr=0.0)
    monitor = Monitor(model, optimizer, guard=True)
    p.grad = torch.full((4,), 1e30)  # float32: finite, but ‖g‖² overflows
    optimizer.step()
    record = monitor.step(1.0)
    assert math.isinf(record["gradient_norm"])


def test_the_guard_stops_a_nonfinite_gradient_whatever_the_optimizers_policy():
    model = net()
    optimizer = ro.Adam(model.parameters(), lr=0.01, nonfinite="skip")
    monitor = Monitor(model, optimizer, guard=True)
    train(model, optimizer, monitor, 2)
    forward_backward(model, optimizer, 2)
    model[0].weight.grad.fill_(math.nan)
    with pytest.raises(TrainingStopped, match=r"'0\.weight'"):
        optimizer.step()
    assert optimizer.skipped_steps == 0


# --- a non-finite or exploding loss ----------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nonfinite_loss_stops_with_the_doctors_verdict(bad):
    model = net()
    optimizer = ro.Adam(model.parameters(), lr=0.01)
    monitor = Monitor(model, optimizer, guard=True)
    train(model, optimizer, monitor, 6)
    forward_backward(model, optimizer, 6)
    optimizer.step()
    with pytest.raises(TrainingStopped) as raised:
        monitor.step(torch.tensor(bad, dtype=torch.float64))
    stop = raised.value
    assert stop.step == 6 and stop.parameter is None
    assert str(stop.loss) == str(bad)
    assert f"the loss is {bad}" in str(stop)
    assert stop.diagnosis.verdict == "diverged"
    assert stop.diagnosis.evidence["first_nonfinite_step"] == 6
    assert len(monitor.history) == 7  # the record of the stopped step is kept


def feed(monitor, optimizer, params, losses):
    """One optimizer step (η = 0) and monitor.step(loss) per loss: the guard reads the loss."""
    for loss in losses:
        for p in params:
            p.grad = torch.ones_like(p)
        optimizer.step()
        monitor.step(loss)


def test_the_default_explode_is_the_doctors_factor_ten():
    assert Guard().explode == DIVERGE_FACTOR == 10
    assert divergence_line(2.0, 10) == 20.0
    p = nn.Parameter(torch.zeros(2))
    optimizer = ro.SGD([p], lr=0.0)
    monitor = Monitor(nn.ParameterList([p]), optimizer, guard=True)
    feed(monitor, optimizer, [p], [5.0, 2.0, 3.0, 19.9])  # 19.9 < 10 × 2: goes on
    with pytest.raises(TrainingStopped) as raised:
        feed(monitor, optimizer, [p], [20.1])
    assert raised.value.step == 4 and raised.value.loss == 20.1
    assert "the loss exploded: 20.1 is above 20" in str(raised.value)
    assert "best loss so far, 2" in str(raised.value)


def test_explode_factor_and_negative_losses_follow_the_divergence_line():
    p = nn.Parameter(torch.zeros(2))
    optimizer = ro.SGD([p], lr=0.0)
    monitor = Monitor(nn.ParameterList([p]), optimizer, guard=Guard(explode=2.0))
    # L* = −4: the line is −4 + (2 − 1)·4 = 0
    feed(monitor, optimizer, [p], [-1.0, -4.0, -0.5, 0.0])
    with pytest.raises(TrainingStopped, match="exploded"):
        feed(monitor, optimizer, [p], [0.01])


def test_explode_none_stops_only_on_nonfinite_numbers():
    p = nn.Parameter(torch.zeros(2))
    optimizer = ro.SGD([p], lr=0.0)
    monitor = Monitor(nn.ParameterList([p]), optimizer, guard=Guard(explode=None))
    feed(monitor, optimizer, [p], [1.0, 1e30])
    with pytest.raises(TrainingStopped, match="the loss is nan"):
        feed(monitor, optimizer, [p], [math.nan])


# --- restore ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("how", ["gradient", "loss"])
def test_restore_gives_back_the_last_good_state_bit_for_bit_and_training_redoes_it(name, how):
    model = net(norm=True)
    optimizer = OPTIMIZERS[name](model.parameters())
    monitor = Monitor(model, optimizer, guard=True)
    seen = {}  # everything as it was before the update of step t
    for t in range(7):
        loss = forward_backward(model, optimizer, t)
        seen[t] = everything(model, optimizer)
        optimizer.step()
        monitor.step(loss)
    loss = forward_backward(model, optimizer, 7, scale=1e6 if how == "loss" else 1.0)
    if how == "gradient":
        model[0].weight.grad[0, 0] = math.nan
    with pytest.raises(TrainingStopped) as raised:
        optimizer.step()
        monitor.step(loss)
    stop = raised.value
    assert stop.restored_step == 6
    assert stop.restore() == 6
    assert_same(seen[6], everything(model, optimizer))
    assert [r["step"] for r in monitor.history] == list(range(6))
    # a second restore goes to the same place
    assert monitor.restore() == 6
    assert_same(seen[6], everything(model, optimizer))
    # training goes on from step 6 as it went the first time (the same batch, the same update);
    # the buffers were kept after step 6's forward pass, which the redone step 6 runs again, so
    # batch-norm's running statistics count that batch twice: only they differ
    loss = forward_backward(model, optimizer, 6)
    optimizer.step()
    assert monitor.step(loss)["step"] == 6
    again = everything(model, optimizer)
    reference = net(norm=True)
    reference_optimizer = OPTIMIZERS[name](reference.parameters())
    for t in range(7):
        forward_backward(reference, reference_optimizer, t)
        reference_optimizer.step()
    expected = everything(reference, reference_optimizer)
    expected["buffers"] = again["buffers"]
    assert_same(expected, again)


def test_keep_every_goes_back_to_the_last_kept_step_with_a_good_loss():
    model = net()
    optimizer = ro.Adam(model.parameters(), lr=0.01)
    monitor = Monitor(model, optimizer, guard=Guard(keep_every=3))
    seen = {}
    for t in range(8):
        loss = forward_backward(model, optimizer, t)
        seen[t] = everything(model, optimizer)
        optimizer.step()
        monitor.step(loss)
    forward_backward(model, optimizer, 8)
    optimizer.step()
    with pytest.raises(TrainingStopped) as raised:
        monitor.step(math.inf)  # step 8; copies were taken on steps 0, 3, 6
    assert raised.value.restored_step == 6
    assert monitor.restore() == 6
    assert_same(seen[6], everything(model, optimizer))


def test_a_copy_whose_own_loss_was_bad_is_never_restored():
    p = nn.Parameter(torch.zeros(2))
    optimizer = ro.Adam([p], lr=0.1)
    monitor = Monitor(nn.ParameterList([p]), optimizer, guard=True)
    feed(monitor, optimizer, [p], [1.0])
    with pytest.raises(TrainingStopped) as raised:
        feed(monitor, optimizer, [p], [math.nan])  # step 1: its copy is not good
    assert raised.value.restored_step == 0


def test_a_stop_before_any_good_loss_has_nothing_to_restore():
    p = nn.Parameter(torch.zeros(2))
    optimizer = ro.SGD([p], lr=0.1)
    Monitor(nn.ParameterList([p]), optimizer, guard=True)
    p.grad = torch.tensor([1.0, math.inf])
    with pytest.raises(TrainingStopped, match="No state to go back to") as raised:
        optimizer.step()
    assert raised.value.restored_step is None
    assert raised.value.diagnosis.verdict == "diverged"
    with pytest.raises(RuntimeError, match="nothing to restore"):
        raised.value.restore()


def test_restore_drops_state_of_parameters_that_had_none_then():
    first, late = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.ones(3))
    optimizer = ro.Adam([first, late], lr=0.1)
    monitor = Monitor(nn.ParameterList([first, late]), optimizer, guard=True)
    feed(monitor, optimizer, [first], [1.0, 0.9])  # late gets no gradient yet
    feed(monitor, optimizer, [first, late], [0.8])  # now it has state
    assert late in optimizer.state
    with pytest.raises(TrainingStopped):
        feed(monitor, optimizer, [first, late], [math.nan])
    assert monitor.restore() == 2  # the copy taken before step 2, late's first update
    assert late not in optimizer.state
    assert optimizer.state[first]["step"] == 2
    assert torch.equal(late.detach(), torch.ones(3))


# --- no guard, bad guards --------------------------------------------------------------------


@pytest.mark.parametrize("guard", [None, False])
def test_without_a_guard_nothing_changes(guard):
    runs = []
    for options in ({}, {"guard": guard}, {"guard": True}):
        model = net()
        optimizer = ro.Adam(model.parameters(), lr=0.01)
        monitor = Monitor(model, optimizer, **options)
        train(model, optimizer, monitor, 10)
        runs.append((everything(model, optimizer), monitor.history, monitor))
    for state, history, _ in runs[1:]:
        assert_same(runs[0][0], state)
        assert str(history) == str(runs[0][1])  # nan == nan as text
    unguarded = runs[1][2]
    assert unguarded.guard is None
    with pytest.raises(RuntimeError, match="guarded Monitor"):
        unguarded.restore()
    # a non-finite gradient is the optimizer's business again: its own error, nothing recorded
    model, optimizer = unguarded.model, unguarded.optimizer
    forward_backward(model, optimizer, 10)
    model[0].weight.grad[0, 0] = math.nan
    with pytest.raises(ro.NonFiniteGradientError):
        optimizer.step()
    forward_backward(model, optimizer, 10)
    optimizer.step()
    assert unguarded.step(math.inf)["loss"] == math.inf  # recorded, not stopped


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"explode": 1.0}, "explode must be a number > 1 or None, got 1.0"),
        ({"explode": 0.5}, "explode must be"),
        ({"explode": math.nan}, "explode must be"),
        ({"explode": math.inf}, "explode must be"),
        ({"explode": "10"}, "explode must be"),
        ({"explode": True}, "explode must be"),
        ({"keep_every": 0}, "keep_every must be an integer >= 1, got 0"),
        ({"keep_every": 1.5}, "keep_every must be"),
        ({"keep_every": True}, "keep_every must be"),
    ],
)
def test_bad_guard_arguments_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        Guard(**options)


@pytest.mark.parametrize("guard", ["yes", 10, {"explode": 10}])
def test_a_guard_that_is_not_a_guard_is_refused(guard):
    model = net()
    with pytest.raises(ValueError, match="guard must be True, False, None or a Guard"):
        Monitor(model, ro.SGD(model.parameters()), guard=guard)
