"""Step time of ravine's optimizers against every torch path and the memory-bandwidth floor.

    python benchmarks/optimizer_step.py [--params 20000000] [--tensors 100 1000] [--repeats 10]
        [--warmup 3] [--only adam nadam ...] [--threads N] [--skip-compile] [--skip-fast]
        [--skip-memory] [--bandwidth-mib 256]

float32 parameters on the CPU, ``--params`` numbers in all, split into ``--tensors`` equal
tensors (each count is its own row), every gradient set (random, fixed seed). For each rule
(catalog names; by default adam, adamw, momentum = SGD with momentum 0.9, adagrad, rmsprop,
radam, nadam, lecture-adagrad, lecture-rmsprop) one run times ``step()`` of:

- ``ravine eager``: ``catalog.create(name, params, nonfinite="ignore")``, the reference path
  (``fused=False``, the default, not passed, so that the script runs on a ravine without it);
- ``ravine fast``: the same with ``fused=True``, when this ravine has the fast path (it is
  detected: an optimizer whose ``fused`` attribute is True, or whose class sets
  ``FUSED_AVAILABLE``; otherwise the column says n/a and why);
- ``… raise``: both again with ravine's default ``nonfinite="raise"``, the cost of checking
  every gradient for nan and inf (torch checks nothing, so the comparable times use "ignore");
- ``torch for-loop``, ``torch foreach``, ``torch fused``: torch.optim's class of the same
  algorithm with ``foreach=False``, ``foreach=True``, ``fused=True`` (fused only where torch has
  a CPU kernel, found by trying: Adam, AdamW, SGD, Adagrad in torch 2.13);
- ``torch compile``: the torch optimizer's step under ``torch.compile`` (torch's recipe: a
  function calling ``opt.step()`` compiled with ``fullgraph=False``), with an inductor cache
  that is empty when the run starts and dynamo reset (``torch._dynamo.reset()``) at the start
  of each row, before any of the row's paths is built (not between paths: that would discard
  the compiled kernel of ravine's fast path in the middle of the row). ``graphs_compiled`` in
  the JSON counts the graphs dynamo compiled during the path's own steps (first, warm-up and
  timed, each counted outside its timer): more than 1 means torch recompiled while being timed.
  Ravine's fast paths report theirs too.

The lecture's rules have no torch counterpart; they are compared with the torch algorithm
closest in memory traffic: lecture-adagrad with torch Adagrad (both read θ, g and one sum of
squares and write θ and the sum), lecture-rmsprop with torch RMSprop (θ, g and one average of
squares), lecture-momentum with torch SGD with momentum. Torch's paths are timed in every
row's own rounds (below), so lecture-adagrad's row times torch Adagrad again next to its own
paths, and torch compile pays its compilation in every row.

How a row is timed. On a shared machine step times drift by half over minutes, so two paths
timed minutes apart cannot be compared; a row's paths are therefore timed together. Every
path is built on its own fresh parameters with a fresh optimizer and takes its first step, one
path after another; then each takes ``--warmup`` untimed steps; then come ``--repeats``
rounds, in each of which every path takes one timed step, in an order rotated by one from
round to round (round r starts with path r mod n of the n and goes on cyclically; ``rounds``
in the JSON says which path began each round), so that a slow spell, and the position right
after another path's pass over memory, falls on every path alike. A path's time is the median
of its rounds. All paths' tensors are alive at once: two to four tensors of the parameters'
size per path (80 MB each at 20M parameters). ``first step`` is the time from building the
optimizer (and compiling, for torch compile) to the end of its first step on fresh objects:
the cost of flattening or compiling. Costs any process pays once are kept out of it: one
torch.optim step on a tiny tensor runs before anything is timed (torch.optim's first step
loads torch's compiler front end, seconds), and, unless both ``--skip-compile`` and
``--skip-fast``, torch compile is started on a trivial function (``compiler_startup_s`` in the
JSON) before the first compiled optimizer.

The bandwidth floor. A step cannot take less than the bytes it must move over the machine's
memory bandwidth; :data:`TRAFFIC` derives those bytes from each algorithm: the tensors one
step must read and write, 4 bytes per number each. For Adam θ, g, m, v are read and θ, m, v
written: 7 × 4 bytes per parameter. The bandwidth is measured in the row's own rounds: each
round holds, besides the paths, a bandwidth probe, ``a.add_(b)`` over two float32 buffers of
``--bandwidth-mib`` MiB each (far larger than any cache; made once per run), warmed up and
timed like a path, with the same threads. It moves 3 × 4 bytes per number (a and b read, a
written: the pattern of an optimizer, which writes only what it has read); those bytes over
the probe's median time are the row's bandwidth (``bandwidth_bytes_per_s``; the probe's best
and median seconds in ``bandwidth_probe``), and the floor is the rule's bytes over that
bandwidth. ``× floor`` is a path's time over the floor. So the floor and the paths are the same
statistic, a median, taken in the same moments: a floor from the best of a quiet minute set
against paths' medians from a busy one would put every path further from the floor than it
is. Once per run, before the rows, three kernels are also timed at their best over the same
buffer size: ``a.add_(b)``, ``torch.add(a, b, out=c)`` (3 × 4 bytes per number) and
``c.copy_(a)`` (2 × 4); they are reported as ``bandwidth`` in the JSON, as information on what
the machine shows at its best, and no floor uses them.

Memory. With ``--skip-memory`` off, each ravine path is run once more in a fresh process (a
subprocess of this script, with its own empty compile cache, where glibc is told to return
freed blocks of 64 KiB or more to the system at once, so that the resident size counts only
memory in use). There the torch.optim warm-up
runs and, for the fast path, torch compile is started on the trivial function (its seconds
are ``compiler_startup_s`` of that row); then the parameters and gradients are made, the peak
resident set size (Linux's VmHWM) is reset through ``/proc/self/clear_refs``, and the
optimizer is built and takes three steps. The peak minus the resident size before is the
memory those took; less the algorithm's own state (the tensors of :data:`TRAFFIC` written
besides θ, 4 bytes per number each) it is the extra memory: flat buffers, temporaries, the
compiled kernel's code and graphs, allocator slack (a few MiB whatever the size); the target
is judged on it. Two parts of it are reported too: ``extra_later_steps_peak_bytes``, the peak of
the second and third steps only (what every step of a training loop needs, without building,
compiling and flattening), and ``extra_resident_bytes``, the resident size after the steps
(what stays). The same
process times its first step, with nothing of this optimizer compiled or cached before: the
first step the first-step target is judged on (the in-process first step when memory is
skipped, which for the fast path may find its kernel compiled by an earlier row). Needs
Linux; elsewhere the memory columns say n/a.

Targets (from the issue that asked for the fast path), judged on ravine's fast path when this
ravine has it, else on the eager path: Adam, AdamW, SGD with momentum (and plain SGD/GD) and
Adagrad at most 1.0× torch's fastest path for the algorithm, every other rule at most 0.6×;
every rule at most 1.5× the bandwidth floor; first step at most 5 s; extra memory at most the
size of the parameters. A × torch target can ask for the impossible: when its bound times
torch's fastest time is less than the floor, it asks for a step faster than the memory traffic
allows (torch's own fastest step is then within 1/bound of the floor). The check is still judged as
computed, but it says ``"below_floor": true`` in the JSON (false when the target is within
reach) and ``below floor`` in the table: there "NOT met" means the target cannot be met on this
machine, not that ravine's step is slow.

Prints progress to stderr, two tables to stdout (times, then targets), then one JSON document.
A full default run takes long (torch compile alone spends 20-45 s per row, and ravine's fast
path compiles its kernel too): run parts with ``--only`` (any name of :data:`TRAFFIC`: also
gd, sgd, lecture-momentum), ``--tensors 100``, ``--skip-compile``, ``--skip-fast``.
``--threads`` sets torch's intra-op threads for the timings, the bandwidth and the memory
processes alike (0, the default, keeps torch's choice).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ravine.optim import catalog
from step_timing import (
    BYTES,
    RULES,
    TORCH_REFERENCE,
    TRAFFIC,
    Build,
    Step,
    bandwidth,
    bandwidth_probe,
    compiled_build,
    first_step,
    graphs_compiled,
    probe,
    ravine_build,
    ravine_fast_missing,
    timed_rounds,
    torch_build,
    torch_options,
    torch_path_missing,
    warm_compiler,
    warm_process,
)

TORCH_TARGET = {"gd": 1.0, "sgd": 1.0, "momentum": 1.0, "adagrad": 1.0, "adam": 1.0, "adamw": 1.0}
OTHER_TORCH_TARGET = 0.6
FLOOR_TARGET = 1.5  # × the bandwidth floor
FIRST_STEP_TARGET_S = 5.0

RAVINE_PATHS = ("ravine eager", "ravine eager raise", "ravine fast", "ravine fast raise")
TORCH_FLAGS = {
    "torch for-loop": {"foreach": False},
    "torch foreach": {"foreach": True},
    "torch fused": {"fused": True},
}
TORCH_PATHS = (*TORCH_FLAGS, "torch compile")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def probe_in_subprocess(name: str, path: str, args: argparse.Namespace, count: int) -> dict:
    if not Path("/proc/self/clear_refs").exists():
        return {"unavailable": "needs Linux /proc/self/clear_refs"}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        command = [sys.executable, __file__, "--probe", name, path, str(count)]
        command += ["--params", str(args.params), "--threads", str(args.threads)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"unavailable": f"probe failed: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- one row --------------------------------------------------------------------------------

PROBE = "bandwidth probe"  # timed in every round besides the paths
COMPILING = ("ravine fast", "ravine fast raise", "torch compile")  # report graphs_compiled
FALLIBLE = COMPILING  # a failure makes these n/a; any other path's failure stops the run


def measure_row(
    name: str, count: int, builds: dict[str, Build], args: argparse.Namespace, probe: Step
) -> tuple[dict[str, dict[str, Any]], list[float], dict[str, Any]]:
    """Every path of ``builds`` timed in the same rounds, with the bandwidth probe.

    Each path is built on fresh parameters and takes its first step, one after another; then
    each takes its warm-up steps; then come the timed rounds (:func:`timed_rounds`). A path of
    :data:`FALLIBLE` that fails before the rounds is n/a, with the error. Returns each path's
    result by label, the probe's seconds in each round, and which path began each round."""
    log(f"  {name}, {count} tensors: building {len(builds)} paths ...")
    if "torch compile" in builds:
        torch._dynamo.reset()  # torch compile starts from nothing in every row
    steps: dict[str, Step] = {}
    firsts: dict[str, float] = {}
    graphs = dict.fromkeys(builds, 0)
    results: dict[str, dict[str, Any]] = {}
    for label, build in builds.items():
        before = graphs_compiled()
        try:
            steps[label], firsts[label] = first_step(build, args.params, count)
            graphs[label] = graphs_compiled() - before
        except Exception as error:
            if label not in FALLIBLE:
                raise
            results[label] = {"unavailable": f"step failed ({type(error).__name__}: {error})"}
    for label in list(steps):
        before = graphs_compiled()
        try:
            for _ in range(args.warmup):
                steps[label]()
        except Exception as error:
            if label not in FALLIBLE:
                raise
            results[label] = {"unavailable": f"step failed ({type(error).__name__}: {error})"}
            del steps[label]
        graphs[label] += graphs_compiled() - before
    steps[PROBE] = probe
    for _ in range(args.warmup):
        probe()

    log(f"  {name}, {count} tensors: {args.repeats} rounds of {len(steps)} ...")
    times, round_graphs, ran = timed_rounds(steps, args.repeats)
    probe_times = times.pop(PROBE)
    for label, seconds in times.items():
        result = {"step_s": statistics.median(seconds), "first_step_s": firsts[label]}
        if label in COMPILING:
            result["graphs_compiled"] = graphs[label] + round_graphs[label]
        results[label] = result
        log(f"    {label}: {result['step_s'] * 1e3:.3f} ms, first step {firsts[label]:.3f} s")
    rounds = {"count": args.repeats, "order": list(steps), "started_by": [r[0] for r in ran]}
    return results, probe_times, rounds


