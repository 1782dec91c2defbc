"""Bad input gets a clear error, and nothing is lost.

- a hyperparameter outside its domain raises ValueError at construction (and in
  ``add_param_group``, leaving the groups as they were), naming the parameter and its value;
- sparse gradients raise RuntimeError before anything moves;
- a nan or inf gradient raises :class:`NonFiniteGradientError` (``nonfinite="raise"``) with every
  parameter and every state tensor untouched, skips the whole step (``"skip"``), or is applied
  as torch.optim applies it (``"ignore"``).
"""

from __future__ import annotations

import inspect
import io
import math

import pytest
import torch
from torch import nn

from ravine.optim import NonFiniteGradientError, Optimizer, lecture, presets

PRESETS = [
    presets.SGD,
    presets.Adagrad,
    presets.RMSprop,
    presets.Adam,
    presets.AdamW,
    presets.RAdam,
    presets.NAdam,
]
LECTURE = [lecture.GD, lecture.Momentum, lecture.Adagrad, lecture.RMSProp]
CLASSES = [*PRESETS, *LECTURE]
CLASSES_AND_BASE = [*CLASSES, Optimizer]


def _name(cls: type) -> str:
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


def _having(argument: str, classes: list[type] = CLASSES_AND_BASE) -> list[type]:
    """The classes whose constructor takes ``argument``."""
    return [cls for cls in classes if argument in inspect.signature(cls).parameters]


def _params() -> list[torch.Tensor]:
    return [torch.zeros(3, requires_grad=True)]


def _cases(argument: str, values: list, classes: list[type] | None = None) -> list:
    classes = _having(argument) if classes is None else classes
    assert classes, f"no class takes {argument}"
    return [
        pytest.param(cls, {argument: value}, id=f"{_name(cls)}-{argument}={value!r}")
        for cls in classes
        for value in values
    ]


def _assert_value_error(cls: type, kwargs: dict, name: str, value) -> str:
    with pytest.raises(ValueError) as info:
        cls(_params(), **kwargs)
    message = str(info.value)
    assert name in message, message
    assert repr(value) in message, message
    return message


# --- hyperparameters out of their domain -----------------------------------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("cls", "kwargs"), _cases("lr", [-0.1, -1, NAN, INF]))
def test_bad_lr_raises_value_error_naming_lr(cls, kwargs):
    _assert_value_error(cls, kwargs, "lr", kwargs["lr"])


@pytest.mark.parametrize(("cls", "kwargs"), _cases("weight_decay", [-0.1, NAN]))
def test_negative_weight_decay_raises_everywhere(cls, kwargs):
    _assert_value_error(cls, kwargs, "weight_decay", kwargs["weight_decay"])


@pytest.mark.parametrize(("cls", "kwargs"), _cases("eps", [-1e-8, NAN]))
def test_negative_eps_raises(cls, kwargs):
    _assert_value_error(cls, kwargs, "eps", kwargs["eps"])


BETA_CLASSES = _having("betas")


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("value", [1.2, -0.1, 1.0, NAN])
@pytest.mark.parametrize("cls", BETA_CLASSES, ids=_name)
def test_beta_outside_unit_interval_raises_naming_its_index(cls, value, index):
    betas = [0.9, 0.999]
    betas[index] = value
    _assert_value_error(cls, {"betas": tuple(betas)}, f"betas[{index}]", value)


@pytest.mark.parametrize("betas", [(0.9,), (0.9, 0.99, 0.999), 0.9, "ab"], ids=repr)
@pytest.mark.parametrize("cls", BETA_CLASSES, ids=_name)
def test_betas_that_is_not_a_pair_raises(cls, betas):
    _assert_value_error(cls, {"betas": betas}, "betas", betas)


def test_beta_classes_are_the_adam_family():
    assert set(BETA_CLASSES) == {presets.Adam, presets.AdamW, presets.RAdam, presets.NAdam}


