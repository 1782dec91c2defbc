"""What both callbacks share (ravine.integrations.doctor), without either framework: the
package imports without them, a missing framework names its extra, a step's loss is the mean
of its micro-batches', a skipped step records nothing."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from ravine.integrations.doctor import PREFIX, TrainerDoctor


def test_ravine_integrations_imports_without_the_frameworks(monkeypatch):
    for name in ("lightning", "lightning.pytorch", "transformers"):
        monkeypatch.setitem(sys.modules, name, None)  # import of these now fails
    for name in [m for m in sys.modules if m.startswith("ravine.integrations")]:
        monkeypatch.delitem(sys.modules, name)
    module = importlib.import_module("ravine.integrations")
    assert module.TrainerDoctor.__name__ == "TrainerDoctor"
    with pytest.raises(ImportError, match=r"pip install 'ravine\[lightning\]'"):
        importlib.import_module("ravine.integrations.lightning")
    with pytest.raises(ImportError, match=r"pip install 'ravine\[transformers\]'"):
        importlib.import_module("ravine.integrations.transformers")


def _setup() -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    x = torch.randn(8, 2)
    return model, torch.optim.SGD(model.parameters(), lr=0.05), x, x.sum(1, keepdim=True)


def test_a_steps_loss_is_the_mean_of_its_micro_batches():
    model, optimizer, x, y = _setup()
    doctor = TrainerDoctor()
    doctor.attach(model, optimizer)
    losses = []
    for half in (slice(0, 4), slice(4, 8)):  # two accumulated micro-batches
        loss = ((model(x[half]) - y[half]) ** 2).mean()
        (loss / 2).backward()
        doctor.add_loss(loss)
        losses.append(float(loss.detach()))
        assert doctor.record() is None  # no step yet
    doctor.before_step(optimizer)
    optimizer.step()
    numbers = doctor.record()
    assert numbers[PREFIX + "loss"] == pytest.approx(sum(losses) / 2)
    assert numbers[PREFIX + "lr"] == 0.05
    assert doctor.monitor.history[0]["loss"] == pytest.approx(sum(losses) / 2)


def test_a_skipped_step_records_nothing_and_forgets_its_losses():
    model, optimizer, x, y = _setup()
    doctor = TrainerDoctor()
    doctor.attach(model, optimizer)
    doctor.add_loss(torch.tensor(123.0))
    doctor.before_step(optimizer)  # a gradient scaler found inf: no optimizer.step()
    assert doctor.record() is None
    doctor.add_loss(torch.tensor(2.0))
    doctor.before_step(optimizer)
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    optimizer.step()
    assert doctor.record()[PREFIX + "loss"] == 2.0
    assert len(doctor.monitor.history) == 1


def test_a_step_without_a_loss_is_refused():
    model, optimizer, x, y = _setup()
    doctor = TrainerDoctor()
    doctor.attach(model, optimizer)
    ((model(x) - y) ** 2).mean().backward()
    optimizer.step()
    with pytest.raises(RuntimeError, match="must return the loss"):
        doctor.record()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"every": 0}, "every must be an integer >= 1, got 0"),
        ({"window": 1}, "window must be an integer >= 2, got 1"),
        ({"measure_every": 0}, "measure_every must be an integer >= 1, got 0"),
        ({"report": "stdout"}, "report must be a callable"),
    ],
)
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        TrainerDoctor(**options)


def test_too_few_steps_are_not_diagnosed_yet():
    model, optimizer, x, y = _setup()
    doctor = TrainerDoctor(window=10)
    doctor.attach(model, optimizer)
    assert "no optimizer step" in TrainerDoctor().diagnose()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    doctor.add_loss(loss)
    doctor.before_step(optimizer)
    optimizer.step()
    doctor.record()
    assert "not diagnosed yet" in doctor.diagnose()
    assert doctor.diagnosis is None
