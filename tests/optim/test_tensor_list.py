"""The default eager step runs each group's parameters as lists (torch's multi-tensor kernels;
on the CPU the small tensors of a group that has many): its numbers equal the per-tensor
step's bit for bit, for every optimizer of the catalog."""

from __future__ import annotations

import pytest
import torch

from ravine.optim import CATALOG, Optimizer, create
from ravine.optim.optimizer import CPU_LIST_LIMIT, CPU_LIST_MIN
from ravine.optim.tensor_list import ListState, TensorList

SHAPES = [(4, 3), (7,), (2, 2, 2), (), (5,)]  # the 0-d one is stepped alone

OPTIONS = {
    "sgd": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
    "rmsprop": {"momentum": 0.5, "centered": True},
    "adam": {"amsgrad": True, "weight_decay": 0.01},
    "adagrad": {"lr_decay": 0.01},
    "nadam": {"decoupled_weight_decay": True, "weight_decay": 0.1},
}


def _run(name: str, per_tensor: bool, monkeypatch, dtype=torch.float64) -> list[torch.Tensor]:
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, dtype=dtype)) for s in SHAPES]
    optimizer = create(name, params, **OPTIONS.get(name, {}))
    optimizer.foreach = not per_tensor  # True: lists for every tensor; False: one by one
    generator = torch.Generator().manual_seed(1)
    for step in range(12):
        for p in params:
            p.grad = torch.randn(p.shape, generator=generator, dtype=dtype)
        if step == 5:  # a parameter without a gradient on one step: it falls behind
            params[1].grad = None
        optimizer.step()
    monkeypatch.undo()
    return [p.detach().clone() for p in params] + [
        value.clone()
        for p in params
        for value in optimizer.state[p].values()
        if isinstance(value, torch.Tensor)
    ]


@pytest.mark.parametrize("name", list(CATALOG))
def test_the_list_step_equals_the_per_tensor_step(name, monkeypatch):
    as_lists = _run(name, per_tensor=False, monkeypatch=monkeypatch)
    one_by_one = _run(name, per_tensor=True, monkeypatch=monkeypatch)
    assert len(as_lists) == len(one_by_one)
    for a, b in zip(as_lists, one_by_one, strict=True):
        assert torch.equal(a, b)


def test_lists_are_used_for_parameters_at_the_same_step(monkeypatch):
    calls = []
    original = Optimizer._update_list

    def spy(self, members, group, lr):
        calls.append(len(members))
        original(self, members, group, lr)

    monkeypatch.setattr(Optimizer, "_update_list", spy)
    _run("adam", per_tensor=False, monkeypatch=monkeypatch)
    assert calls and max(calls) == 4  # every parameter but the 0-d one, as one list


def test_which_tensors_may_join_a_list():
    """foreach=None: on the CPU a tensor of at most CPU_LIST_LIMIT entries may join a list and
    a larger one steps alone (as torch's CPU default); foreach=True lists any tensor."""
    small = torch.nn.Parameter(torch.randn(3))
    edge = torch.nn.Parameter(torch.randn(CPU_LIST_LIMIT))
    large = torch.nn.Parameter(torch.randn(CPU_LIST_LIMIT + 1))
    default = create("adam", [small, edge, large])
    assert default.foreach is None
    for param, may in ((small, True), (edge, True), (large, False)):
        assert (default._list_key(param, torch.ones_like(param), {}) is not None) is may
    anywhere = create("adam", [large])
    anywhere.foreach = True
    assert anywhere._list_key(large, torch.ones_like(large), {}) is not None
    from ravine.optim import Adam

    assert Adam([small], foreach=True).foreach is True
    with pytest.raises(ValueError, match="foreach must be None, True or False, got 'yes'"):
        Adam([small], foreach="yes")


@pytest.mark.parametrize("foreach", [None, True, False])
@pytest.mark.parametrize("small", [CPU_LIST_MIN - 1, CPU_LIST_MIN])
def test_which_parameters_step_as_lists(foreach, small, monkeypatch):
    """One step of Adam over ``small`` small tensors, a large one and a 0-d one: by default on
    the CPU the small ones as one list when there are at least CPU_LIST_MIN of them, else one
    by one; foreach=True: all but the 0-d one as a list; False: none."""
    sizes = [(5,)] * (small - 1) + [(4, 3), (CPU_LIST_LIMIT + 1,), ()]
    params = [torch.nn.Parameter(torch.randn(s)) for s in sizes]
    for p in params:
        p.grad = torch.ones_like(p)
    listed: list[int] = []
    original = Optimizer._update_list

    def spy(self, members, group, lr):
        listed.append(len(members))
        original(self, members, group, lr)

    monkeypatch.setattr(Optimizer, "_update_list", spy)
    optimizer = create("adam", params)
    optimizer.foreach = foreach
    for _ in range(2):  # the first step makes the state, the second finds it
        optimizer.step()
    by_default = [small, small] if small >= CPU_LIST_MIN else []
    assert listed == {None: by_default, True: [small + 1] * 2, False: []}[foreach]
    assert all(optimizer.state[p]["step"].item() == 2 for p in params)


def test_the_default_list_step_equals_the_per_tensor_step():
    """A network of many small tensors, stepped by default (lists on the CPU) and one by one,
    every optimizer of the catalog: the same θ and state, bit for bit."""
    for name in CATALOG:
        results = []
        for foreach in (None, False):
            torch.manual_seed(0)
            params = [torch.nn.Parameter(torch.randn(6, 5)) for _ in range(2 * CPU_LIST_MIN)]
            optimizer = create(name, params, **OPTIONS.get(name, {}))
            optimizer.foreach = foreach
            generator = torch.Generator().manual_seed(1)
            for _ in range(5):
                for p in params:
                    p.grad = torch.randn(p.shape, generator=generator)
                optimizer.step()
            results.append([p.detach().clone() for p in params])
        for a, b in zip(*results, strict=True):
            assert torch.equal(a, b), name


def test_a_part_stores_a_new_list_into_each_parameters_state():
    states = [{"step": torch.tensor(1.0)}, {"step": torch.tensor(1.0)}]
    listed = ListState(states)
    buffers = TensorList([torch.ones(2), torch.zeros(3)])
    listed["momentum_buffer"] = buffers
    assert states[0]["momentum_buffer"] is buffers.tensors[0]
    assert states[1]["momentum_buffer"] is buffers.tensors[1]