@pytest.mark.parametrize("alpha", [0, 1, 1.0, 1.5, -0.1, NAN])
def test_lecture_rmsprop_alpha_outside_open_unit_interval_raises(alpha):
    message = _assert_value_error(lecture.RMSProp, {"alpha": alpha}, "alpha", alpha)
    assert "(0, 1)" in message


@pytest.mark.parametrize("alpha", [1.0, 1.5, -0.1, NAN])
def test_torch_rmsprop_alpha_outside_half_open_unit_interval_raises(alpha):
    message = _assert_value_error(presets.RMSprop, {"alpha": alpha}, "alpha", alpha)
    assert "[0, 1)" in message


@pytest.mark.parametrize(
    ("cls", "kwargs"), _cases("momentum", [-0.1, NAN], [presets.SGD, presets.RMSprop])
)
def test_negative_momentum_raises(cls, kwargs):
    _assert_value_error(cls, kwargs, "momentum", kwargs["momentum"])


@pytest.mark.parametrize("momentum", [1.0, 1.5, -0.1, NAN])
def test_lecture_momentum_outside_half_open_unit_interval_raises(momentum):
    message = _assert_value_error(lecture.Momentum, {"momentum": momentum}, "momentum", momentum)
    assert "[0, 1)" in message


def test_nesterov_without_momentum_raises():
    message = _assert_value_error(presets.SGD, {"nesterov": True}, "momentum", 0)
    assert "nesterov" in message


@pytest.mark.parametrize("dampening", [0.1, 1.0])
def test_nesterov_with_dampening_raises(dampening):
    kwargs = {"momentum": 0.9, "nesterov": True, "dampening": dampening}
    message = _assert_value_error(presets.SGD, kwargs, "dampening", dampening)
    assert "nesterov" in message


@pytest.mark.parametrize("dampening", [-0.1, 1.5, NAN])
def test_dampening_outside_closed_unit_interval_raises(dampening):
    kwargs = {"momentum": 0.9, "dampening": dampening}
    message = _assert_value_error(presets.SGD, kwargs, "dampening", dampening)
    assert "[0, 1]" in message


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        *_cases("lr_decay", [-0.1], [presets.Adagrad]),
        *_cases("initial_accumulator_value", [-0.1], [presets.Adagrad]),
        *_cases("momentum_decay", [-4e-3], [presets.NAdam]),
    ],
)
def test_negative_decay_or_accumulator_raises(cls, kwargs):
    ((name, value),) = kwargs.items()
    _assert_value_error(cls, kwargs, name, value)


FLAG_CASES = [
    *_cases("amsgrad", ["yes", 1, None]),
    *_cases("centered", ["yes", 1]),
    *_cases("nesterov", ["yes", 1]),
    *_cases("maximize", ["yes", 1, None]),
    *_cases("decoupled_weight_decay", ["yes", 1]),
]


@pytest.mark.parametrize(("cls", "kwargs"), FLAG_CASES)
def test_flag_that_is_not_a_bool_raises(cls, kwargs):
    ((name, value),) = kwargs.items()
    if name == "nesterov":  # nesterov needs momentum to be checked at all
        kwargs = {**kwargs, "momentum": 0.9}
    _assert_value_error(cls, kwargs, name, value)


def test_every_class_has_maximize_and_some_have_each_flag():
    assert set(_having("maximize")) == set(CLASSES_AND_BASE)
    assert _having("amsgrad") and _having("centered") and _having("nesterov")


@pytest.mark.parametrize("cls", CLASSES_AND_BASE, ids=_name)
def test_unknown_nonfinite_policy_raises(cls):
    message = _assert_value_error(cls, {"nonfinite": "explode"}, "nonfinite", "explode")
    for policy in ("raise", "skip", "ignore"):
        assert policy in message


TORCH_ONLY = [
    pytest.param(cls, flag, id=f"{cls.__name__}-{flag}")
    for cls in PRESETS
    for flag in ("capturable", "differentiable")
    if flag in inspect.signature(getattr(torch.optim, cls.__name__)).parameters
]


