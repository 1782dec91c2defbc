"""A large CPU parameter steps slice by slice (ravine.optim.slices): its numbers equal the whole
tensor's step bit for bit, for every optimizer of the catalog, its state included (buffers made
during a step, NAdam's Π μ); a part that reads its whole tensor is never sliced."""

from __future__ import annotations

import pytest
import torch

from ravine.optim import CATALOG, Adam, Direction, Optimizer, create, slices
from ravine.optim.slices import in_slices, sliceable

SHAPE = (37, 41)  # 1,517 entries: 6 slices of 250 float32 entries and one of 17

OPTIONS = {
    "sgd": {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
    "momentum": {"weight_decay": 0.01},
    "rmsprop": {"momentum": 0.5, "centered": True},
    "adam": {"amsgrad": True, "weight_decay": 0.01},
    "adagrad": {"lr_decay": 0.01},
    "nadam": {"decoupled_weight_decay": True, "weight_decay": 0.1},
}


@pytest.fixture
def small_slices(monkeypatch):
    """Slices of 1,000 bytes for tensors of more than 4,096: a test-sized tensor is sliced."""
    monkeypatch.setattr(slices, "LARGE", 4096)
    monkeypatch.setattr(slices, "SLICE_BYTES", 1000)


def _run(name, monkeypatch, sliced, dtype=torch.float32, options=None):
    if not sliced:
        monkeypatch.setattr(slices, "LARGE", 1 << 40)
    torch.manual_seed(0)
    param = torch.nn.Parameter(torch.randn(SHAPE, dtype=dtype))
    optimizer = create(name, [param], **(OPTIONS.get(name, {}) if options is None else options))
    generator = torch.Generator().manual_seed(1)
    for _ in range(6):
        param.grad = torch.randn(SHAPE, generator=generator, dtype=dtype)
        optimizer.step()
    return param.detach().clone(), optimizer.state[param]


@pytest.mark.parametrize("name", list(CATALOG))
def test_the_sliced_step_equals_the_whole_step(name, small_slices, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "ravine.optim.optimizer.in_slices", lambda *a: calls.append(1) or in_slices(*a)
    )
    theta, state = _run(name, monkeypatch, sliced=True)
    assert len(calls) == 6  # every step was sliced
    whole_theta, whole_state = _run(name, monkeypatch, sliced=False)
    assert torch.equal(theta, whole_theta)
    assert sorted(state) == sorted(whole_state)
    for key, value in state.items():
        assert value.shape == whole_state[key].shape, key  # a buffer of the parameter's shape
        assert torch.equal(value, whole_state[key]), key


def test_the_sliced_step_matches_torch(small_slices, monkeypatch):
    theta, state = _run("nadam", monkeypatch, sliced=True, dtype=torch.float64, options={})
    torch.manual_seed(0)
    param = torch.nn.Parameter(torch.randn(SHAPE, dtype=torch.float64))
    reference = torch.optim.NAdam([param], foreach=False)
    generator = torch.Generator().manual_seed(1)
    for _ in range(6):
        param.grad = torch.randn(SHAPE, generator=generator, dtype=torch.float64)
        reference.step()
    assert torch.equal(theta, param.detach())
    assert float(state["mu_product"]) == float(reference.state[param]["mu_product"])


def test_a_buffer_made_in_a_later_step_is_whole(small_slices, monkeypatch):
    """amsgrad switched on after some steps: max(v) is made during a sliced step."""
    results = []
    for sliced in (True, False):
        if not sliced:
            monkeypatch.setattr(slices, "LARGE", 1 << 40)
        torch.manual_seed(0)
        param = torch.nn.Parameter(torch.randn(SHAPE))
        optimizer = Adam([param])
        for step in range(5):
            param.grad = torch.randn(SHAPE)
            optimizer.param_groups[0]["amsgrad"] = step >= 2
            optimizer.step()
        results.append((param.detach().clone(), optimizer.state[param]["max_exp_avg_sq"]))
    (theta, maximum), (whole_theta, whole_maximum) = results
    assert maximum.shape == SHAPE
    assert torch.equal(theta, whole_theta) and torch.equal(maximum, whole_maximum)


class UnitDirection(Direction):
    """m = g/‖g‖: every entry depends on the whole tensor (not ``runs_on_floats``)."""

    def __call__(self, grad, state, group, step):
        return grad / grad.norm()

    def formula(self):
        return "m = g/‖g‖"


def test_a_part_that_reads_the_whole_tensor_is_not_sliced(small_slices):
    param = torch.nn.Parameter(torch.ones(SHAPE))
    param.grad = torch.arange(float(param.numel())).reshape(SHAPE)
    expected = param.detach() - 0.1 * param.grad / param.grad.norm()
    Optimizer([param], lr=0.1, direction=UnitDirection()).step()
    assert torch.allclose(param.detach(), expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize("dtype, count", [(torch.float32, 7), (torch.float64, 13)])
def test_slices_cover_every_entry_once(small_slices, dtype, count):
    """Slices of SLICE_BYTES: 250 float32 or 125 float64 entries of 1,517."""
    param = torch.zeros(SHAPE, dtype=dtype)
    grad = torch.ones(SHAPE, dtype=dtype)
    seen = [(theta.add_(g), len(theta)) for theta, g, _ in in_slices(param, grad, {})]
    assert len(seen) == count
    assert torch.equal(param, torch.ones(SHAPE, dtype=dtype))  # each entry once


def test_which_parameters_are_sliced(small_slices):
    adam = Adam([torch.nn.Parameter(torch.zeros(1))])
    parts = (adam.direction, adam.magnitude)
    large = torch.zeros(SHAPE)
    assert sliceable(large, large, {}, 0.1, *parts)
    assert not sliceable(torch.zeros(1000), torch.zeros(1000), {}, 0.1, *parts)  # 4,000 bytes
    assert not sliceable(large.t(), large.t(), {}, 0.1, *parts)  # not contiguous
    assert not sliceable(large, large.t().contiguous().t(), {}, 0.1, *parts)
    assert not sliceable(large, large, {}, torch.tensor([0.1, 0.2]), *parts)  # η per run
    complex_large = torch.zeros(SHAPE, dtype=torch.complex64)
    assert not sliceable(complex_large, complex_large, {}, 0.1, *parts)
    assert not sliceable(large, large, {"exp_avg": large.t()}, 0.1, *parts)
