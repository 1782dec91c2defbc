"""The training Monitor and its stuck classifier, on runs whose truth is known.

The error surfaces give the truth: on the valley, gradient descent with η = 1e-2 bounces between
the walls (η·400 = 4 > 2) while ‖∇L‖ stays at 400·tanh(w̄); on the minimum surface a step
η = 1 multiplies θ2 by 1 − 4η = −3, so the loss grows ninefold per step; started on the saddle's
ridge (θ2 = 0), descent slides into the saddle point, where the Hessian is diag(2, −2).
"""

from __future__ import annotations

import csv
import math
import os
import sys

import numpy as np
import pytest
import torch
from torch import nn

import ravine.optim as ro
from ravine.diagnose.monitor import (
    EFFECTIVE_LR_KEYS,
    EFFECTIVE_LR_SAMPLE,
    VERDICTS,
    Monitor,
    diagnose_training,
)
from ravine.experiments.stuck import bounce_point
from ravine.surfaces import surface


class Point(nn.Module):
    """θ = (θ1, θ2) as a module whose output is θ itself: L = surface.loss(model(x))."""

    def __init__(self, start) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(start, dtype=torch.float64))

    def forward(self, inputs=None) -> torch.Tensor:
        return self.theta


def descend(
    name: str,
    lr: float,
    steps: int,
    *,
    start=None,
    optimizer=ro.SGD,
    **monitor_options,
):
    """``steps`` updates on a surface under a Monitor attached in two lines; returns it."""
    loss_fn = surface(name).loss
    model = Point(surface(name).start if start is None else start)
    opt = optimizer(model.parameters(), lr=lr)
    monitor = Monitor(model, opt, **monitor_options)
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model.theta)
        loss.backward()
        opt.step()
        monitor.step(loss)
    return monitor


def regression_with_adam(steps: int = 300) -> Monitor:
    """A small MLP fitting y = sin(3x) with Adam: a healthy run."""
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 64).unsqueeze(1)
    y = torch.sin(3 * x)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = ro.Adam(model.parameters(), lr=1e-2)
    monitor = Monitor(model, opt)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        monitor.step(loss)
    return monitor


# --- the verdict table --------------------------------------------------------------------------

