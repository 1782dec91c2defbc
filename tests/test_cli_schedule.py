"""`ravine schedule` and `--schedule`: values, JSON, plot, and one clear line per bad spec."""

import json

import pytest

from ravine import cli


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_json_holds_every_value_and_the_transformer_peak(capsys):
    code, out, _ = run(
        capsys, "schedule", "transformer:d_model=512,warmup=4000", "--steps", "6000", "--json"
    )
    found = json.loads(out)
    assert code == 0
    assert len(found["values"]) == 6000
    assert found["peak"]["step"] == 3999
    assert found["peak"]["value"] == pytest.approx(512**-0.5 * 4000**-0.5, rel=1e-12)
    assert found["values"][0] == pytest.approx(512**-0.5 * 4000**-1.5, rel=1e-12)
    assert found["warmup_end"] == 3999


def test_lr_scales_the_multiplier_and_joins_start_where_earlier_pieces_end(capsys):
    spec = "linear-warmup:steps=4 >> cosine:steps=8"
    code, out, _ = run(capsys, "schedule", spec, "--lr", "0.5", "--steps", "14", "--json")
    values = json.loads(out)["values"]
    assert code == 0
    assert values[:5] == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5])
    assert values[8] == pytest.approx(0.25)  # cosine half-way: t = 4 + 4
    assert values[12:] == pytest.approx([0.0, 0.0])  # cosine holds its end
    assert json.loads(out)["spec"] == spec


def test_text_and_plot(capsys, tmp_path):
    target = tmp_path / "plots" / "warmup.png"
    spec = "warmup-cosine:warmup=10,steps=100"
    code, out, _ = run(capsys, "schedule", spec, "--steps", "100", "--plot", str(target))
    assert code == 0
    assert "peak 1 at step 10; warm-up ends at step 10" in out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cosin:steps=3"], "unknown schedule 'cosin'; valid: constant, step, multistep,"),
        (["cosine"], "cosine needs steps="),
        (["cosine:steps=10,foo=2"], "cosine has no parameter 'foo'; valid: steps, end"),
        (["cosine:steps=ten"], "cosine: steps=ten: expected a whole number"),
        (["cosine:steps=-5"], "cosine: steps must be an integer >= 1, got -5"),
        (["warmup-cosine:warmup=50,steps=20"], "warmup (50) must be shorter than the total"),
        (["exponential:gamma=0 "], "gamma must be in (0, 1], got 0.0"),
        (["constant:value=-1"], "value must be a number > 0, got -1.0"),
        (["step:step_size=3,gamma=x"], "step: gamma=x: expected a number"),
        (["exponential:gamma=0.9 >> cosine:steps=5"], "piece 1 (exponential:gamma=0.9) has no"),
        (["cosine:steps=10", "--lr", "0"], "argument --lr: must be a finite number > 0, got 0"),
        (["cosine:steps=10", "--lr", "-1"], "must be a finite number > 0"),
        (["cosine:steps=10", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
    ],
)
def test_bad_specs_fail_with_one_line(capsys, argv, message):
    if "--steps" not in argv:
        argv = [*argv, "--steps", "5"]
    code, out, err = run(capsys, "schedule", *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1, err


def test_optimizer_commands_take_a_schedule(capsys):
    spec = "linear-warmup:steps=5 >> cosine:steps=25"
    code, out, _ = run(
        capsys, "verify", "--optimizer", "adam", "--schedule", spec, "--steps", "30", "--json"
    )
    [result] = json.loads(out)
    assert code == 0 and result["relative_error"] == 0.0
    _, plain, _ = run(capsys, "verify", "--optimizer", "adam", "--steps", "30", "--json")
    assert json.loads(plain)[0]["final_loss"] != result["final_loss"]  # the schedule acted


def test_optimizer_commands_refuse_a_bad_schedule_in_one_line(capsys):
    code, _, err = run(capsys, "verify", "--optimizer", "adam", "--schedule", "cosine")
    assert code == 2
    assert "argument --schedule: cosine needs steps=" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ("linear-warmup:steps=5,start=2", "η^t = 0.1 × (2 − 1·min(t, 5)/5)"),
        ("linear-warmup:steps=5", "η^t = 0.1 × (0 + 1·min(t, 5)/5)"),
        ("cosine:steps=10", "η^t = 0.1 × ½·(1 + cos(π·min(t, 10)/10))"),
        ("cosine-restarts:period=10", "η^t = 0.1 × ½·(1 + cos(π·t_cur/T)), T = 10·1^restarts"),
    ],
)
def test_eta_multiplies_the_whole_formula(spec, line, capsys):
    """A sum is put in parentheses after η ×; a line down has a minus sign and no warm-up."""
    assert cli.main(["schedule", spec, "--lr", "0.1", "--steps", "8"]) == 0
    out = capsys.readouterr().out
    assert line in out.splitlines()[1]
    assert ("warm-up ends" in out) is (spec == "linear-warmup:steps=5")


def test_the_plot_title_raises_the_formulas_powers(capsys, tmp_path, monkeypatch):
    from ravine.report import plots

    titles = []
    monkeypatch.setattr(plots, "plot_schedule", lambda values, path, **kw: titles.append(kw))
    code, _, _ = run(
        capsys,
        "schedule",
        "step:step_size=10,gamma=0.5",
        "--steps",
        "30",
        "--plot",
        str(tmp_path / "s.png"),
    )
    assert code == 0
    formula = titles[0]["title"].splitlines()[1]
    assert "^" not in formula.replace("$^{", "")  # no caret left outside mathtext
    assert "0.5$^{\\lfloor t/10\\rfloor }$" in formula