@pytest.mark.parametrize(("cls", "flag"), TORCH_ONLY)
def test_torch_only_features_raise(cls, flag):
    assert flag in inspect.signature(cls).parameters  # the torch signature is accepted
    _assert_value_error(cls, {flag: True}, flag, True)
    cls(_params(), **{flag: False})  # and False, torch's default, is fine


def test_torch_only_cases_cover_every_preset():
    assert {cls for cls, _ in (case.values for case in TORCH_ONLY)} == set(PRESETS)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (presets.SGD, {"lr": 0, "momentum": 0.9, "dampening": 1.0}),
        (presets.SGD, {"momentum": 0.5, "nesterov": True, "dampening": 0}),
        (presets.Adam, {"betas": (0.0, 0.0), "eps": 0, "weight_decay": 0}),
        (presets.NAdam, {"betas": [0.5, 0.5], "momentum_decay": 0}),
        (presets.RMSprop, {"alpha": 0.0, "momentum": 0, "eps": 0}),
        (presets.Adagrad, {"lr_decay": 0, "initial_accumulator_value": 0, "eps": 0}),
        (lecture.Momentum, {"momentum": 0.0}),
        (lecture.RMSProp, {"alpha": 0.999}),
        (lecture.GD, {"lr": lambda t: 0.1}),
    ],
    ids=lambda v: _name(v) if isinstance(v, type) else ",".join(v),
)
def test_domain_edges_are_accepted(cls, kwargs):
    optimizer = cls(_params(), **kwargs)
    assert len(optimizer.param_groups) == 1


# --- add_param_group ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "bad"),
    [
        (presets.SGD, {"momentum": -1.0}),
        (presets.SGD, {"nesterov": True}),  # the default momentum 0 does not allow nesterov
        (presets.SGD, {"dampening": 2.0}),
        (presets.Adam, {"betas": (0.9, 1.5)}),
        (presets.Adam, {"lr": -1.0}),
        (presets.Adam, {"lr": lambda t: float("nan")}),
        (presets.Adam, {"amsgrad": "yes"}),
        (presets.RMSprop, {"centered": 1}),
        (presets.Adagrad, {"eps": -1.0}),
        (presets.NAdam, {"momentum_decay": -1.0}),
        (lecture.RMSProp, {"alpha": 0}),
        (lecture.Momentum, {"momentum": 1.0}),
        (lecture.GD, {"weight_decay": -1.0}),
        (lecture.GD, {"maximize": 1}),
    ],
    ids=lambda v: _name(v) if isinstance(v, type) else ",".join(v),
)
def test_bad_group_is_refused_and_groups_stay_as_they_were(cls, bad):
    first = torch.zeros(3, requires_grad=True)
    optimizer = cls([first], lr=0.1)
    before = [dict(group) for group in optimizer.param_groups]
    extra = torch.ones(2, requires_grad=True)

    with pytest.raises(ValueError) as info:
        optimizer.add_param_group({"params": [extra], **bad})
    key = next(iter(bad))
    assert key in str(info.value)

    assert len(optimizer.param_groups) == len(before) == 1
    group = optimizer.param_groups[0]
    assert len(group["params"]) == 1 and group["params"][0] is first
    assert group.keys() == before[0].keys()
    for k, v in before[0].items():
        assert group[k] is v or group[k] == v, k
    # nothing of the refused group stays behind: the same tensor can be added with good values
    optimizer.add_param_group({"params": [extra]})
    assert len(optimizer.param_groups) == 2
    assert optimizer.param_groups[1]["params"][0] is extra


# --- sparse gradients --------------------------------------------------------------------


class _WithEmbedding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dense = nn.Linear(3, 1)
        self.emb = nn.Embedding(10, 3, sparse=True)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.dense(self.emb(index)).sum()


