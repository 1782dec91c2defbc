"""The benchmarks run end to end at a tiny size (their numbers are not checked:
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
        # the floor comes from the probe timed in the row's own rounds, at its median
        probe = row["bandwidth_probe"]
        assert 0 < probe["best_s"] <= probe["median_s"]
        assert row["bandwidth_bytes_per_s"] == pytest.approx(3 * 2**20 / probe["median_s"])
        floor = row["traffic"]["bytes_per_step"] / row["bandwidth_bytes_per_s"]
        assert row["floor_s"] == pytest.approx(floor)
        # every timed path, torch's included, and the probe ran in the same rounds
        timed = [label for label, result in paths.items() if "step_s" in result]
        assert row["rounds"]["order"] == [*timed, bench.PROBE]
        assert row["rounds"]["started_by"] == row["rounds"]["order"][:2]  # --repeats 2
        assert row["targets"]["ratio_to_torch_fastest"]["below_floor"] in (True, False)
        assert row["torch_fastest"]["path"] in bench.TORCH_PATHS
        assert row["ratio_to_torch_fastest"]["ravine eager"] > 0
        for check in ("ratio_to_torch_fastest", "ratio_to_floor", "first_step_s"):
            assert row["targets"][check]["met"] in (True, False)
        assert row["targets"]["extra_bytes"]["met"] is None  # memory skipped
    rows = {row["rule"]: row for row in doc["rows"]}
    assert "torch foreach" in rows["lecture-adagrad"]["rounds"]["order"]  # timed again there
    # torch 2.13 has fused CPU kernels for Adam, AdamW, SGD and Adagrad only
    assert "step_s" in rows["adam"]["paths"]["torch fused"]
    assert "unavailable" in rows["rmsprop"]["paths"]["torch fused"]
    assert rows["lecture-adagrad"]["torch_reference"].startswith("torch.optim.Adagrad")
    assert rows["lecture-rmsprop"]["torch_reference"].startswith("torch.optim.RMSprop")


def test_traffic_names_state_the_optimizer_keeps(bench):
    """Each rule's state tensors (written besides θ) are as many as the optimizer keeps."""
    timing = sys.modules["step_timing"]  # what the benchmarks share, loaded with the script
    for name, traffic in bench.TRAFFIC.items():
        params = timing.parameters(8, 2)
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
    _, doc = run(bench, capsys, "--skip-memory", "--only", "adam", "--repeats", "9")
    (row,) = doc["rows"]
    assert doc["ravine_fast"] == {"adam": "available"}
    assert row["paths"]["ravine fast"]["step_s"] > 0
    assert row["paths"]["ravine fast raise"]["step_s"] > 0
    assert row["paths"]["ravine fast"]["graphs_compiled"] == 0
    assert row["targets"]["path"] == "ravine fast"
    # 7 paths and the probe over 9 rounds: each begins a round, the first one twice
    order = row["rounds"]["order"]
    assert order == [*bench.RAVINE_PATHS, *bench.TORCH_FLAGS, bench.PROBE]
    assert row["rounds"]["started_by"] == [*order, order[0]]


def test_rounds_rotate_through_every_path(bench):
    """Round r runs every step once, starting at the r-th (mod n) and going on cyclically."""
    ran: list[str] = []
    steps = {label: (lambda label=label: ran.append(label)) for label in "abcd"}
    times, graphs, orders = bench.timed_rounds(steps, 5)
    assert orders == [list("abcd"), list("bcda"), list("cdab"), list("dabc"), list("abcd")]
    assert ran == [label for order in orders for label in order]
    assert {label: len(seconds) for label, seconds in times.items()} == dict.fromkeys("abcd", 5)
    assert graphs == dict.fromkeys("abcd", 0)
    for position in range(4):  # over n rounds every step runs once in every position
        assert sorted(order[position] for order in orders[:4]) == list("abcd")


def targets_row(rule: str, torch_s: float | None, floor_s: float) -> dict:
    """A row as run_row makes it, with only what targets() reads: ravine fast 0.81 ms."""
    fast = {"step_s": 0.81e-3, "first_step_s": 1.0, "ratio_to_floor": 0.81e-3 / floor_s}
    row = {
        "rule": rule,
        "paths": {"ravine fast": fast, "ravine eager": {"step_s": 2e-3, "first_step_s": 0.1}},
        "memory": {},
        "torch_fastest": None,
        "ratio_to_torch_fastest": {},
        "floor_s": floor_s,
        "param_bytes": 4000,
    }
    if torch_s is not None:
        row["torch_fastest"] = {"path": "torch fused", "step_s": torch_s}
        row["ratio_to_torch_fastest"] = {"ravine fast": 0.81e-3 / torch_s}
    return row


