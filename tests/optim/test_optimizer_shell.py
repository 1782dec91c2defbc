"""ravine.optim.Optimizer keeps torch.optim.Optimizer's contract.

Parameter groups, state_dict/load_state_dict, zero_grad, closures, maximize, parameters without
gradients, torch's LR schedulers, named parameters; plus ravine's own η^t schedules and
composition of a direction m with a magnitude σ.
"""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from ravine.optim import (
    Direction,
    HeavyBall,
    LectureRMSProp,
    Magnitude,
    Optimizer,
    lecture,
    presets,
)

F64 = torch.float64


def _tensor(values, dtype=F64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def _random_params(shapes, seed=0, dtype=F64) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in shapes]


def _clone(params: list[torch.Tensor]) -> list[torch.Tensor]:
    return [p.detach().clone().requires_grad_() for p in params]


def _loss(params: list[torch.Tensor]) -> torch.Tensor:
    """A smooth non-quadratic objective whose gradient changes from step to step."""
    total = torch.zeros((), dtype=params[0].dtype)
    for i, p in enumerate(params):
        total = total + ((p - 0.3 * (i + 1)) ** 2).sum() + torch.sin(3 * p).sum()
    return total


def _backward(params: list[torch.Tensor]) -> torch.Tensor:
    for p in params:
        p.grad = None
    loss = _loss(params)
    loss.backward()
    return loss


def _assert_close(ours: list[torch.Tensor], theirs: list[torch.Tensor], rtol=1e-9) -> None:
    for p, q in zip(ours, theirs, strict=True):
        torch.testing.assert_close(p.detach(), q.detach(), rtol=rtol, atol=1e-12)


# --- parameter groups --------------------------------------------------------------------


def test_per_group_hyperparameters_match_torch_adam():
    ours = _random_params([(3, 2), (4,), (5,)])
    theirs = _clone(ours)

    def groups(p):
        return [
            {"params": [p[0]], "betas": (0.8, 0.9), "lr": 0.05},
            {"params": [p[1]], "weight_decay": 0.1, "amsgrad": True},
            {"params": [p[2]], "eps": 1e-3},
        ]

    ravine_adam = presets.Adam(groups(ours), lr=0.01)
    torch_adam = torch.optim.Adam(groups(theirs), lr=0.01)
    assert ravine_adam.param_groups[0]["betas"] == (0.8, 0.9)
    assert ravine_adam.param_groups[1]["betas"] == (0.9, 0.999)
    assert [g["lr"] for g in ravine_adam.param_groups] == [0.05, 0.01, 0.01]
    start = [p.detach().clone() for p in ours]
    for _ in range(30):
        _backward(ours)
        _backward(theirs)
        ravine_adam.step()
        torch_adam.step()
        _assert_close(ours, theirs)
    assert all(not torch.equal(p.detach(), s) for p, s in zip(ours, start, strict=True))


def test_group_hyperparameters_really_differ_between_groups():
    # the same parameter values in two groups with different betas move differently
    a, b = _tensor([1.0, -2.0]), _tensor([1.0, -2.0])
    optimizer = presets.Adam([{"params": [a]}, {"params": [b], "betas": (0.5, 0.6)}], lr=0.1)
    for _ in range(3):
        for p in (a, b):
            p.grad = p.detach() ** 3
        optimizer.step()
    assert not torch.equal(a.detach(), b.detach())


# --- state_dict / load_state_dict ----------------------------------------------------------