@pytest.mark.parametrize("named", [True, False], ids=["named", "unnamed"])
@pytest.mark.parametrize("nonfinite", ["raise", "skip", "ignore"])
@pytest.mark.parametrize(
    "cls", [presets.SGD, presets.Adam, presets.Adagrad, lecture.Adagrad], ids=_name
)
def test_sparse_gradient_raises_and_nothing_moves(cls, nonfinite, named):
    torch.manual_seed(0)
    model = _WithEmbedding()
    params = model.named_parameters() if named else model.parameters()
    optimizer = cls(params, lr=0.1, nonfinite=nonfinite)
    model(torch.tensor([1, 4, 4])).backward()
    assert model.emb.weight.grad.is_sparse and not model.dense.weight.grad.is_sparse
    before = [p.detach().clone() for p in model.parameters()]

    with pytest.raises(RuntimeError) as info:
        optimizer.step()

    message = str(info.value)
    assert "sparse" in message
    assert ("'emb.weight'" if named else "group 0, index 2") in message, message
    for p, old in zip(model.parameters(), before, strict=True):
        assert torch.equal(p.detach(), old)
    assert not any(optimizer.state.get(p) for p in model.parameters())


# --- non-finite gradients ----------------------------------------------------------------

NONFINITE_CONFIGS = [
    pytest.param(presets.SGD, {"lr": 0.05, "momentum": 0.9}, presets.SGD, id="SGD-momentum"),
    pytest.param(presets.Adam, {"lr": 0.01}, presets.Adam, id="Adam"),
    pytest.param(
        presets.RMSprop,
        {"lr": 0.01, "centered": True, "momentum": 0.5},
        presets.RMSprop,
        id="RMSprop-centered-momentum",
    ),
    pytest.param(lecture.Adagrad, {"lr": 0.1}, None, id="lecture.Adagrad"),
    pytest.param(presets.NAdam, {"lr": 0.01}, presets.NAdam, id="NAdam"),
    pytest.param(lecture.Momentum, {"lr": 0.05, "momentum": 0.9}, None, id="lecture.Momentum"),
]
NORMAL_STEPS = 3
POISONS = {"nan": NAN, "+inf": INF, "-inf": -INF}


def _model() -> nn.Module:
    """Four parameters named 0.weight, 0.bias, 2.weight, 2.bias, with fixed float64 values."""
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def _set_grads(params: list[torch.Tensor], t: int, poison: float | None = None, where=-1):
    """Deterministic gradients for step ``t`` (θ/2 + noise); ``poison`` goes into one entry of
    parameter ``where``, the others stay finite."""
    gen = torch.Generator().manual_seed(100 + t)
    for p in params:
        noise = torch.randn(p.shape, generator=gen, dtype=p.dtype)
        p.grad = p.detach() * 0.5 + noise
    if poison is not None:
        params[where].grad.view(-1)[1] = poison


def _snapshot(optimizer: torch.optim.Optimizer, params: list[torch.Tensor]) -> dict:
    state = {}
    for i, p in enumerate(params):
        if p in optimizer.state:
            state[i] = {
                k: v.detach().clone() if isinstance(v, torch.Tensor) else v
                for k, v in optimizer.state[p].items()
            }
    return {"params": [p.detach().clone() for p in params], "state": state}


def _assert_same(a: dict, b: dict) -> None:
    assert len(a["params"]) == len(b["params"])
    for x, y in zip(a["params"], b["params"], strict=True):
        assert torch.equal(x, y)
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        assert a["state"][i].keys() == b["state"][i].keys(), i
        for key, x in a["state"][i].items():
            y = b["state"][i][key]
            if isinstance(x, torch.Tensor):
                assert x.dtype == y.dtype and torch.equal(x, y), (i, key)
            else:
                assert x == y, (i, key)


def _warm_up(optimizer, params, steps=NORMAL_STEPS):
    for t in range(steps):
        _set_grads(params, t)
        optimizer.step()


