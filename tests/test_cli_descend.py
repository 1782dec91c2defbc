"""`ravine descend`: the numbers are the library's, the JSON has its fields, errors are one
line, --plot writes a PNG."""

import json

import pytest
import torch

from ravine import cli, schedules
from ravine.experiments.adagrad_bursts import find_bursts
from ravine.surfaces import SURFACES, descend, surface

FIELDS = [
    "surface",
    "optimizer",
    "steps",
    "final",
    "loss",
    "minimum",
    "distance",
    "gradient_norm",
    "bursts",
]


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def library(name, optimizer, **keywords):
    """What the library's descend measures: the fields the command prints."""
    found = descend(surface(name), optimizer, **keywords)
    return {
        "final": found.final[0].tolist(),
        "loss": float(found.loss[-1, 0]),
        "distance": float(found.distance[0]),
        "gradient_norm": float(found.gradient_norm[-1, 0]),
        "bursts": len(find_bursts(found)),
    }


def test_pokemon_with_a_tiny_rate_stops_64_74_from_the_minimum(capsys):
    code, out, err = run(
        capsys, "descend", "pokemon", "--optimizer", "gd", "--lr", "1e-7", "--steps", "100000",
        "--json",
    )  # fmt: skip
    found = json.loads(out)
    assert code == 0 and err == ""
    assert list(found) == FIELDS
    expected = library("pokemon", "gd", lr=1e-7, steps=100_000)
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, rel=1e-12), key
    assert found["distance"] == pytest.approx(64.741289, rel=1e-6)  # the lecture's stuck run
    assert found["minimum"] == pytest.approx(list(surface("pokemon").minimum), rel=1e-12)
    assert (found["surface"], found["optimizer"], found["steps"]) == ("pokemon", "gd", 100_000)
    # stuck, not at a critical point: the gradient is still large where it stopped
    assert found["gradient_norm"] > 100
    assert found["bursts"] == 0  # it creeps; it never jumps up the steep wall


def test_adagrad_with_a_fixed_rate_bursts(capsys):
    code, out, _ = run(
        capsys, "descend", "pokemon", "--optimizer", "lecture-adagrad", "--lr", "1",
        "--steps", "5000", "--json",
    )  # fmt: skip
    found = json.loads(out)
    expected = library("pokemon", "lecture-adagrad", lr=1.0, steps=5000)
    assert code == 0
    assert found == {**found, **expected}
    assert found["bursts"] == expected["bursts"] >= 3
    assert found["distance"] < 1e-2  # it did get to the minimum between bursts


def test_opt_schedule_and_start_reach_the_library(capsys):
    code, out, _ = run(
        capsys, "descend", "valley", "--optimizer", "adam", "--lr", "0.1",
        "--opt", "betas=0.8,0.99", "--schedule", "linear-warmup:steps=10 >> cosine:steps=40",
        "--steps", "50", "--start=2.5,-6", "--json",
    )  # fmt: skip
    found = json.loads(out)
    expected = library(
        "valley",
        "adam",
        lr=0.1,
        options={"betas": (0.8, 0.99)},
        schedule=schedules.from_spec("linear-warmup:steps=10 >> cosine:steps=40"),
        steps=50,
        start=(2.5, -6.0),
    )
    assert code == 0
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, rel=1e-12), key
    # the options mattered: plain Adam from the default start ends elsewhere
    assert found["final"] != pytest.approx(library("valley", "adam", lr=0.1, steps=50)["final"])


def test_lr_defaults_to_the_optimizers_own(capsys):
    code, out, _ = run(
        capsys, "descend", "minimum", "--optimizer", "adam", "--steps", "20", "--json"
    )
    found = json.loads(out)
    assert code == 0
    assert found["final"] == pytest.approx(library("minimum", "adam", lr=1e-3, steps=20)["final"])
    # Adam's first steps move each coordinate by about η = 1e-3 towards the minimum
    start = surface("minimum").start
    assert found["final"][0] == pytest.approx(start[0] - 20 * 1e-3, rel=1e-3)


def test_diverged_run_is_still_valid_json(capsys):
    code, out, _ = run(
        capsys, "descend", "pokemon", "--optimizer", "gd", "--lr", "1", "--steps", "300", "--json"
    )
    found = json.loads(out, parse_constant=pytest.fail)  # no NaN or Infinity literals
    assert code == 0
    assert found["final"] == [None, None] and found["distance"] is None
    assert found["minimum"] == pytest.approx(list(surface("pokemon").minimum))


def test_text_output(capsys):
    code, out, _ = run(
        capsys, "descend", "saddle", "--optimizer", "gd", "--lr", "0.1", "--steps", "200"
    )
    expected = library("saddle", "gd", lr=0.1, steps=200)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "saddle: gd, η = 0.1, 200 steps"
    assert lines[1] == "  start        (θ1, θ2) = (1.5, 0.001)"
    b, w = expected["final"]
    assert lines[2] == f"  final        (θ1, θ2) = ({b:.6g}, {w:.6g})"
    assert f"L = {expected['loss']:.6g}" in lines[3]
    # it escaped the saddle along θ2 to the minimum at (0, √2), measured from there
    assert (
        lines[4] == f"  distance to the nearest minimum (0, 1.41421) = {expected['distance']:.6g}"
    )
    assert expected["distance"] < 1e-15
    assert lines[5] == f"  gradient norm ‖∇L‖ = {expected['gradient_norm']:.6g}"
    assert lines[6].startswith("  bursts       0 (runs of |θ2 − θ2*| > 1")
    assert w == pytest.approx(2**0.5, rel=1e-15)