CASES = {
    "valley, GD, η = 1e-2: bounces between the walls": (
        lambda: descend("valley", 1e-2, 1000),
        "oscillating",
    ),
    "valley, torch.optim.SGD, η = 1e-2": (
        lambda: descend("valley", 1e-2, 1000, optimizer=torch.optim.SGD),
        "oscillating",
    ),
    "valley, GD, η = 1e-7: crawls down the wall": (
        lambda: descend("valley", 1e-7, 1000),
        "crawling",
    ),
    "minimum, GD, η = 1e-2, early": (lambda: descend("minimum", 1e-2, 150), "progressing"),
    "small regression MLP, Adam": (regression_with_adam, "progressing"),
    "minimum, GD, η = 1 (1 − 4η = −3)": (lambda: descend("minimum", 1.0, 60), "diverged"),
    "saddle, GD from the ridge (1.5, 0)": (
        lambda: descend("saddle", 0.05, 300, start=(1.5, 0.0)),
        "near a critical point",
    ),
    "saddle, GD from (1.5, 1e-3): off the saddle into a minimum": (
        lambda: descend("saddle", 0.05, 400),
        "near a critical point",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verdict_table(case):
    run, expected = CASES[case]
    diagnosis = run().diagnose(window=100)
    assert diagnosis.verdict == expected, (case, diagnosis.evidence, diagnosis.checks)
    assert diagnosis.verdict in VERDICTS
    assert diagnosis.remedy


# --- oscillating: the lecture's valley ------------------------------------------------------------


def test_valley_oscillates_with_large_gradient_and_flipping_direction():
    monitor = descend("valley", 1e-2, 1000)
    d = monitor.diagnose(window=100)
    w = bounce_point(1e-2, 400.0)  # w̄ = 2·tanh(w̄): the walls GD bounces between
    assert d.verdict == "oscillating"
    assert d.evidence["gradient_norm_now"] == pytest.approx(400 * math.tanh(w), rel=1e-6)
    assert d.evidence["gradient_norm_ratio"] > 0.95  # ‖g‖ stayed at ~383 of its initial ~398
    assert abs(d.evidence["relative_loss_change"]) < 1e-9
    assert d.evidence["mean_gradient_cosine"] == pytest.approx(-1.0, abs=1e-6)
    assert d.checks == {
        "nonfinite": False,
        "risen": False,
        "flat": True,
        "rising": False,
        "gradient_small": False,
        "gradient_large": True,
        "gradient_kept": True,
        "steady": False,
        "no_progress": False,
        "anticorrelated": True,
    }
    assert "Adagrad" in d.remedy and "decay" in d.remedy
    # the bounce itself, from the record: |w1| = w̄ and each step crosses the valley, 2·w̄
    last = monitor.history[-8]  # a detailed step (every 8th)
    assert last["step"] % 8 == 0
    assert last["weight_norm"] == pytest.approx(w, rel=1e-5)
    assert last["update_norm"] == pytest.approx(2 * w, rel=1e-5)


def test_lambda_max_across_the_valley_confirms_overshoot_and_at_the_wall_does_not():
    monitor = descend("valley", 1e-2, 1000)
    floor = float(surface("valley").hessian(torch.zeros(2, dtype=torch.float64))[0, 0])
    assert floor == 400.0
    d = monitor.diagnose(hessian_max_eigenvalue=lambda: floor)
    assert d.verdict == "oscillating"
    assert d.evidence["lr_times_max_eigenvalue"] == pytest.approx(4.0)
    assert d.checks["overshoots"] is True
    # λ_max at the wall, 400/cosh²(w̄) ≈ 33: η·λ = 0.33 < 2, so no overshoot can explain the flips
    wall = 400 / math.cosh(bounce_point(1e-2, 400.0)) ** 2
    d = monitor.diagnose(hessian_max_eigenvalue=wall)
    assert d.verdict == "progressing"
    assert d.checks["overshoots"] is False
    assert d.evidence["lr_times_max_eigenvalue"] == pytest.approx(1e-2 * wall)
    assert "< 2" in d.remedy


def test_tiny_learning_rate_crawls_instead_of_oscillating():
    d = descend("valley", 1e-7, 1000).diagnose()
    assert d.verdict == "crawling"
    assert d.checks["flat"] and d.checks["gradient_kept"] and d.checks["steady"]
    assert not d.checks["anticorrelated"]
    assert d.evidence["mean_gradient_cosine"] == pytest.approx(1.0, abs=1e-9)
    assert "too small" in d.remedy and "Raise η" in d.remedy
    # λ_max on the wall the run crawls down, 400/cosh²(3) ≈ 3.9: η·λ_max ≈ 4e-7, far below 2
    wall = 400 / math.cosh(3.0) ** 2
    d = descend("valley", 1e-7, 1000).diagnose(hessian_max_eigenvalue=wall)
    assert d.verdict == "crawling" and d.checks["below_overshoot"]
    assert "η up to about" in d.remedy


# --- diverged -------------------------------------------------------------------------------------


def test_huge_learning_rate_diverges_at_the_step_the_loss_passed_ten_times_the_best():
    # L_t = 1.5² + 2·(1.2·3^t)² = 2.25 + 2.88·9^t: the best is L_0 = 5.13, and L_t > 10·5.13 first
    # at t = 2 (L_1 = 28.17, L_2 = 235.5)
    d = descend("minimum", 1.0, 60).diagnose(window=50)
    assert d.verdict == "diverged"
    assert d.evidence["loss_best"] == pytest.approx(5.13)
    assert d.evidence["divergence_step"] == 2
    assert "first_nonfinite_step" not in d.evidence
    assert "step 2" in d.remedy and "warm-up" in d.remedy


def test_nonfinite_loss_is_recorded_and_diagnosed_as_diverged():
    # torch.optim.SGD applies inf and nan steps. θ^t = (1.5·(−1)^t, −1.2·(−3)^t): L_t = 2.25 +
    # 2.88·9^t and ‖g^t‖² = 9 + 23.04·9^t overflow float64 (and the norm does first)
    monitor = descend("minimum", 1.0, 700, optimizer=torch.optim.SGD)
    t = np.arange(700, dtype=np.float64)
    with np.errstate(over="ignore"):
        loss_overflow = int(np.argmax(~np.isfinite(2.25 + 2.88 * 9.0**t)))
        norm_overflow = int(np.argmax(~np.isfinite(9 + 23.04 * 9.0**t)))
    assert (norm_overflow, loss_overflow) == (322, 323)
    loss, norm = monitor.loss, monitor.gradient_norm
    assert np.isfinite(loss[:loss_overflow]).all() and np.isinf(loss[loss_overflow])
    assert np.isfinite(norm[:norm_overflow]).all() and np.isinf(norm[norm_overflow])
    assert np.isnan(loss[-1])
    d = monitor.diagnose()
    assert d.verdict == "diverged"
    assert d.evidence["first_nonfinite_step"] == norm_overflow
    assert d.evidence["divergence_step"] == 2  # the onset, long before the overflow


def test_a_nan_loss_alone_is_diverged():
    model = Point((1.0, 1.0))
    opt = ro.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, opt)
    for t in range(20):
        opt.zero_grad()
        loss = surface("minimum").loss(model.theta)
        loss.backward()
        opt.step()
        monitor.step(float("nan") if t == 13 else loss)
    d = monitor.diagnose(window=10)
    assert d.verdict == "diverged"
    assert d.evidence["first_nonfinite_step"] == 13
    assert d.evidence["divergence_step"] == 13


# --- near a critical point ------------------------------------------------------------------------


def _point_batch(name: str):
    """(loss_fn, inputs, targets) for classify_critical_point on a Point model."""
    loss = surface(name).loss
    return (lambda output, target: loss(output), torch.zeros(1), torch.zeros(1))


def test_saddle_from_the_ridge_is_a_saddle_point_per_the_hessian():
    monitor = descend("saddle", 0.05, 300, start=(1.5, 0.0))
    d = monitor.diagnose()
    assert d.verdict == "near a critical point" and d.kind is None
    # θ1 ← θ1·(1 − 2η) = 0.9·θ1: ‖g‖ = 2·1.5·0.9^t
    assert d.evidence["gradient_norm_now"] < 1e-3
    assert monitor.gradient_norm[10] == pytest.approx(3.0 * 0.9**10)
    d = monitor.diagnose(critical=_point_batch("saddle"))
    assert d.verdict == "near a critical point"
    assert d.kind == "saddle point"
    assert d.evidence["min_eigenvalue"] == pytest.approx(-2.0, abs=1e-9)
    assert d.evidence["max_eigenvalue"] == pytest.approx(2.0, abs=1e-9)
    assert d.evidence["minimum_ratio"] == pytest.approx(0.5)
    assert "eigenvector" in d.remedy and "-2" in d.remedy


def test_off_the_ridge_descent_ends_in_a_local_minimum():
    monitor = descend("saddle", 0.05, 400)
    theta = monitor.model.theta.detach()
    assert theta[1].item() == pytest.approx(math.sqrt(2), abs=1e-6)  # the minimum (0, √2)
    d = monitor.diagnose(critical=_point_batch("saddle"))
    assert d.kind == "local minimum"
    # Hessian at (0, √2): diag(2, −2 + 3·2) = diag(2, 4)
    assert d.evidence["min_eigenvalue"] == pytest.approx(2.0, abs=1e-6)
    assert d.evidence["max_eigenvalue"] == pytest.approx(4.0, abs=1e-6)
    assert "local minimum" in d.remedy


def test_critical_callable_gets_its_kind_and_numbers_into_the_diagnosis():
    class Stub:
        kind, min_eigenvalue, max_eigenvalue, minimum_ratio = "saddle point", -0.5, 3.0, 0.75

    calls = []
    monitor = descend("saddle", 0.05, 300, start=(1.5, 0.0))
    d = monitor.diagnose(critical=lambda: calls.append(1) or Stub())
    assert calls == [1] and d.kind == "saddle point"
    assert d.evidence["minimum_ratio"] == 0.75 and d.evidence["min_eigenvalue"] == -0.5
    # not called unless the gradient is small
    descend("valley", 1e-2, 200).diagnose(critical=lambda: calls.append(2) or Stub())
    assert calls == [1]


# --- the records ----------------------------------------------------------------------------------


def test_every_record_matches_the_numbers_computed_by_hand():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x, y = torch.randn(16, 3), torch.randn(16, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    monitor = Monitor(model, opt, every=1)
    names = [name for name, _ in model.named_parameters()]
    previous = None
    for t in range(6):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        grads = [p.grad.detach().clone() for p in model.parameters()]
        before = [p.detach().clone() for p in model.parameters()]
        opt.step()
        record = monitor.step(loss)
        steps = [p.detach() - b for p, b in zip(model.parameters(), before, strict=True)]
        flat_g = torch.cat([g.reshape(-1) for g in grads])
        assert record["step"] == t
        assert record["loss"] == pytest.approx(loss.item(), rel=1e-6)
        assert record["gradient_norm"] == pytest.approx(flat_g.norm().item(), rel=1e-5)
        delta = torch.cat([s.reshape(-1) for s in steps]).norm().item()
        theta = torch.cat([b.reshape(-1) for b in before]).norm().item()
        assert record["update_norm"] == pytest.approx(delta, rel=1e-4)
        assert record["weight_norm"] == pytest.approx(theta, rel=1e-5)
        assert record["update_ratio"] == pytest.approx(delta / theta, rel=1e-4)
        for name, g, s, b in zip(names, grads, steps, before, strict=True):
            assert record[f"gradient_norm/{name}"] == pytest.approx(g.norm().item(), rel=1e-5)
            assert record[f"update_norm/{name}"] == pytest.approx(s.norm().item(), rel=1e-4)
            assert record[f"weight_norm/{name}"] == pytest.approx(b.norm().item(), rel=1e-5)
        if previous is None:
            assert math.isnan(record["gradient_cosine"])
        else:
            flat_p = torch.cat([g.reshape(-1) for g in previous])
            cosine = (flat_g @ flat_p / (flat_g.norm() * flat_p.norm())).item()
            assert record["gradient_cosine"] == pytest.approx(cosine, abs=1e-5)
            first = (grads[0].reshape(-1) @ previous[0].reshape(-1)).item()
            first /= (grads[0].norm() * previous[0].norm()).item()
            assert record[f"gradient_cosine/{names[0]}"] == pytest.approx(first, abs=1e-5)
        previous = grads
    assert list(monitor.history[-1]) == monitor.columns
    assert "effective_lr_min" not in monitor.columns  # torch.optim: no σ to read


def test_detailed_numbers_on_every_kth_step_and_nan_between():
    monitor = descend("valley", 1e-2, 20, every=4)
    cosine, update = monitor.gradient_cosine, monitor.update_norm
    detailed = np.arange(20) % 4 == 0
    assert np.isnan(cosine[0])  # no g^{−1}
    assert np.isfinite(cosine[detailed][1:]).all() and np.isnan(cosine[~detailed]).all()
    assert np.isfinite(update[detailed]).all() and np.isnan(update[~detailed]).all()
    assert np.isfinite(monitor.gradient_norm).all()  # ‖g‖ on every step
    # GD: Δθ = −η·g, so ‖Δθ^t‖ = η·‖g^t‖ on the detailed steps
    np.testing.assert_allclose(update[detailed], 1e-2 * monitor.gradient_norm[detailed], rtol=1e-12)


def test_gradients_reused_in_place_are_copied_and_cosines_stay_right():
    """zero_grad(set_to_none=False) overwrites g^{t−1}: the monitor notices and copies it."""
    model = Point((3.0, 8.0))
    opt = ro.SGD(model.parameters(), lr=1e-2)
    monitor = Monitor(model, opt, every=1)
    valley = surface("valley")
    thetas = []
    for _ in range(6):
        opt.zero_grad(set_to_none=False)
        thetas.append(model.theta.detach().clone())
        loss = valley.loss(model.theta)
        loss.backward()
        opt.step()
        monitor.step(loss)
    g = valley.gradient(torch.stack(thetas))
    expected = (g[1:] * g[:-1]).sum(-1) / (g[1:].norm(dim=-1) * g[:-1].norm(dim=-1))
    cosine = monitor.gradient_cosine
    # g⁰ was copied until the reuse was found at step 1, so no cosine is lost
    np.testing.assert_allclose(cosine[1:], expected.numpy(), rtol=1e-12)
    assert monitor._copy_gradients


# --- effective learning rates η/σ ---------------------------------------------------------------


def test_effective_lr_of_the_lecture_adagrad_first_step_is_eta_over_abs_gradient():
    # first step of the lecture's Adagrad: σ_i = |g_i⁰|; on the valley at (3, 8),
    # g⁰ = (400·tanh 3, 8)
    monitor = descend("valley", 0.5, 3, optimizer=ro.lecture.Adagrad, effective_lr_every=2)
    record = monitor.history[0]
    g = (400 * math.tanh(3.0), 8.0)
    low, high = 0.5 / g[0], 0.5 / g[1]
    assert record["effective_lr_min"] == pytest.approx(low, rel=1e-12)
    assert record["effective_lr_max"] == pytest.approx(high, rel=1e-12)
    assert record["effective_lr_median"] == pytest.approx((low + high) / 2, rel=1e-12)
    assert record["effective_lr_q25"] == pytest.approx(low + 0.25 * (high - low), rel=1e-12)
    assert all(math.isnan(monitor.history[1][key]) for key in EFFECTIVE_LR_KEYS)  # not sampled
    assert math.isfinite(monitor.history[2]["effective_lr_median"])


def test_effective_lr_of_gradient_descent_is_eta_everywhere():
    record = descend("valley", 0.03, 1, effective_lr_every=1).history[0]
    assert [record[key] for key in EFFECTIVE_LR_KEYS] == [0.03] * 7


def test_effective_lr_quantiles_from_a_sample_on_a_large_model():
    # Adam's first step: σ = sqrt(v̂) + ε = |g| + ε, so η/σ = η/(|g| + ε) for every entry
    torch.manual_seed(0)
    model = nn.Linear(200, 100)  # 20,100 parameters > the sample of 16,384
    assert sum(p.numel() for p in model.parameters()) > EFFECTIVE_LR_SAMPLE
    opt = ro.Adam(model.parameters(), lr=1e-3)
    monitor = Monitor(model, opt, effective_lr_every=1)
    loss = model(torch.randn(32, 200)).square().mean()
    loss.backward()
    grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double()
    opt.step()
    record = monitor.step(loss)
    exact = (1e-3 / (grads.abs() + 1e-8)).numpy()
    assert record["effective_lr_min"] == pytest.approx(exact.min(), rel=1e-5)
    assert record["effective_lr_max"] == pytest.approx(exact.max(), rel=1e-5)
    for key, q in (("q25", 0.25), ("median", 0.5), ("q75", 0.75)):
        # a rank error of a few 1/√16384 ≈ 0.8% at most
        low, high = np.quantile(exact, [q - 0.02, q + 0.02])
        assert low <= record[f"effective_lr_{key}"] <= high


def test_optimizer_keeps_sigma_only_when_asked():
    """The rule.py hook: σ^t and η^t of each parameter's step, into a dict a monitor sets."""
    p = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = ro.Adagrad([p], lr=0.1, eps=0.0)  # torch's: σ = sqrt(Σ g²)
    assert opt.sigma_record is None
    p.grad = torch.tensor([3.0, -4.0])
    opt.step()
    assert opt.sigma_record is None
    opt.sigma_record = {}
    p.grad = torch.tensor([4.0, 3.0])
    opt.step()
    lr, sigma = opt.sigma_record[p]
    assert lr == 0.1
    torch.testing.assert_close(sigma, torch.tensor([5.0, 5.0]))  # sqrt(3² + 4²), sqrt(4² + 3²)


# --- CSV and TensorBoard --------------------------------------------------------------------


def test_csv_rows_are_the_records(tmp_path):
    path = tmp_path / "run.csv"
    with descend("valley", 1e-2, 12, csv=path, every=2) as monitor:
        pass
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == monitor.columns
    assert len(rows) == 13
    for row, record in zip(rows[1:], monitor.history, strict=True):
        values = [float(v) for v in row]
        expected = [float(record[key]) for key in monitor.columns]
        np.testing.assert_array_equal(values, expected)  # nan == nan here


def test_a_csv_another_live_process_writes_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("step,loss\n1,0.5\n")
    (tmp_path / ".run.csv.lock").write_text(str(os.getppid()))  # a live process holds it
    with pytest.raises(ValueError, match=r"run.csv' is in use by another ravine run"):
        descend("valley", 1e-2, 3, csv=path)
    assert path.read_text() == "step,loss\n1,0.5\n"


def test_a_newer_monitor_in_this_process_takes_the_csv_over(tmp_path):
    path = tmp_path / "run.csv"
    older = descend("valley", 1e-2, 3, csv=path)
    with descend("valley", 1e-1, 5, csv=path) as newer:
        older.close()  # releases nothing of the newer one's claim
        assert (tmp_path / ".run.csv.lock").exists()
    assert not (tmp_path / ".run.csv.lock").exists()
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + len(newer.history) == 6  # the newer run's rows only
    assert float(rows[-1][newer.columns.index("loss")]) == newer.history[-1]["loss"]


def test_tensorboard_scalars_are_the_records(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monitor = descend("valley", 1e-2, 10, tensorboard=tmp_path, every=1)
    monitor.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    losses = [(e.step, e.value) for e in events.Scalars("loss")]
    assert [s for s, _ in losses] == list(range(10))
    np.testing.assert_allclose([v for _, v in losses], monitor.loss, rtol=1e-6)
    norms = [e.value for e in events.Scalars("gradient_norm/theta")]
    np.testing.assert_allclose(norms, monitor.gradient_norm, rtol=1e-6)


def test_tensorboard_missing_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    model = Point((1.0, 1.0))
    with pytest.raises(ImportError, match="pip install tensorboard"):
        Monitor(model, ro.SGD(model.parameters(), lr=0.1), tensorboard=tmp_path)


# --- bad input ------------------------------------------------------------------------------------


def test_model_without_trainable_parameters_is_refused():
    model = nn.Linear(2, 2)
    model.requires_grad_(False)
    other = nn.Parameter(torch.zeros(1))
    with pytest.raises(
        ValueError, match=r"no trainable parameters.*: 2 parameters, none trainable"
    ):
        Monitor(model, torch.optim.SGD([other], lr=0.1))


def test_bad_construction_is_refused():
    model = Point((1.0, 1.0))
    opt = ro.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="none of the model's 1 trainable parameters"):
        Monitor(model, torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1))
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module, got list"):
        Monitor([model.theta], opt)
    with pytest.raises(TypeError, match=r"optimizer must be a torch\.optim\.Optimizer, got dict"):
        Monitor(model, {})
    with pytest.raises(ValueError, match="every must be an integer >= 1, got 0"):
        Monitor(model, opt, every=0)
    with pytest.raises(ValueError, match="effective_lr_every must be an integer >= 0, got -1"):
        Monitor(model, opt, effective_lr_every=-1)
    with pytest.raises(ValueError, match=r"log_every must be an integer >= 1, got 0\.5"):
        Monitor(model, opt, log_every=0.5)


def test_diagnose_with_too_few_records_says_how_many():
    monitor = descend("minimum", 1e-2, 37)
    with pytest.raises(ValueError, match="at least window=100 recorded steps, got 37"):
        monitor.diagnose(window=100)
    with pytest.raises(ValueError, match="window must be an integer >= 2, got 0"):
        monitor.diagnose(window=0)
    with pytest.raises(ValueError, match="window must be an integer >= 2, got 1"):
        monitor.diagnose(window=1)
    assert monitor.diagnose(window=37).verdict == "progressing"
    with pytest.raises(ValueError, match="smaller window"):
        monitor.diagnose(window=100)
    # one record: no window is small enough, so none is suggested
    single = descend("minimum", 1e-2, 1)
    with pytest.raises(ValueError, match=r"got 1; train longer$"):
        single.diagnose(window=2)


def test_diagnose_thresholds_are_checked():
    monitor = descend("minimum", 1e-2, 20)
    with pytest.raises(ValueError, match="flat must be a number > 0, got 0"):
        monitor.diagnose(window=10, flat=0)
    with pytest.raises(ValueError, match=r"small must be a number in \(0, large=0.1\), got 0.5"):
        monitor.diagnose(window=10, small=0.5)
    with pytest.raises(ValueError, match="diverge_factor must be a number > 1, got 1"):
        monitor.diagnose(window=10, diverge_factor=1)
    with pytest.raises(ValueError, match="hessian_max_eigenvalue must be a finite number, got nan"):
        monitor.diagnose(window=10, hessian_max_eigenvalue=float("nan"))
    with pytest.raises(ValueError, match=r"tuple \(loss_fn, inputs, targets\), got a tuple of 2"):
        monitor.diagnose(window=10, critical=(None, None))


def test_step_out_of_order_and_bad_loss_are_refused():
    model = Point((1.0, 1.0))
    opt = ro.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, opt)
    with pytest.raises(RuntimeError, match=r"after optimizer\.step\(\)"):
        monitor.step(1.0)
    loss = surface("minimum").loss(model.theta)
    loss.backward()
    opt.step()
    with pytest.raises(ValueError, match=r"loss must be one number, got a tensor of shape \(2,\)"):
        monitor.step(torch.ones(2))
    with pytest.raises(TypeError, match="loss must be a number or a one-element tensor"):
        monitor.step("1.0")
    monitor.step(loss)
    with pytest.raises(RuntimeError, match=r"after optimizer\.step\(\)"):
        monitor.step(loss)  # twice for one optimizer step
    with pytest.raises(KeyError, match="no record key 'gradient'"):
        monitor.series("gradient")


