"""descend runs any composition (m, σ) of the parts, and a composition equal to a named
optimizer's parts gives that optimizer's numbers to the last bit."""

from __future__ import annotations

import pytest
import torch

from ravine.optim.directions import (
    ExponentialAverage,
    Gradient,
    HeavyBall,
    LectureMomentum,
    NesterovAverage,
)
from ravine.optim.magnitudes import (
    LectureRMSProp,
    Rectified,
    RootMeanSquare,
    SecondMoment,
    SquareAverage,
    Unit,
)
from ravine.surfaces import descend, surface

# named optimizer (with its options) → the same parts, composed by hand
SAME = {
    ("gd", None): (Gradient(), Unit()),
    ("lecture-momentum", 0.8): (LectureMomentum(0.8), None),
    ("momentum", 0.7): (HeavyBall(0.7), Unit()),
    ("lecture-adagrad", None): (None, RootMeanSquare()),
    ("lecture-rmsprop", 0.3): (Gradient(), LectureRMSProp(0.3)),
    ("rmsprop", 0.9): (None, SquareAverage(0.9)),
    ("adam", (0.8, 0.99)): (ExponentialAverage(0.8), SecondMoment(0.99)),
    ("radam", (0.9, 0.999)): (ExponentialAverage(0.9), Rectified(0.999)),
    ("nadam", (0.9, 0.999)): (NesterovAverage(0.9), SecondMoment(0.999, root_last=True)),
}
KEY = {"lecture-momentum": "momentum", "momentum": "momentum"}
KEY |= {"lecture-rmsprop": "alpha", "rmsprop": "alpha"}
KEY |= {"adam": "betas", "radam": "betas", "nadam": "betas"}


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    nan = torch.isnan(a)
    return bool(torch.equal(nan, torch.isnan(b))) and torch.equal(a[~nan], b[~nan])


@pytest.mark.parametrize(("named", "parts"), SAME.items(), ids=lambda v: str(v))
@pytest.mark.parametrize("where", ["pokemon", "valley", "crescent"])
def test_composition_equals_the_named_optimizer(named, parts, where):
    name, value = named
    options = {KEY[name]: value} if value is not None else None
    lr = 1e-3 if where != "pokemon" or name not in ("gd", "momentum", "lecture-momentum") else 1e-6
    expected = descend(surface(where), name, lr=lr, options=options, steps=300)
    got = descend(surface(where), parts, lr=lr, steps=300)
    assert same(got.theta, expected.theta)
    assert (got.sigma is None) == (expected.sigma is None)
    if got.sigma is not None:
        assert same(got.sigma, expected.sigma)


def test_a_composition_no_named_optimizer_has():
    """Heavy ball with the lecture's RMSProp σ: the step is η·b/σ, b = μ·b + g."""
    run = descend(surface("valley"), (HeavyBall(0.5), LectureRMSProp(0.5)), lr=0.1, steps=3)
    g0 = surface("valley").gradient(run.theta[0, 0])
    sigma0 = g0.abs()  # σ⁰ = |g⁰|
    assert torch.allclose(run.theta[1, 0], run.theta[0, 0] - 0.1 * g0 / sigma0)
    assert run.optimizer.startswith("b = μ·b") and "σ = sqrt(α·σ²" in run.optimizer


def test_a_composition_checks_its_parts_and_takes_no_options():
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\), got 1.5"):
        descend(surface("valley"), (None, LectureRMSProp(1.5)), lr=0.1, steps=3)
    with pytest.raises(ValueError, match="not options"):
        descend(surface("valley"), (None, None), lr=0.1, options={"alpha": 0.5}, steps=3)
    with pytest.raises(ValueError, match="catalog name or a pair"):
        descend(surface("valley"), (None, None, None), lr=0.1, steps=3)


def test_stop_is_asked_between_steps_and_changes_nothing():
    from ravine.surfaces import Stopped
    from ravine.surfaces.descend import STOP_EVERY

    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(Stopped, match=f"stopped at step {2 * STOP_EVERY} of 10000"):
        descend(surface("valley"), "gd", lr=1e-2, steps=10_000, stop=stop)
    plain = descend(surface("valley"), "gd", lr=1e-2, steps=1000)
    asked_never = descend(surface("valley"), "gd", lr=1e-2, steps=1000, stop=lambda: False)
    assert torch.equal(plain.theta, asked_never.theta)


def test_a_schedule_given_as_lr_says_where_it_goes():
    """An optimizer takes lr=η·schedule; descend takes η and the schedule apart, and says so."""
    from ravine.schedules import inverse_sqrt

    with pytest.raises(ValueError, match=r"got a schedule \(.*\); give η as lr and the schedule"):
        descend(surface("valley"), "gd", lr=1.0 * inverse_sqrt(), steps=3)
    scheduled = descend(surface("valley"), "gd", lr=1.0, schedule=inverse_sqrt(), steps=3)
    assert scheduled.theta.shape[0] == 4
