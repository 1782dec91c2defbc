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
    assert result.outcome == minimum_ratio.outcome(result.numbers)
    head = {
        "held": "Reproduced: ",
        "partial": "Partly reproduced: ",
        "not held": "Not reproduced: ",
    }
    assert result.verdict.startswith(head[result.outcome])
    assert result.lecture and result.command.startswith("ravine critical")
    assert {f.name for f in result.figures} == set(result.captions)
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


def test_both_readings_can_fail(quick):
    """Hand-made numbers: saddles everywhere (held), near-minima (partial: the trained
    networks' case), a strict local minimum, too few critical points."""
    _, result = quick
    base = failing(
        result.numbers,
        networks=4,
        reached=4,
        reached_fraction=1.0,
        ratio_one=0,
        strict_ratio_one=0,
        strict_minimum_ratio_max=0.45,
    )
    saddles = failing(base, below_homework_line=4, beyond_leftover_bound=3)
    assert minimum_ratio.holds(saddles) is True
    assert minimum_ratio.outcome(saddles) == "held"
    assert minimum_ratio.verdict(saddles, True).startswith("Reproduced: ")
    near_minima = failing(base, below_homework_line=0, beyond_leftover_bound=0)
    assert minimum_ratio.holds(near_minima) is False
    assert minimum_ratio.outcome(near_minima) == "partial"
    text = minimum_ratio.verdict(near_minima, False)
    assert text.startswith("Partly reproduced: ") and "near-minima with flat directions" in text
    worded = failing(near_minima, zero_median=194.5, dead_units_median=46.0)
    text = minimum_ratio.verdict(worded, False)
    assert "a median of 194.5 eigenvalues are 0 to rounding (|λ| ≤ τ), 3 for each dead ReLU " in (
        text
    )
    assert "(a median of 46 dead units)" in text and "and none with negative curvature" in text
    assert "a median 194.5" not in text and "46.0" not in text
    # negative curvature only within the leftover bound: not saddles, however low the ratio
    shallow = failing(saddles, beyond_leftover_bound=2)
    assert minimum_ratio.outcome(shallow) == "partial"
    above_line = failing(saddles, below_homework_line=2)
    assert minimum_ratio.outcome(above_line) == "partial"
    strict_minimum = failing(near_minima, strict_ratio_one=1, strict_minimum_ratio_max=1.0)
    assert minimum_ratio.outcome(strict_minimum) == "not held"
    assert minimum_ratio.verdict(strict_minimum, False).startswith("Not reproduced: ")
    assert "1 network reached a ratio of 1" in minimum_ratio.verdict(strict_minimum, False)
    assert "network(s)" not in minimum_ratio.verdict(strict_minimum, False)
    saddles_and_a_minimum = failing(saddles, strict_ratio_one=1, strict_minimum_ratio_max=1.0)
    assert minimum_ratio.outcome(saddles_and_a_minimum) == "partial"
    few = failing(saddles, reached=2, reached_fraction=0.5)
    assert minimum_ratio.outcome(few) == "not held"
    assert "only 2 of 4" in minimum_ratio.verdict(few, False)
    assert next(e.holds for e in minimum_ratio.evidence(few)) is False
    none = failing(base, reached=0, reached_fraction=0.0)
    assert minimum_ratio.holds(none) is False
    assert "none of the" in minimum_ratio.verdict(none, False)
    assert [e.holds for e in minimum_ratio.evidence(saddles)] == [True, True, True, True, None]


def record(**changes):
    """One network's record, as measure_network gives it (``spectrum`` left out)."""
    base = {
        "training_loss": 1e-3,
        "gradient_norm": 1e-4,
        "reached": True,
        "minimum_ratio": 0.45,
        "strict_minimum_ratio": 0.55,
        "negative": 3,
        "zero": 38,
        "dead_units": 10,
        "negative_over_max": 1e-6,
        "leftover_gradient_bound": 1e-4,
        "zero_tolerance": 1e-11,
        "min_eigenvalue": -1e-6,
        "local_minimum_like": False,
        "strict_local_minimum_like": True,
    }
    return {**base, **changes}


def test_summary_of_near_minima_holds_only_in_part():
    """Negative eigenvalues within the leftover bound and ratios above 0.5: no strict local
    minimum, and no saddle either."""
    numbers = minimum_ratio.summarize([record(seed=s) for s in range(4)])
    assert numbers["beyond_leftover_bound"] == 0 and numbers["below_homework_line"] == 0
    assert numbers["within_leftover_bound"] == 4 and numbers["strict_ratio_one"] == 0
    assert minimum_ratio.outcome(numbers) == "partial"


def test_summary_of_real_saddles_holds():
    """λ_min = −0.01, far below −ρ = −10⁻⁴, and ratios 0.4: saddle points."""
    saddle = record(min_eigenvalue=-1e-2, minimum_ratio=0.3, strict_minimum_ratio=0.4)
    numbers = minimum_ratio.summarize([dict(saddle, seed=s) for s in range(4)])
    assert numbers["beyond_leftover_bound"] == 4 and numbers["below_homework_line"] == 4
    assert minimum_ratio.outcome(numbers) == "held"


def test_summary_of_strict_minima_fails():
    """Every eigenvalue positive: ratio 1, and no negative curvature."""
    minimum = record(
        minimum_ratio=1.0, strict_minimum_ratio=1.0, negative=0, zero=0, min_eigenvalue=1e-3
    )
    numbers = minimum_ratio.summarize([dict(minimum, seed=s) for s in range(4)])
    assert numbers["strict_ratio_one"] == 4
    assert minimum_ratio.outcome(numbers) == "not held"
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