ROUND_TRIP = [
    ("Adam", presets.Adam, {"lr": 0.01}),
    ("RMSprop-centered-momentum", presets.RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.9}),
    ("NAdam", presets.NAdam, {"lr": 0.01}),
    ("RAdam", presets.RAdam, {"lr": 0.01}),
    ("Adagrad", presets.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
    ("SGD-nesterov", presets.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("lecture.RMSProp", lecture.RMSProp, {"lr": 0.01, "alpha": 0.9}),
    ("lecture.Momentum", lecture.Momentum, {"lr": 0.01, "momentum": 0.9}),
]


def _round_trip_cases() -> list:
    return list(_round_trip_iter())


def _round_trip_iter():
    for name, cls, kwargs in ROUND_TRIP:
        for dtype in (torch.float32, F64):
            yield pytest.param(cls, kwargs, dtype, id=f"{name}-{dtype}")


def _net(dtype) -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).to(dtype)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) * 0.5)
    return model


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    gen = torch.Generator().manual_seed(1)
    dtype = next(model.parameters()).dtype
    x = torch.randn(32, 4, generator=gen, dtype=dtype)
    y = torch.randn(32, 2, generator=gen, dtype=dtype)
    for _ in range(steps):
        optimizer.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        optimizer.step()


@pytest.mark.parametrize(("cls", "kwargs", "dtype"), _round_trip_cases())
def test_state_dict_round_trip_continues_bit_identically(cls, kwargs, dtype):
    model = _net(dtype)
    optimizer = cls(model.parameters(), **kwargs)
    _train(model, optimizer, 10)

    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    restored_model = _net(dtype)
    restored = cls(restored_model.parameters(), **kwargs)
    restored_model.load_state_dict(saved["model"])
    restored.load_state_dict(saved["optimizer"])

    original_state = optimizer.state_dict()
    restored_state = restored.state_dict()
    assert original_state["param_groups"] == restored_state["param_groups"]
    assert original_state["state"].keys() == restored_state["state"].keys()
    for i, entry in original_state["state"].items():
        assert entry.keys() == restored_state["state"][i].keys()

    _train(model, optimizer, 10)
    _train(restored_model, restored, 10)
    for p, q in zip(model.parameters(), restored_model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert optimizer.param_groups[0]["steps"] == restored.param_groups[0]["steps"] == 20


@pytest.mark.parametrize(("cls", "kwargs", "dtype"), _round_trip_cases())
def test_state_dict_round_trip_keeps_every_state_dtype(cls, kwargs, dtype):
    # torch's load_state_dict casts every state tensor but "step" to the parameter's dtype;
    # a scalar such as NAdam's float32 "mu_product" must come back as it was saved, or a
    # float64 model rounds differently after the restore
    model = _net(dtype)
    optimizer = cls(model.parameters(), **kwargs)
    _train(model, optimizer, 3)
    restored = cls(_net(dtype).parameters(), **kwargs)
    restored.load_state_dict(optimizer.state_dict())
    pairs = zip(
        optimizer.param_groups[0]["params"], restored.param_groups[0]["params"], strict=True
    )
    for p, q in pairs:
        before, after = optimizer.state[p], restored.state[q]
        assert before.keys() == after.keys()
        for key, value in before.items():
            assert after[key].dtype == value.dtype, key
            assert torch.equal(after[key], value), key


# --- zero_grad and closures ----------------------------------------------------------------


def test_zero_grad_sets_gradients_to_none_by_default():
    params = _random_params([(3,), (2, 2)])
    optimizer = presets.Adam(params)
    _backward(params)
    assert all(p.grad is not None for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)

    _backward(params)
    optimizer.zero_grad(set_to_none=False)
    for p in params:
        assert p.grad is not None and torch.equal(p.grad, torch.zeros_like(p))


def test_step_with_closure_returns_its_loss_and_uses_its_gradient():
    theta = _tensor([1.0, -2.0, 0.5])
    optimizer = lecture.GD([theta], lr=0.1)
    theta.grad = torch.full((3,), 1e6, dtype=F64)  # stale gradient the closure must replace
    calls = []

    def closure():
        calls.append(torch.is_grad_enabled())
        optimizer.zero_grad()
        loss = 0.5 * (theta**2).sum()  # ∇ = θ
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert calls == [True]
    assert loss.item() == pytest.approx(0.5 * (1 + 4 + 0.25), rel=1e-15)
    expected = torch.tensor([1.0, -2.0, 0.5], dtype=F64) * 0.9
    torch.testing.assert_close(theta.detach(), expected, rtol=1e-15, atol=0)
    assert optimizer.step() is None


def test_closure_matches_torch_adam():
    ours = _random_params([(4,)])
    theirs = _clone(ours)
    ravine_adam, torch_adam = presets.Adam(ours, lr=0.05), torch.optim.Adam(theirs, lr=0.05)
    for _ in range(5):
        a = ravine_adam.step(lambda: _backward(ours))
        b = torch_adam.step(lambda: _backward(theirs))
        torch.testing.assert_close(a, b, rtol=1e-9, atol=0)
    _assert_close(ours, theirs)


# --- maximize ---------------------------------------------------------------------------


def test_maximize_sgd_step_increases_the_objective():
    theta = _tensor([0.0, 1.0])
    optimizer = presets.SGD([theta], lr=0.1, maximize=True)

    def objective():
        return -((theta - 3.0) ** 2).sum()

    before = objective().item()
    optimizer.zero_grad()
    objective().backward()  # ∇ = −2(θ − 3) = [6, 4]
    optimizer.step()
    torch.testing.assert_close(
        theta.detach(), torch.tensor([0.6, 1.4], dtype=F64), rtol=1e-15, atol=0
    )
    assert objective().item() > before


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SGD", {"lr": 0.05}),
        ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1}),
        ("Adam", {"lr": 0.05}),
        ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
        ("RMSprop", {"lr": 0.01, "momentum": 0.5}),
    ],
    ids=["SGD", "SGD-momentum-decay", "Adam", "Adam-amsgrad-decay", "RMSprop-momentum"],
)
def test_maximize_matches_torch(name, kwargs):
    ours = _random_params([(3,), (2, 2)])
    theirs = _clone(ours)
    ravine_opt = getattr(presets, name)(ours, maximize=True, **kwargs)
    torch_opt = getattr(torch.optim, name)(theirs, maximize=True, **kwargs)
    start = _loss(ours).item()
    for _ in range(10):
        _backward(ours)
        _backward(theirs)
        ravine_opt.step()
        torch_opt.step()
        _assert_close(ours, theirs)
    assert _loss(ours).item() > start


