"""The built-in tasks beyond sinc: data as documented, the lecture-1 model family from specs,
the losses by hand, and clear errors for unknown names and malformed specs."""

import math

import pytest
import torch
from torch import nn

from ravine import tasks
from ravine.tasks import parse_model, softmax_mse


def test_model_specs_build_the_lecture_family():
    linear = parse_model("linear").build(10, 1)
    assert [type(m) for m in linear] == [nn.Linear]
    sigmoid = parse_model("sigmoid:units=7").build(10, 1)
    assert [type(m) for m in sigmoid] == [nn.Linear, nn.Sigmoid, nn.Linear]
    assert sigmoid[0].out_features == 7
    relu = parse_model("relu").build(3, 2)
    assert [type(m) for m in relu] == [nn.Linear, nn.ReLU, nn.Linear]
    assert relu[0].out_features == 64 and relu[2].out_features == 2
    deep = parse_model("deep:layers=2,units=5,activation=sigmoid,norm=batch").build(4, 3)
    kinds = [type(m) for m in deep]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.Sigmoid] * 2 + [nn.Linear]


def test_a_spec_reads_back_as_itself_and_models_are_seeded():
    spec = parse_model(" deep : units=8 ")
    assert spec.spec == "deep:layers=3,units=8,activation=relu,norm=none"
    assert parse_model(spec.spec) == spec
    first, again, other = (spec.build(2, 1, seed=s) for s in (3, 3, 4))
    pairs = zip(first.parameters(), again.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert not torch.equal(first[0].weight, other[0].weight)
    state = torch.random.get_rng_state()
    spec.build(2, 1, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is untouched


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("wide", r"unknown model 'wide' in 'wide'; valid: linear, sigmoid, relu, deep"),
        ("relu:layers=2", r"model 'relu' has no key 'layers'; valid keys: units"),
        ("linear:units=3", r"model 'linear' has no key 'units'; valid keys: none"),
        ("deep:units=0", r"units must be a whole number >= 1, got '0'"),
        ("deep:layers=two", r"layers must be a whole number >= 1, got 'two'"),
        ("deep:activation=tanh", r"activation must be one of relu, sigmoid, got 'tanh'"),
        ("deep:norm=layer", r"norm must be one of none, batch, got 'layer'"),
        ("deep:units", r"expected key=value, got 'units'"),
        ("", r"model spec must be text"),
    ],
)
def test_malformed_model_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_model(spec)


def test_diabetes_is_standardized_and_reports_error_in_points():
    t = tasks.task("diabetes")
    assert t.inputs.shape == (442, 10) and t.targets.shape == (442, 1)
    assert torch.allclose(t.inputs.mean(0), torch.zeros(10), atol=1e-5)
    assert torch.allclose(t.inputs.std(0), torch.ones(10), atol=1e-5)
    assert float(t.targets.std()) == pytest.approx(1, abs=1e-5)
    assert t.model_spec == "sigmoid:units=64" and t.loss_name == "mse"
    # predicting the mean misses by the mean absolute deviation, in progression points
    zeros = torch.zeros_like(t.targets)
    from sklearn.datasets import load_diabetes

    y = torch.as_tensor(load_diabetes().target, dtype=torch.float64)
    assert t.metric(zeros, t.targets) == pytest.approx(float((y - y.mean()).abs().mean()), 1e-5)
    mae = tasks.task("diabetes", model="linear", loss="mae")
    assert mae.parameters == 11  # y = b + Σ_j w_j x_j over 10 features
    assert float(mae.loss_fn(zeros, t.targets)) == pytest.approx(
        float(t.targets.abs().mean()), 1e-6
    )


def test_digits_are_scaled_pixels_and_ten_classes():
    t = tasks.task("digits")
    assert t.inputs.shape == (1797, 64) and t.targets.shape == (1797,)
    assert float(t.inputs.min()) == 0 and float(t.inputs.max()) == 1
    assert sorted(t.targets.unique().tolist()) == list(range(10))
    assert t.classes == 10 and t.metric_name == "accuracy"
    logits = t.model()(t.inputs)
    assert logits.shape == (1797, 10)
    # cross-entropy of a fresh network is near ln 10
    assert float(t.loss(t.model()).detach()) == pytest.approx(math.log(10), abs=0.15)


def test_softmax_mse_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)], [2.0, 2.0]], dtype=torch.float64)
    labels = torch.tensor([1, 0])
    # p = (1/4, 3/4): (1/4)² + (1/4)² = 1/8;  p = (1/2, 1/2): 1/4 + 1/4 = 1/2
    assert float(softmax_mse(logits, labels)) == pytest.approx((1 / 8 + 1 / 2) / 2, rel=1e-12)
    mse = tasks.task("digits", loss="mse")
    assert mse.loss_name == "mse" and mse.loss_fn is softmax_mse


def test_reverse_task_is_the_warmup_experiments_sequence_task():
    t = tasks.task("reverse")
    assert t.inputs.shape == (2048, 8) and torch.equal(t.targets, t.inputs.flip(-1))
    assert t.model()(t.inputs[:4]).shape == (4, 8, 16)
    assert float(t.loss(t.model()).detach()) == pytest.approx(math.log(16), abs=0.5)
    with pytest.raises(ValueError, match=r"task 'reverse' has one model, 'transformer'"):
        tasks.task("reverse", model="relu")


def test_every_task_takes_a_model_spec_and_checks_its_loss():
    for name in ("sinc", "diabetes", "digits"):
        built = tasks.task(name, model="deep:layers=2,units=4")
        assert built.model_spec == "deep:layers=2,units=4,activation=relu,norm=none"
        out = built.model()(built.inputs[:5])
        assert out.shape[0] == 5
    with pytest.raises(ValueError, match=r"task 'digits' has no loss 'mae'; valid: cross-entropy"):
        tasks.task("digits", loss="mae")
    with pytest.raises(ValueError, match=r"task 'sinc' has no loss 'hinge'; valid: mse, mae"):
        tasks.task("sinc", loss="hinge")
