"""The finiteness check reuses gradient norms someone already read this step (the Monitor):
no second pass over the gradients — and only when the norms certainly describe the gradients
the step updates (every parameter covered, each p.grad the same tensor, unchanged since)."""

from __future__ import annotations

import sys

import pytest
import torch

from ravine.diagnose import Monitor
from ravine.optim import clip_gradient_norm_, create, fused
from ravine.optim.optimizer import NonFiniteGradientError

STEP = sys.modules["ravine.optim.optimizer"]


class Counted:
    """Stands in for the check that reads every gradient, counting its calls."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, grads):
        self.calls += 1
        return self.real(grads)


@pytest.fixture
def reads(monkeypatch):
    counted = Counted(STEP._all_finite)
    monkeypatch.setattr(STEP, "_all_finite", counted)
    return counted


def _setup(seed: int = 0, **options):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in ((4, 3), (7,), (5,))]
    optimizer = create("adam", [{"params": params[:2]}, {"params": params[2:]}], **options)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    return params, optimizer


def _norms(params):
    return torch._foreach_norm([p.grad for p in params])


def test_shared_norms_replace_the_read_and_change_no_number(reads):
    params, optimizer = _setup()
    twins, alone = _setup()
    optimizer.share_gradient_norms(params, _norms(params))
    optimizer.step()
    assert reads.calls == 0
    alone.step()
    assert reads.calls == 1
    assert all(torch.equal(a, b) for a, b in zip(params, twins, strict=True))
    optimizer.step()  # used once: the next step reads the gradients itself
    assert reads.calls == 2


@pytest.mark.parametrize(
    "spoil",
    [
        "a gradient changed in place after",
        "a parameter not covered",
        "a new gradient tensor",
        "a non-finite norm",
    ],
)
def test_norms_that_may_not_describe_the_gradients_are_not_trusted(reads, spoil):
    params, optimizer = _setup()
    norms = _norms(params)
    shared = params
    if spoil == "a parameter not covered":
        shared, norms = params[:2], norms[:2]
    if spoil == "a non-finite norm":
        norms = [norms[0], torch.tensor(float("inf")), norms[2]]
    optimizer.share_gradient_norms(shared, norms)
    if spoil == "a gradient changed in place after":
        params[1].grad[3] = float("nan")  # the norms say finite; the gradient is not
    if spoil == "a new gradient tensor":
        params[2].grad = params[2].grad.clone()
    before = [p.detach().clone() for p in params]
    if spoil == "a gradient changed in place after":
        with pytest.raises(NonFiniteGradientError, match="non-finite gradient"):
            optimizer.step()
        assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))
    else:
        optimizer.step()
    assert reads.calls == 1


def test_a_monitored_step_reads_the_gradients_once(reads):
    params, optimizer = _setup()
    model = torch.nn.Module()
    model.weights = torch.nn.ParameterList(params)
    monitor = Monitor(model, optimizer, effective_lr_every=0)
    for _ in range(3):
        optimizer.step()
        monitor.step(1.0)
    assert reads.calls == 0
    params[0].grad[0, 0] = float("nan")  # the Monitor's norm is nan: the entries decide
    before = [p.detach().clone() for p in params]
    with pytest.raises(NonFiniteGradientError):
        optimizer.step()
    assert reads.calls == 1
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))
    monitor.close()


@pytest.mark.skipif(not fused.FUSED_AVAILABLE, reason="torch.compile unavailable")
def test_the_fast_path_uses_shared_norms_too(reads):
    params, optimizer = _setup(fused=True)
    twins, alone = _setup(fused=True)
    for _ in range(2):
        optimizer.share_gradient_norms(params, _norms(params))
        optimizer.step()
        alone.step()
    assert optimizer._buckets and reads.calls == 2  # the twin's two steps only
    assert all(torch.equal(a, b) for a, b in zip(params, twins, strict=True))


def test_clipping_equals_torchs_and_shares_its_reading(reads):
    params, optimizer = _setup()
    twins, alone = _setup()
    total = clip_gradient_norm_(optimizer, 0.5)
    expected = torch.nn.utils.clip_grad_norm_(twins, 0.5)
    assert torch.equal(total, expected)
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(params, twins, strict=True))
    optimizer.step()
    assert reads.calls == 0  # the clipping's norms served the check
    alone.step()
    assert all(torch.equal(a, b) for a, b in zip(params, twins, strict=True))


def test_clipping_a_non_finite_gradient_leaves_it_to_the_check(reads):
    params, optimizer = _setup()
    params[2].grad[1] = float("nan")
    before = [p.detach().clone() for p in params]
    assert torch.isnan(clip_gradient_norm_(optimizer, 0.5))
    with pytest.raises(NonFiniteGradientError):
        optimizer.step()
    assert reads.calls == 1
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), True, "1"])
def test_clipping_refuses_a_bad_max_norm(bad):
    params, optimizer = _setup()
    grads = [p.grad.clone() for p in params]
    with pytest.raises(ValueError, match="max_norm"):
        clip_gradient_norm_(optimizer, bad)
    assert all(torch.equal(p.grad, g) for p, g in zip(params, grads, strict=True))