def test_close_removes_the_hooks():
    monitor = descend("valley", 1e-2, 3, effective_lr_every=1)
    monitor.close()
    opt = monitor.optimizer
    monitor.model.theta.grad = torch.ones(2, dtype=torch.float64)
    opt.step()
    assert opt.sigma_record is None
    assert len(monitor.history) == 3
    with pytest.raises(RuntimeError, match=r"after optimizer\.step\(\)"):
        monitor.step(0.0)


# --- the functional core ------------------------------------------------------------------------


def test_classifier_on_series_given_by_hand():
    n = 40
    flat_loss, flipping = np.full(n, 5.0), np.tile([-1.0, np.nan], n // 2)
    big = np.full(n, 3.0)
    assert diagnose_training(flat_loss, big, flipping, window=20).verdict == "oscillating"
    aligned = np.ones(n)
    assert diagnose_training(flat_loss, big, aligned, window=20).verdict == "crawling"
    tiny = np.geomspace(3.0, 1e-7, n)
    assert diagnose_training(flat_loss, tiny, flipping, window=20).verdict == (
        "near a critical point"
    )
    # a loss that falls below zero (the saddle surface's minima are at L = −1) is not divergence
    falling = np.linspace(2.25, -1.0, n)
    d = diagnose_training(falling, big, aligned, window=20)
    assert d.verdict == "progressing" and d.evidence["relative_loss_change"] < 0
    # rising fivefold over the window, without passing ten times the best: diverging
    rising = np.linspace(1.0, 5.0, n)
    d = diagnose_training(rising, big, aligned, window=20)
    assert d.verdict == "diverged" and "rose" in d.remedy and d.evidence["divergence_step"] == 0
    rising = np.linspace(1.0, 20.0, n)  # L_end = 20 > 10·L* = 10: diverged
    d = diagnose_training(rising, big, aligned, window=20)
    assert d.verdict == "diverged"
    assert d.evidence["divergence_step"] == int(np.argmax(rising > 10.0))


def test_diagnose_by_default_reads_the_last_half_as_the_doctor_does():
    """37 records: the last 18 (the doctor's and a log's default), not a fixed 100."""
    monitor = descend("minimum", 1e-2, 37)
    assert monitor.diagnose().evidence == monitor.diagnose(window=18).evidence
    long = descend("minimum", 1e-2, 500)
    assert long.diagnose().evidence == long.diagnose(window=200).evidence