@pytest.mark.parametrize("poison", list(POISONS), ids=str)
@pytest.mark.parametrize(("cls", "kwargs", "_torch_twin"), NONFINITE_CONFIGS)
def test_raise_names_the_parameter_and_step_and_changes_nothing(cls, kwargs, _torch_twin, poison):
    model = _model()
    params = list(model.parameters())
    optimizer = cls(model.named_parameters(), **kwargs)
    _warm_up(optimizer, params)
    assert len(optimizer.state) == len(params)  # the state is non-trivial
    before = _snapshot(optimizer, params)

    _set_grads(params, NORMAL_STEPS, POISONS[poison])  # only 2.bias is bad
    with pytest.raises(NonFiniteGradientError) as info:
        optimizer.step()

    err = info.value
    message = str(err)
    assert "'2.bias'" in message and f"step {NORMAL_STEPS}" in message, message
    assert "'2.bias'" in err.parameter
    assert err.step == NORMAL_STEPS
    assert isinstance(err, FloatingPointError)
    _assert_same(before, _snapshot(optimizer, params))
    assert optimizer.param_groups[0]["steps"] == NORMAL_STEPS


@pytest.mark.parametrize(("cls", "kwargs", "_torch_twin"), NONFINITE_CONFIGS)
def test_raise_without_names_says_group_and_index(cls, kwargs, _torch_twin):
    model = _model()
    params = list(model.parameters())
    optimizer = cls(
        [{"params": params[:2]}, {"params": params[2:], "lr": kwargs["lr"] / 2}], **kwargs
    )
    _warm_up(optimizer, params)
    before = _snapshot(optimizer, params)

    _set_grads(params, NORMAL_STEPS, NAN, where=2)  # group 1, index 0
    with pytest.raises(NonFiniteGradientError) as info:
        optimizer.step()

    assert info.value.parameter == "group 1, index 0"
    assert "group 1, index 0" in str(info.value) and f"step {NORMAL_STEPS}" in str(info.value)
    assert info.value.step == NORMAL_STEPS
    _assert_same(before, _snapshot(optimizer, params))


@pytest.mark.parametrize(("cls", "kwargs", "_torch_twin"), NONFINITE_CONFIGS)
def test_after_a_refused_step_training_goes_on_as_if_it_never_happened(cls, kwargs, _torch_twin):
    model, twin = _model(), _model()
    params, twin_params = list(model.parameters()), list(twin.parameters())
    optimizer, reference = cls(params, **kwargs), cls(twin_params, **kwargs)
    _warm_up(optimizer, params)
    _warm_up(reference, twin_params)
    _set_grads(params, NORMAL_STEPS, NAN, where=0)
    with pytest.raises(NonFiniteGradientError):
        optimizer.step()
    for t in range(NORMAL_STEPS, NORMAL_STEPS + 2):
        _set_grads(params, t)
        optimizer.step()
        _set_grads(twin_params, t)
        reference.step()
    _assert_same(_snapshot(reference, twin_params), _snapshot(optimizer, params))


@pytest.mark.parametrize(("cls", "kwargs", "_torch_twin"), NONFINITE_CONFIGS)
def test_skip_skips_the_whole_step_and_counts_it(cls, kwargs, _torch_twin):
    model, twin = _model(), _model()
    params, twin_params = list(model.parameters()), list(twin.parameters())
    optimizer = cls(params, nonfinite="skip", **kwargs)
    reference = cls(twin_params, nonfinite="skip", **kwargs)
    _warm_up(optimizer, params)
    _warm_up(reference, twin_params)
    assert optimizer.skipped_steps == 0
    before = _snapshot(optimizer, params)

    for poison in (NAN, INF):
        _set_grads(params, NORMAL_STEPS, poison)
        assert optimizer.step(lambda: 1.5) == 1.5  # the closure's loss still comes back
        _assert_same(before, _snapshot(optimizer, params))
    assert optimizer.skipped_steps == 2

    # a later finite step works, as if the skipped ones had never been offered
    for t in range(NORMAL_STEPS, NORMAL_STEPS + 2):
        _set_grads(params, t)
        optimizer.step()
        _set_grads(twin_params, t)
        reference.step()
    _assert_same(_snapshot(reference, twin_params), _snapshot(optimizer, params))
    assert optimizer.skipped_steps == 2 and reference.skipped_steps == 0


