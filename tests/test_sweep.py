"""ravine.sweep: each run of a batched sweep is the run a single ordinary training would make
(to ~1e-12 in float64), its state is stacked, a diverged run spoils nobody else, and the η
specs and bad input fail with clear messages."""

import dataclasses
import json
import math

import pytest
import torch
from torch import nn

from ravine import tasks
from ravine.optim import catalog
from ravine.schedules import from_spec
from ravine.surfaces import descend, surface
from ravine.sweep import log_spaced, parse_lrs, single_run_parameters, sweep
from ravine.sweep.stacked import stacked_forward

STEPS = 12
LRS = [3e-3, 2e-2, 1e-1]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The batched tensors are large enough for torch to split them over threads, which on a
    shared 2-core machine only waits; the numbers do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def ordinary_run(task, optimizer, lr, steps, options=None, schedule=None):
    """One run as a user trains it: the task's model, the catalog optimizer, backward, step."""
    model = task.model()
    rate = lr if schedule is None else (lambda t: lr * schedule(t))
    rule = catalog.create(optimizer, model.parameters(), lr=rate, **(options or {}))
    for _ in range(steps):
        rule.zero_grad()
        task.loss(model).backward()
        rule.step()
    return model, rule


@pytest.mark.parametrize(
    ("optimizer", "options", "schedule"),
    [
        *((name, {}, None) for name in catalog.CATALOG),  # lecture-momentum: m carries −η_r
        ("adamw", {"weight_decay": 0.1}, "linear-warmup:steps=5"),  # θ·(1 − η_r·λ), η^t
        ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, None),
        ("rmsprop", {"centered": True, "momentum": 0.5}, None),
    ],
)
def test_each_run_equals_an_ordinary_single_run(optimizer, options, schedule):
    task = tasks.task("sinc")
    shape = None if schedule is None else from_spec(schedule)
    result = sweep(task, optimizer, lrs=LRS, steps=STEPS, options=options, schedule=shape)
    for r, lr in enumerate(LRS):
        model, rule = ordinary_run(task, optimizer, lr, STEPS, options, shape)
        for name, param in model.named_parameters():
            stacked = result.parameters[name]
            assert stacked.shape == (len(LRS), *param.shape)
            gap = (stacked[r] - param.detach()).abs().max().item()
            assert gap <= 1e-12 * max(1.0, param.detach().abs().max().item()), (name, lr, gap)
            # the optimizer's state has the stacked shape and each row is the run's own
            for key, value in rule.state[param].items():
                if key == "step" or not isinstance(value, torch.Tensor) or value.dim() == 0:
                    continue
                mine = result.state[name][key]
                assert mine.shape == (len(LRS), *value.shape), (name, key)
                assert torch.allclose(mine[r], value, rtol=1e-11, atol=1e-15), (name, key)
        with torch.no_grad():
            assert math.isclose(result.final_loss[r].item(), task.loss(model).item(), rel_tol=1e-11)


