"""The learning-rate range test: η's exponential sweep, the bias-corrected smoothing and the
suggestion against the formulas by hand, the same losses as a hand-written loop, the early
stops, exact restoration of the model and the optimizer, and its errors."""

import copy
import itertools
import json
import math

import pytest
import torch
from torch import nn

from ravine.optim import catalog
from ravine.tasks import task as build_task
from ravine.training import (
    BACKOFF,
    DIVERGENCE,
    MIN_STEPS,
    RangeTest,
    lag_factor,
    lr_find,
    range_test,
    smooth_losses,
    split,
    suggest_lr,
    sweep_lrs,
)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def regression(n=64, features=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64) + 0.1 * torch.randn(
        n, 1, generator=g, dtype=torch.float64
    )
    return x, y


def linear(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(3, 1).double()


# --- the formulas ---------------------------------------------------------------------------


def test_sweep_is_exponential_from_lr_min_to_lr_max():
    lrs = sweep_lrs(1e-5, 1.0, 11)
    assert lrs[0] == pytest.approx(1e-5, rel=1e-15)
    assert lrs[-1] == pytest.approx(1.0, rel=1e-14)
    ratios = [b / a for a, b in itertools.pairwise(lrs)]
    assert ratios == pytest.approx([10**0.5] * 10, rel=1e-12)  # 5 decades over 10 steps


def test_smoothing_is_the_bias_corrected_moving_average():
    losses = [3.0, 1.0, 4.0, 1.0, 5.0]
    beta = 0.8
    a, expected = 0.0, []
    for k, loss in enumerate(losses):
        a = beta * a + (1 - beta) * loss
        expected.append(a / (1 - beta ** (k + 1)))
    assert smooth_losses(losses, beta) == pytest.approx(expected, rel=1e-15)
    assert smooth_losses(losses, beta)[0] == 3.0  # the correction removes the pull to 0
    # a constant loss stays exactly constant: 1 − β^(k+1) cancels the zero start
    assert smooth_losses([2.5] * 30, 0.9) == pytest.approx([2.5] * 30, rel=1e-14)
    assert smooth_losses(losses, 0.0) == losses


def test_suggestion_is_the_minimum_divided_by_ten():
    lrs = [1e-3, 1e-2, 1e-1, 1.0]
    assert BACKOFF == 10
    assert suggest_lr(lrs, [2.0, 1.5, 0.7, 3.0]) == pytest.approx(1e-2)
    assert suggest_lr([], []) is None
    with pytest.raises(ValueError, match="2 learning rates for 3 smoothed losses"):
        suggest_lr([1.0, 2.0], [1.0, 2.0, 3.0])


def test_lag_factor():
    # β/(1−β) = 9 updates of a sweep whose every update multiplies η by 10^(7/199)
    assert lag_factor(1e-6, 10.0, 200, 0.9) == pytest.approx(10 ** (7 * 9 / 199), rel=1e-12)
    assert lag_factor(1e-6, 10.0, 200, 0.0) == 1.0


# --- the loop -------------------------------------------------------------------------------


def test_losses_are_those_of_a_hand_written_loop():
    """SGD on a linear regression: the same η_k, batches and losses as the loop by hand."""
    x, y = regression()
    model = linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.123)
    found = range_test(
        model,
        optimizer,
        nn.functional.mse_loss,
        x,
        y,
        lr_min=1e-4,
        lr_max=0.3,
        steps=20,
        batch_size=24,
        seed=5,
    )
    assert found.stopped is None and len(found.lrs) == 20
    assert found.lrs == sweep_lrs(1e-4, 0.3, 20)
    w = linear().weight.detach().clone()
    b = linear().bias.detach().clone()
    g = torch.Generator().manual_seed(6)  # seed + 1
    batches = []
    while len(batches) < 20:  # 64 rows: two full batches of 24 per pass, 16 left out
        order = torch.randperm(64, generator=g)
        batches += [order[:24], order[24:48]]
    expected = []
    for lr, batch in zip(found.lrs, batches, strict=False):
        residual = x[batch] @ w.T + b - y[batch]
        expected.append(float((residual**2).mean()))
        grad = 2 * residual / len(batch)  # ∂L/∂ŷ
        w = w - lr * (grad.T @ x[batch])
        b = b - lr * grad.sum(0)
    assert found.losses == pytest.approx(expected, rel=1e-12)
    assert found.smoothed == pytest.approx(smooth_losses(expected, found.smoothing), rel=1e-12)
    assert found.suggestion == pytest.approx(suggest_lr(found.lrs, found.smoothed))
    assert optimizer.param_groups[0]["lr"] == 0.123  # the caller's η is back


