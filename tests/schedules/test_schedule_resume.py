"""Resuming is exact: a run stopped at any step and continued from its saved state dicts gives
the same parameters and learning rates, bit for bit, as the run that never stopped."""

import io
import random

import pytest
import torch

import ravine.optim
from ravine.schedules import (
    Cosine,
    LinearWarmup,
    Plateau,
    ResNetWarmup,
    Scheduler,
)

STEPS = 60


def schedule():
    return LinearWarmup(10) >> Cosine(50)


def _data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 4, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([[0.5], [-1.0], [2.0], [0.3]], dtype=torch.float64) + 0.1
    return x, y


X, Y = _data()


def _model(seed):
    torch.manual_seed(seed)
    return torch.nn.Linear(4, 1).double()


def _round_trip(state):
    """torch.save → bytes → torch.load(weights_only=True): what a checkpoint file does."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def train(make_optimizer, stop_at=None, use_scheduler=True):
    """60 steps; with ``stop_at`` = k, the run is saved before step k and continued by a fresh
    model, optimizer and Scheduler loaded from the checkpoint. Returns (parameters, lrs)."""

    def build(seed):
        model = _model(seed)
        opt = make_optimizer(model.parameters())
        sched = Scheduler(opt, schedule()) if use_scheduler else None
        return model, opt, sched

    model, opt, sched = build(0)
    lrs = []
    for step in range(STEPS):
        if step == stop_at:
            checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict()}
            if sched is not None:
                checkpoint["scheduler"] = sched.state_dict()
            checkpoint = _round_trip(checkpoint)
            # fresh objects (another initialization): only the checkpoint carries the run.
            # The scheduler is built first (building one resets group["lr"]), then the
            # optimizer's and the scheduler's states are loaded.
            model, opt, sched = build(123)
            model.load_state_dict(checkpoint["model"])
            opt.load_state_dict(checkpoint["optimizer"])
            if sched is not None:
                sched.load_state_dict(checkpoint["scheduler"])
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = ((model(X) - Y) ** 2).mean()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    lrs.append(opt.param_groups[0]["lr"])
    params = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return params, lrs


OPTIMIZERS = {
    "ravine-adam": lambda ps: ravine.optim.Adam(ps, lr=0.05),
    "torch-adam": lambda ps: torch.optim.Adam(ps, lr=0.05),
    "ravine-sgd-momentum": lambda ps: ravine.optim.SGD(ps, lr=0.05, momentum=0.9),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_at_every_step_is_exact(name):
    make = OPTIMIZERS[name]
    params, lrs = train(make)
    # the run follows the schedule: lr_t = 0.05·schedule(t)
    assert lrs == [0.05 * schedule()(t) for t in range(STEPS + 1)]
    assert lrs[0] == 0.0 and lrs[10] == 0.05 and lrs[35] == pytest.approx(0.025, rel=1e-15)
    start = torch.cat([p.detach().reshape(-1) for p in _model(0).parameters()])
    assert (params - start).abs().min() > 1e-3  # the run moved every parameter
    for k in range(STEPS):
        resumed_params, resumed_lrs = train(make, stop_at=k)
        assert resumed_lrs == lrs, f"lr sequence differs after resuming at step {k}"
        assert torch.equal(resumed_params, params), f"parameters differ after resuming at {k}"


def test_resume_with_the_schedule_as_a_ravine_lr():
    """The same without a Scheduler: the optimizer's own lr=base·schedule, whose step count is
    in the optimizer's state."""

    def make(ps):
        return ravine.optim.Adam(ps, lr=0.05 * schedule())

    params, lrs = train(make, use_scheduler=False)
    assert lrs == pytest.approx([0.05 * schedule()(t) for t in range(STEPS + 1)], rel=1e-15)
    for k in range(0, STEPS, 7):
        resumed_params, resumed_lrs = train(make, stop_at=k, use_scheduler=False)
        assert resumed_lrs == lrs
        assert torch.equal(resumed_params, params)