# --- parameters that never get a gradient ------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (presets.Adam, {"lr": 0.05}),
        (presets.SGD, {"lr": 0.05, "momentum": 0.9}),
        (presets.RMSprop, {"lr": 0.01, "centered": True}),
        (presets.NAdam, {"lr": 0.05}),
        (lecture.Momentum, {"lr": 0.05}),
        (lecture.Adagrad, {"lr": 0.05}),
    ],
    ids=lambda v: (
        f"{v.__module__.rsplit('.', 1)[-1]}.{v.__name__}" if isinstance(v, type) else ",".join(v)
    ),
)
def test_parameter_without_gradient_is_untouched_and_has_no_state(cls, kwargs):
    a, c = _random_params([(3,), (2,)], seed=1)
    idle = _tensor([5.0, -5.0])
    optimizer = cls([a, idle, c], **kwargs)
    a2, c2 = _clone([a, c])
    alone = cls([a2, c2], **kwargs)
    for _ in range(5):
        _backward([a, c])
        _backward([a2, c2])
        assert idle.grad is None
        optimizer.step()
        alone.step()
    assert torch.equal(idle.detach(), torch.tensor([5.0, -5.0], dtype=F64))
    assert idle not in optimizer.state
    assert torch.equal(a, a2) and torch.equal(c, c2)
    assert len(optimizer.state_dict()["state"]) == 2


def test_parameter_that_starts_getting_gradients_late_counts_its_own_steps():
    a, late = _tensor([1.0, 2.0]), _tensor([1.0, 2.0])
    optimizer = presets.Adam([a, late], lr=0.1)
    for t in range(4):
        a.grad = a.detach().clone()
        late.grad = late.detach().clone() if t >= 2 else None
        optimizer.step()
    assert optimizer.state[a]["step"].item() == 4
    assert optimizer.state[late]["step"].item() == 2
    # its two updates are a fresh optimizer's first two: its own t, not the optimizer's
    fresh = _tensor([1.0, 2.0])
    reference = presets.Adam([fresh], lr=0.1)
    for _ in range(2):
        fresh.grad = fresh.detach().clone()
        reference.step()
    assert torch.equal(late, fresh)


