"""ravine under torch.distributed: two processes on CPU (gloo), spawned once for the module.

One spawn runs every distributed check (DDP, ZeRO, FSDP2, the Monitor, Hessian-vector products,
non-finite gradients) and saves what each rank saw; the tests compare it with one process
training on the whole batch. Each rank gets half of every global batch of 8 samples.
"""

from __future__ import annotations

import datetime
import math
import multiprocessing
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from ravine.diagnose import Monitor, hessian_vector_product
from ravine.distributed import all_reduce_mean, distributed_hessian_vector_product
from ravine.optim import SGD, Adam, NonFiniteGradientError, lecture
from ravine.schedules import cosine

GLOO = dist.is_available() and dist.is_gloo_available()
needs_gloo = pytest.mark.skipif(
    not GLOO, reason="torch.distributed with the gloo backend is not available in this build"
)
if GLOO:
    from torch.nn.parallel import DistributedDataParallel as DDP

    with warnings.catch_warnings():  # torch.distributed.optim's own torch.jit use warns
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.distributed.optim import ZeroRedundancyOptimizer as ZeRO

    try:
        from torch.distributed.fsdp import fully_shard  # FSDP2
    except ImportError:  # an older PyTorch: the FSDP2 tests skip
        fully_shard = None

WORLD = 2  # ranks
BATCH = 8  # samples in a global batch; each rank gets BATCH // WORLD
STEPS = 6
TIGHT = dict(rtol=1e-10, atol=1e-12)  # float64: only the order of the sums differs