def test_the_checkpoint_changes_the_outcome():
    """The fresh objects start elsewhere: without loading, the result differs (so the test above
    can fail)."""

    def flat(model):
        return torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    assert (flat(_model(123)) - flat(_model(0))).abs().min() > 1e-3
    params, _ = train(OPTIMIZERS["ravine-adam"])
    model = _model(123)
    opt = ravine.optim.Adam(model.parameters(), lr=0.05)
    sched = Scheduler(opt, schedule())
    for _ in range(STEPS):
        opt.zero_grad()
        ((model(X) - Y) ** 2).mean().backward()
        opt.step()
        sched.step()
    assert not torch.equal(flat(model), params)


# --- metric-driven schedules --------------------------------------------------------------------

EPOCHS = 12
ERRORS = [0.95, 0.92, 0.9, 0.7, 0.75, 0.6, 0.5, 0.45, 0.4, 0.38, 0.37, 0.36]
LOSSES = [1.0, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.7, 0.75, 0.75, 0.75]

METRIC_RUNS = {
    # error crosses 0.8 in epoch 3: 0.1 from epoch 4, ×0.1 at epochs 6 and 9
    "resnet-warmup": (
        lambda: ResNetWarmup(low=0.01, high=0.1, threshold=0.8, milestones=(6, 9)),
        ERRORS,
        [0.01] * 4 + [0.1] * 2 + [0.1 * 0.1] * 3 + [0.1 * 0.1**2] * 4,
    ),
    # two epochs without improvement halve the rate: after epochs 3, 6 and 10
    "plateau": (
        lambda: Plateau(factor=0.5, patience=1),
        LOSSES,
        [1.0] * 4 + [0.5] * 3 + [0.25] * 4 + [0.125] * 2,
    ),
    # a join passes the metric on to its metric-driven piece
    "warmup-then-plateau": (
        lambda: LinearWarmup(2) >> Plateau(factor=0.5, patience=1),
        LOSSES,
        [0.0, 0.5] + [1.0] * 2 + [0.5] * 3 + [0.25] * 4 + [0.125] * 2,
    ),
}


def metric_run(make_schedule, metrics, stop_at=None):
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    sched = Scheduler(opt, make_schedule())
    lrs = []
    for epoch in range(EPOCHS):
        if epoch == stop_at:
            saved = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
            buffer = io.BytesIO()
            torch.save(saved, buffer)
            buffer.seek(0)
            saved = torch.load(buffer, weights_only=True)  # must not need unpickling code
            p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
            opt = torch.optim.SGD([p], lr=1.0)
            sched = Scheduler(opt, make_schedule())
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.ones_like(p)
        opt.step()
        sched.step(metrics[epoch])
    lrs.append(opt.param_groups[0]["lr"])
    return lrs, sched.schedule.state_dict(), sched.state_dict()


@pytest.mark.parametrize("name", list(METRIC_RUNS))
def test_metric_driven_resume_is_exact(name):
    make, metrics, expected = METRIC_RUNS[name]
    lrs, state, sched_state = metric_run(make, metrics)
    assert lrs == pytest.approx(expected, rel=1e-15, abs=0)
    assert sched_state["last_epoch"] == EPOCHS
    assert sched_state["schedule_spec"] == make().spec
    assert sched_state["schedule_state"] == state
    for k in range(EPOCHS):
        resumed_lrs, resumed_state, _ = metric_run(make, metrics, stop_at=k)
        assert resumed_lrs == lrs, f"resumed at epoch {k}"
        assert resumed_state == state, f"resumed at epoch {k}"


def test_metric_state_is_what_was_observed():
    _, state, _ = metric_run(METRIC_RUNS["resnet-warmup"][0], ERRORS)
    assert state == {"switched_at": 4}
    _, state, _ = metric_run(METRIC_RUNS["plateau"][0], LOSSES)
    assert state == {"scale": 0.125, "best": 0.7, "bad_epochs": 1, "cooldown_left": 0}
    _, state, _ = metric_run(METRIC_RUNS["warmup-then-plateau"][0], LOSSES)
    assert state == {"1": {"scale": 0.125, "best": 0.7, "bad_epochs": 1, "cooldown_left": 0}}


def _scheduler(schedule):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    return Scheduler(opt, schedule)