# --- torch's LR schedulers -----------------------------------------------------------------


def test_step_lr_scheduler_matches_torch_adam():
    ours = _random_params([(3,), (4,)])
    theirs = _clone(ours)
    ravine_adam = presets.Adam(ours, lr=0.1)
    torch_adam = torch.optim.Adam(theirs, lr=0.1)
    ours_sched = torch.optim.lr_scheduler.StepLR(ravine_adam, step_size=3, gamma=0.5)
    theirs_sched = torch.optim.lr_scheduler.StepLR(torch_adam, step_size=3, gamma=0.5)
    for t in range(12):
        assert ravine_adam.param_groups[0]["lr"] == 0.1 * 0.5 ** (t // 3)
        _backward(ours)
        _backward(theirs)
        ravine_adam.step()
        torch_adam.step()
        ours_sched.step()
        theirs_sched.step()
        _assert_close(ours, theirs)
        assert ours_sched.get_last_lr() == theirs_sched.get_last_lr()
    assert ravine_adam.param_groups[0]["lr"] == 0.1 * 0.5**4


def test_lambda_lr_scheduler_changes_the_step_size():
    theta = _tensor([1.0])
    optimizer = lecture.GD([theta], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.1 * (epoch + 1))
    moves = []
    for _ in range(3):
        before = theta.item()
        theta.grad = torch.ones(1, dtype=F64)
        optimizer.step()
        scheduler.step()
        moves.append(before - theta.item())
    assert moves == pytest.approx([0.1, 0.2, 0.3], rel=1e-12)


# --- η^t as a callable ---------------------------------------------------------------------


def test_callable_lr_moves_by_its_value_at_each_step():
    start = [1.0, -2.0, 0.3, 7.77]
    theta = _tensor(start)
    optimizer = lecture.GD([theta], lr=lambda t: 0.1 / (t + 1))
    assert optimizer.param_groups[0]["lr"] == 0.1  # η^0 before the first step
    expected = torch.tensor(start, dtype=F64)
    for t in range(3):
        optimizer.zero_grad()
        (0.5 * theta**2).sum().backward()  # f(θ) = ½θ², ∇f = θ
        optimizer.step()
        expected = expected - 0.1 / (t + 1) * expected  # θ ← θ − 0.1/(t+1)·θ
        # one rounding apart at most (torch may fuse the multiply-add)
        torch.testing.assert_close(theta.detach(), expected, rtol=1e-15, atol=0)
        assert optimizer.param_groups[0]["lr"] == 0.1 / (t + 2)  # η of the next step
        assert optimizer.param_groups[0]["steps"] == t + 1
    by_hand = [1.0 * 0.9 * 0.95 * (1 - 0.1 / 3), -2.0 * 0.9 * 0.95 * (1 - 0.1 / 3)]
    torch.testing.assert_close(
        theta.detach()[:2], torch.tensor(by_hand, dtype=F64), rtol=1e-14, atol=0
    )


def test_callable_lr_is_called_with_the_group_step_count():
    seen = []

    def schedule(t):
        seen.append(t)
        return 0.01

    theta = _tensor([1.0])
    optimizer = presets.Adam([theta], lr=schedule)
    for _ in range(3):
        theta.grad = torch.ones(1, dtype=F64)
        optimizer.step()
    assert list(dict.fromkeys(seen)) == [0, 1, 2, 3]  # each step's count from 0, then the next


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")], ids=repr)
def test_callable_lr_with_a_bad_value_raises_naming_the_step(bad):
    theta = _tensor([1.0, -2.0])
    optimizer = presets.SGD([theta], lr=lambda t: 0.1 if t < 2 else bad, momentum=0.9)
    for _ in range(2):
        theta.grad = theta.detach().clone()
        optimizer.step()
    before = theta.detach().clone()
    buffer = optimizer.state[theta]["momentum_buffer"].clone()
    theta.grad = theta.detach().clone()
    with pytest.raises(ValueError) as info:
        optimizer.step()
    message = str(info.value)
    assert "step 2" in message and repr(bad) in message, message
    assert torch.equal(theta.detach(), before)
    assert torch.equal(optimizer.state[theta]["momentum_buffer"], buffer)
    assert optimizer.state[theta]["step"].item() == 2
    assert optimizer.param_groups[0]["steps"] == 2


def test_callable_lr_bad_at_step_zero_raises_at_construction():
    with pytest.raises(ValueError, match="step 0"):
        lecture.GD([_tensor([1.0])], lr=lambda t: -1.0)


# --- named parameters ----------------------------------------------------------------------


def test_named_parameters_are_accepted_and_names_kept():
    model = _net(F64)
    names = [name for name, _ in model.named_parameters()]
    named = presets.Adam(model.named_parameters(), lr=0.01)
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert named.param_groups[0]["param_names"] == names
    group_params = named.param_groups[0]["params"]
    assert len(group_params) == 4
    assert all(p is q for p, q in zip(group_params, model.parameters(), strict=True))
    assert named.state_dict()["param_groups"][0]["param_names"] == names

    twin = _net(F64)
    unnamed = presets.Adam(twin.parameters(), lr=0.01)
    _train(model, named, 5)
    _train(twin, unnamed, 5)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)


