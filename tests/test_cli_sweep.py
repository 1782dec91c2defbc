"""`ravine sweep` and `ravine descend --lr A:B:N`: the numbers are the library's sweep's, the
JSON is strict with its fields, --plot writes a PNG, bad η specs fail in one line."""

import json

import pytest
import torch

from ravine import cli
from ravine.sweep import parse_lrs, sweep

FIELDS = {
    "problem",
    "kind",
    "optimizer",
    "lrs",
    "steps",
    "initial_loss",
    "final_loss",
    "diverged",
    "diverged_at",
    "best",
    "curve_steps",
    "losses",
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Large batched tensors gain nothing from threads on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_descend_with_a_grid_of_rates_prints_the_sweep(capsys):
    code, out, err = run(
        capsys, "descend", "pokemon", "--optimizer", "gd", "--lr", "1e-8:1e-5:7",
        "--steps", "2000", "--json",
    )  # fmt: skip
    assert code == 0, err
    found = json.loads(out)
    assert FIELDS <= set(found) and found["kind"] == "surface"
    expected = sweep("pokemon", "gd", lrs=parse_lrs("1e-8:1e-5:7"), steps=2000)
    assert found["lrs"] == expected.lrs and len(found["lrs"]) == 7
    assert found["diverged"] == expected.diverged.tolist()
    assert True in found["diverged"] and False in found["diverged"]
    finals = [v for v, bad in zip(found["final_loss"], found["diverged"], strict=True) if not bad]
    assert finals == [v for v in expected.final_loss.tolist() if v == v][: len(finals)]
    assert found["best"]["lr"] == expected.best_lr
    assert len(found["final"]) == 7 and len(found["distance"]) == 7


def test_descend_with_one_rate_is_unchanged(capsys):
    code, out, err = run(
        capsys, "descend", "valley", "--optimizer", "gd", "--lr", "1e-2", "--steps", "10", "--json"
    )
    assert code == 0, err
    found = json.loads(out)
    assert found["surface"] == "valley" and "bursts" in found and "lrs" not in found


def test_sweep_of_the_sinc_network_text_and_plot(capsys, tmp_path):
    plot = tmp_path / "sweep.png"
    code, out, err = run(
        capsys, "sweep", "--task", "sinc", "--optimizer", "adam", "--lr", "1e-3,1e-2,1e4",
        "--steps", "20", "--plot", str(plot),
    )  # fmt: skip
    assert code == 0, err
    expected = sweep("sinc", "adam", lrs=[1e-3, 1e-2, 1e4], steps=20)
    assert f"best         η = {expected.best_lr:.4g}: loss {expected.best_loss:.6g}" in out
    assert "(full batch)" in out and f"diverged     {int(expected.diverged.sum())} of 3" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_json_is_strict_and_the_library_s(capsys):
    code, out, err = run(
        capsys, "sweep", "--task", "sinc", "--optimizer", "gd", "--lr", "0.1,1e4,1e8",
        "--steps", "30", "--seed", "3", "--json",
    )  # fmt: skip
    assert code == 0, err
    found = json.loads(out)  # nan and inf were written as null
    assert found["final_loss"][2] is None and found["diverged"] == [False, True, True]
    assert found["diverged_at"] == [None, 1, 1]  # 1e265: finite but far above the start
    expected = sweep("sinc", "gd", lrs=[0.1, 1e4, 1e8], steps=30, seed=3)
    assert found["final_loss"][0] == expected.final_loss[0].item()


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["sweep", "--task", "sinc", "--optimizer", "gd", "--lr", "1:1e-3:4"], "0 < low < high"),
        (["sweep", "--task", "sinc", "--optimizer", "gd", "--lr", "1e-3:1:n"], "N a whole number"),
        (["descend", "pokemon", "--optimizer", "gd", "--lr", "0,1"], "η = 0 is not > 0"),
        (["sweep", "--task", "moon", "--optimizer", "gd", "--lr", "1"], "unknown task or surface"),
        (["sweep", "--task", "sinc", "--optimizer", "gd"], "ravine sweep needs --lr"),
        (
            ["sweep", "--task", "sinc", "--optimizer", "gd", "--lr", "1", "--opt", "x=1"],
            "no option",
        ),
    ],
)
def test_bad_input_fails_in_one_line(capsys, argv, reason):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert reason in err and err.count("\n") == 1


def test_a_sweep_on_the_saddle_measures_from_the_nearest_minimum(capsys):
    """From (1.5, 0) GD slides into the saddle point (0, 0): √2 from either minimum (0, ±√2),
    not 0; from the default start, just beside the line, it reaches (0, √2)."""
    argv = ["descend", "saddle", "--optimizer", "gd", "--lr", "0.05,0.1", "--steps", "200"]
    code, out, err = run(capsys, *argv, "--start", "1.5,0", "--json")
    assert code == 0, err
    found = json.loads(out)
    root = 2**0.5
    assert found["minima"] == [[0.0, root], [0.0, -root]]
    assert all(abs(x) < 1e-8 and y == 0.0 for x, y in found["final"])  # at the saddle point
    assert found["distance"] == pytest.approx([root, root], rel=1e-15)
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].endswith("  distance to the nearest minimum")
    assert [float(line.split()[2]) for line in lines[2:4]] == pytest.approx([0, 0], abs=1e-8)
    code, out, _ = run(capsys, "descend", "valley", "--optimizer", "gd", "--lr", "0.01,0.02")
    assert out.splitlines()[1].endswith("  distance to the minimum")


def test_a_sweep_where_every_run_diverged_still_plots(capsys, tmp_path):
    """GD with η ≥ 1 on pokemon diverges at once: no run is kept, and the figure marks them
    all along its top instead of failing on an empty list of kept losses."""
    plot = tmp_path / "sweep.png"
    code, out, err = run(
        capsys, "sweep", "--task", "pokemon", "--optimizer", "gd", "--lr", "1,2",
        "--steps", "20", "--plot", str(plot),
    )  # fmt: skip
    assert code == 0, err
    assert "best         none: every run diverged" in out and "diverged     2 of 2" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_step_is_singular_in_the_heading(capsys):
    code, out, err = run(
        capsys, "descend", "valley", "--optimizer", "gd", "--lr", "0.01,0.02", "--steps", "1"
    )
    assert code == 0, err
    assert out.splitlines()[0] == "valley: gd, 2 η from 0.01 to 0.02, 1 step"


def test_a_diverged_runs_final_loss_reads_as_a_dash_not_nan(capsys):
    code, out, err = run(
        capsys,
        "sweep",
        "--task",
        "pokemon",
        "--optimizer",
        "gd",
        "--lr",
        "1e-6,1",
        "--steps",
        "100",
    )  # fmt: skip  (by step 100 the loss of η = 1 is nan, past inf)
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if "diverged (from step" in line]
    assert row.split()[:2] == ["1", "—"] and "nan" not in out
    from ravine.commands.sweep import _cell

    assert (_cell(float("inf")), _cell(1.5e20), _cell(float("nan"))) == ("∞", "1.5e+20", "—")