@pytest.mark.parametrize(
    ("saved_with", "loaded_into"),
    [
        (Cosine(10), Cosine(20)),
        (LinearWarmup(10) >> Cosine(50), LinearWarmup(10) >> Cosine(40)),
        (Plateau(factor=0.5), Plateau(factor=0.2)),
        (Cosine(10), Plateau()),
    ],
    ids=["cosine", "join", "plateau", "kind"],
)
def test_loading_another_schedules_state_is_refused(saved_with, loaded_into):
    source = _scheduler(saved_with)
    source.optimizer.step()
    source.step()
    state = _round_trip(source.state_dict())
    target = _scheduler(loaded_into)
    with pytest.raises(ValueError) as info:
        target.load_state_dict(state)
    assert saved_with.spec in str(info.value)
    assert loaded_into.spec in str(info.value)
    assert target.last_epoch == 0  # nothing was loaded
    # the same schedule loads
    same = _scheduler(saved_with)
    same.load_state_dict(state)
    assert same.last_epoch == 1


def test_scheduler_refuses_a_non_schedule():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="ravine Schedule"):
        Scheduler(opt, lambda t: 1.0)


# --- Plateau decides as torch's ReduceLROnPlateau -----------------------------------------------


def _metrics(mode, seed, n=80):
    """A noisy, mostly improving metric with flat stretches and exact repeats."""
    rng = random.Random(seed)
    value, out = 10.0, []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            pass  # an exact repeat
        elif r < 0.7:
            value *= 1 - rng.uniform(0, 0.02)  # an improvement of up to 2 %
        else:
            value *= 1 + rng.uniform(0, 0.01)  # worse
        out.append(round(value, 4))
    return out if mode == "min" else [20.0 - v for v in out]


PLATEAU_CASES = [
    dict(mode="min", threshold_mode="rel", threshold=1e-4, patience=2, factor=0.5, cooldown=0),
    dict(mode="min", threshold_mode="rel", threshold=0.01, patience=1, factor=0.7, cooldown=2),
    dict(mode="min", threshold_mode="abs", threshold=0.05, patience=0, factor=0.8, cooldown=1),
    dict(mode="max", threshold_mode="rel", threshold=1e-3, patience=2, factor=0.5, cooldown=0),
    dict(mode="max", threshold_mode="abs", threshold=0.02, patience=1, factor=0.6, cooldown=3),
    dict(
        mode="min",
        threshold_mode="abs",
        threshold=0.0,
        patience=1,
        factor=0.5,
        cooldown=0,
        min_scale=0.1,
    ),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "options", PLATEAU_CASES, ids=[f"{c['mode']}-{c['threshold_mode']}" for c in PLATEAU_CASES]
)
def test_plateau_decides_as_reduce_lr_on_plateau(options, seed):
    metrics = _metrics(options["mode"], seed)
    torch_options = dict(options)
    min_lr = torch_options.pop("min_scale", 0.0)

    p_torch = torch.zeros(1, requires_grad=True)
    opt_torch = torch.optim.SGD([p_torch], lr=1.0)
    reduce = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_torch, min_lr=min_lr, **torch_options)

    p_ravine = torch.zeros(1, requires_grad=True)
    opt_ravine = torch.optim.SGD([p_ravine], lr=1.0)
    sched = Scheduler(opt_ravine, Plateau(**options))

    expected, got = [], []
    for metric in metrics:
        opt_torch.step()
        reduce.step(metric)
        opt_ravine.step()
        sched.step(metric)
        expected.append(opt_torch.param_groups[0]["lr"])
        got.append(opt_ravine.param_groups[0]["lr"])
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
    assert len(set(expected)) >= 3, "the sequence should make torch reduce at least twice"
    assert sched.schedule.best == reduce.best
    assert sched.schedule.bad_epochs == reduce.num_bad_epochs
    assert sched.schedule.cooldown_left == reduce.cooldown_counter


# --- torch.compile ----------------------------------------------------------------------------


