"""The minimum-ratio experiment in quick mode: its verdict is computed from its numbers, the
numbers agree with each other and with the Hessian's counts, and the criterion fails on numbers
that do not meet it."""

import copy
import json

import pytest
import torch

from ravine.diagnose import exact_hessian
from ravine.experiments import ORDER, experiment, minimum_ratio
from ravine.tasks import sinc_task

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("minimum-ratio")
    return out, minimum_ratio.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["minimum-ratio"] == "minimum_ratio"
    assert experiment("minimum-ratio") is minimum_ratio
    assert minimum_ratio.NAME == "minimum-ratio"


def test_quick_run_computes_its_verdict_with_figures_and_json_numbers(quick):
    out, result = quick
    assert result.name == "minimum-ratio" and result.title and result.claim
    assert result.reproduced is minimum_ratio.holds(result.numbers)
    assert result.verdict == minimum_ratio.verdict(result.numbers, result.reproduced)
    assert result.verdict.startswith("Reproduced: " if result.reproduced else "Not reproduced: ")
    assert len(result.figures) == 2
    for figure in result.figures:
        assert not figure.is_absolute() and figure.parts[0] == "minimum-ratio"
        assert (out / figure).read_bytes()[:8] == PNG
    text = json.dumps(result.numbers, allow_nan=False)
    assert json.loads(text) == result.numbers
    json.dumps(result.to_json(), allow_nan=False)


def test_quick_numbers_agree_with_each_other(quick):
    _, result = quick
    n = result.numbers
    per = n["per_network"]
    assert n["networks"] == len(per) == minimum_ratio.QUICK_NETWORKS
    assert [p["seed"] for p in per] == list(range(len(per)))
    critical = [p for p in per if p["gradient_norm"] < 1e-3]
    assert n["reached"] == len(critical) == sum(p["reached"] for p in per)
    for p in per:
        assert p["positive"] + p["negative"] + p["zero"] == 385
        assert p["minimum_ratio"] == p["positive"] / 385
        assert p["strict_minimum_ratio"] >= p["minimum_ratio"]
        assert p["zero"] >= 3 * p["dead_units"]  # each dead ReLU unit: three zero eigenvalues
        assert (p["negative"] > 0) == (p["min_eigenvalue"] < -p["zero_tolerance"])
        assert p["kind"] == ("saddle point" if p["negative"] else "local minimum")
        assert 0 < p["zero_tolerance"] < 1e-9 * p["max_eigenvalue"]
        # Weyl: λ_min(H) ≥ λ_min(GN) − ρ ≥ −ρ, up to rounding
        assert p["min_eigenvalue"] >= -(p["leftover_gradient_bound"] + p["zero_tolerance"])
    assert n["minimum_ratio_max"] == max(p["minimum_ratio"] for p in critical)
    assert n["saddle_like"] == sum(p["negative"] > 0 for p in critical)


def failing(numbers, **changes):
    changed = copy.deepcopy(numbers)
    changed.update(changes)
    return changed


def test_criterion_fails_on_numbers_that_do_not_meet_it(quick):
    _, result = quick
    numbers = failing(
        result.numbers, reached=4, reached_fraction=1.0, ratio_one=0, minimum_ratio_max=0.3
    )
    numbers.update(saddle_like=4, saddle_like_fraction=1.0)
    assert minimum_ratio.holds(numbers) is True
    for changes in (
        {"saddle_like": 1, "saddle_like_fraction": 0.25},  # mostly minima: the claim fails
        {"ratio_one": 1, "minimum_ratio_max": 1.0},  # a strict local minimum was found
        {"reached": 2, "reached_fraction": 0.5},  # too few critical points measured
    ):
        bad = failing(numbers, **changes)
        assert minimum_ratio.holds(bad) is False, changes
        assert minimum_ratio.verdict(bad, False).startswith("Not reproduced: ")
    none = failing(numbers, reached=0, reached_fraction=0.0)
    assert minimum_ratio.holds(none) is False
    assert "none of the" in minimum_ratio.verdict(none, False)


def test_summary_of_local_minima_fails_the_claim():
    """Records of networks whose Hessians have no negative eigenvalue: every point a
    (degenerate) local minimum, so the claim is not reproduced."""
    record = {
        "training_loss": 1e-3,
        "gradient_norm": 1e-4,
        "reached": True,
        "minimum_ratio": 0.9,
        "strict_minimum_ratio": 0.95,
        "negative": 0,
        "zero": 38,
        "dead_units": 10,
        "negative_over_max": -0.1,
        "leftover_gradient_bound": 1e-4,
        "zero_tolerance": 1e-11,
        "min_eigenvalue": 0.0,
        "local_minimum_like": True,
        "strict_local_minimum_like": True,
    }
    numbers = minimum_ratio.summarize([dict(record, seed=s) for s in range(4)])
    assert numbers["saddle_like"] == 0 and numbers["local_minimum_like"] == 4
    assert minimum_ratio.holds(numbers) is False
    assert minimum_ratio.verdict(numbers, False).startswith("Not reproduced: ")


def test_leftover_gradient_bound_is_the_spectral_radius_of_hessian_minus_gauss_newton():
    """H − (2/N)JᵀJ has per unit the entries (∂L/∂w_j)/v_j and (∂L/∂b_j)/v_j only, so its
    largest |eigenvalue| is ρ = max_j ‖(∂L/∂w_j, ∂L/∂b_j)‖/|v_j|."""
    task = sinc_task(seed=3, n=30)
    model = task.model()
    params = list(model.parameters())
    rho = minimum_ratio.leftover_gradient_bound(model, task.inputs, task.targets, task.loss_fn)
    hessian = exact_hessian(model, task.loss_fn, task.inputs, task.targets)
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    sizes = [p.numel() for p in params]

    def outputs(theta):
        w1, b1, w2, b2 = (
            piece.reshape(p.shape) for piece, p in zip(theta.split(sizes), params, strict=True)
        )
        return (torch.relu(task.inputs @ w1.T + b1) @ w2.T + b2).reshape(-1)

    jacobian = torch.func.jacrev(outputs)(flat)  # J, N × P
    residual = hessian - 2 / 30 * jacobian.T @ jacobian
    radius = float(torch.linalg.eigvalsh((residual + residual.T) / 2).abs().max())
    assert rho > 1e-3  # an untrained network: a large gradient, a large ρ
    assert radius == pytest.approx(rho, rel=1e-9)
