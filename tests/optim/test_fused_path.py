"""The fast path (flat buffers, one compiled kernel) against the eager reference path: the same
numbers to 1e-6 relative in float32 over 100 steps for every catalog optimizer, with two
parameter groups, weight decay and a schedule; the fallbacks; state that stays readable."""

import pytest
import torch

from ravine.diagnose.monitor import Monitor
from ravine.optim import Adam, catalog, fused
from ravine.optim.optimizer import NonFiniteGradientError
from ravine.schedules import Scheduler, from_spec

pytestmark = pytest.mark.skipif(not fused.FUSED_AVAILABLE, reason="torch.compile unavailable")

SHAPES = [(6, 4), (5,), (2, 3, 2), (1,)]
STEPS = 100


def _run(name, fused_path, dtype=torch.float32, steps=STEPS, schedule=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=dtype)) for s in SHAPES]
    defaults = catalog.entry(name).defaults()
    options = {"weight_decay": 0.01} if "weight_decay" in defaults else {}
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": defaults["lr"] / 2}]
    opt = catalog.create(name, groups, fused=fused_path, **options)
    scheduler = Scheduler(opt, from_spec("linear-warmup:steps=10 >> cosine:steps=200"))
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen, dtype=dtype)
        opt.step()
        if schedule:
            scheduler.step()
    return params, opt


def _close(fast, eager, bar=1e-6):
    """‖fast − eager‖ ≤ bar·‖eager‖ for each parameter."""
    for a, b in zip(eager, fast, strict=True):
        assert float((b - a).detach().norm()) <= bar * float(a.detach().norm())


@pytest.mark.parametrize("name", list(catalog.CATALOG))
def test_fused_equals_eager_for_every_optimizer(name):
    eager, _ = _run(name, False)
    fast, opt = _run(name, True)
    assert opt._buckets, "the fast path did not run"
    _close(fast, eager)


def test_float64_and_bfloat16_work():
    eager, _ = _run("adam", False, torch.float64, steps=20)
    fast, _ = _run("adam", True, torch.float64, steps=20)
    for a, b in zip(eager, fast, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
    eager, _ = _run("adam", False, torch.bfloat16, steps=20)
    fast, opt = _run("adam", True, torch.bfloat16, steps=20)
    assert opt._buckets and all(p.dtype == torch.bfloat16 for p in fast)
    for a, b in zip(eager, fast, strict=True):
        torch.testing.assert_close(b.float(), a.float(), rtol=0.05, atol=0.05)


def test_parameters_become_views_of_one_buffer_and_state_stays_per_parameter():
    params, opt = _run("adam", True, steps=3)
    bucket = opt._buckets[(0, (torch.device("cpu"), torch.float32))]
    assert all(
        p.untyped_storage().data_ptr() == bucket.theta.untyped_storage().data_ptr()
        for p in params[:2]
    )
    state = opt.state[params[0]]
    assert state["exp_avg"].shape == params[0].shape and float(state["step"]) == 3
    assert state["step"] is not opt.state[params[1]]["step"]  # each parameter keeps its own t


def test_a_parameter_without_gradient_takes_the_eager_path_and_rejoins():
    start = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    runs = []
    for fused_path in (False, True):
        params = [torch.nn.Parameter(row.clone()) for row in start]
        opt = Adam(params, lr=0.1, fused=fused_path)
        gen = torch.Generator().manual_seed(1)
        for t in range(6):
            params[0].grad = torch.randn(3, generator=gen)
            params[1].grad = None if t == 2 else torch.randn(3, generator=gen)
            opt.step()
        runs.append(params)
        assert [float(opt.state[p]["step"]) for p in params] == [6.0, 5.0]
    # a large η on three entries: 2e-6 of drift in 6 steps (η^t/(1 − β^t) rounded to float32)
    _close(runs[1], runs[0], bar=1e-5)


def test_state_dict_round_trip_continues_the_same():
    params, opt = _run("adam", True, steps=5, schedule=False)
    saved = {k: v for k, v in opt.state_dict().items()}
    fresh = [torch.nn.Parameter(p.detach().clone()) for p in params]
    again = catalog.create("adam", [{"params": fresh[:2]}, {"params": fresh[2:]}], fused=True)
    again.load_state_dict(saved)
    gen = torch.Generator().manual_seed(3)
    grads = [[torch.randn(p.shape, generator=gen) for p in params] for _ in range(3)]
    for optimizer, ps in ((opt, params), (again, fresh)):
        for step in grads:
            for p, g in zip(ps, step, strict=True):
                p.grad = g.clone()
            optimizer.step()
    _close(fresh, params)


def test_the_monitor_reads_the_fast_path():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = Adam(model.parameters(), lr=1e-2, fused=True)
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    with Monitor(model, opt, every=1, effective_lr_every=2) as monitor:
        for _ in range(6):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            monitor.step(loss)
    assert len(monitor.history) == 6
    assert all(r["update_norm"] > 0 for r in monitor.history)
    assert monitor.history[2]["effective_lr_max"] > 0  # a sampled step ran eagerly on the views


def test_fused_must_be_a_flag():
    with pytest.raises(ValueError, match="fused must be True or False"):
        catalog.create("lecture-adagrad", [torch.nn.Parameter(torch.zeros(1))], fused="yes")


def test_a_non_finite_gradient_is_refused_on_the_fast_path_with_nothing_changed():
    params, opt = _run("adam", True, steps=3, schedule=False)
    before = [p.detach().clone() for p in params]
    state = {k: v.clone() for k, v in opt.state[params[2]].items()}
    for p in params:
        p.grad = torch.ones_like(p)
    params[2].grad[0, 0, 1] = float("nan")
    with pytest.raises(NonFiniteGradientError, match="group 1, index 0"):
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, params, strict=True))
    assert all(torch.equal(v, opt.state[params[2]][k]) for k, v in state.items())
    params[2].grad[0, 0, 1] = 0.0
    opt.step()  # and it goes on
    assert float(opt.state[params[2]]["step"]) == 4


