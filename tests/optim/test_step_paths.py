"""Every path of the step — per tensor, as lists, the fast path — refuses a non-finite gradient
with θ and the state bit for bit as they were, and the list path equals torch.optim."""

from __future__ import annotations

import pytest
import torch

from ravine.optim import CATALOG, Optimizer, create, fused
from ravine.optim.equivalence import compare_with_torch
from ravine.optim.optimizer import NonFiniteGradientError

SHAPES = [(4, 3), (7,), (2, 2, 2), (5,)]
PATHS = {
    "per tensor": {"foreach": False},
    "lists": {"foreach": True},
    "fast": {"fused": True},
}


def _optimizer(path: str, params: list[torch.Tensor]) -> Optimizer:
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.005}]
    optimizer = create("adam", groups, fused=PATHS[path].get("fused", False))
    optimizer.foreach = PATHS[path].get("foreach")
    return optimizer


def _gradients(params, gen, poison: bool = False) -> None:
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    if poison:  # in the last group's last parameter: a path that updates first would show
        params[-1].grad[2] = float("nan")


def _snapshot(optimizer, params):
    return [p.detach().clone() for p in params] + [
        value.clone()
        for p in params
        for value in optimizer.state[p].values()
        if isinstance(value, torch.Tensor)
    ]


@pytest.mark.parametrize("nonfinite", ["raise", "skip"])
@pytest.mark.parametrize("path", list(PATHS))
def test_a_refused_step_changes_nothing_on_every_path(path, nonfinite):
    if path == "fast" and not fused.FUSED_AVAILABLE:
        pytest.skip("torch.compile unavailable")
    gen = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in SHAPES]
    optimizer = _optimizer(path, params)
    optimizer.nonfinite = nonfinite
    for _ in range(3):
        _gradients(params, gen)
        optimizer.step()
    if path == "fast":
        assert optimizer._buckets, "the fast path did not run"
    before = _snapshot(optimizer, params)
    _gradients(params, gen, poison=True)
    if nonfinite == "raise":
        with pytest.raises(NonFiniteGradientError, match="group 1, index 1"):
            optimizer.step()
    else:
        optimizer.step()
        assert optimizer.skipped_steps == 1
    after = _snapshot(optimizer, params)
    assert len(before) == len(after) == 4 * len(SHAPES)  # θ, t, m, v of each
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert [g["steps"] for g in optimizer.param_groups] == [3, 3]


@pytest.mark.parametrize("name", [n for n, e in CATALOG.items() if e.torch_class is not None])
def test_the_list_path_equals_torch(name, monkeypatch):
    """compare_with_torch builds the optimizer itself: every ravine optimizer is made with
    ``foreach=True`` here, so the whole comparison runs on lists."""
    built = []
    init = Optimizer.__init__

    def as_lists(self, *args, **kwargs):
        init(self, *args, **{**kwargs, "foreach": True})
        built.append(self)

    monkeypatch.setattr(Optimizer, "__init__", as_lists)
    result = compare_with_torch(name, steps=30, dtype=torch.float64)
    assert built and all(o.foreach is True for o in built)
    assert result.relative_error <= 1e-9, result