def test_the_saddle_is_measured_from_the_nearest_minimum_not_from_the_saddle_point(capsys):
    """From (1.5, 0) GD slides into the saddle point (0, 0) and stays: √2 from either minimum."""
    argv = ["descend", "saddle", "--optimizer", "gd", "--lr", "0.1", "--steps", "200"]
    code, out, _ = run(capsys, *argv, "--start", "1.5,0", "--json")
    found = json.loads(out)
    assert code == 0 and abs(found["final"][0]) < 1e-19 and found["final"][1] == 0.0
    assert found["distance"] == pytest.approx(2**0.5, rel=1e-15)
    assert found["minimum"] == [0.0, 2**0.5]  # the tie goes to the first minimum
    assert found["bursts"] == 0
    code, out, _ = run(capsys, *argv, "--start", "0.5,-0.3", "--json")
    found = json.loads(out)  # descends to the minimum below
    assert found["minimum"] == [0.0, -(2**0.5)] and found["distance"] < 1e-15
    assert found["bursts"] == 0


def test_a_start_far_away_has_a_finite_distance(capsys):
    argv = ["descend", "minimum", "--optimizer", "gd", "--lr", "0.1", "--steps", "1"]
    code, out, _ = run(capsys, *argv, "--start", "1e200,0")
    assert code == 0
    assert "  distance to the minimum (0, 0) = 8e+199" in out.splitlines()  # (1 − 2η)·10²⁰⁰


def test_plot_writes_a_png(capsys, tmp_path):
    target = tmp_path / "figures" / "valley.png"
    code, out, _ = run(
        capsys, "descend", "valley", "--optimizer", "gd", "--lr", "1e-2", "--steps", "100",
        "--plot", str(target),
    )  # fmt: skip
    assert code == 0
    assert f"plot: {target}" in out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size > 10_000  # contours and a path, not an empty canvas


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["pokemn", "--optimizer", "gd"],
            "unknown surface 'pokemn'; valid: " + ", ".join(SURFACES),
        ),
        (["pokemon", "--optimizer", "gd", "--start", "1"], "expected two finite numbers"),
        (["pokemon", "--optimizer", "gd", "--start", "1,2,3"], "got '1,2,3'"),
        (["pokemon", "--optimizer", "gd", "--start", "a,b"], "got 'a,b'"),
        (["pokemon", "--optimizer", "gd", "--start", "1,inf"], "got '1,inf'"),
        (["pokemon", "--optimizer", "gd", "--steps", "0"], "must be >= 1, got 0"),
        (["pokemon", "--optimizer", "gdd"], "unknown optimizer 'gdd'; choose one of: gd, sgd"),
        (["pokemon", "--optimizer", "gd", "--opt", "beta=1"], "gd has no option 'beta'"),
        (["pokemon", "--optimizer", "gd", "--schedule", "cosin"], "unknown schedule 'cosin'"),
        (["pokemon"], "the following arguments are required: --optimizer"),
    ],
)
def test_errors_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, "descend", *argv)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert message in err


def test_final_point_is_a_float64_pair(capsys):
    _, out, _ = run(capsys, "descend", "minimum", "--optimizer", "gd", "--steps", "1", "--json")
    found = json.loads(out)
    # one step of η = 1e-2 on x² + 2y²: θ ← θ − η·(2x, 4y)
    x, y = surface("minimum").start
    expected = torch.tensor([x - 1e-2 * 2 * x, y - 1e-2 * 4 * y], dtype=torch.float64)
    assert found["final"] == pytest.approx(expected.tolist(), rel=1e-15)


def test_a_scheduled_plot_title_raises_eta_t_and_one_step_is_singular(capsys, tmp_path):
    """The title's η^t is drawn as math, not as a caret; one step reads "1 step"."""
    import ravine.report.plots as plots

    titles = []
    real = plots.plot_contour

    def recording(*args, title, **keywords):
        titles.append(title)
        return real(*args, title=title, **keywords)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "plot_contour", recording)
        code, out, err = run(
            capsys, "descend", "valley", "--optimizer", "gd", "--lr", "1e-2", "--steps", "1",
            "--schedule", "cosine:steps=1", "--plot", str(tmp_path / "valley.png"),
        )  # fmt: skip
    assert code == 0, err
    assert titles == ["valley: gd, η = 0.01, η$^{t}$: cosine:steps=1, 1 step"]
    assert out.splitlines()[0] == "valley: gd, η = 0.01 × cosine:steps=1, 1 step"


def test_a_diverged_run_says_so_instead_of_printing_nan(capsys):
    """GD with η = 1 on pokemon leaves the window at step 1 and ends in inf/nan: the text says
    where it diverged (the sweep's rule) and prints no nan."""
    argv = ["descend", "pokemon", "--optimizer", "gd", "--lr", "1", "--steps", "100"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "nan" not in out and "inf" not in out
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("  diverged     from step 1: L = 1.11661e+20, past L⁰ + 9·|L⁰| = ")
    assert lines[2].endswith("(L⁰ = 3.67082e+07); try a smaller η")
    # finite but ten times above its start: the numbers and the word
    code, out, _ = run(
        capsys, "descend", "valley", "--optimizer", "gd", "--lr", "1", "--steps", "1"
    )
    assert "  loss         L = 157732" in out
    assert out.splitlines()[-1].startswith("  diverged     from step 1: L = 157732, past")
    # a run that descends says nothing of divergence
    _, out, _ = run(capsys, "descend", "valley", "--optimizer", "gd", "--steps", "10")
    assert "diverged" not in out
    # a start so far out that L⁰ overflows: the finite numbers stay, ∞ for the others
    argv = ["descend", "minimum", "--optimizer", "gd", "--lr", "0.1", "--steps", "1"]
    _, out, _ = run(capsys, *argv, "--start", "1e200,0")
    assert "  loss         L = ∞" in out and "diverged" not in out and "inf" not in out
