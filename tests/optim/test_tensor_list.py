"""The default eager step runs each group's parameters as lists (torch's multi-tensor kernels):
its numbers equal the per-tensor step's bit for bit, for every optimizer of the catalog."""

from __future__ import annotations

import pytest
import torch

from ravine.optim import CATALOG, Optimizer, create
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


def test_lists_follow_torchs_foreach_choice():
    """foreach=None: per tensor on the CPU, as torch's default there; True lists anywhere;
    False never."""
    params = [torch.nn.Parameter(torch.randn(3)) for _ in range(2)]
    grad = torch.ones(3)
    default = create("adam", params)
    assert default._list_key(params[0], grad, {}) is None  # on the CPU, per tensor
    anywhere = create("adam", params)
    anywhere.foreach = True
    assert anywhere._list_key(params[0], grad, {}) is not None
    from ravine.optim import Adam

    assert Adam(params, foreach=True).foreach is True
    with pytest.raises(ValueError, match="foreach must be None, True or False, got 'yes'"):
        Adam(params, foreach="yes")


@pytest.mark.parametrize("foreach", [None, True, False])
def test_which_parameters_step_as_lists(foreach, monkeypatch):
    """One step of Adam over three tensors and a 0-d one: on the CPU one by one by default, a
    list of all but the 0-d one with foreach=True, none with False."""
    params = [torch.nn.Parameter(torch.randn(s)) for s in [(5,), (4, 3), (7,), ()]]
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
    optimizer.step()
    assert listed == {None: [], True: [3], False: []}[foreach]


def test_a_part_stores_a_new_list_into_each_parameters_state():
    states = [{"step": torch.tensor(1.0)}, {"step": torch.tensor(1.0)}]
    listed = ListState(states)
    buffers = TensorList([torch.ones(2), torch.zeros(3)])
    listed["momentum_buffer"] = buffers
    assert states[0]["momentum_buffer"] is buffers.tensors[0]
    assert states[1]["momentum_buffer"] is buffers.tensors[1]