@pytest.mark.parametrize("nonfinite", ["raise", "ignore"])
def test_each_replaced_gradient_is_freed_as_it_is_copied(monkeypatch, nonfinite):
    """The flat gradient buffer never sits beside a second full copy of the gradients: when
    the copy into it is done, no gradient it replaced is still alive (first step, where the
    buffers are built, and later steps with fresh gradients, as after zero_grad(None))."""
    import gc
    import weakref

    params = [torch.nn.Parameter(torch.randn(s)) for s in SHAPES]
    opt = Adam(params, fused=True, nonfinite=nonfinite)
    replaced: list[weakref.ref] = []
    copies = []
    original = fused._copy_gradients_in

    def gather_and_look(bucket):
        original(bucket)
        gc.collect()
        copies.append([r() is None for r in replaced])

    monkeypatch.setattr(fused, "_copy_gradients_in", gather_and_look)
    for _ in range(3):
        for p in params:
            p.grad = torch.randn(p.shape)
        replaced = [weakref.ref(p.grad) for p in params]
        opt.step()
    assert copies and all(all(dead) for dead in copies)
    assert all(p.grad.data_ptr() != 0 for p in params)


@pytest.mark.parametrize("name", ["nadam", "adam"])
def test_resuming_eager_state_on_the_fast_path_with_a_0d_first_parameter(name):
    """The fast path lays out a saved state by what the parts declare shared (t, Π μ), not by
    shape: a 0-d first parameter's moments are still one number per parameter."""
    shapes = [(), (3,), (2, 2)]

    def grads(gen):
        return [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]

    start = [torch.randn(s, generator=torch.Generator().manual_seed(0)) for s in shapes]
    reference = [torch.nn.Parameter(x.double()) for x in start]
    eager = catalog.create(name, reference)
    gen = torch.Generator().manual_seed(1)
    for _ in range(8):
        for p, g in zip(reference, grads(gen), strict=True):
            p.grad = g
        eager.step()

    params = [torch.nn.Parameter(x.double()) for x in start]
    first = catalog.create(name, params)
    gen = torch.Generator().manual_seed(1)
    for t in range(8):
        if t == 4:  # resume the eager run's state on the fast path
            saved = first.state_dict()
            first = catalog.create(name, params, fused=True)
            first.load_state_dict(saved)
        for p, g in zip(params, grads(gen), strict=True):
            p.grad = g
        first.step()
    assert first._buckets, "the fast path did not run"
    for a, b in zip(reference, params, strict=True):  # a wrong layout is off by O(1)
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)


def test_past_the_recompile_limit_a_group_takes_the_eager_step_with_one_warning(monkeypatch):
    """Each β2 is a constant of the kernel (its logarithm is taken), so groups with their own
    β2 each need a compiled version; past dynamo's limit the group steps eagerly, with the
    eager path's numbers. The limit is set to 2 and kernels are traced without code generation
    (the "eager" backend), to keep the test short; dynamo decides alike either way."""
    monkeypatch.setattr(fused, "_kernels", {})
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compile_(fn, backend="eager", **kw))
    torch._dynamo.reset()

    def run(fused_path):
        gen = torch.Generator().manual_seed(0)
        groups = [
            {"params": [torch.nn.Parameter(torch.randn(5, generator=gen))], "betas": (0.9, b2)}
            for b2 in (0.99, 0.995, 0.998, 0.999)
        ]
        opt = Adam(groups, lr=0.01, fused=fused_path)
        for _ in range(4):
            for group in groups:
                group["params"][0].grad = torch.randn(5, generator=gen)
            opt.step()
        return [g["params"][0].detach() for g in groups], opt

    try:
        with torch._dynamo.config.patch(recompile_limit=2):
            with pytest.warns(RuntimeWarning, match="recompile limit") as caught:
                fast, opt = run(True)
    finally:
        torch._dynamo.reset()
    assert len([w for w in caught if "recompile limit" in str(w.message)]) == 1
    assert opt._past_recompile_limit == {2, 3}
    eager, _ = run(False)
    _close(fast[:2], eager[:2])  # compiled: the same up to rounding
    assert all(torch.equal(a, b) for a, b in zip(fast[2:], eager[2:], strict=True))
    assert [float(opt.state[g["params"][0]]["step"]) for g in opt.param_groups] == [4.0] * 4
