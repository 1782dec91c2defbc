"""State_dicts between torch.optim and ravine's presets, both ways.

A torch.optim state_dict taken after a few steps loads into the ravine preset of the same
algorithm (built with default hyperparameters: the dict's win) and the two continue to the
same parameters, and the other way round; in float64, two parameter groups with their own
hyperparameters, and the options that change the state (momentum, nesterov, dampening,
centered, amsgrad, lr_decay, initial_accumulator_value, momentum_decay, decoupled weight
decay). A dict of another algorithm, with another number of groups or parameters, or with state
of other shapes is refused with a ValueError naming the difference.
"""

from __future__ import annotations

import copy
import io
import itertools
import re

import pytest
import torch

from ravine.optim import CATALOG, interop, lecture, presets

F64 = torch.float64
BEFORE = 6  # steps before the state_dict is taken (RAdam's σ is rectified from step 6 on)
AFTER = 5  # steps after it
# ravine's Adagrad folds lr_decay into σ, so it rounds a little differently from torch's (the
# gaps measured here are below 3e-17 relative); every other algorithm continues bit for bit
REL = 1e-12

NAMES = ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "RAdam", "NAdam")

# (algorithm, hyperparameters of every group, those group 1 sets for itself)
CASES = [
    (
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
        {"momentum": 0.5},
    ),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, {"lr": 0.02}),
    ("SGD", {"lr": 0.05}, {"lr": 0.1, "weight_decay": 0.1}),
    # torch's Adagrad creates every state from the constructor's initial_accumulator_value,
    # so the groups share it here
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
        {"lr_decay": 0.1, "eps": 1e-6},
    ),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}, {"alpha": 0.9, "momentum": 0.5}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.01}, {"centered": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}, {"betas": (0.8, 0.99)}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, {"amsgrad": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}, {"amsgrad": True, "eps": 1e-6}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.01}, {"decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.01}, {"betas": (0.8, 0.99)}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}, {"lr": 0.02}),
]
CASE_IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.fixture(autouse=True)
def _float64():
    # float64 throughout, the scalar state (step, NAdam's Π μ) included, on both sides
    before = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    yield
    torch.set_default_dtype(before)


def _params() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (4,), (2, 4)]
    return [torch.randn(s, generator=gen, dtype=F64).requires_grad_() for s in shapes]


def _groups(params, own=None) -> list[dict]:
    return [{"params": params[:2]}, {"params": params[2:], **(own or {})}]


def _copy(params) -> list[torch.Tensor]:
    return [p.detach().clone().requires_grad_() for p in params]


def _train(params, optimizer, steps: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 3, generator=gen, dtype=F64)
    y = torch.randn(16, 2, generator=gen, dtype=F64)
    w1, b1, w2 = params
    for _ in range(steps):
        optimizer.zero_grad()
        ((torch.tanh(x @ w1.T + b1) @ w2.T - y) ** 2).mean().backward()
        optimizer.step()


def _saved(optimizer) -> dict:
    """The state_dict as a file gives it back: its own tensors, nothing shared."""
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _assert_same(expected, actual, exact: bool = True) -> None:
    for p, q in zip(expected, actual, strict=True):
        if exact:
            assert torch.equal(p, q)
        elif not torch.equal(p, q):
            gap = ((p - q).abs().max() / p.abs().max()).item()
            assert gap <= REL, f"relative gap {gap:.3g}"


def _trained(cls, kwargs, own, steps=BEFORE):
    params = _params()
    optimizer = cls(_groups(params, own), **kwargs)
    _train(params, optimizer, steps, seed=1)
    return params, optimizer


