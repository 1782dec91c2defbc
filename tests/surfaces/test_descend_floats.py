"""A single float64 descent runs the parts on two Python floats (ravine.optim.pair): the
same numbers as the tensor loop to rounding, for every named optimizer on every surface that
has a point gradient; anything else (many runs, float32, a part of one's own) steps on tensors."""

from __future__ import annotations

import sys

import pytest
import torch

from ravine.optim import catalog
from ravine.optim.directions import Gradient
from ravine.surfaces import SURFACES, Stopped, descend, surface

LOOP = sys.modules["ravine.surfaces.descend"]
ON_FLOATS = [name for name in SURFACES if surface(name).point_gradient is not None]


def on_tensors(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(LOOP, "_on_floats", lambda *a: False)
        return descend(*args, **kwargs)


def refuse(*args, **kwargs):
    raise AssertionError("this loop should not have run")


def test_the_lecture_surfaces_have_point_gradients():
    assert set(ON_FLOATS) >= {"pokemon", "pokemon-normalized", "valley", "crescent", "saddle"}
    assert set(ON_FLOATS) >= {"minimum", "two-minima"}


@pytest.mark.parametrize("name", ON_FLOATS)
def test_the_point_gradient_is_the_gradient(name):
    s = surface(name)
    (low1, high1), (low2, high2) = s.bounds
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(500, 2, generator=generator, dtype=torch.float64)
    points = points * torch.tensor([high1 - low1, high2 - low2]) + torch.tensor([low1, low2])
    expected = s.gradient(points)
    got = torch.tensor([s.point_gradient(*p) for p in points.tolist()], dtype=torch.float64)
    scale = float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=1e-13, atol=1e-15 * scale)


@pytest.mark.parametrize("optimizer", list(catalog.CATALOG))
@pytest.mark.parametrize("name", ON_FLOATS)
def test_floats_equal_the_tensor_loop(monkeypatch, optimizer, name):
    s = surface(name)
    lr = 1e-6 if name == "pokemon" else 1e-2
    with monkeypatch.context() as patch:
        patch.setattr(LOOP, "_run", refuse)  # a single run must take the float loop
        fast = descend(s, optimizer, lr=lr, steps=300)
    slow = on_tensors(monkeypatch, s, optimizer, lr=lr, steps=300)
    scale = float(slow.theta.abs().max())
    torch.testing.assert_close(fast.theta, slow.theta, rtol=1e-10, atol=1e-14 * scale)
    assert (fast.sigma is None) == (slow.sigma is None)
    if slow.sigma is not None:
        torch.testing.assert_close(fast.sigma, slow.sigma, rtol=1e-10, atol=0, equal_nan=True)
    assert fast.theta.dtype == fast.rates.dtype == torch.float64


def test_a_diverging_run_ends_in_inf_or_nan_on_floats_as_on_tensors(monkeypatch):
    s = surface("pokemon")
    fast = descend(s, "gd", lr=1e-3, steps=400)
    slow = on_tensors(monkeypatch, s, "gd", lr=1e-3, steps=400)
    assert not torch.isfinite(fast.final).any()
    assert torch.equal(torch.isfinite(fast.theta), torch.isfinite(slow.theta))
    finite = torch.isfinite(slow.theta).all(-1).all(-1)
    torch.testing.assert_close(fast.theta[finite], slow.theta[finite], rtol=1e-10, atol=0)


def test_adam_with_eps_zero_divides_as_ieee_does(monkeypatch):
    s = surface("saddle")  # from the saddle point the gradient is 0: v = 0, 0/0 = nan
    fast = descend(s, "adam", lr=1e-2, options={"eps": 0.0}, start=(0.0, 0.0), steps=3)
    slow = on_tensors(monkeypatch, s, "adam", lr=1e-2, options={"eps": 0.0}, start=(0, 0), steps=3)
    assert torch.equal(fast.theta.isnan(), slow.theta.isnan()) and fast.theta[1:].isnan().all()


class OwnGradient(Gradient):
    """A part of one's own: it does not say it runs on floats."""

    runs_on_floats = False


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("gd",), {"lr": [1e-7, 1e-6]}),  # many runs
        (("gd",), {"dtype": torch.float32}),
        (((OwnGradient(), None),), {}),
        (("gd",), {"lr": 1e-7, "start": [[-120.0, -4.0], [-100.0, 0.0]]}),
    ],
)
def test_other_descents_step_on_tensors(monkeypatch, args, kwargs):
    monkeypatch.setattr(LOOP, "_run_on_floats", refuse)
    trajectory = descend(surface("pokemon"), *args, steps=5, **kwargs)
    assert trajectory.steps == 5


def test_a_float_descent_stops_when_asked():
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(Stopped, match="stopped at step 512 of 10000"):
        descend(surface("valley"), "lecture-adagrad", lr=0.1, steps=10_000, stop=stop)
