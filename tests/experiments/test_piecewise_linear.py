"""The piecewise-linear experiment: the decomposition into hard sigmoids (and ReLU pairs) is
exact by construction, checked by hand; the fits are measured in quick mode; the test of the
claim fails on numbers whose error does not fall and passes on numbers whose error does."""

import copy
import json

import pytest
import torch

from ravine.experiments import ORDER, experiment, piecewise_linear

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("piecewise-linear")
    return out, piecewise_linear.run(out, quick=True)


def test_registered_first_in_the_lecture_order():
    assert next(iter(ORDER)) == "piecewise-linear"
    assert experiment("piecewise-linear") is piecewise_linear


def test_target_has_its_knots_and_is_flat_outside():
    knots, values = piecewise_linear.piecewise_target()
    assert len(knots) == len(values) == piecewise_linear.PIECES + 1
    assert knots[0] == -0.8 and knots[-1] == 0.8
    widths = torch.tensor(knots).diff()
    assert bool((widths >= piecewise_linear.MIN_WIDTH * 1.6 - 1e-12).all())
    x = torch.tensor([-1.0, -0.9, 0.9, 1.0], dtype=torch.float64)
    f = piecewise_linear.curve(x, knots, values)
    assert f.tolist() == pytest.approx([values[0]] * 2 + [values[-1]] * 2)
    # at each knot the curve takes its value; half-way it is the mean of the ends
    at = piecewise_linear.curve(torch.tensor(knots, dtype=torch.float64), knots, values)
    assert at.tolist() == pytest.approx(values, abs=1e-15)
    middle = torch.tensor([(knots[1] + knots[2]) / 2], dtype=torch.float64)
    mid = piecewise_linear.curve(middle, knots, values)
    assert float(mid) == pytest.approx((values[1] + values[2]) / 2, abs=1e-15)


def test_hard_sigmoid_is_zero_then_a_ramp_then_its_rise_and_two_relus_make_it():
    knots, values = [-0.5, 0.5], [0.0, 2.0]
    x = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=torch.float64)
    constant, pieces = piecewise_linear.hard_sigmoids(x, knots, values)
    assert constant == 0.0
    assert pieces[0].tolist() == [0.0, 0.0, 1.0, 2.0, 2.0]
    assert piecewise_linear.relu_pairs(x, knots, values)[0].tolist() == [0.0, 0.0, 1.0, 2.0, 2.0]
    numbers = piecewise_linear.decomposition(*piecewise_linear.piecewise_target())
    assert numbers["hard_sigmoid_error"] < 1e-14 and numbers["relu_pair_error"] < 1e-14


def test_stacked_fits_start_as_the_lecture_models_do():
    fits = piecewise_linear.stacked_fits((0,))
    sizes = piecewise_linear.SIZES
    assert int(fits["sigmoids"]) == sum(sizes)
    assert fits["w"].numel() == 3 * sum(sizes)  # n sigmoids, then 2n ReLUs per fit
    model = piecewise_linear.parse_model("relu:units=4").build(1, 1, seed=0)
    x = torch.linspace(-1, 1, 7)
    with torch.no_grad():
        stacked = piecewise_linear.predict(fits, x)
        assert torch.allclose(stacked[:, len(sizes) + 1], model(x[:, None])[:, 0], atol=1e-6)


def test_quick_run_measures_errors_and_writes_figures(quick):
    out, result = quick
    numbers = result.numbers
    assert result.reproduced is piecewise_linear.holds(numbers)
    assert result.outcome == piecewise_linear.outcome(numbers)
    assert result.verdict == piecewise_linear.verdict(numbers, result.reproduced)
    assert numbers["updates"] == piecewise_linear.UPDATES // 4
    for family in piecewise_linear.FAMILIES:
        errors = numbers["fits"][family]["errors"]
        by_seed = numbers["fits"][family]["errors_by_seed"]
        assert errors == [min(row) for row in by_seed]
        assert all(0 <= e for e in errors) and len(errors) == len(piecewise_linear.SIZES)
    # one sigmoid is a single step: it cannot fit six pieces
    assert numbers["fits"]["sigmoid"]["errors"][0] > 0.1
    assert [f.name for f in result.figures] == ["target.png", "fits.png", "error.png"]
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG
        assert figure.name in result.captions
    assert json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert result.lecture and result.command.startswith("ravine train ")


