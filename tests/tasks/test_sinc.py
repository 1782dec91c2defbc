"""The homework's sinc regression: the function, the seeded data, the 385-parameter network and
the task's MSE, each checked against numbers computed here by hand."""

import math

import pytest
import torch
from torch import nn

from ravine import tasks
from ravine.tasks import SINC_POINTS, Task, sinc, sinc_data, sinc_model, sinc_task


def test_sinc_values():
    x = torch.tensor([0.0, 0.1, 0.2, -0.3, 0.05], dtype=torch.float64)
    expected = [1.0, 2 / math.pi, 0.0, math.sin(-1.5 * math.pi) / (-1.5 * math.pi)]
    expected.append(math.sin(0.25 * math.pi) / (0.25 * math.pi))
    assert sinc(x).tolist() == pytest.approx(expected, abs=1e-15)


def test_data_is_seeded_uniform_on_minus_one_one():
    x, y = sinc_data()
    assert x.shape == y.shape == (SINC_POINTS, 1) == (200, 1)
    assert x.dtype == y.dtype == torch.float64
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert float(x.min()) < -0.95 and float(x.max()) > 0.95  # spread over the interval
    assert torch.allclose(y, torch.sin(5 * math.pi * x) / (5 * math.pi * x), rtol=1e-12, atol=1e-15)
    again, _ = sinc_data()
    other, _ = sinc_data(seed=1)
    assert torch.equal(x, again) and not torch.equal(x, other)
    small, _ = sinc_data(10, dtype=torch.float32)
    assert small.shape == (10, 1) and small.dtype == torch.float32


def test_bad_data_size_is_refused():
    with pytest.raises(ValueError, match="n must be a whole number >= 1, got 0"):
        sinc_data(0)


def test_model_is_linear_relu_linear_with_385_parameters():
    model = sinc_model(0)
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (model[0].in_features, model[0].out_features) == (1, 128)
    assert (model[2].in_features, model[2].out_features) == (128, 1)
    assert sum(p.numel() for p in model.parameters()) == 385 == sinc_task().parameters
    assert all(p.dtype == torch.float64 for p in model.parameters())
    # PyTorch's init: uniform in ±1/√fan_in (fan_in 1 for the first layer, 128 for the second)
    assert float(model[0].weight.detach().abs().max()) <= 1
    assert float(model[2].weight.detach().abs().max()) <= 1 / math.sqrt(128)


def test_model_is_seeded_and_leaves_the_global_generator_alone():
    state = torch.random.get_rng_state()
    a, b, c = sinc_model(3), sinc_model(3), sinc_model(4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_task_loss_is_the_mean_squared_error():
    task = sinc_task(seed=2)
    assert isinstance(task, Task) and task.name == "sinc" and task.seed == 2
    model = task.model()
    with torch.no_grad():
        hidden = torch.relu(task.inputs @ model[0].weight.T + model[0].bias)
        out = hidden @ model[2].weight.T + model[2].bias
        expected = float(((out - task.targets) ** 2).sum()) / 200
    assert float(task.loss(model).detach()) == pytest.approx(expected, rel=1e-12)
    assert torch.equal(task.model()[0].weight, sinc_model(2)[0].weight)
    assert torch.equal(task.model(5)[0].weight, sinc_model(5)[0].weight)


def test_task_registry():
    assert list(tasks.TASKS) == ["sinc", "diabetes", "digits", "reverse"]
    built = tasks.task("sinc", seed=7)
    assert built.seed == 7 and built.inputs.shape == (200, 1)
    valid = "valid: sinc, diabetes, digits, reverse"
    with pytest.raises(ValueError, match=f"unknown task 'mnist'; {valid}"):
        tasks.task("mnist")