@pytest.mark.parametrize(("name", "kwargs", "own"), CASES, ids=CASE_IDS)
def test_a_torch_state_dict_continues_in_ravine_as_in_torch(name, kwargs, own):
    torch_params, torch_opt = _trained(getattr(torch.optim, name), kwargs, own)
    saved = _saved(torch_opt)
    params = _copy(torch_params)
    optimizer = getattr(presets, name)(_groups(params))  # default hyperparameters: the dict's win
    optimizer.load_state_dict(saved)

    # the group's step count, which a schedule reads, is torch's step (SGD counts none)
    expected_steps = 0 if name == "SGD" else BEFORE
    assert [g["steps"] for g in optimizer.param_groups] == [expected_steps] * 2
    assert optimizer.skipped_steps == 0
    for key in interop.TORCH_KERNEL_KEYS:
        assert all(key not in g for g in optimizer.param_groups)
    assert optimizer.param_groups[1]["lr"] == torch_opt.param_groups[1]["lr"]

    _train(torch_params, torch_opt, AFTER, seed=2)
    _train(params, optimizer, AFTER, seed=2)
    _assert_same(torch_params, params, exact=name != "Adagrad")

    # and what ravine then holds is what torch holds, in torch's own format
    _assert_same_state_dict(torch_opt.state_dict(), interop.to_torch_state_dict(optimizer))


def _assert_same_state_dict(torch_state: dict, translated: dict) -> None:
    for ours, theirs in zip(translated["param_groups"], torch_state["param_groups"], strict=True):
        kernel = set(interop.TORCH_KERNEL_KEYS)
        assert ours.keys() == theirs.keys() - kernel
        assert ours == {k: v for k, v in theirs.items() if k not in kernel}
    assert translated["state"].keys() == torch_state["state"].keys()
    for index, entry in torch_state["state"].items():
        assert translated["state"][index].keys() == entry.keys()
        for key, value in entry.items():
            ours = translated["state"][index][key]
            if value is None:
                assert ours is None
            else:
                assert ours.dtype == value.dtype and ours.shape == value.shape, key
                torch.testing.assert_close(ours, value, rtol=REL, atol=0)


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "to_torch_state_dict"])
@pytest.mark.parametrize(("name", "kwargs", "own"), CASES, ids=CASE_IDS)
def test_a_ravine_state_dict_continues_in_torch_as_in_ravine(name, kwargs, own, direct):
    params, optimizer = _trained(getattr(presets, name), kwargs, own)
    saved = _saved(optimizer)
    if not direct:
        buffer = io.BytesIO()
        torch.save(interop.to_torch_state_dict(optimizer), buffer)
        buffer.seek(0)
        saved = torch.load(buffer, weights_only=True)
        assert "skipped_steps" not in saved
        assert all("steps" not in g for g in saved["param_groups"])
    torch_params = _copy(params)
    torch_opt = getattr(torch.optim, name)(_groups(torch_params))
    torch_opt.load_state_dict(saved)

    _train(params, optimizer, AFTER, seed=2)
    _train(torch_params, torch_opt, AFTER, seed=2)
    _assert_same(params, torch_params, exact=name != "Adagrad")

    # and back: torch's dict (stale ravine keys and all, when loaded directly) into ravine
    back_params = _copy(torch_params)
    back = getattr(presets, name)(_groups(back_params))
    back.load_state_dict(_saved(torch_opt))
    if name != "SGD":
        assert back.param_groups[0]["steps"] == optimizer.param_groups[0]["steps"]
    _train(params, optimizer, AFTER, seed=3)
    _train(back_params, back, AFTER, seed=3)
    _assert_same(params, back_params, exact=name != "Adagrad")


def test_adagrad_to_torch_state_dict_holds_the_state_torch_would_create():
    # torch.optim.Adagrad creates its state at construction, from the constructor's value;
    # ravine creates it on the first update, from the group's: the translated dict holds it
    params = _params()
    groups = _groups(params, {"initial_accumulator_value": 0.5})
    optimizer = presets.Adagrad(groups, lr=0.1, initial_accumulator_value=0.1)
    translated = interop.to_torch_state_dict(optimizer)
    assert sorted(translated["state"]) == [0, 1, 2]
    assert torch.equal(translated["state"][2]["sum"], torch.full((2, 4), 0.5))
    assert translated["state"][0]["step"] == 0
    torch_params = _copy(params)
    torch_opt = torch.optim.Adagrad(_groups(torch_params))
    torch_opt.load_state_dict(copy.deepcopy(translated))
    _train(params, optimizer, AFTER, seed=2)
    _train(torch_params, torch_opt, AFTER, seed=2)
    _assert_same(params, torch_params, exact=False)