def _numbers(sigmoid, relu, exact=1e-16):
    return {
        "pieces": 6,
        "hard_sigmoid_error": exact,
        "relu_pair_error": exact,
        "sizes": [1, 2, 4, 8, 16],
        "fits": {"sigmoid": {"errors": sigmoid}, "relu": {"errors": relu}},
    }


FALLS = [0.6, 0.24, 0.008, 0.008, 0.006]


def test_criterion_holds_on_falling_errors_and_fails_otherwise():
    good = _numbers(FALLS, [0.4, 0.2, 0.0005, 0.0009, 0.0002])  # under the floor: a tie
    assert piecewise_linear.holds(good) and piecewise_linear.outcome(good) == "held"
    assert piecewise_linear.verdict(good, True).startswith("Reproduced: ")
    assert all(e.holds for e in piecewise_linear.evidence(good))
    rises = _numbers(FALLS, [0.36, 0.22, 0.05, 0.22, 0.15])  # 0.05 → 0.22: not a tie
    assert not piecewise_linear.holds(rises) and piecewise_linear.outcome(rises) == "partial"
    assert "does not fall steadily" in piecewise_linear.verdict(rises, False)
    rises["fits"]["relu"]["dead"] = [0, 1, 0, 8, 9]  # the verdict names the optimization
    text = piecewise_linear.verdict(rises, False)
    assert "6 pairs draw the curve exactly" in text and "8 of 16, 9 of 32" in text
    assert "of the variance for n = 1, 2, 4, 8 and 16)" in text
    assert "n = 8 and 16 have as many or more" in text
    assert "[1, 2, 4, 8, 16]" not in text and "kinks away from the corners" not in text
    one = copy.deepcopy(rises)
    one["sizes"] = [1, 2, 4, 8]
    one["fits"]["relu"].update(errors=[0.36, 0.22, 0.05, 0.22], dead=[0, 1, 0, 8])
    assert "n = 8 has as many or more" in piecewise_linear.verdict(one, False)
    few = copy.deepcopy(one)
    few["pieces"] = 12  # no n here has enough pairs: no claim about the optimization
    assert "the shortfall is the optimization" not in piecewise_linear.verdict(few, False)
    flat = _numbers([0.6, 0.5, 0.45, 0.4, 0.1], FALLS)  # 6× only, short of 10×
    assert not piecewise_linear.holds(flat)
    assert "by less than 10×" in piecewise_linear.verdict(flat, False)
    wrong = _numbers(FALLS, FALLS, exact=0.05)  # a wrong piece
    assert not piecewise_linear.holds(wrong) and piecewise_linear.outcome(wrong) == "partial"
    none = copy.deepcopy(rises)
    none["fits"]["sigmoid"]["errors"] = [0.5] * 5
    none["hard_sigmoid_error"] = 1.0
    assert piecewise_linear.outcome(none) == "not held"


def test_the_error_caption_asks_for_what_the_test_needs():
    caption = piecewise_linear.CAPTIONS["error.png"]
    assert "to a tenth or less of n = 1's" in caption and piecewise_linear.FACTOR == 10
    assert "fall to the dotted line" not in caption  # the test never asks for 10⁻³


def test_the_fits_figure_names_its_y_axis(tmp_path, monkeypatch):
    """The two panels share y: the left one, where the axis is drawn, says what it is."""
    figures = []
    monkeypatch.setattr(piecewise_linear, "save_figure", lambda fig, path: figures.append(fig))
    knots, values = piecewise_linear.piecewise_target()
    flat = [0.0] * piecewise_linear.DENSE
    best = [flat for _ in piecewise_linear.SIZES]
    fits = {family: {"best_fits": best} for family in ("sigmoid", "relu")}
    piecewise_linear._draw_fits(tmp_path / "fits.png", knots, values, fits)
    (fig,) = figures
    assert [ax.get_ylabel() for ax in fig.axes] == ["y", ""]
    assert [ax.get_xlabel() for ax in fig.axes] == ["x", "x"]