def test_target_below_the_floor_is_said(bench):
    """0.6 × torch's 1 ms is 0.6 ms, less than the floor of 0.7 ms: not reachable."""
    check = bench.targets(targets_row("rmsprop", 1e-3, 0.7e-3))["ratio_to_torch_fastest"]
    expected = {"value": pytest.approx(0.81), "at_most": 0.6, "met": False, "below_floor": True}
    assert check == expected
    text = bench._mark(check, f"{check['value']:.2f} (≤{check['at_most']})")
    assert text == "0.81 (≤0.6) NOT met, below floor"
    # 1.0 × torch's 1 ms is within reach of the same floor: judged as before
    check = bench.targets(targets_row("adam", 1e-3, 0.7e-3))["ratio_to_torch_fastest"]
    assert check["met"] is True
    assert check["below_floor"] is False
    assert bench._mark(check, "0.81 (≤1.0)") == "0.81 (≤1.0) met"
    # no torch path timed: nothing to judge
    check = bench.targets(targets_row("rmsprop", None, 0.7e-3))["ratio_to_torch_fastest"]
    assert check["met"] is None
    assert check["below_floor"] is None


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


# --- the CUDA benchmark: its command line here, its numbers only where there is a GPU ----------

CUDA_SCRIPT = SCRIPT.parent / "optimizer_step_cuda.py"


@pytest.fixture(scope="module")
def cuda_bench():
    spec = importlib.util.spec_from_file_location("optimizer_step_cuda_benchmark", CUDA_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_the_cuda_benchmark_reads_its_command_line(cuda_bench):
    args = cuda_bench.parse([])
    assert args.params == [20_000_000, 200_000_000] and args.tensors == [100, 1000]
    assert args.only == list(cuda_bench.RULES) and args.dtype == "float32"
    args = cuda_bench.parse(
        ["--params", "1000", "--tensors", "10", "--only", "adam", "--dtype", "bfloat16"]
    )
    assert args.params == [1000] and args.only == ["adam"]


@pytest.mark.parametrize(
    ("script", "argv", "message"),
    [
        ("cuda_bench", ["--only", "adamax"], "not a benchmarked rule"),
        ("cuda_bench", ["--params", "10", "--tensors", "100"], "more tensors than --params"),
        ("cuda_bench", ["--dtype", "float16"], "invalid choice"),
        ("cuda_bench", ["--repeats", "0"], "must be at least 1"),
        ("small_bench", ["--updates", "0"], "must be >= 1, got 0"),
        ("small_bench", ["--rounds", "x"], "expected a whole number, got 'x'"),
        ("small_bench", ["--threads", "-1"], "must be >= 0, got -1"),
    ],
)
def test_the_benchmarks_refuse_bad_arguments_in_one_line(request, capsys, script, argv, message):
    """The CUDA and small-network benchmarks' command lines: exit 2 and a one-line reason."""
    with pytest.raises(SystemExit) as info:
        request.getfixturevalue(script).parse(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_the_cuda_benchmark_without_a_gpu_says_so_and_exits_2(cuda_bench, capsys):
    with pytest.raises(SystemExit) as info:
        cuda_bench.main(["--params", "1000", "--tensors", "10"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "needs a CUDA device" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_cuda_benchmark_runs_end_to_end_at_a_tiny_size(cuda_bench, capsys):
    argv = ["--params", "20000", "--tensors", "10", "--only", "adam", "--repeats", "2"]
    cuda_bench.main([*argv, "--skip-compile", "--bandwidth-mib", "8"])
    out = capsys.readouterr().out
    document = json.loads(out[out.index("\n{") :])
    paths = document["rows"][0]["paths"]
    assert paths["ravine default"]["step_s"] > 0 and paths["torch fused"]["step_s"] > 0
    assert document["rows"][0]["hbm_bytes_per_s"] > 0


# --- small networks: ravine's default update against torch.optim's ------------------------------

SMALL_SCRIPT = SCRIPT.parent / "small_network.py"


@pytest.fixture(scope="module")
def small_bench():
    spec = importlib.util.spec_from_file_location("small_network_benchmark", SMALL_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_small_network_benchmark_runs_end_to_end(small_bench, capsys):
    threads = torch.get_num_threads()
    try:
        small_bench.main(["--updates", "2", "--rounds", "1"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    table, _, document = out.partition("\n{")
    rows = json.loads("{" + document)["rows"]
    assert len(rows) == len(small_bench.PROBLEMS) * len(small_bench.OPTIMIZERS)
    assert {r["network"] for r in rows} == set(small_bench.PROBLEMS)
    assert all(r["update_ratio"] > 0 and r["step_ratio"] > 0 for r in rows)
    assert "digits MLP" in table and "SGD, momentum 0.9" in table