def test_a_schedule_continues_from_the_torch_step():
    def schedule(t):
        return 0.1 / (1 + t)

    torch_params, torch_opt = _trained(torch.optim.Adam, {"lr": 0.01}, None)
    optimizer = presets.Adam(_groups(_copy(torch_params)), lr=schedule)
    optimizer.load_state_dict(_saved(torch_opt))
    assert [g["steps"] for g in optimizer.param_groups] == [BEFORE, BEFORE]
    assert optimizer.param_groups[0]["lr"] == schedule(BEFORE)


def test_torch_adam_and_adamw_dicts_load_into_either_as_torch_loads_them():
    # torch.optim.AdamW sets decoupled weight decay on whatever it loads; torch.optim.Adam
    # reads the dict's
    for source, target in [("Adam", "AdamW"), ("AdamW", "Adam")]:
        torch_params, torch_opt = _trained(
            getattr(torch.optim, source), {"weight_decay": 0.1}, None
        )
        saved = _saved(torch_opt)
        twin_params = _copy(torch_params)
        twin = getattr(torch.optim, target)(_groups(twin_params))
        twin.load_state_dict(copy.deepcopy(saved))
        params = _copy(torch_params)
        optimizer = getattr(presets, target)(_groups(params))
        optimizer.load_state_dict(saved)
        expected = target == "AdamW" or source == "AdamW"
        assert optimizer.param_groups[0]["decoupled_weight_decay"] is expected
        _train(twin_params, twin, AFTER, seed=2)
        _train(params, optimizer, AFTER, seed=2)
        _assert_same(twin_params, params)


# --- refused ----------------------------------------------------------------------------------


def _same_family(a: str, b: str) -> bool:
    return {a, b} == {"Adam", "AdamW"}


OTHER_ALGORITHM = [
    pytest.param(source, target, id=f"{source}-into-{target}")
    for source, target in itertools.permutations(NAMES, 2)
    if not _same_family(source, target)
]


@pytest.mark.parametrize("origin", ["torch", "ravine"])
@pytest.mark.parametrize(("source", "target"), OTHER_ALGORITHM)
def test_a_state_dict_of_another_algorithm_is_refused(source, target, origin):
    library = torch.optim if origin == "torch" else presets
    # momentum, so that SGD and RMSprop keep a momentum buffer as state
    extra = {"momentum": 0.9} if source in ("SGD", "RMSprop") else {}
    _, other = _trained(getattr(library, source), {"lr": 0.01, **extra}, None, steps=2)
    params = _params()
    optimizer = getattr(presets, target)(_groups(params))
    before = _hyperparameters(optimizer)
    with pytest.raises(ValueError, match="another algorithm") as info:
        optimizer.load_state_dict(_saved(other))
    assert f"than {target}'s" in str(info.value)
    assert re.search(rf"those of [A-Za-z/]*\b{source}\b", str(info.value))
    # nothing was loaded
    assert not optimizer.state
    assert _hyperparameters(optimizer) == before


def _hyperparameters(optimizer) -> list[dict]:
    return [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]


def test_the_error_names_the_keys_that_differ():
    _, sgd = _trained(torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}, None, steps=1)
    optimizer = presets.Adam(_groups(_params()))
    message = (
        "the state_dict is of another algorithm than Adam's: its parameter group 0 lacks "
        "'betas', 'eps', 'amsgrad' and holds 'dampening', 'momentum', 'nesterov' (its "
        "hyperparameters are those of SGD)"
    )
    with pytest.raises(ValueError) as info:
        optimizer.load_state_dict(sgd.state_dict())
    assert str(info.value) == message