def test_stops_when_the_smoothed_loss_exceeds_the_divergence_multiple():
    x, y = regression()
    model = linear()
    found = range_test(
        model,
        torch.optim.SGD(model.parameters()),
        nn.functional.mse_loss,
        x,
        y,
        lr_min=1e-3,
        lr_max=100.0,
        steps=60,
        batch_size=16,
    )
    assert found.stopped is not None and "exceeded 4 × its lowest" in found.stopped
    assert DIVERGENCE == 4.0 and len(found.lrs) < 60
    best = [min(found.smoothed[: k + 1]) for k in range(len(found.smoothed))]
    assert found.smoothed[-1] > 4 * best[-1]
    assert all(s <= 4 * m for s, m in zip(found.smoothed[:-1], best[:-1], strict=True))
    # the suggestion comes from the curve before the blow-up, one decade under its minimum
    assert found.minimum_lr < found.lrs[-1]
    assert found.suggestion == pytest.approx(found.minimum_lr / 10)
    assert found.warning is None


def test_stops_on_a_non_finite_loss_and_records_only_finite_ones():
    x, y = regression()
    model = linear()
    found = range_test(
        model,
        torch.optim.SGD(model.parameters()),
        nn.functional.mse_loss,
        x,
        y,
        lr_min=1e-3,
        lr_max=1e12,
        steps=60,
        batch_size=16,
        divergence=1e300,  # only a non-finite loss can stop it
    )
    assert found.stopped is not None
    assert found.stopped.startswith("the loss at update") and "η = " in found.stopped
    assert found.stopped.endswith(("inf", "nan"))
    assert all(math.isfinite(v) for v in found.losses + found.smoothed)
    json.dumps(found.to_json(), allow_nan=False)


def test_a_loss_that_never_falls_warns_and_suggests_below_the_sweep():
    x, y = regression()
    model = linear()
    climbing = catalog.create("gd", model.parameters(), maximize=True)  # gradient ascent
    found = range_test(
        model,
        climbing,
        nn.functional.mse_loss,
        x,
        y,
        lr_min=1e-3,
        lr_max=1.0,
        steps=20,
        batch_size=64,  # the whole set: no batch noise, the loss only climbs
    )
    assert found.minimum == 0
    assert found.suggestion == pytest.approx(1e-4)
    assert "lowest at the first η" in found.warning


# --- restoration ----------------------------------------------------------------------------


def batchnorm_model():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1)).double()


def trained_a_little(model, optimizer, x, y, steps=3):
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def snapshot(model, optimizer):
    return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())