def run_row(name: str, count: int, args: argparse.Namespace, shared: dict) -> dict[str, Any]:
    total = (args.params // count) * count
    traffic = TRAFFIC[name]
    reference = TORCH_REFERENCE.get(name, name)
    missing: dict[str, str] = {}  # the paths not timed in this row, and why
    builds: dict[str, Build] = {}

    if args.skip_fast:
        fast_missing = shared["fast_missing"].setdefault(name, "skipped (--skip-fast)")
    else:
        fast_missing = shared["fast_missing"].setdefault(name, ravine_fast_missing(name))
    for label in RAVINE_PATHS:
        if "fast" in label and fast_missing:
            missing[label] = fast_missing
        else:
            nonfinite = "raise" if label.endswith("raise") else "ignore"
            builds[label] = ravine_build(name, "fast" in label, nonfinite)
    cls, options = torch_options(reference)
    for label, flag in TORCH_FLAGS.items():
        refusal = torch_path_missing(cls, {**options, **flag})
        if refusal:
            missing[label] = refusal
        else:
            builds[label] = torch_build(cls, {**options, **flag})
    if args.skip_compile:
        missing["torch compile"] = "skipped (--skip-compile)"
    else:
        builds["torch compile"] = compiled_build(cls, options)

    probe, probe_bytes = shared["probe"]
    measured, probe_times, rounds = measure_row(name, count, builds, args, probe)
    rate = probe_bytes / statistics.median(probe_times)
    floor = traffic.words * BYTES * total / rate
    paths: dict[str, dict[str, Any]] = {}
    for label in (*RAVINE_PATHS, *TORCH_PATHS):
        paths[label] = measured[label] if label in measured else {"unavailable": missing[label]}
        if "step_s" in paths[label]:
            paths[label]["ratio_to_floor"] = paths[label]["step_s"] / floor
    log(f"    bandwidth {rate / 1e9:.1f} GB/s, floor {floor * 1e3:.3f} ms")

    timed_torch = {k: paths[k]["step_s"] for k in TORCH_PATHS if "step_s" in paths[k]}
    fastest = min(timed_torch, key=timed_torch.get) if timed_torch else None
    ratios = {}
    for label in RAVINE_PATHS:
        if "step_s" in paths[label] and fastest is not None:
            ratios[label] = paths[label]["step_s"] / timed_torch[fastest]

    memory = {}
    if args.skip_memory:
        memory = {label: {"unavailable": "skipped (--skip-memory)"} for label in RAVINE_PATHS[::2]}
    else:
        for label in ("ravine eager", "ravine fast"):
            if "unavailable" in paths[label]:
                memory[label] = {"unavailable": paths[label]["unavailable"]}
                continue
            log(f"  {name}, {count} tensors: {label} memory and first step in a fresh process ...")
            result = probe_in_subprocess(name, label, args, count)
            if "peak_growth_bytes" in result:
                state = traffic.state * BYTES * total
                result["state_bytes"] = state
                result["extra_bytes"] = result["peak_growth_bytes"] - state
                for kind in ("later_steps_peak", "resident"):
                    result[f"extra_{kind}_bytes"] = result[f"{kind}_growth_bytes"] - state
            memory[label] = result

    row = {
        "rule": name,
        "tensors": count,
        "params": total,
        "param_bytes": BYTES * total,
        "torch_reference": f"torch.optim.{catalog.entry(reference).torch_class.__name__}"
        + (f" (as catalog {reference!r})" if reference != name else ""),
        "traffic": {
            "read": list(traffic.read),
            "written": list(traffic.written),
            "bytes_per_step": traffic.words * BYTES * total,
        },
        "bandwidth_bytes_per_s": rate,
        "bandwidth_probe": {
            "kernel": "a.add_(b)",
            "buffer_mib": args.bandwidth_mib,
            "best_s": min(probe_times),
            "median_s": statistics.median(probe_times),
        },
        "floor_s": floor,
        "rounds": rounds,
        "paths": paths,
        "torch_fastest": None
        if fastest is None
        else {"path": fastest, "step_s": timed_torch[fastest]},
        "ratio_to_torch_fastest": ratios,
        "memory": memory,
    }
    row["targets"] = targets(row)
    return row


def targets(row: dict[str, Any]) -> dict[str, Any]:
    """Each of the issue's targets for this row: its bound, the value, met or not (None: n/a).

    The × torch check says too whether its bound is below the floor: bound × torch's fastest
    time less than the floor time, a step faster than the memory traffic allows (None when no
    torch path was timed)."""
    name, paths = row["rule"], row["paths"]
    judged = "ravine fast" if "step_s" in paths["ravine fast"] else "ravine eager"
    path = paths[judged]
    memory = row["memory"].get(judged, {})
    first = memory.get("fresh_process_first_step_s", path["first_step_s"])

    def check(value: float | None, bound: float) -> dict[str, Any]:
        met = None if value is None else bool(value <= bound)
        return {"value": value, "at_most": bound, "met": met}

    extra = memory.get("extra_bytes")
    bound = TORCH_TARGET.get(name, OTHER_TORCH_TARGET)
    versus_torch = check(row["ratio_to_torch_fastest"].get(judged), bound)
    fastest = row["torch_fastest"]
    versus_torch["below_floor"] = (
        None if fastest is None else bool(bound * fastest["step_s"] < row["floor_s"])
    )
    return {
        "path": judged,
        "ratio_to_torch_fastest": versus_torch,
        "ratio_to_floor": check(path["ratio_to_floor"], FLOOR_TARGET),
        "first_step_s": check(first, FIRST_STEP_TARGET_S),
        "first_step_kind": "fresh process"
        if "fresh_process_first_step_s" in memory
        else "in-process",
        "extra_bytes": check(extra, row["param_bytes"]),
    }


# --- output ---------------------------------------------------------------------------------


def _ms(result: dict[str, Any] | None) -> str:
    if not result or "step_s" not in result:
        return "n/a"
    return f"{result['step_s'] * 1e3:.2f}"


def _mark(check: dict[str, Any], text: str) -> str:
    if check["met"] is None:
        return "n/a"
    below = ", below floor" if check.get("below_floor") else ""
    return f"{text} {'met' if check['met'] else 'NOT met'}{below}"


def print_tables(rows: list[dict[str, Any]], repeats: int) -> None:
    labels = (*RAVINE_PATHS, *TORCH_PATHS)
    short = [label.replace("ravine ", "").replace("torch ", "t-") for label in labels]
    print(
        f"step time, ms (median of {repeats} interleaved rounds); GB/s: a.add_(b) timed in the "
        "same rounds; floor = bytes moved / that bandwidth"
    )
    header = f"{'rule':<16}{'tensors':>8}{'GB/s':>7}{'floor':>9}" + "".join(
        f"{s:>14}" for s in short
    )
    print(header)
    for row in rows:
        cells = "".join(f"{_ms(row['paths'].get(label)):>14}" for label in labels)
        rate = row["bandwidth_bytes_per_s"] / 1e9
        print(
            f"{row['rule']:<16}{row['tensors']:>8}{rate:>7.1f}{row['floor_s'] * 1e3:>9.2f}{cells}"
        )
    print()
    print("targets, judged on the path named (fast when this ravine has it, else eager)")
    print(
        f"{'rule':<16}{'tensors':>8}  {'path':<13}{'torch fastest':<22}{'× torch (≤)':<34}"
        f"{'× floor (≤1.5)':<20}{'first step s (≤5)':<24}{'extra MiB (≤ params)':<24}"
        "t-compile first s"
    )
    for row in rows:
        t = row["targets"]
        fastest = row["torch_fastest"]
        fastest_text = "n/a" if fastest is None else f"{fastest['path'][6:]} {_ms(fastest)}"
        ratio, floor, first, extra = (
            t[k]
            for k in ("ratio_to_torch_fastest", "ratio_to_floor", "first_step_s", "extra_bytes")
        )
        ratio_text = _mark(ratio, f"{ratio['value'] or 0:.2f} (≤{ratio['at_most']})")
        floor_text = _mark(floor, f"{floor['value'] or 0:.2f}")
        first_text = _mark(first, f"{first['value'] or 0:.2f}")
        extra_mib = (extra["value"] or 0) / 2**20
        extra_text = _mark(extra, f"{extra_mib:.1f}/{row['param_bytes'] / 2**20:.1f}")
        compiled = row["paths"]["torch compile"]
        compiled_text = f"{compiled['first_step_s']:.1f}" if "first_step_s" in compiled else "n/a"
        print(
            f"{row['rule']:<16}{row['tensors']:>8}  {t['path'][7:]:<13}{fastest_text:<22}"
            f"{ratio_text:<34}{floor_text:<20}{first_text:<24}{extra_text:<24}{compiled_text}"
        )
    print()


# --- the command line -------------------------------------------------------------------------


def whole_number(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least``, or a one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} must be at least {least}")
        return value

    return parse


positive, nonnegative = whole_number(1), whole_number(0)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=positive, default=20_000_000, help="numbers in all")
    parser.add_argument(
        "--tensors", type=positive, nargs="+", default=[100, 1000], help="tensor counts"
    )
    parser.add_argument("--repeats", type=positive, default=10, help="timed steps per path")
    parser.add_argument("--warmup", type=nonnegative, default=3, help="untimed steps first")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="rules (catalog names)")
    parser.add_argument(
        "--threads", type=nonnegative, default=0, help="torch threads (0: torch's default)"
    )
    parser.add_argument("--skip-compile", action="store_true", help="leave out torch compile")
    parser.add_argument("--skip-fast", action="store_true", help="leave out ravine's fast path")
    parser.add_argument(
        "--skip-memory", action="store_true", help="no fresh-process memory and first step"
    )
    parser.add_argument(
        "--bandwidth-mib", type=positive, default=256, help="size of each bandwidth buffer"
    )
    parser.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)  # NAME PATH TENSORS
    args = parser.parse_args(argv)
    for name in args.only or ():
        if name not in TRAFFIC:
            parser.error(
                f"--only {name!r}: not a benchmarked rule; choose from {', '.join(TRAFFIC)}"
            )
    for count in args.tensors:
        if count > args.params:
            parser.error(f"--tensors {count}: more tensors than --params {args.params} numbers")
    return args


