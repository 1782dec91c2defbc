"""`ravine reproduce` on two fake experiments: exit status from the verdicts, the report, the
progress, and one line for an unknown --only name."""

import io
import json
import sys
import types
from pathlib import Path

import matplotlib
import pytest

from ravine import cli, experiments
from ravine.report import Result

matplotlib.use("Agg")


def fake_experiment(name: str, reproduced: bool, calls: list) -> types.ModuleType:
    """A module with NAME, TITLE, CLAIM and run(out, quick) that draws one figure."""
    module = types.ModuleType(f"ravine.experiments.fake_{name}")
    module.NAME = f"fake-{name}"
    module.TITLE = f"Fake claim {name}"
    module.CLAIM = f"{name} holds"

    def run(out: Path, quick: bool = False) -> Result:
        import matplotlib.pyplot as plt

        calls.append((module.NAME, quick))
        figure = Path(module.NAME) / "curve.png"
        (out / figure).parent.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
        ax.plot([0, 1], [1, 0])
        fig.savefig(out / figure)
        plt.close(fig)
        measured = 0.25 if reproduced else 4.0
        return Result(
            name=module.NAME,
            title=module.TITLE,
            claim=module.CLAIM,
            reproduced=measured < 1,
            verdict=f"measured ratio {measured} ({'<' if measured < 1 else '>='} 1)",
            numbers={"ratio": measured},
            figures=[figure],
        )

    module.run = run
    return module


@pytest.fixture
def fakes(monkeypatch):
    """``fakes(a=…, b=…)`` replaces the experiments with fake-a and fake-b, which reproduce
    their claims or not as told; it returns the list of (name, quick) of the runs made."""
    calls: list = []

    def install(a: bool = True, b: bool = True) -> list:
        order = {}
        for name, reproduced in (("a", a), ("b", b)):
            module = fake_experiment(name, reproduced, calls)
            monkeypatch.setitem(sys.modules, module.__name__, module)
            order[module.NAME] = f"fake_{name}"
        monkeypatch.setattr(experiments, "ORDER", order)
        return calls

    return install


def run(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(cli.main(list(argv)))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_all_reproduced_exits_0_and_writes_the_report(capsys, tmp_path, fakes):
    calls = fakes(a=True, b=True)
    out_dir = tmp_path / "report"
    code, out, err = run(capsys, "reproduce", "--out", str(out_dir))
    assert code == 0
    assert calls == [("fake-a", False), ("fake-b", False)]
    lines = out.splitlines()
    assert lines[0] == "fake-a  ✓  measured ratio 0.25 (< 1)"
    assert lines[1] == "fake-b  ✓  measured ratio 0.25 (< 1)"
    assert "2 of 2 claims reproduced" in out
    assert lines[-1] == f"report: {out_dir / 'index.html'}"
    found = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    assert found["reproduced"] is True
    assert [e["name"] for e in found["experiments"]] == ["fake-a", "fake-b"]
    assert all(e["seconds"] >= 0 for e in found["experiments"])
    html = (out_dir / "index.html").read_text(encoding="utf-8")
    assert '<img src="fake-a/curve.png"' in html and '<img src="fake-b/curve.png"' in html
    # the progress in a log (stderr is no terminal here): one line per experiment and one at
    # the end, on stderr only
    progress = err.splitlines()
    assert len(progress) == 3
    assert progress[0].startswith("ravine: 0/2  running fake-a  (")
    assert progress[1].startswith("ravine: 1/2  running fake-b  (")
    assert progress[2].startswith("ravine: 2/2  done  (")
    assert all(line.endswith(" s)") for line in progress)


def test_on_a_terminal_the_progress_is_a_bar_over_the_experiments(
    capsys, tmp_path, fakes, monkeypatch
):
    fakes(a=True, b=True)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)  # in the test: pytest's capture comes later
    code, out, _ = run(capsys, "reproduce", "--out", str(tmp_path))
    assert code == 0 and "2 of 2 claims reproduced" in out
    shown = screen.getvalue()
    assert "running fake-a:" in shown and "| 0/2 [" in shown and "experiment/s" in shown
    assert "ravine: " not in shown  # the bar instead of the lines


def test_one_claim_not_reproduced_exits_1(capsys, tmp_path, fakes):
    fakes(a=True, b=False)
    code, out, _ = run(capsys, "reproduce", "--out", str(tmp_path), "--quick")
    assert code == 1
    assert "fake-b  ✗  measured ratio 4.0 (>= 1)" in out.splitlines()
    assert "1 of 2 claims reproduced" in out
    found = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert found["reproduced"] is False
    assert [e["reproduced"] for e in found["experiments"]] == [True, False]


def test_only_runs_the_named_experiments_and_quick_reaches_them(capsys, tmp_path, fakes):
    calls = fakes(a=False, b=True)
    code, _, _ = run(capsys, "reproduce", "--out", str(tmp_path), "--only", "fake-b", "--quick")
    assert code == 0  # fake-a, which would fail, did not run
    assert calls == [("fake-b", True)]
    found = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert [e["name"] for e in found["experiments"]] == ["fake-b"]


def test_a_name_given_twice_runs_and_counts_once(capsys, tmp_path, fakes):
    calls = fakes()
    argv = ("--only", "fake-b", "fake-a", "fake-b")
    code, out, _ = run(capsys, "reproduce", "--out", str(tmp_path), *argv, "--jobs", "2")
    assert code == 0
    assert sorted(calls) == [("fake-a", False), ("fake-b", False)]
    assert "2 of 2 claims reproduced" in out
    found = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert [e["name"] for e in found["experiments"]] == ["fake-b", "fake-a"]
    assert (tmp_path / "index.html").read_text(encoding="utf-8").count(
        'id="experiment-fake-b"'
    ) == 1


def test_unknown_only_name_is_one_line_listing_the_valid_ones(capsys, tmp_path, fakes):
    calls = fakes()
    code, out, err = run(capsys, "reproduce", "--out", str(tmp_path), "--only", "fake-a", "fake-c")
    assert code == 2
    assert out == "" and calls == []
    assert len(err.splitlines()) == 1
    assert "unknown experiment 'fake-c'; valid: fake-a, fake-b" in err
    assert not (tmp_path / "index.html").exists()


def test_default_out_folder(capsys, tmp_path, fakes, monkeypatch):
    fakes()
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "reproduce")
    assert code == 0
    assert (tmp_path / "out" / "reproduce" / "index.html").is_file()
    assert out.splitlines()[-1] == "report: out/reproduce/index.html"