# name -> (class, keyword arguments): what ZeroRedundancyOptimizer takes too
OPTIMIZERS = {
    "adam": (Adam, {"lr": 1e-2}),
    "lecture-adagrad": (lecture.Adagrad, {"lr": 1e-2}),
    "sgd-momentum": (SGD, {"lr": 1e-1, "momentum": 0.9}),
}


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """STEPS global batches (x: BATCH×4, y: BATCH×1), float64."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS, BATCH, 4, generator=generator, dtype=torch.float64)
    y = torch.randn(STEPS, BATCH, 1, generator=generator, dtype=torch.float64)
    return list(zip(x, y, strict=True))


def _shard(batch: tuple[torch.Tensor, torch.Tensor], rank: int) -> tuple[torch.Tensor, ...]:
    size = BATCH // WORLD
    return tuple(t[rank * size : (rank + 1) * size] for t in batch)


def _train(model, optimizer, batches, monitor=None) -> None:
    for x, y in batches:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        if monitor is not None:  # the whole batch's loss, as DDP's ‖g‖ is the whole batch's
            monitor.step(all_reduce_mean(loss) if dist.is_initialized() else loss)


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _reference(name: str, steps: int = STEPS, lr=None) -> list[torch.Tensor]:
    """θ after ``steps`` updates by one process on the whole batches."""
    cls, kwargs = OPTIMIZERS[name]
    kwargs = kwargs if lr is None else {**kwargs, "lr": lr}
    model = _model()
    _train(model, cls(model.parameters(), **kwargs), _batches()[:steps])
    return _params(model)


def _vector() -> torch.Tensor:
    size = sum(p.numel() for p in _model().parameters())
    return torch.randn(size, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def _schedule():
    return 1e-2 * cosine(steps=10)


# ---------------------------------------------------------------------------------------------
# What each rank runs
# ---------------------------------------------------------------------------------------------


def _worker(rank: int, world: int, out: str) -> None:
    torch.set_num_threads(1)  # two ranks on two cores
    dist.init_process_group(
        "gloo",
        init_method=f"file://{Path(out) / 'store'}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(minutes=5),  # turns a deadlock into an error, not a speed bar
    )
    try:
        results: dict = {}
        shards = [_shard(batch, rank) for batch in _batches()]
        _ddp(results, shards)
        _zero(results, shards, out, rank)
        _fsdp(results, shards)
        _diagnose(results, shards)
        _nonfinite(results, shards, rank)
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _ddp(results: dict, shards) -> None:
    for name, (cls, kwargs) in OPTIMIZERS.items():
        model = DDP(_model())
        _train(model, cls(model.parameters(), **kwargs), shards)
        results[f"ddp/{name}"] = _params(model)


def _zero(results: dict, shards, out: str, rank: int) -> None:
    for name, (cls, kwargs) in OPTIMIZERS.items():
        model = DDP(_model())
        optimizer = ZeRO(model.parameters(), optimizer_class=cls, **kwargs)
        _train(model, optimizer, shards)
        results[f"zero/{name}"] = _params(model)
        params = list(model.parameters())
        results[f"zero/{name}/owned"] = [
            i for i, p in enumerate(params) if p in optimizer.optim.state
        ]

    # Save after 3 steps (η^t a schedule), load into a fresh ZeRO, continue both 3 steps.
    model = DDP(_model())
    optimizer = ZeRO(model.parameters(), optimizer_class=Adam, lr=_schedule())
    _train(model, optimizer, shards[:3])
    optimizer.consolidate_state_dict(to=0)
    path = Path(out) / "zero-optimizer.pt"
    if rank == 0:
        saved = optimizer.state_dict()
        results["zero/saved-keys"] = sorted(saved["param_groups"][0])
        for group in saved["param_groups"]:
            group.pop("lr_schedule")  # code, not state: the fresh optimizer keeps its own
        torch.save(saved, path)
    dist.barrier()
    fresh_model = DDP(_model())
    fresh_model.module.load_state_dict(model.module.state_dict())
    fresh = ZeRO(fresh_model.parameters(), optimizer_class=Adam, lr=_schedule())
    fresh.load_state_dict(torch.load(path, weights_only=True))
    _train(model, optimizer, shards[3:])
    _train(fresh_model, fresh, shards[3:])
    results["zero/resume/continued"] = _params(model)
    results["zero/resume/reloaded"] = _params(fresh_model)
    results["zero/resume/lr"] = (optimizer.param_groups[0]["lr"], fresh.param_groups[0]["lr"])


def _fsdp(results: dict, shards) -> None:
    if fully_shard is None:
        return
    for name, (cls, kwargs) in OPTIMIZERS.items():
        model = _model()
        for layer in model:
            if isinstance(layer, nn.Linear):
                fully_shard(layer)
        fully_shard(model)
        optimizer = cls(model.parameters(), **kwargs)
        _train(model, optimizer, shards)
        results[f"fsdp/{name}"] = [p.detach().full_tensor() for p in model.parameters()]
        state = [optimizer.state[p] for p in model.parameters()]
        results[f"fsdp/{name}/local-state"] = sum(
            value.to_local().numel()
            for s in state
            for value in s.values()
            if isinstance(value, torch.Tensor) and value.dim() > 0
        )
        if name == "adam":
            try:
                distributed_hessian_vector_product(model, F.mse_loss, *shards[0], _vector())
            except ValueError as error:
                results["fsdp/hvp-error"] = str(error)


def _diagnose(results: dict, shards) -> None:
    model = DDP(_model())
    optimizer = Adam(model.parameters(), lr=1e-2)
    monitor = Monitor(model, optimizer, every=1)
    _train(model, optimizer, shards, monitor)
    results["monitor/ddp"] = _series(monitor)

    model = DDP(_model())
    optimizer = ZeRO(model.parameters(), optimizer_class=Adam, lr=1e-2)
    monitor = Monitor(model, optimizer, every=1)
    _train(model, optimizer, shards, monitor)
    results["monitor/zero"] = _series(monitor)

    model = DDP(_model())  # H·v at θ⁰
    x, y = shards[0]
    v = _vector()
    results["hvp/global"] = distributed_hessian_vector_product(model, F.mse_loss, x, y, v)
    results["hvp/local"] = hessian_vector_product(model.module, F.mse_loss, x, y, v)
    halves = [(x[:2], y[:2]), (x[2:], y[2:])]  # the shard as two batches of a loader
    results["hvp/batches"] = distributed_hessian_vector_product(model, F.mse_loss, halves, None, v)


def _series(monitor: Monitor) -> list[list[float]]:
    return [monitor.loss.tolist(), monitor.gradient_norm.tolist(), monitor.update_norm.tolist()]


def _nonfinite(results: dict, shards, rank: int) -> None:
    """A nan in one rank's batch reaches every rank through DDP's all-reduce."""
    for policy in ("raise", "skip"):
        model = DDP(_model())
        optimizer = Adam(model.parameters(), lr=1e-2, nonfinite=policy)
        x, y = shards[0]
        if rank == 1:
            x = x.clone()
            x[0, 0] = math.nan
        try:
            _train(model, optimizer, [(x, y)])
        except NonFiniteGradientError as error:
            results[f"nonfinite/{policy}/error"] = str(error)
        results[f"nonfinite/{policy}/skipped"] = optimizer.skipped_steps
        results[f"nonfinite/{policy}/params"] = _params(model)


# Imported once by the fork server, so that each rank starts with them loaded (under load on
# two cores this halves the module's time against a plain spawn, which imports all in each rank).
PRELOAD = [__name__, "torch._dynamo"]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    """What each of the WORLD ranks saved, from one start of WORLD processes."""
    if not GLOO:
        pytest.skip("torch.distributed with the gloo backend is not available in this build")
    method = "spawn"
    if "forkserver" in multiprocessing.get_all_start_methods():
        method = "forkserver"  # forks from a clean server process, never from pytest's
        multiprocessing.set_forkserver_preload(PRELOAD)  # (no effect if it already runs)
    out = tmp_path_factory.mktemp("distributed")
    mp.start_processes(_worker, args=(WORLD, str(out)), nprocs=WORLD, start_method=method)
    return [torch.load(out / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)]


def _assert_params(actual: list[torch.Tensor], expected: list[torch.Tensor], **tolerance):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, e, **(tolerance or TIGHT))


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


@needs_gloo
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_ddp_matches_one_process_on_the_global_batch(ranks, name):
    expected = _reference(name)
    assert any(not torch.equal(e, p) for e, p in zip(expected, _params(_model()), strict=True))
    for rank in ranks:
        _assert_params(rank[f"ddp/{name}"], expected)
    _assert_params(ranks[0][f"ddp/{name}"], ranks[1][f"ddp/{name}"], rtol=0, atol=0)


@needs_gloo
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_zero_redundancy_optimizer_shards_state_and_matches(ranks, name):
    expected = _reference(name)
    for rank in ranks:
        _assert_params(rank[f"zero/{name}"], expected)
    owned = [set(rank[f"zero/{name}/owned"]) for rank in ranks]
    assert all(owned), "each rank keeps the state of some parameters"
    assert owned[0].isdisjoint(owned[1])
    assert owned[0] | owned[1] == set(range(len(expected)))


@needs_gloo
def test_zero_state_dict_round_trip_continues_identically(ranks):
    # ravine's group keys travel in ZeRO's consolidated dict: η^t's schedule and its step count
    assert {"lr_schedule", "steps"} <= set(ranks[0]["zero/saved-keys"])
    for rank in ranks:
        _assert_params(rank["zero/resume/reloaded"], rank["zero/resume/continued"], rtol=0, atol=0)
        continued, reloaded = rank["zero/resume/lr"]
        assert continued == reloaded == pytest.approx(1e-2 * (1 + math.cos(math.pi * 6 / 10)) / 2)
    _assert_params(ranks[0]["zero/resume/continued"], _reference("adam", lr=_schedule()))


@needs_gloo
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fsdp2_fully_shard_matches_one_process(ranks, name):
    if f"fsdp/{name}" not in ranks[0]:
        pytest.skip("torch.distributed.fsdp.fully_shard (FSDP2) is not in this PyTorch")
    expected = _reference(name)
    for rank in ranks:
        _assert_params(rank[f"fsdp/{name}"], expected)
    # the optimizer state lives in DTensor shards: the ranks' pieces add up to one full copy
    full = (
        sum(p.numel() for p in expected)
        * {"adam": 2, "lecture-adagrad": 1, "sgd-momentum": 1}[name]
    )
    local = [rank[f"fsdp/{name}/local-state"] for rank in ranks]
    assert sum(local) == full
    assert max(local) < full


@needs_gloo
@pytest.mark.parametrize("wrapper", ["ddp", "zero"])
def test_monitor_gradient_norm_is_the_global_batch_norm(ranks, wrapper):
    """DDP leaves the averaged gradient in every rank's p.grad: ‖g‖ is the whole batch's; the
    loss is the whole batch's when the ranks' losses are averaged (all_reduce_mean)."""
    model = _model()
    optimizer = Adam(model.parameters(), lr=1e-2)
    monitor = Monitor(model, optimizer, every=1)
    _train(model, optimizer, _batches(), monitor)
    expected = _series(monitor)
    for rank in ranks:
        for measured, single in zip(rank[f"monitor/{wrapper}"], expected, strict=True):
            torch.testing.assert_close(
                torch.tensor(measured, dtype=torch.float64),
                torch.tensor(single, dtype=torch.float64),
                **TIGHT,
            )


@needs_gloo
def test_distributed_hessian_vector_product_is_the_global_batch_hvp(ranks):
    x, y = _batches()[0]
    expected = hessian_vector_product(_model(), F.mse_loss, x, y, _vector())
    for rank, data in enumerate(ranks):
        torch.testing.assert_close(data["hvp/global"], expected, **TIGHT)
        torch.testing.assert_close(data["hvp/batches"], expected, **TIGHT)
        local = hessian_vector_product(_model(), F.mse_loss, *_shard((x, y), rank), _vector())
        torch.testing.assert_close(data["hvp/local"], local, **TIGHT)
        assert not torch.allclose(local, expected, rtol=1e-3), "a shard's H·v is not the batch's"
    if "fsdp/adam" in ranks[0]:  # parameters sharded by FSDP2 are refused, by name
        assert "0.weight" in ranks[0]["fsdp/hvp-error"]
        assert "DTensors" in ranks[0]["fsdp/hvp-error"]


@needs_gloo
def test_a_nan_on_one_rank_stops_every_rank_alike(ranks):
    initial = _params(_model())
    for rank in ranks:
        assert "non-finite gradient in parameter" in rank["nonfinite/raise/error"]
        assert "nonfinite/skip/error" not in rank
        assert rank["nonfinite/skip/skipped"] == 1
        for policy in ("raise", "skip"):
            _assert_params(rank[f"nonfinite/{policy}/params"], initial, rtol=0, atol=0)


def test_distributed_helpers_need_a_process_group_and_name_bad_input():
    assert not (dist.is_available() and dist.is_initialized())
    with pytest.raises(RuntimeError, match="init_process_group"):
        all_reduce_mean(torch.ones(3))
    with pytest.raises(TypeError, match=r"torch\.Tensor, got list"):
        all_reduce_mean([1.0, 2.0])
    with pytest.raises(ValueError, match=r"floating-point or complex dtype.*torch\.int64"):
        all_reduce_mean(torch.ones(3, dtype=torch.int64))
    x, y = _batches()[0]
    with pytest.raises(RuntimeError, match="init_process_group"):
        distributed_hessian_vector_product(_model(), F.mse_loss, x, y, _vector())
    with pytest.raises(TypeError, match=r"torch.nn.Module, got function"):
        distributed_hessian_vector_product(_model, F.mse_loss, x, y, _vector())
