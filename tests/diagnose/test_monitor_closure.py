"""The Monitor on an optimizer whose step() computes the gradient in a closure (as PyTorch
Lightning does): told when the gradient exists, it records what a plain loop records."""

from __future__ import annotations

import pytest
import torch

from ravine.diagnose.monitor import Monitor


def _problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(32, 3)
    return torch.nn.Linear(3, 1), x, x @ torch.tensor([[1.0], [-2.0], [0.5]])


def _history(closure: bool, steps: int = 9) -> list[dict[str, float]]:
    model, x, y = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    monitor = Monitor(model, optimizer, every=1, layers=False, closure=closure)

    def step_loss() -> torch.Tensor:
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        if closure:
            monitor.read_gradients()  # g^t exists now, before the update
        return loss

    for _ in range(steps):
        if closure:
            loss = optimizer.step(step_loss)
        else:
            loss = step_loss()
            optimizer.step()
        monitor.step(loss)
    return monitor.history


def test_told_when_the_gradient_exists_it_records_a_plain_loops_numbers():
    told, plain = _history(closure=True), _history(closure=False)
    assert len(told) == len(plain) == 9
    for a, b in zip(told, plain, strict=True):
        for key in a:
            assert a[key] == pytest.approx(b[key], nan_ok=True), key
    assert told[0]["gradient_norm"] > 0


def test_the_step_pre_hook_would_read_the_previous_steps_gradient():
    """Why closure=True exists: before the closure runs, .grad holds g^{t−1} (none at t = 0)."""
    model, x, y = _problem()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, optimizer, layers=False)  # the default: read in the pre-hook

    def step_loss() -> torch.Tensor:
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(3):
        monitor.step(optimizer.step(step_loss))
    plain = _history(closure=False, steps=3)
    assert monitor.history[0]["gradient_norm"] == 0  # no gradient yet
    assert monitor.history[1]["gradient_norm"] == pytest.approx(plain[0]["gradient_norm"])


def test_read_gradients_needs_closure_mode():
    model, _, _ = _problem()
    monitor = Monitor(model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(RuntimeError, match="closure=True"):
        monitor.read_gradients()
    with pytest.raises(ValueError, match="closure must be"):
        Monitor(model, torch.optim.SGD(model.parameters(), lr=0.1), closure="yes")