class Wrapped(nn.Module):
    """A model that is not an nn.Sequential: its sweep takes vmap(grad(functional_call))."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize("kind", ["deep sigmoid, stacked forward", "wrapped, vmap"])
def test_both_gradient_paths_follow_the_ordinary_run(kind):
    sinc = tasks.task("sinc", model="deep:layers=2,units=8,activation=sigmoid")
    if kind.endswith("vmap"):
        sinc = dataclasses.replace(sinc, make_model=lambda seed: Wrapped(tasks.sinc_model(seed)))
    assert (stacked_forward(sinc.model()) is None) == kind.endswith("vmap")
    result = sweep(sinc, "adam", lrs=LRS, steps=STEPS)
    for r, lr in enumerate(LRS):
        model, _ = ordinary_run(sinc, "adam", lr, STEPS)
        for name, param in model.named_parameters():
            gap = (result.parameters[name][r] - param.detach()).abs().max().item()
            assert gap <= 1e-12 * max(1.0, param.detach().abs().max().item()), (name, lr, gap)
        with torch.no_grad():
            assert math.isclose(result.final_loss[r].item(), sinc.loss(model).item(), rel_tol=1e-11)


def test_a_surface_sweep_follows_descend_run_by_run():
    pokemon = surface("pokemon")
    lrs = log_spaced(1e-7, 1e-5, 4)
    result = sweep(pokemon, "lecture-adagrad", lrs=lrs, steps=300, points=30)
    assert result.curve_steps == [*range(0, 300, 10), 300]
    for r, lr in enumerate(lrs):
        alone = descend(pokemon, "lecture-adagrad", lr=lr, steps=300)
        assert torch.equal(result.final[r], alone.final[0])
        expected = alone.loss[result.curve_steps, 0]
        assert torch.allclose(result.losses[:, r], expected, rtol=1e-13)
    minimum = torch.tensor(pokemon.minimum, dtype=torch.float64)
    assert torch.allclose(result.distance, (result.final - minimum).norm(dim=-1))


def test_a_diverged_run_spoils_no_other_run():
    # on pokemon, gd with η = 1e-3 overflows within a few steps; η = 1e-6 descends
    together = sweep("pokemon", "gd", lrs=[1e-6, 1e-3, 5e-7], steps=2000)
    alone = sweep("pokemon", "gd", lrs=[1e-6, 5e-7], steps=2000)
    assert together.diverged.tolist() == [False, True, False]
    assert together.diverged_at[1] is not None and together.diverged_at[0] is None
    assert not math.isfinite(together.final_loss[1].item())
    # Equal to rounding, not bit for bit: the matrix product of the gradient may round a row
    # differently with the number of rows on some CPUs (their BLAS picks another kernel).
    torch.testing.assert_close(together.final_loss[[0, 2]], alone.final_loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(
        together.parameters["theta"][[0, 2]], alone.parameters["theta"], rtol=1e-12, atol=0
    )
    assert together.best_lr == alone.best_lr == 1e-6
    record = together.to_json()
    json.dumps(record, allow_nan=False)  # strict JSON: the infinite loss became null
    assert record["final_loss"][1] is None and record["best"]["lr"] == 1e-6
    assert record["diverged"] == [False, True, False]


def test_a_network_run_that_blows_up_keeps_its_nan_to_itself():
    task = tasks.task("sinc")
    together = sweep(task, "gd", lrs=[0.05, 1e4], steps=10)
    alone = sweep(task, "gd", lrs=[0.05], steps=10)
    assert together.diverged.tolist() == [False, True]
    assert math.isclose(together.final_loss[0].item(), alone.final_loss[0].item(), rel_tol=1e-13)
    assert together.best_index == 0


def test_a_loss_ten_times_above_its_start_counts_as_diverged():
    # gd with η = 10 on sinc climbs to ~1e131 in 50 steps without overflowing
    result = sweep("sinc", "gd", lrs=[0.1, 10.0], steps=50, points=5)
    assert math.isfinite(result.final_loss[1].item())
    assert result.final_loss[1].item() > 10 * result.initial_loss
    assert result.diverged.tolist() == [False, True]
    assert result.diverged_at[1] == 10  # the first kept step (every 10th) above the line


def test_every_run_diverged_means_no_best():
    result = sweep("pokemon", "gd", lrs=[1e-3, 1e-2], steps=500)
    assert result.diverged.all()
    assert result.best_index is None and result.best_lr is None and result.best_loss is None
    assert result.to_json()["best"] == {"index": None, "lr": None, "loss": None}


def test_single_run_parameters_load_into_the_model():
    task = tasks.task("sinc")
    result = sweep(task, "adam", lrs=[1e-3, 1e-2], steps=3)
    model = task.model()
    model.load_state_dict(single_run_parameters(result, 1))
    with torch.no_grad():
        assert math.isclose(task.loss(model).item(), result.final_loss[1].item(), rel_tol=1e-12)
    with pytest.raises(ValueError, match=r"index must be in \[0, 2\), got 2"):
        single_run_parameters(result, 2)


def test_log_spaced_grid_has_exact_ends_and_a_constant_ratio():
    grid = parse_lrs("1e-8:1e-5:200")
    assert len(grid) == 200 and grid[0] == 1e-8 and grid[-1] == 1e-5
    ratios = torch.tensor(grid[1:], dtype=torch.float64) / torch.tensor(
        grid[:-1], dtype=torch.float64
    )
    assert torch.allclose(ratios, torch.full_like(ratios, 10 ** (3 / 199)), rtol=1e-12)
    assert parse_lrs("1e-3:1e-1:3") == pytest.approx([1e-3, 1e-2, 1e-1], rel=1e-15)
    assert parse_lrs("0.1, 0.3,1") == [0.1, 0.3, 1.0]
    assert parse_lrs("2e-3") == [2e-3]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("1e-3:1:x", "A and B must be numbers and N a whole number"),
        ("1:1e-3:5", "0 < low < high, got low=1.0, high=0.001"),
        ("1e-3:1:1", "at least 2 points, got 1"),
        ("1:2:3:4", "A:B:N has 3 parts"),
        ("0.1,-1", "η = -1 is not > 0"),
        ("0.1,inf", "η = inf is not > 0"),
        ("fast", "expected X, X,Y,... or A:B:N"),
        ("", "expected X, X,Y,... or A:B:N"),
    ],
)
def test_bad_specs_say_what_is_wrong_and_what_is_valid(spec, reason):
    with pytest.raises(ValueError) as info:
        parse_lrs(spec)
    message = str(info.value)
    assert reason in message and repr(spec) in message and "\n" not in message
    assert "A:B:N with numbers > 0" in message


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"steps": 0}, "steps must be an integer >= 1, got 0"),
        ({"lrs": []}, "lrs is empty"),
        ({"lrs": [0.1, -0.1]}, "every learning rate must be a finite number > 0, got -0.1"),
        ({"lrs": [math.nan]}, "every learning rate must be a finite number > 0, got nan"),
        ({"options": {"lr": 0.1}}, "give the learning rates as lrs="),
        ({"options": {"momentum": -1.0}}, "momentum must be a finite number >= 0, got -1.0"),
        ({"optimizer": "sgdx"}, "unknown optimizer 'sgdx'"),
        ({"points": 0}, "points must be an integer >= 1, got 0"),
        ({"divergence": 1.0}, "divergence must be a finite number > 1, got 1.0"),
        ({"start": (0.0, 1.0)}, "start is for a surface; sinc is a task"),
    ],
)
def test_bad_input_is_refused_by_name(keywords, message):
    arguments = {"optimizer": "sgd", "lrs": [0.1], "steps": 2, **keywords}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        sweep("sinc", arguments.pop("optimizer"), **arguments)


def test_unknown_problems_and_networks_with_buffers_are_refused():
    with pytest.raises(ValueError, match="cannot sweep 'moon'; give a Surface, a Task, or one"):
        sweep("moon", "gd", lrs=[0.1])
    batch_norm = tasks.task("sinc", model="deep:layers=1,units=4,norm=batch")
    with pytest.raises(ValueError, match=r"keeps .*running_mean.*batch normalization"):
        sweep(batch_norm, "gd", lrs=[0.1], steps=1)
    with pytest.raises(ValueError, match="start must be one point"):
        sweep("pokemon", "gd", lrs=[0.1], steps=1, start=(1.0, 2.0, 3.0))


def test_runs_trained_in_batches_join_into_the_same_result():
    whole = sweep("sinc", "nadam", lrs=LRS, steps=5, chunk=3)
    pieces = sweep("sinc", "nadam", lrs=LRS, steps=5, chunk=2)
    assert torch.allclose(pieces.losses, whole.losses, rtol=1e-13, atol=0)
    for name, value in whole.parameters.items():
        assert torch.allclose(pieces.parameters[name], value, rtol=1e-13, atol=1e-16)
        assert pieces.state[name]["exp_avg"].shape == (3, *value.shape[1:])
        assert pieces.state[name]["mu_product"].dim() == 0  # one Π μ for every run
    with pytest.raises(ValueError, match="chunk must be an integer >= 1 or None, got 0"):
        sweep("sinc", "gd", lrs=LRS, chunk=0)


def test_stacked_networks_train_each_network_as_it_would_alone():
    from ravine.optim import Adam
    from ravine.sweep import StackedNetworks

    sinc = tasks.task("sinc")
    x, y = sinc.inputs[:50], sinc.targets[:50]
    alone = [sinc.model(seed) for seed in (3, 0, 7)]  # a θ⁰ of each one's own
    together = StackedNetworks(alone, sinc.loss_fn)
    outputs = together(x)
    assert outputs.shape == (3, 50, 1)
    for index, model in enumerate(alone):
        torch.testing.assert_close(outputs[index], model(x), rtol=0, atol=1e-14)
    adam = Adam(together.parameters(), lr=1e-2)
    singles = [Adam(model.parameters(), lr=1e-2) for model in alone]
    for _ in range(5):  # L = Σ_r L_r: each network's gradient is its own loss's
        adam.zero_grad()
        together.loss(together(x), y).backward()
        adam.step()
        for model, single in zip(alone, singles, strict=True):
            single.zero_grad()
            sinc.loss_fn(model(x), y).backward()
            single.step()
    for index, model in enumerate(alone):
        taken = together.network(index)
        for mine, theirs in zip(taken.parameters(), model.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-12)


def test_stacked_networks_refuse_what_cannot_be_stacked():
    from ravine.sweep import StackedNetworks

    sinc = tasks.task("sinc")
    with pytest.raises(ValueError, match="at least one model"):
        StackedNetworks([], sinc.loss_fn)
    with pytest.raises(ValueError, match="one layout"):
        StackedNetworks([sinc.model(), nn.Sequential(nn.Linear(1, 3))], sinc.loss_fn)
    with pytest.raises(ValueError, match="one layout"):
        StackedNetworks([nn.Sequential(nn.Linear(1, 3), nn.BatchNorm1d(3))], sinc.loss_fn)


def test_a_saddle_sweep_measures_each_run_from_its_nearest_minimum():
    saddle = surface("saddle")
    starts = [(0.5, 0.3), (0.5, -0.3)]  # one descends to (0, √2), the other to (0, −√2)
    for start in starts:
        result = sweep(saddle, "gd", lrs=[0.05, 0.1], steps=200, start=start)
        assert result.minima == saddle.minima and result.minimum == saddle.minima[0]
        for r, lr in enumerate([0.05, 0.1]):
            alone = descend(saddle, "gd", lr=lr, steps=200, start=start)
            assert float(result.distance[r]) == float(alone.distance[0]) < 1e-8