def test_another_number_of_parameters_is_refused():
    params = _params()
    torch_opt = torch.optim.Adam([{"params": params[:1]}, {"params": params[1:]}])
    _train(params, torch_opt, 1, seed=1)
    optimizer = presets.Adam(_groups(_params()))
    with pytest.raises(ValueError, match=r"group 0 of the state_dict holds 1 parameter\(s\), "):
        optimizer.load_state_dict(torch_opt.state_dict())
    one_group = torch.optim.Adam(_params())
    with pytest.raises(ValueError, match=r"has 1 parameter group\(s\), the optimizer has 2"):
        optimizer.load_state_dict(one_group.state_dict())
    assert not optimizer.state


@pytest.mark.parametrize("origin", ["torch", "ravine"])
def test_state_of_other_shapes_is_refused(origin):
    library = torch.optim if origin == "torch" else presets
    gen = torch.Generator().manual_seed(0)
    other = [torch.randn(s, generator=gen).requires_grad_() for s in [(3, 4), (4,), (2, 4)]]
    source = library.Adam(_groups(other))
    for p in other:
        p.grad = torch.ones_like(p)
    source.step()
    named = list(zip(["w1", "b1", "w2"], _params(), strict=True))
    optimizer = presets.Adam([{"params": named[:2]}, {"params": named[2:]}])
    with pytest.raises(ValueError) as info:
        optimizer.load_state_dict(source.state_dict())
    assert str(info.value) == (
        "state 'exp_avg' of parameter 'w1' (group 0, index 0) has shape (3, 4), the parameter "
        "has shape (4, 3)"
    )


def test_state_keys_of_another_algorithm_are_refused():
    params, torch_opt = _trained(torch.optim.Adam, {}, None, steps=1)
    saved = torch_opt.state_dict()
    saved["state"][0] = {**saved["state"][0], "momentum_buffer": torch.zeros(4, 3)}
    optimizer = presets.Adam(_groups(_copy(params)))
    with pytest.raises(ValueError, match=r"holds 'momentum_buffer', which torch.optim.Adam does"):
        optimizer.load_state_dict(saved)
    del saved["state"][0]["momentum_buffer"]
    del saved["state"][0]["exp_avg"]
    with pytest.raises(ValueError, match=r"parameter group 0, index 0 lacks 'exp_avg'"):
        optimizer.load_state_dict(saved)


def test_only_the_presets_read_torch_state_dicts():
    params, torch_opt = _trained(torch.optim.SGD, {"lr": 0.01}, None, steps=1)
    optimizer = lecture.GD(_groups(_copy(params)))
    with pytest.raises(ValueError, match="only ravine's torch-exact presets"):
        optimizer.load_state_dict(torch_opt.state_dict())
    with pytest.raises(ValueError, match=r"GD has no torch\.optim counterpart"):
        interop.to_torch_state_dict(optimizer)
    # its own dicts still load
    optimizer.load_state_dict(_saved(optimizer))


# --- the formats are torch's ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_each_format_names_its_torch_classs_group_keys(name):
    fmt = getattr(presets, name).torch_format
    assert fmt.name == f"torch.optim.{name}"
    torch_keys = set(getattr(torch.optim, name)(_params()).defaults)
    common = {"lr", "weight_decay", *interop.TORCH_ASSUMED}
    stored = {*fmt.hyperparameters, *fmt.assumed, *common}
    assert torch_keys - set(interop.TORCH_KERNEL_KEYS) == stored
    # every key ravine's preset reads comes from torch's dict or is fixed by the algorithm
    ravine_keys = set(getattr(presets, name)(_params()).defaults)
    assert ravine_keys == stored | set(fmt.fixed) | {"decoupled_weight_decay"}
    for key, value in fmt.fixed.items():
        assert getattr(presets, name)(_params()).defaults[key] == value, key