@pytest.mark.parametrize(("cls", "kwargs", "_torch_twin"), NONFINITE_CONFIGS)
def test_skipped_steps_survive_a_state_dict_round_trip(cls, kwargs, _torch_twin):
    model = _model()
    params = list(model.parameters())
    optimizer = cls(params, nonfinite="skip", **kwargs)
    _warm_up(optimizer, params)
    for _ in range(3):
        _set_grads(params, NORMAL_STEPS, NAN)
        optimizer.step()
    assert optimizer.skipped_steps == 3
    assert optimizer.state_dict()["skipped_steps"] == 3

    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    fresh_model = _model()
    fresh_params = list(fresh_model.parameters())
    with torch.no_grad():
        for p, q in zip(fresh_params, params, strict=True):
            p.copy_(q)
    fresh = cls(fresh_params, nonfinite="skip", **kwargs)
    assert fresh.skipped_steps == 0
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert fresh.skipped_steps == 3
    _assert_same(_snapshot(optimizer, params), _snapshot(fresh, fresh_params))

    _set_grads(fresh_params, 0, NAN)
    fresh.step()
    assert fresh.skipped_steps == 4


def test_loading_a_state_dict_without_skipped_steps_resets_the_count():
    params = list(_model().parameters())
    optimizer = presets.Adam(params, nonfinite="skip")
    _set_grads(params, 0, NAN)
    optimizer.step()
    assert optimizer.skipped_steps == 1
    torch_state = torch.optim.Adam(list(_model().parameters())).state_dict()
    optimizer.load_state_dict(torch_state)
    assert optimizer.skipped_steps == 0


IGNORE_CONFIGS = [
    pytest.param(cls, kwargs, twin, id=case.id)
    for case in NONFINITE_CONFIGS
    for (cls, kwargs, twin) in [case.values]
    if twin is not None
] + [
    pytest.param(presets.Adagrad, {"lr": 0.1}, presets.Adagrad, id="Adagrad"),
    pytest.param(
        presets.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}, presets.SGD, id="SGD-nest"
    ),
]


@pytest.mark.parametrize("poison", list(POISONS), ids=str)
@pytest.mark.parametrize(("cls", "kwargs", "twin"), IGNORE_CONFIGS)
def test_ignore_applies_the_step_as_torch_optim_does(cls, kwargs, twin, poison):
    torch_cls = getattr(torch.optim, twin.__name__)
    model, twin_model = _model(), _model()
    params, twin_params = list(model.parameters()), list(twin_model.parameters())
    optimizer = cls(params, nonfinite="ignore", **kwargs)
    reference = torch_cls(twin_params, **kwargs)
    for t in range(NORMAL_STEPS + 2):
        bad = POISONS[poison] if t == NORMAL_STEPS else None
        _set_grads(params, t, bad)
        _set_grads(twin_params, t, bad)
        optimizer.step()
        reference.step()
        for p, q in zip(params, twin_params, strict=True):
            torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert optimizer.skipped_steps == 0
    assert not torch.isfinite(params[-1]).all()  # the bad gradient did reach the parameter


@pytest.mark.parametrize("values", [[1e308] * 4, [1e308, 1e308, -1e308, -1e308]], ids=str)
def test_huge_but_finite_gradient_does_not_raise(values):
    grad = torch.tensor(values * 4, dtype=torch.float64)
    assert not math.isfinite(grad.sum().item())  # the sum overflows; no entry does
    theta = torch.ones(grad.numel(), dtype=torch.float64, requires_grad=True)
    other = torch.ones(2, dtype=torch.float64, requires_grad=True)
    optimizer = lecture.GD([theta, other], lr=1e-10)
    theta.grad, other.grad = grad.clone(), torch.ones(2, dtype=torch.float64)
    optimizer.step()
    torch.testing.assert_close(theta.detach(), 1 - 1e-10 * grad, rtol=1e-15, atol=0)
    assert torch.isfinite(theta).all()
    assert optimizer.skipped_steps == 0 and optimizer.param_groups[0]["steps"] == 1


