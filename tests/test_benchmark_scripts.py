"""The optimizer-step benchmark runs end to end at a tiny size (its numbers are not checked:
timings on a shared machine mean nothing, and no test may depend on the clock)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ravine.optim import catalog

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "optimizer_step.py"
TINY = ["--params", "2000", "--tensors", "10", "--repeats", "2", "--warmup", "1"]
TINY += ["--bandwidth-mib", "1", "--skip-compile", "--threads", "1"]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("optimizer_step_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def run(bench, capsys, *extra: str) -> tuple[str, dict]:
    threads = torch.get_num_threads()
    try:
        bench.main([*TINY, *extra])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    tables, _, document = out.partition("\n{")
    return tables, json.loads("{" + document)


def test_every_rule_against_every_torch_path(bench, capsys):
    tables, doc = run(bench, capsys, "--skip-memory", "--skip-fast")
    assert [row["rule"] for row in doc["rows"]] == list(bench.RULES)
    assert doc["bandwidth"]["bytes_per_s"] > 0
    for row in doc["rows"]:
        assert row["rule"] in tables
        paths = row["paths"]
        assert set(paths) == {*bench.RAVINE_PATHS, *bench.TORCH_PATHS}
        assert paths["ravine eager"]["step_s"] > 0
        assert paths["torch foreach"]["step_s"] > 0
        assert paths["torch compile"] == {"unavailable": "skipped (--skip-compile)"}
        assert row["floor_s"] > 0
        assert row["traffic"]["bytes_per_step"] == 4 * bench.TRAFFIC[row["rule"]].words * 2000
        assert row["torch_fastest"]["path"] in bench.TORCH_PATHS
        assert row["ratio_to_torch_fastest"]["ravine eager"] > 0
        for check in ("ratio_to_torch_fastest", "ratio_to_floor", "first_step_s"):
            assert row["targets"][check]["met"] in (True, False)
        assert row["targets"]["extra_bytes"]["met"] is None  # memory skipped
    rows = {row["rule"]: row for row in doc["rows"]}
    # torch 2.13 has fused CPU kernels for Adam, AdamW, SGD and Adagrad only
    assert "step_s" in rows["adam"]["paths"]["torch fused"]
    assert "unavailable" in rows["rmsprop"]["paths"]["torch fused"]
    assert rows["lecture-adagrad"]["torch_reference"].startswith("torch.optim.Adagrad")
    assert rows["lecture-rmsprop"]["torch_reference"].startswith("torch.optim.RMSprop")


def test_traffic_names_state_the_optimizer_keeps(bench):
    """Each rule's state tensors (written besides θ) are as many as the optimizer keeps."""
    for name, traffic in bench.TRAFFIC.items():
        params = bench.parameters(8, 2)
        optimizer = catalog.create(name, params)
        optimizer.step()
        state = optimizer.state[params[0]]
        full = [v for v in state.values() if isinstance(v, torch.Tensor) and v.shape == (4,)]
        assert len(full) == traffic.state, name


def test_fast_path_when_ravine_has_one(bench, capsys, monkeypatch):
    """A ravine whose ``fused=True`` optimizer says so is timed in the fast columns."""
    create = catalog.create

    def with_fast_path(name, params, fused=False, **options):  # eager, but says it is fast
        return SimpleNamespace(fused=fused, step=create(name, params, **options).step)

    monkeypatch.setattr(bench.catalog, "create", with_fast_path)
    monkeypatch.setattr(bench, "warm_compiler", lambda: 0.0)  # nothing compiles here
    _, doc = run(bench, capsys, "--skip-memory", "--only", "adam")
    (row,) = doc["rows"]
    assert doc["ravine_fast"] == {"adam": "available"}
    assert row["paths"]["ravine fast"]["step_s"] > 0
    assert row["paths"]["ravine fast raise"]["step_s"] > 0
    assert row["targets"]["path"] == "ravine fast"


def test_fast_path_missing_is_reported(bench, monkeypatch):
    create = catalog.create

    def eager_only(name, params, fused=False, **options):
        if fused:
            raise TypeError("unexpected keyword argument 'fused'")
        return create(name, params, **options)

    monkeypatch.setattr(bench.catalog, "create", eager_only)
    assert "fused=True not accepted" in bench.ravine_fast_missing("adam")


def test_memory_and_first_step_in_a_fresh_process(bench, capsys):
    _, doc = run(bench, capsys, "--only", "lecture-rmsprop", "--skip-fast")
    (row,) = doc["rows"]
    memory = row["memory"]["ravine eager"]
    if "unavailable" in memory and "clear_refs" in memory["unavailable"]:
        pytest.skip("needs Linux /proc")
    assert memory["fresh_process_first_step_s"] > 0
    assert memory["compiler_startup_s"] is None  # eager: the compiler is not started
    assert memory["state_bytes"] == 4 * 2000
    assert memory["extra_bytes"] == memory["peak_growth_bytes"] - memory["state_bytes"]
    assert memory["resident_growth_bytes"] <= memory["peak_growth_bytes"]
    assert memory["later_steps_peak_growth_bytes"] <= memory["peak_growth_bytes"]
    for kind in ("later_steps_peak", "resident"):
        extra = memory[f"{kind}_growth_bytes"] - memory["state_bytes"]
        assert memory[f"extra_{kind}_bytes"] == extra
    assert row["targets"]["extra_bytes"]["met"] in (True, False)
    assert row["targets"]["first_step_kind"] == "fresh process"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--only", "bogus"], ["'bogus'", "adam", "lecture-rmsprop"]),
        (["--tensors", "0"], ["--tensors", "at least 1"]),
        (["--params", "10", "--tensors", "50"], ["--tensors 50", "--params 10"]),
        (["--repeats", "many"], ["--repeats", "'many'"]),
    ],
)
def test_bad_arguments_are_named(bench, capsys, argv, words):
    with pytest.raises(SystemExit) as exit_:
        bench.parse(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err