def assert_same(a, b):
    """Nested dicts/lists of tensors and numbers, exactly equal."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            assert_same(u, v)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("make", [torch.optim.Adam, lambda p: catalog.create("adam", p)])
def test_model_buffers_mode_and_optimizer_state_come_back_exactly(make):
    x, y = regression()
    model = batchnorm_model()
    optimizer = make(model.parameters())
    trained_a_little(model, optimizer, x, y)
    model.eval()
    weights, state = snapshot(model, optimizer)
    grads = [p.grad.clone() for p in model.parameters()]  # the last backward's, still there
    twin = copy.deepcopy(model)
    twin_optimizer = make(twin.parameters())
    twin_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))

    found = range_test(
        model, optimizer, nn.functional.mse_loss, x, y, lr_min=1e-4, lr_max=10.0, steps=30
    )
    assert len(found.lrs) > 5  # it did train (and move the BatchNorm statistics)
    assert not model.training
    assert_same(model.state_dict(), weights)
    assert_same(optimizer.state_dict(), state)
    assert_same([p.grad for p in model.parameters()], grads)
    # and training goes on exactly as if the test had never run
    model.train(), twin.train()
    trained_a_little(model, optimizer, x, y)
    trained_a_little(twin, twin_optimizer, x, y)
    assert_same(model.state_dict(), twin.state_dict())


def test_a_callable_learning_rate_comes_back():
    x, y = regression()
    model = linear()
    schedule = lambda step: 0.01 / (1 + step)  # noqa: E731
    optimizer = catalog.create("gd", model.parameters(), lr=schedule)
    trained_a_little(model, optimizer, x, y, steps=2)
    weights, state = snapshot(model, optimizer)
    range_test(model, optimizer, nn.functional.mse_loss, x, y, lr_min=1e-3, lr_max=1.0, steps=15)
    assert optimizer.param_groups[0]["lr_schedule"] is schedule
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 / 3)
    assert_same(model.state_dict(), weights)
    assert_same(optimizer.state_dict(), state)


def test_restored_even_when_the_loss_raises():
    x, y = regression()
    model = linear()
    optimizer = torch.optim.Adam(model.parameters())
    weights, state = snapshot(model, optimizer)
    calls = []

    def failing(outputs, targets):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("boom")
        return nn.functional.mse_loss(outputs, targets)

    with pytest.raises(RuntimeError, match="boom"):
        range_test(model, optimizer, failing, x, y, lr_min=1e-3, lr_max=1.0, steps=15)
    assert_same(model.state_dict(), weights)
    assert_same(optimizer.state_dict(), state)


# --- on a task ------------------------------------------------------------------------------


def test_on_a_task_it_is_the_range_test_on_the_training_split():
    task = build_task("diabetes", seed=2)
    found = lr_find(task, "adam", options={"betas": (0.8, 0.99)}, steps=40, seed=2)
    model = task.model(2)
    optimizer = catalog.create("adam", model.parameters(), betas=(0.8, 0.99))
    train_idx, _ = split(task.size, 0.2, 2)
    by_hand = range_test(
        model,
        optimizer,
        task.loss_fn,
        task.inputs[train_idx],
        task.targets[train_idx],
        steps=40,
        seed=2,
    )
    assert found.losses == by_hand.losses and found.lrs == by_hand.lrs
    assert found.suggestion == by_hand.suggestion
    numbers = found.to_json()
    json.dumps(numbers, allow_nan=False)
    assert numbers["task"] == "diabetes" and numbers["optimizer"] == "adam"
    assert numbers["options"] == {"betas": [0.8, 0.99]}
    assert numbers["train_size"] == len(train_idx) == 354
    assert numbers["suggestion"] == found.suggestion == pytest.approx(found.minimum_lr / 10)
    assert numbers["rule"] == found.rule and "divided by 10" in found.rule
    assert isinstance(found, RangeTest)


def test_digits_suggestion_is_a_sensible_adam_rate():
    """The default sweep on digits with Adam turns and suggests an η between 10⁻³ and 10⁻¹."""
    found = lr_find("digits", "adam")
    assert found.warning is None
    assert found.stopped is not None  # it reached the divergence
    assert 1e-3 < found.suggestion < 1e-1
    assert found.smoothed[found.minimum] < 0.5 * found.smoothed[0]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr_min": 0.0}, "lr_min must be a finite number > 0, got 0.0"),
        ({"lr_min": -1e-3}, "lr_min must be a finite number > 0, got -0.001"),
        ({"lr_min": math.nan}, "lr_min must be a finite number > 0, got nan"),
        ({"lr_max": math.inf}, "lr_max must be a finite number > 0, got inf"),
        ({"lr_min": 1.0, "lr_max": 1.0}, "lr_max must be larger than lr_min"),
        ({"lr_min": 1.0, "lr_max": 0.5}, "lr_min=1.0 >= lr_max=0.5"),
        ({"steps": MIN_STEPS - 1}, f"steps must be a whole number >= {MIN_STEPS}, got 9"),
        ({"steps": 50.0}, "steps must be a whole number"),
        ({"batch_size": 0}, "batch_size must be a whole number >= 1, got 0"),
        ({"batch_size": 355}, "batch_size 355 is larger than the 354 training examples"),
        ({"options": {"lr": 0.1}}, "the range test sets η itself"),
        ({"smoothing": 1.0}, r"smoothing β must be in \[0, 1\), got 1.0"),
        ({"divergence": 1.0}, "divergence must be a finite number > 1, got 1.0"),
    ],
)
def test_bad_arguments_are_refused_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lr_find("diabetes", "adam", **kwargs)


def test_unknown_task_and_optimizer():
    with pytest.raises(ValueError, match="unknown task 'mnist'; valid: sinc, diabetes"):
        lr_find("mnist", "adam")
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'; choose one of: gd"):
        lr_find("diabetes", "adamax")
    with pytest.raises(ValueError, match="adam has no option 'momentum'"):
        lr_find("diabetes", "adam", options={"momentum": 0.9})


def test_batch_larger_than_the_data_leaves_the_model_alone():
    x, y = regression(n=10)
    model = linear()
    optimizer = torch.optim.SGD(model.parameters())
    weights, state = snapshot(model, optimizer)
    with pytest.raises(ValueError, match="batch_size 11 is larger than the 10 examples"):
        range_test(model, optimizer, nn.functional.mse_loss, x, y, batch_size=11)
    with pytest.raises(ValueError, match="10 inputs but 9 targets"):
        range_test(model, optimizer, nn.functional.mse_loss, x, y[:9])
    assert_same(model.state_dict(), weights)
    assert_same(optimizer.state_dict(), state)


def test_batch_norm_is_refused_batches_of_one_but_not_a_remainder_of_one():
    """The range test cuts only full batches, so 65 rows in batches of 2 never leave one."""
    x, y = regression(n=65)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="batch_size 1 gives batches of 1 example; BatchNorm"):
        range_test(model, optimizer, nn.functional.mse_loss, x, y, steps=20, batch_size=1)
    found = range_test(model, optimizer, nn.functional.mse_loss, x, y, steps=20, batch_size=2)
    assert found.lrs[0] == 1e-6 and all(math.isfinite(loss) for loss in found.losses)


def test_the_update_it_stopped_at_is_counted_from_1():
    """Stopped at the 184th recorded loss: 'at update 184', as training counts updates."""
    from ravine.tasks import task as make_task
    from ravine.training.lr_find import lr_find

    found = lr_find(make_task("diabetes"), "adam")
    assert found.stopped is not None
    assert f"at update {len(found.lrs)} " in found.stopped