def test_gradients_whose_sums_add_past_the_largest_double_do_not_raise():
    """On the CPU the check adds the gradients' sums as Python numbers: each sum is finite
    here, their total overflows, and the entries (all finite) decide."""
    a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = lecture.GD([a, b], lr=1e-10)
    a.grad = torch.tensor([1e308, 0.0], dtype=torch.float64)
    b.grad = torch.tensor([1e308, 0.0], dtype=torch.float64)
    assert math.isinf(a.grad.sum().item() + b.grad.sum().item())
    optimizer.step()
    assert optimizer.param_groups[0]["steps"] == 1
    assert a.detach().tolist() == [-1e-10 * 1e308, 0.0]


@pytest.mark.parametrize(
    ("where", "value", "refused"),
    [
        ("small", NAN, True),
        ("large", INF, True),
        ("large", -INF, True),
        ("small", 1e30, False),  # finite, but its square (the norm's) overflows float32
        ("large", 3e38, False),  # finite, but the sum overflows float32
    ],
)
def test_the_cpu_check_over_many_small_and_a_few_large_gradients(where, value, refused):
    """Twelve small gradients (read through one multi-tensor norm) and two large ones (each
    summed alone): one bad entry in either kind refuses the step with θ untouched; huge but
    finite entries do not."""
    sizes = [10] * 12 + [40_000] * 2
    params = [torch.zeros(n, requires_grad=True) for n in sizes]
    optimizer = presets.SGD(params, lr=1e-40)
    for p in params:
        p.grad = torch.ones_like(p)
    index = 3 if where == "small" else len(params) - 1
    params[index].grad[:2] = value
    if refused:
        with pytest.raises(NonFiniteGradientError) as info:
            optimizer.step()
        assert f"index {index}" in str(info.value)
        assert all(torch.equal(p, torch.zeros_like(p)) for p in params)
    else:
        optimizer.step()
        assert optimizer.param_groups[0]["steps"] == 1


def test_huge_but_finite_gradient_in_adam_matches_torch():
    grad = torch.full((16,), 1e308, dtype=torch.float64)
    a = torch.ones(16, dtype=torch.float64, requires_grad=True)
    b = torch.ones(16, dtype=torch.float64, requires_grad=True)
    ours, theirs = presets.Adam([a], lr=0.1), torch.optim.Adam([b], lr=0.1)
    a.grad, b.grad = grad.clone(), grad.clone()
    ours.step()  # does not raise: the gradient is finite, only g² overflows
    theirs.step()
    torch.testing.assert_close(a, b, rtol=1e-12, atol=0, equal_nan=True)


def test_huge_gradient_next_to_a_nan_names_the_nan():
    huge = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    broken = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = presets.SGD([huge, broken], lr=0.1)
    huge.grad = torch.full((8,), 1e308, dtype=torch.float64)
    broken.grad = torch.tensor([0.0, NAN], dtype=torch.float64)
    with pytest.raises(NonFiniteGradientError) as info:
        optimizer.step()
    assert info.value.parameter == "group 0, index 1"
    assert "1 of 2" in str(info.value)
    assert torch.equal(huge.detach(), torch.zeros(8, dtype=torch.float64))


def test_float32_gradient_near_its_max_does_not_raise():
    theta = torch.zeros(64, requires_grad=True)
    optimizer = lecture.GD([theta], lr=1e-30)
    theta.grad = torch.full((64,), 3e38)
    optimizer.step()
    torch.testing.assert_close(theta.detach(), torch.full((64,), -3e8), rtol=1e-6, atol=0)


def test_nonfinite_check_is_over_every_group_before_any_update():
    first = torch.ones(3, dtype=torch.float64, requires_grad=True)
    second = torch.ones(3, dtype=torch.float64, requires_grad=True)
    optimizer = presets.Adam([{"params": [first]}, {"params": [second], "lr": 0.5}])
    first.grad = torch.ones(3, dtype=torch.float64)
    second.grad = torch.tensor([1.0, -INF, 1.0], dtype=torch.float64)
    with pytest.raises(NonFiniteGradientError):
        optimizer.step()
    assert torch.equal(first.detach(), torch.ones(3, dtype=torch.float64))
    assert first not in optimizer.state and second not in optimizer.state
    assert [g["steps"] for g in optimizer.param_groups] == [0, 0]