# --- composing m and σ ---------------------------------------------------------------------


def test_composed_optimizer_exposes_parts_and_applies_the_rule():
    direction, magnitude = HeavyBall(0.9), LectureRMSProp(alpha=0.5)
    theta = _tensor([1.0, -2.0])
    h = torch.tensor([1.0, 3.0], dtype=F64)  # f(θ) = ½·Σ h·θ², ∇ = h·θ
    optimizer = Optimizer([theta], 0.1, direction=direction, magnitude=magnitude)
    assert optimizer.direction is direction and optimizer.magnitude is magnitude
    assert isinstance(optimizer.direction, Direction)
    assert isinstance(optimizer.magnitude, Magnitude)
    group = optimizer.param_groups[0]
    assert (group["momentum"], group["alpha"], group["eps"]) == (0.9, 0.5, 0.0)

    for _ in range(2):
        optimizer.zero_grad()
        (0.5 * h * theta**2).sum().backward()
        optimizer.step()

    # by hand: step 1, b = g0, σ = |g0|; step 2, b = 0.9·g0 + g1, σ = sqrt(½σ0² + ½g1²)
    th0 = [1.0, -2.0]
    g0 = [1.0 * th0[0], 3.0 * th0[1]]
    th1 = [t - 0.1 * g / abs(g) for t, g in zip(th0, g0, strict=True)]
    g1 = [1.0 * th1[0], 3.0 * th1[1]]
    th2 = [
        t - 0.1 * (0.9 * a + b) / math.sqrt(0.5 * a * a + 0.5 * b * b)
        for t, a, b in zip(th1, g0, g1, strict=True)
    ]
    torch.testing.assert_close(theta.detach(), torch.tensor(th2, dtype=F64), rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"direction": "heavy-ball"},
        {"magnitude": "rmsprop"},
        {"direction": LectureRMSProp()},  # a magnitude is not a direction
        {"magnitude": HeavyBall(0.9)},  # nor the other way round
        {"direction": HeavyBall},  # the class, not an instance
    ],
    ids=["direction-str", "magnitude-str", "direction-magnitude", "magnitude-direction", "class"],
)
def test_invalid_parts_raise_value_error(kwargs):
    ((name, _),) = kwargs.items()
    with pytest.raises(ValueError, match=name):
        Optimizer([_tensor([1.0])], 0.1, **kwargs)
