"""``torch.compile(optimizer.step)`` under a schedule: a few graphs, compiled once, and the
numbers of the eager step. Graphs are counted with a backend that only records them (no code
generation), so the test costs dynamo's tracing, not a compiler's."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from ravine.optim import presets
from ravine.schedules import Cosine, Scheduler

STEPS = 10


def _train(cls, lr, compiled: bool, fused: bool = False, scheduled: bool = True):
    """STEPS steps of a tiny net (under a cosine schedule unless not ``scheduled``); its
    parameters, the number of graphs dynamo had made after each step, and the group's η."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = cls(model.parameters(), lr=lr, fused=fused)
    schedule = Scheduler(optimizer, Cosine(STEPS)) if scheduled else None
    graphs = []

    def record(graph, example_inputs):
        graphs.append(graph)
        return graph.forward

    step = torch.compile(optimizer.step, backend=record) if compiled else optimizer.step
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    made = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        step()
        if schedule is not None:
            schedule.step()
        made.append(len(graphs))
    return [p.detach() for p in model.parameters()], made, optimizer.param_groups[0]["lr"]


@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize(
    "cls", [presets.Adam, presets.NAdam, presets.SGD], ids=lambda c: c.__name__
)
@pytest.mark.parametrize("tensor_lr", [True, False], ids=["tensor lr", "float lr"])
def test_a_compiled_step_under_a_schedule_compiles_once(cls, tensor_lr, fresh_dynamo):
    lr = torch.tensor(0.01) if tensor_lr else 0.01
    params, made, group_lr = _train(cls, lr, compiled=True)
    # torch.optim.Adam makes 1-2 graphs here; before, ravine made 14 in 8 steps and went on
    # recompiling (t and η entered as Python numbers, new constants every step)
    assert made[-1] <= (3 if tensor_lr else 4), made
    assert made[2:] == [made[2]] * (STEPS - 2), made  # nothing recompiled after the 2nd step
    assert counters["stats"]["unique_graphs"] == made[-1]
    if tensor_lr:
        assert group_lr is lr  # the same tensor, filled in place by the scheduler
    eager, _, _ = _train(cls, 0.01, compiled=False)
    for a, b in zip(params, eager, strict=True):  # t and η as tensors: the same up to rounding
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_lists_compiled_by_the_user_are_traced_one_tensor_at_a_time(fresh_dynamo, monkeypatch):
    """foreach=True (the default on accelerators) would read each step count as a number to
    group the tensors: a graph break per parameter. Under compile the step goes tensor by
    tensor, which dynamo traces into the same few graphs."""
    init = presets.Adam.__init__
    monkeypatch.setattr(
        presets.Adam, "__init__", lambda self, *a, **k: init(self, *a, **k, foreach=True)
    )
    params, made, _ = _train(presets.Adam, torch.tensor(0.01), compiled=True)
    assert made[-1] <= 3 and made[2:] == [made[2]] * (STEPS - 2), made
    eager, _, _ = _train(presets.Adam, 0.01, compiled=False)
    for a, b in zip(params, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_the_fast_path_compiled_by_the_user_runs_its_eager_step(fresh_dynamo):
    params, made, _ = _train(presets.Adam, torch.tensor(0.01), compiled=True, fused=True)
    assert made[-1] <= 3 and made[2:] == [made[2]] * (STEPS - 2), made
    eager, _, _ = _train(presets.Adam, 0.01, compiled=False)
    for a, b in zip(params, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_tensor_lr_steps_eagerly_exactly_as_its_number():
    lr = torch.tensor(0.01, dtype=torch.float64)  # the same number (a float32 one would round η)
    a, _, group_lr = _train(presets.Adam, lr, compiled=False, scheduled=False)
    b, _, _ = _train(presets.Adam, 0.01, compiled=False, scheduled=False)
    assert isinstance(group_lr, torch.Tensor)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_tensor_lr_out_of_its_domain_is_refused():
    params = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="lr"):
        presets.Adam(params, lr=torch.tensor(-1.0))
    with pytest.raises(ValueError, match="lr"):
        presets.Adam(params, lr=torch.tensor([0.1, 0.2]))