def run_all(args: argparse.Namespace) -> tuple[list, dict, float | None, dict]:
    """Every row the arguments ask for, with the run's bandwidth (information), the compiler
    start and the bandwidth probe they share."""
    warm_process()
    startup = None
    if not (args.skip_compile and args.skip_fast):  # something compiles
        log("starting torch compile on a trivial function ...")
        startup = warm_compiler()
        log(f"  {startup:.1f} s")
    log(f"bandwidth over buffers of {args.bandwidth_mib} MiB, for information ...")
    measured = bandwidth(args.bandwidth_mib, args.repeats)
    for kernel, rate in measured["kernels"].items():
        log(f"  {kernel}: {rate / 1e9:.1f} GB/s")
    shared: dict[str, Any] = {"probe": bandwidth_probe(args.bandwidth_mib), "fast_missing": {}}
    rows = []
    for name in args.only or RULES:
        for count in args.tensors:
            rows.append(run_row(name, count, args, shared))
    return rows, measured, startup, shared


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.probe:
        name, path, count = args.probe
        print(json.dumps(probe(name, path, args.params, int(count))))
        return

    saved_cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # torch compile starts from nothing
        try:
            rows, measured, startup, shared = run_all(args)
        finally:
            if saved_cache is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = saved_cache

    print_tables(rows, args.repeats)
    fast = {name: missing or "available" for name, missing in shared["fast_missing"].items()}
    document = {
        "requested_params": args.params,
        "dtype": "float32",
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "bandwidth": measured,
        "compiler_startup_s": startup,
        "ravine_fast": fast,
        "targets": {
            "ratio_to_torch_fastest": {**TORCH_TARGET, "others": OTHER_TORCH_TARGET},
            "ratio_to_floor": FLOOR_TARGET,
            "first_step_s": FIRST_STEP_TARGET_S,
            "extra_bytes": "at most the parameters' bytes",
        },
        "rows": rows,
    }
    print(json.dumps(document, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