def test_a_tensor_learning_rate_and_betas_load_as_numbers():
    # torch accepts η and β as tensors; ravine reads numbers
    lr, betas = torch.tensor(0.01), (torch.tensor(0.8), torch.tensor(0.99))
    torch_params, torch_opt = _trained(
        torch.optim.Adam, {"lr": lr, "betas": betas, "foreach": False}, None
    )
    params = _copy(torch_params)
    optimizer = presets.Adam(_groups(params))
    optimizer.load_state_dict(_saved(torch_opt))
    assert optimizer.param_groups[0]["lr"] == 0.01
    assert optimizer.param_groups[0]["betas"] == (0.8, 0.99)
    assert all(type(b) is float for b in optimizer.param_groups[0]["betas"])
    _train(torch_params, torch_opt, AFTER, seed=2)
    _train(params, optimizer, AFTER, seed=2)
    _assert_same(torch_params, params)


# --- loading twice, another algorithm's fixed keys, a state entry missing -------------------

CATALOG_NAMES = tuple(CATALOG)  # every name the command line knows


def _stepped(name: str, steps: int = 2):
    from ravine.optim import create

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).double()
    optimizer = create(name, model.parameters())
    for _ in range(steps):
        optimizer.zero_grad()
        model(torch.randn(4, 3, dtype=F64)).square().sum().backward()
        optimizer.step()
    return model, optimizer


@pytest.mark.parametrize("name", CATALOG_NAMES)
def test_the_same_dict_loads_twice(name):
    """torch's own load adds its kernel keys (``differentiable``, …) to ``defaults``; a second
    load (as Hugging Face's resume does) must not read them as another algorithm's."""
    from ravine.optim import create

    model, optimizer = _stepped(name)
    saved = optimizer.state_dict()
    again = create(name, model.parameters())
    again.load_state_dict(saved)
    again.load_state_dict(saved)
    assert again.state_dict()["param_groups"] == saved["param_groups"]


def test_a_torch_dict_loads_twice():
    model, _ = _stepped("adam")
    theirs = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3, dtype=F64)).sum().backward()
    theirs.step()
    ours = presets.Adam(model.parameters())
    ours.load_state_dict(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert ours.param_groups[0]["steps"] == 1


def test_adamw_refuses_a_coupled_adam_dict():
    model, adam = _stepped("adam")
    adamw = presets.AdamW(model.parameters())
    before = copy.deepcopy(adamw.state_dict())
    fixes = r"decoupled_weight_decay=False, which torch\.optim\.AdamW fixes"
    with pytest.raises(ValueError, match=fixes):
        adamw.load_state_dict(adam.state_dict())
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True
    assert adamw.state_dict() == before


def test_adamw_takes_a_decoupled_adam_dict():
    model, _ = _stepped("adam")
    decoupled = presets.Adam(model.parameters(), decoupled_weight_decay=True, weight_decay=0.1)
    model(torch.randn(4, 3, dtype=F64)).sum().backward()
    decoupled.step()
    adamw = presets.AdamW(model.parameters())
    adamw.load_state_dict(decoupled.state_dict())
    assert adamw.param_groups[0]["weight_decay"] == 0.1


# (SGD and GD without momentum keep only the step count: an entry without it is empty, which is
# a parameter not updated yet, and loads as such)
@pytest.mark.parametrize("name", [n for n in CATALOG_NAMES if n not in ("sgd", "gd")])
def test_a_missing_state_entry_is_refused_at_load(name):
    _, optimizer = _stepped(name)
    saved = copy.deepcopy(optimizer.state_dict())
    key = min(k for k in saved["state"][0] if k != "step")
    del saved["state"][0][key]
    fresh = _stepped(name, steps=0)[1]
    before = copy.deepcopy(fresh.state_dict())
    with pytest.raises(ValueError, match=rf"parameter group 0, index 0 lacks '{key}'"):
        fresh.load_state_dict(saved)
    assert fresh.state_dict() == before