def test_compiled_torch_step_with_a_tensor_lr_does_not_recompile():
    """A tensor lr is filled in place by the Scheduler, so the compiled step is reused: one
    graph for all 20 steps, although the rate changes every step."""
    graphs = []

    def counting_backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    try:
        p = torch.zeros(3, requires_grad=True)
        p.grad = torch.ones(3)
        lr = torch.tensor(0.1)
        opt = torch.optim.SGD([p], lr=lr)
        sched = Scheduler(opt, Cosine(20))

        def step():
            opt.step()

        compiled = torch.compile(step, backend=counting_backend)
        seen_lrs, compiled_graphs = [], []
        for _ in range(20):
            seen_lrs.append(float(opt.param_groups[0]["lr"]))
            compiled()
            sched.step()
            compiled_graphs.append(len(graphs))
    finally:
        torch._dynamo.reset()

    assert opt.param_groups[0]["lr"] is lr  # the same tensor, filled in place
    assert seen_lrs == pytest.approx([0.1 * Cosine(20)(t) for t in range(20)], rel=1e-6)
    assert 1 <= compiled_graphs[0] <= 2
    assert compiled_graphs[-1] == compiled_graphs[0], compiled_graphs
    # Σ_t 0.1·½(1 + cos(πt/20)) over t < 20 is 0.1·(10 + ½): the compiled step used every rate
    expected = -sum(0.1 * Cosine(20)(t) for t in range(20))
    torch.testing.assert_close(p.detach(), torch.full((3,), expected), rtol=1e-5, atol=1e-6)
    assert expected == pytest.approx(-1.05, rel=1e-12)


# --- the order of loading does not matter ----------------------------------------------------

ORDER_SCHEDULES = {
    "warm-up then cosine": lambda: LinearWarmup(10) >> Cosine(50),
    "cosine": lambda: Cosine(60),
    "resnet warm-up": lambda: ResNetWarmup(0.1, 1.0, threshold=0.5),
}


@pytest.mark.parametrize("make", ORDER_SCHEDULES.values(), ids=ORDER_SCHEDULES.keys())
@pytest.mark.parametrize("order", ["optimizer first", "scheduler first"])
def test_resume_in_either_order_is_exact(make, order):
    """Building a Scheduler sets η^0 on the groups; after ``optimizer.load_state_dict`` that
    would make the first resumed step use η^0. ``Scheduler.load_state_dict`` puts back η."""
    stop = 7

    def run(steps, model, optimizer, scheduler):
        for _ in range(steps):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(X), Y)
            loss.backward()
            optimizer.step()
            scheduler.step(float(loss.detach()) if scheduler.schedule.metric_driven else None)

    model = _model(0)
    optimizer = ravine.optim.Adam(model.parameters(), lr=0.05)
    scheduler = Scheduler(optimizer, make())
    run(stop, model, optimizer, scheduler)
    saved = (
        _round_trip(model.state_dict()),
        _round_trip(optimizer.state_dict()),
        _round_trip(scheduler.state_dict()),
    )
    run(STEPS - stop, model, optimizer, scheduler)

    resumed = _model(1)
    resumed.load_state_dict(saved[0])
    again = ravine.optim.Adam(resumed.parameters(), lr=0.05)
    if order == "optimizer first":
        again.load_state_dict(saved[1])
        again_scheduler = Scheduler(again, make())
        again_scheduler.load_state_dict(saved[2])
    else:
        again_scheduler = Scheduler(again, make())
        again_scheduler.load_state_dict(saved[2])
        again.load_state_dict(saved[1])
    run(STEPS - stop, resumed, again, again_scheduler)
    assert torch.equal(model.weight, resumed.weight)
    assert again.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_a_schedule_inside_torchs_lambdalr_loads_with_weights_only():
    """LambdaLR's state_dict holds the callable itself; a ravine schedule is rebuilt from it by
    ``torch.load(weights_only=True)``, as Lightning and Hugging Face load checkpoints."""
    model = _model(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    made = LinearWarmup(3) >> Cosine(10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, made)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    loaded = _round_trip(scheduler.state_dict())
    assert loaded["lr_lambdas"][0]["pieces"] == made.pieces
    again = torch.optim.lr_scheduler.LambdaLR(
        torch.optim.SGD(_model(1).parameters(), lr=0.1), LinearWarmup(3) >> Cosine(10)
    )
    again.load_state_dict(loaded)
    assert again.last_epoch == 4 and again.get_last_lr() == scheduler.get_last_lr()
