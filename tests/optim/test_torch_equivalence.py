"""Every named optimizer matches torch.optim: same parameters after training a small real model
with real (mini-batch) gradients, hyperparameters drawn at random over their valid ranges."""

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ravine.optim import catalog
from ravine.optim.equivalence import compare_with_torch

FLOAT64_STEPS, FLOAT64_RTOL = 100, 1e-9
FLOAT32_STEPS, FLOAT32_RTOL = 20, 1e-4

# The ranges are each hyperparameter's valid domain, with two limits that keep the training
# itself well defined: η small enough that the small net does not diverge (a nan gradient is
# refused by ravine by design), and ε > 0 (with ε = 0 an exactly-zero gradient entry gives
# 0/0 in torch as in ravine).
lr = st.floats(1e-4, 0.05)
decay = st.one_of(st.just(0.0), st.floats(1e-4, 0.1))
eps = st.floats(1e-10, 1e-3)
flag = st.booleans()
beta1 = st.floats(0.0, 0.99)
beta2 = st.floats(0.0, 0.9999)


@st.composite
def sgd_options(draw):
    momentum = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.95)))
    nesterov = momentum > 0 and draw(flag)
    dampening = 0.0 if nesterov else draw(st.floats(0.0, 1.0))
    return dict(
        lr=draw(lr),
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
        weight_decay=draw(decay),
        maximize=draw(flag),
    )


def adam_family(**own):
    """Options every Adam-like optimizer has, plus its own."""
    shared = dict(lr=lr, betas=st.tuples(beta1, beta2), eps=eps, weight_decay=decay, maximize=flag)
    return st.fixed_dictionaries({**shared, **own})


OPTIONS = {
    "sgd": sgd_options(),
    "adagrad": st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 0.5),
            lr_decay=decay,
            weight_decay=decay,
            initial_accumulator_value=st.floats(0.0, 1.0),
            eps=eps,
            maximize=flag,
        )
    ),
    "rmsprop": st.fixed_dictionaries(
        dict(
            lr=st.floats(1e-4, 0.01),
            alpha=st.floats(0.5, 0.999),
            eps=eps,
            weight_decay=decay,
            momentum=st.one_of(st.just(0.0), st.floats(0.0, 0.9)),
            centered=flag,
            maximize=flag,
        )
    ),
    "adam": adam_family(amsgrad=flag, decoupled_weight_decay=flag),
    "adamw": adam_family(amsgrad=flag),
    "radam": adam_family(decoupled_weight_decay=flag),
    "nadam": adam_family(momentum_decay=st.floats(0.0, 0.01), decoupled_weight_decay=flag),
}
# The catalog names that are torch classes with other defaults, and the lecture's GD/movement
# (equal to torch's SGD for a constant η).
OPTIONS["momentum"] = OPTIONS["sgd"]
OPTIONS["gd"] = st.fixed_dictionaries(dict(lr=lr, weight_decay=decay, maximize=flag))
OPTIONS["lecture-momentum"] = st.fixed_dictionaries(
    dict(lr=lr, momentum=st.floats(0.0, 0.95), weight_decay=decay, maximize=flag)
)

# Group 0 gets its own learning rate and, where it has one, its own momentum-like knob.
GROUP_KNOBS = {"sgd": "dampening", "momentum": "dampening", "rmsprop": "alpha", "adagrad": "eps"}


def test_every_torch_backed_optimizer_is_drawn():
    backed = {name for name, e in catalog.CATALOG.items() if e.torch_class is not None}
    assert backed == set(OPTIONS)


@pytest.mark.parametrize("name", sorted(OPTIONS))
@settings(max_examples=30, deadline=None, derandomize=True)
@given(data=st.data())
def test_float64_matches_torch_after_100_steps(name, data):
    options = data.draw(OPTIONS[name], label="options")
    group0 = {"lr": data.draw(lr, label="group-0 lr")}
    knob = GROUP_KNOBS.get(name)
    if knob == "dampening" and not options["nesterov"]:
        group0["dampening"] = data.draw(st.floats(0.0, 1.0), label="group-0 dampening")
    elif knob == "alpha":
        group0["alpha"] = data.draw(st.floats(0.5, 0.999), label="group-0 alpha")
    elif knob == "eps":
        group0["eps"] = data.draw(eps, label="group-0 eps")
    elif "betas" in options:
        group0["betas"] = data.draw(st.tuples(beta1, beta2), label="group-0 betas")
    result = compare_with_torch(
        name, options, per_group=(group0, {}), steps=FLOAT64_STEPS, dtype=torch.float64
    )
    assert result.relative_error <= FLOAT64_RTOL, result


@pytest.mark.parametrize("name", sorted(OPTIONS))
@settings(max_examples=10, deadline=None, derandomize=True)
@given(data=st.data())
def test_float32_matches_torch_after_20_steps(name, data):
    options = data.draw(OPTIONS[name], label="options")
    result = compare_with_torch(name, options, steps=FLOAT32_STEPS, dtype=torch.float32)
    assert result.relative_error <= FLOAT32_RTOL, result


def test_the_comparison_sees_a_different_algorithm(monkeypatch):
    """The harness must be able to fail: Adam measured against torch's SGD is far off."""
    wrong = dataclasses.replace(catalog.CATALOG["adam"], torch_class=torch.optim.Adamax)
    monkeypatch.setitem(catalog.CATALOG, "adam", wrong)
    result = compare_with_torch("adam", {"lr": 0.01}, steps=20)
    assert result.relative_error > 1e-3


def test_training_actually_moves_the_parameters():
    """A comparison of two optimizers that never move would pass trivially."""
    result = compare_with_torch("adam", {"lr": 0.01}, steps=50)
    untrained = compare_with_torch("adam", {"lr": 0.0}, steps=50)
    assert result.final_loss < 0.9 * untrained.final_loss
