"""The momentum experiment: a quick run reproduces with its figures and JSON numbers, the
endpoints are what the surface's critical points say, and the criterion fails on numbers
that fail each of its parts."""

import copy
import json

import pytest
import torch

from ravine.experiments import ORDER, experiment, momentum
from ravine.surfaces import descend, surface

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("momentum")
    return out, momentum.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["momentum"] == "momentum"
    assert experiment("momentum") is momentum


def test_quick_run_reproduces_with_figures_and_json_numbers(result):
    out, r = result
    assert r.name == "momentum" and r.title and r.claim
    assert r.reproduced is True, r.verdict
    assert r.verdict.startswith("Reproduced: ")
    assert len(r.figures) == 2
    for figure in r.figures:
        assert not figure.is_absolute() and figure.parts[0] == "momentum"
        assert (out / figure).read_bytes()[:8] == PNG
    text = json.dumps(r.numbers, allow_nan=False)
    assert json.loads(text) == r.numbers


def test_endpoints_are_the_surfaces_minima(result):
    n = result[1].numbers
    s = surface("two-minima")
    gd, heavy = n["gd"], n["momentum_run"]
    assert gd["theta"] == pytest.approx(list(s.local_minimum), abs=1e-6)
    assert heavy["theta"] == pytest.approx(list(s.minimum), abs=1e-6)
    assert gd["kind"] == heavy["kind"] == "local minimum"
    assert (gd["well"], heavy["well"]) == ("shallow", "deep")
    assert gd["gradient_norm"] < 1e-6
    assert gd["crossed_bump_at"] is None and heavy["crossed_bump_at"] > 0
    # the exact Hessian's eigenvalues at the shallow minimum, from its closed form
    x = s.local_minimum[0]
    h = torch.tensor([[12 * x * x - 4 + 0.5, -1.0], [-1.0, 2.0]], dtype=torch.float64)
    assert gd["hessian_eigenvalues"] == pytest.approx(torch.linalg.eigvalsh(h).tolist())
    assert gd["loss"] == pytest.approx(n["critical_points"]["local_minimum"]["loss"], abs=1e-12)


def test_endpoint_of_a_run_stopped_on_the_saddle():
    """Started exactly on the saddle, GD never moves: endpoint() calls it a saddle."""
    s = surface("two-minima")
    trajectory = descend(s, "gd", lr=0.01, steps=5, start=s.critical_points()[1])
    end = momentum.endpoint(trajectory)
    assert end["kind"] == "saddle"
    low, high = end["hessian_eigenvalues"]
    assert low < 0 < high
    trajectory = descend(s, "gd", lr=0.01, steps=1, start=s.start)
    assert momentum.endpoint(trajectory)["kind"] == "not critical"


def test_grid_with_no_momentum_matches_gd():
    """λ = 0 is plain gradient descent: never lower, never higher."""
    grid = momentum.compare_grid(3, 200, lambdas=(0.0,))
    assert grid["starts"] == 9
    assert grid["by_lambda"]["0"]["lower"] == grid["by_lambda"]["0"]["higher"] == 0.0
    assert momentum.grid_starts(3)[0].tolist() == [1.2, -1.0]
    assert momentum.grid_starts(3)[-1].tolist() == [2.5, 2.5]


def test_criterion_needs_each_part(result):
    numbers = result[1].numbers
    assert momentum.holds(numbers)
    lam = f"{numbers['momentum']:g}"
    broken = []
    n = copy.deepcopy(numbers)
    n["gd"]["gradient_norm"] = 1e-3  # GD had not stopped
    broken.append(n)
    n = copy.deepcopy(numbers)
    n["gd"]["loss"] = n["critical_points"]["global_minimum"]["loss"]  # GD found the best one
    broken.append(n)
    n = copy.deepcopy(numbers)
    n["momentum_run"]["loss"] = n["gd"]["loss"]  # momentum did no better
    broken.append(n)
    n = copy.deepcopy(numbers)
    n["grid"]["by_lambda"][lam]["lower"] = 0.1  # a lucky start
    broken.append(n)
    n = copy.deepcopy(numbers)
    n["grid"]["by_lambda"][lam]["higher"] = 0.2  # as often worse
    broken.append(n)
    for index, n in enumerate(broken):
        assert momentum.holds(n) is False, index
        assert momentum.verdict(n, False).startswith("Not reproduced: ")


@pytest.mark.parametrize(("key", "value"), [("grid", 1), ("grid", 2.5), ("momentum", 1.0)])
def test_bad_settings(key, value):
    with pytest.raises(ValueError, match=key if key != "momentum" else "λ"):
        momentum.measure(steps=10, **{key: value})


def test_verdict_lists_each_lambda_without_ambiguous_commas():
    def end(theta, loss, well, crossed=None):
        return {
            "theta": theta,
            "loss": loss,
            "gradient_norm": 1e-12,
            "hessian_eigenvalues": [1.83, 7.74],
            "kind": "local minimum",
            "well": well,
            "crossed_bump_at": crossed,
        }

    by_lambda = {
        "0.5": {"lower": 0.0, "higher": 0.0},
        "0.8": {"lower": 0.36, "higher": 0.0},
        "0.9": {"lower": 0.52, "higher": 0.0},
    }
    numbers = {
        "surface": "two-minima",
        "lr": 0.01,
        "momentum": 0.9,
        "steps": 1500,
        "start": [2.0, 1.5],
        "critical_points": {"global_minimum": {"loss": -0.30543}},
        "gd": end([0.96, 0.48], 0.2941, "shallow"),
        "momentum_run": end([-1.036, -0.518], -0.30543, "deep", crossed=7),
        "grid": {"starts": 100, "by_lambda": by_lambda},
        "min_lower_fraction": 0.25,
        "max_higher_fraction": 0.05,
    }
    text = momentum.verdict(numbers, True)
    assert "momentum with λ = 0.9 crossed the bump at update 7" in text
    assert "ended lower than GD from the same start on 52% of them and higher on 0% (" in text
    assert text.endswith("; lower / higher by λ: 0.5: 0% / 0%, 0.8: 36% / 0%, 0.9: 52% / 0%.")
    assert "λ = 0.5: 0% lower, 0% higher, λ = 0.8" not in text
