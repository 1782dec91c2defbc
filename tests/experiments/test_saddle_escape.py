"""The saddle-escape experiment in quick mode: the tools find the lecture's saddle and its
eigenpair, the measured ΔL matches ½λε², and the criterion fails on numbers that miss it."""

import copy
import json
import math

import pytest

from ravine.experiments import ORDER, experiment, saddle_escape

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("saddle-escape")
    return out, saddle_escape.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["saddle-escape"] == "saddle_escape"
    assert experiment("saddle-escape") is saddle_escape


def test_quick_run_holds_with_figures_and_json_numbers(quick):
    out, result = quick
    assert result.reproduced is saddle_escape.holds(result.numbers) is True
    assert result.outcome == "held"
    assert result.verdict.startswith("Reproduced: ")
    assert [f.name for f in result.figures] == list(saddle_escape.CAPTIONS)
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG
    json.dumps(result.to_json(), allow_nan=False)
    assert result.lecture and result.command.startswith("ravine descend saddle")
    assert [e.holds for e in result.evidence] == [True] * len(result.evidence)


def test_the_surface_figures_caption_names_its_markers_as_the_map_draws_them():
    """plot_contour stars the surface's minima and crosses its saddle point (tested in
    tests/report); the caption says so, and the star is not the saddle."""
    caption = saddle_escape.CAPTIONS["saddle-surface.png"]
    assert "the cross marks the saddle point (0, 0), the stars the minima (0, ±√2)" in caption
    assert "star marks the saddle" not in caption


def test_the_network_is_the_lectures_hand_computed_saddle(quick):
    net = quick[1].numbers["network"]
    assert net["hessian"] == [[0.0, -2.0], [-2.0, 0.0]]  # H of (1 − w1·w2)² at the origin
    assert net["kind"] == "saddle point" and net["gradient_norm"] == 0
    assert net["lambda"] == pytest.approx(-2)
    assert [abs(c) for c in net["u"]] == pytest.approx([1 / math.sqrt(2)] * 2)
    for row in net["along"]:  # exactly: L(εu) − L(0) = −ε² + ε⁴/4 on both sides
        exact = -(row["epsilon"] ** 2) + row["epsilon"] ** 4 / 4
        assert row["change_plus"] == pytest.approx(exact, rel=1e-9)
        assert row["change_minus"] == pytest.approx(exact, rel=1e-9)
    assert net["descent_from_saddle_final"] == 1.0  # g = 0: descent never moves
    assert abs(net["w_final"][0] * net["w_final"][1] - 1) < 1e-6  # on the valley w1·w2 = 1


def test_criterion_fails_on_numbers_that_miss_it(quick):
    numbers = quick[1].numbers
    assert saddle_escape.holds(numbers)
    wrong_lambda = copy.deepcopy(numbers)  # ΔL half of ½λε²: the eigenvalue is off by 2
    for row in wrong_lambda["network"]["along"]:
        row["ratio_plus"] = row["ratio_minus"] = 0.5
    rises = copy.deepcopy(numbers)  # the loss rises along −u
    rises["surface"]["along"][0]["change_minus"] = 1e-7
    descends = copy.deepcopy(numbers)  # descent from the saddle moved after all
    descends["network"]["descent_from_saddle_final"] = 0.5
    stays = copy.deepcopy(numbers)  # the escape step did not free the descent
    stays["network"]["escaped_fraction"] = 0.9
    for bad in (wrong_lambda, rises, descends, stays):
        assert saddle_escape.holds(bad) is False
        assert saddle_escape.verdict(bad, False).startswith("Not reproduced: ")
    assert any(e.holds is False for e in saddle_escape.evidence(wrong_lambda))


def _saddle_numbers():
    along = [
        {
            "epsilon": e,
            "predicted": -(e**2),
            "change_plus": -(e**2) + e**4 / 4,
            "change_minus": -(e**2) + e**4 / 4,
            "ratio_plus": 1 - e**2 / 4,
            "ratio_minus": 1 - e**2 / 4,
        }
        for e in (0.01, 0.1, 1.0)
    ]
    network = {
        "kind": "saddle point",
        "gradient_norm": 0.0,
        "lambda": -2.0,
        "u": [0.70711, 0.70711],
        "along": along,
        "loss_saddle": 1.0,
        "descent_from_saddle_final": 1.0,
        "descent_from_escape_final": 4.93e-32,
    }
    return {"small": 0.1, "escape": 0.01, "steps": 200, "network": network, "surface": network}


def test_verdict_tells_the_two_descents_apart():
    numbers = _saddle_numbers()
    text = saddle_escape.verdict(numbers, True)
    assert text.endswith(
        "200 GD steps from the saddle itself left L where it was, at 1, while 200 from a point "
        "0.01 along u brought it to 4.9e-32."
    )
    assert "left L at 1 from the saddle and brought it to" not in text
    numbers["network"]["descent_from_saddle_final"] = 0.5
    assert "200 GD steps from the saddle itself moved L from 1 to 0.5, while" in (
        saddle_escape.verdict(numbers, False)
    )
