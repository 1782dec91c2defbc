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
  function calling ``opt.step()`` compiled with ``fullgraph=False``), after
  ``torch._dynamo.reset()`` and with an inductor cache that is empty when the run starts
  (``graphs_compiled`` in the JSON: more than 1 means torch recompiled while being timed).

The lecture's rules have no torch counterpart; they are compared with the torch algorithm
closest in memory traffic: lecture-adagrad with torch Adagrad (both read θ, g and one sum of
squares and write θ and the sum), lecture-rmsprop with torch RMSprop (θ, g and one average of
squares), lecture-momentum with torch SGD with momentum.

Every time is the median of ``--repeats`` steps after ``--warmup`` steps, on fresh parameters
and a fresh optimizer per path. ``first step`` is the time from building the optimizer (and
compiling, for torch compile) to the end of its first step on fresh objects: the cost of
flattening or compiling. Costs any process pays once are kept out of it: one torch.optim step
on a tiny tensor runs before anything is timed (torch.optim's first step loads torch's
compiler front end, seconds), and, unless both ``--skip-compile`` and ``--skip-fast``, torch
compile is started on a trivial function (``compiler_startup_s`` in the JSON) before the first
compiled optimizer.

The bandwidth floor. The run first measures the machine's memory bandwidth with the same
threads, over buffers of ``--bandwidth-mib`` MiB each (far larger than any cache), as bytes
read + written per second at the best of the repeats, for ``a.add_(b)`` (3 × 4 bytes per
number: a and b read, a written, the pattern of an optimizer, which writes only what it has
read), ``torch.add(a, b, out=c)`` (3 × 4) and ``c.copy_(a)`` (2 × 4); the fastest of the three
is the machine's bandwidth (a floor must not ask less than the machine has shown). A step cannot
take less than the bytes it must move over that bandwidth; :data:`TRAFFIC` derives those bytes
from each algorithm: the tensors one step must read and write, 4 bytes per number each. For
Adam θ, g, m, v are read and θ, m, v written: 7 × 4 bytes per parameter. ``× floor`` is a
path's time over that floor.

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
size of the parameters.

Prints progress to stderr, two tables to stdout (times, then targets), then one JSON document.
A full default run takes long (torch compile alone spends 20-45 s per algorithm and tensor
count, and ravine's fast path compiles its kernel too): run parts with ``--only`` (any name
of :data:`TRAFFIC`: also gd, sgd, lecture-momentum), ``--tensors 100``, ``--skip-compile``,
``--skip-fast``. ``--threads`` sets torch's intra-op threads for the timings, the bandwidth and
the memory processes alike (0, the default, keeps torch's choice).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ravine.optim import catalog

RULES = (
    "adam",
    "adamw",
    "momentum",
    "adagrad",
    "rmsprop",
    "radam",
    "nadam",
    "lecture-adagrad",
    "lecture-rmsprop",
)
BYTES = 4  # float32


@dataclass(frozen=True)
class Traffic:
    """The tensors one step must read and write, each as large as θ.

    Every tensor written besides θ is state the algorithm keeps between steps; the gradient is
    read and never written.
    """

    read: tuple[str, ...]
    written: tuple[str, ...]

    @property
    def words(self) -> int:
        """Numbers moved per parameter per step."""
        return len(self.read) + len(self.written)

    @property
    def state(self) -> int:
        """Tensors of state, each as large as θ."""
        return len(self.written) - 1


# Derived from each algorithm's update with its catalog defaults (no weight decay, amsgrad,
# nesterov, centered or momentum in RMSprop); scalars such as the step count are left out.
TRAFFIC: dict[str, Traffic] = {
    # θ ← θ − η·g
    "gd": Traffic(("θ", "g"), ("θ",)),
    "sgd": Traffic(("θ", "g"), ("θ",)),
    # b ← μ·b + g, θ ← θ − η·b
    "momentum": Traffic(("θ", "g", "b"), ("θ", "b")),
    # m ← λ·m − η·g, θ ← θ + m
    "lecture-momentum": Traffic(("θ", "g", "m"), ("θ", "m")),
    # s ← s + g², θ ← θ − η·g/(√s + ε)
    "adagrad": Traffic(("θ", "g", "s"), ("θ", "s")),
    # s ← s + g², θ ← θ − η·g/√(s/(t+1))
    "lecture-adagrad": Traffic(("θ", "g", "s"), ("θ", "s")),
    # v ← α·v + (1−α)·g², θ ← θ − η·g/(√v + ε)
    "rmsprop": Traffic(("θ", "g", "v"), ("θ", "v")),
    # σ² ← α·σ² + (1−α)·g² (σ⁰ = |g⁰|), θ ← θ − η·g/σ
    "lecture-rmsprop": Traffic(("θ", "g", "σ²"), ("θ", "σ²")),
    # m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², θ ← θ − η·m̂/(√v̂ + ε); AdamW also shrinks θ
    # in the same pass; RAdam and NAdam change only scalar factors
    "adam": Traffic(("θ", "g", "m", "v"), ("θ", "m", "v")),
    "adamw": Traffic(("θ", "g", "m", "v"), ("θ", "m", "v")),
    "radam": Traffic(("θ", "g", "m", "v"), ("θ", "m", "v")),
    "nadam": Traffic(("θ", "g", "m", "v"), ("θ", "m", "v")),
}

# The catalog entry whose torch class (and defaults) a rule is timed against.
TORCH_REFERENCE = {
    "lecture-adagrad": "adagrad",
    "lecture-rmsprop": "rmsprop",
    "lecture-momentum": "momentum",
}

# Ravine's step time over torch's fastest path for the algorithm, at most.
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

Step = Callable[[], Any]
Build = Callable[[list[torch.Tensor]], Step]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- parameters and timing ------------------------------------------------------------------


def parameters(total: int, count: int, seed: int = 0) -> list[torch.Tensor]:
    """``count`` float32 tensors of ``total // count`` numbers each, every gradient set."""
    gen = torch.Generator().manual_seed(seed)
    size = total // count
    params = [torch.randn(size, generator=gen).requires_grad_() for _ in range(count)]
    for p in params:
        p.grad = torch.randn(size, generator=gen)
    return params


def measure(build: Build, total: int, count: int, warmup: int, repeats: int) -> dict[str, Any]:
    """First-step seconds (building included) and the median step of ``repeats`` after
    ``warmup``, on fresh parameters."""
    params = parameters(total, count)
    gc.collect()
    start = time.perf_counter()
    step = build(params)
    step()
    first = time.perf_counter() - start
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"step_s": statistics.median(times), "first_step_s": first}


def warm_process() -> None:
    """One torch.optim.SGD step on a tiny tensor, so that what torch.optim loads on its first
    step in any process (about 70 MiB and seconds: torch's compiler front end) is not counted
    against whichever path runs first."""
    torch.optim.SGD(parameters(8, 2)).step()


def warm_compiler() -> float:
    """Seconds to compile and run a trivial function: torch compile's one-time start in a
    process, kept out of the first compiled optimizer's first step."""
    start = time.perf_counter()
    torch.compile(lambda x: x * 2 + 1)(torch.ones(4))
    seconds = time.perf_counter() - start
    torch._dynamo.reset()
    return seconds


def bandwidth(mib: int, repeats: int) -> dict[str, Any]:
    """Bytes read + written per second over buffers of ``mib`` MiB each, by three kernels at
    their best time: ``a.add_(b)`` (read a and b, write a: the pattern of an optimizer, which
    writes only tensors it has read), ``torch.add(a, b, out=c)`` and ``c.copy_(a)``. The
    fastest sets the floor: the machine has shown it can move bytes that fast."""
    n = mib * 2**20 // BYTES
    a, b, c = torch.rand(n), torch.rand(n), torch.empty(n)

    def rate(op: Step, words: int) -> float:
        for _ in range(2):
            op()
        times = []
        for _ in range(max(repeats, 5)):
            start = time.perf_counter()
            op()
            times.append(time.perf_counter() - start)
        return words * BYTES * n / min(times)

    rates = {
        "a.add_(b)": rate(lambda: a.add_(b), 3),
        "torch.add(a, b, out=c)": rate(lambda: torch.add(a, b, out=c), 3),
        "c.copy_(a)": rate(lambda: c.copy_(a), 2),
    }
    best = max(rates, key=rates.get)
    return {"buffer_mib": mib, "bytes_per_s": rates[best], "kernel": best, "kernels": rates}


# --- the paths --------------------------------------------------------------------------------


def ravine_build(name: str, fast: bool, nonfinite: str) -> Build:
    options: dict[str, Any] = {"nonfinite": nonfinite}
    if fast:
        options["fused"] = True
    return lambda params: catalog.create(name, params, **options).step


def ravine_fast_missing(name: str) -> str | None:
    """None when ``fused=True`` gives ravine's fast path for ``name``; else why not. Builds
    one without stepping it, so nothing is compiled before the timings."""
    params = parameters(8, 2)
    try:
        optimizer = catalog.create(name, params, fused=True, nonfinite="ignore")
    except (TypeError, ValueError) as error:
        return f"fused=True not accepted ({error})"
    flag = getattr(optimizer, "fused", None)
    on = flag if isinstance(flag, bool) else bool(getattr(optimizer, "FUSED_AVAILABLE", False))
    fused = sys.modules.get("ravine.optim.fused")  # the module that says whether it can compile
    if not on or not getattr(fused, "FUSED_AVAILABLE", True):
        return "fused=True accepted, but this ravine reports no fast path"
    return None


def torch_options(reference: str) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """The torch class of the catalog entry ``reference`` and the entry's defaults it takes."""
    entry = catalog.entry(reference)
    assert entry.torch_class is not None, reference
    accepted = inspect.signature(entry.torch_class).parameters
    options = {k: v for k, v in entry.defaults().items() if k in accepted}
    return entry.torch_class, options


def torch_build(cls: type[torch.optim.Optimizer], options: dict[str, Any]) -> Build:
    return lambda params: cls(params, **options).step


def compiled_build(cls: type[torch.optim.Optimizer], options: dict[str, Any]) -> Build:
    def build(params: list[torch.Tensor]) -> Step:
        torch._dynamo.reset()
        optimizer = cls(params, **options)

        @torch.compile(fullgraph=False)
        def step() -> None:
            optimizer.step()

        return step

    return build


def torch_path_missing(cls: type[torch.optim.Optimizer], options: dict[str, Any]) -> str | None:
    """None when torch runs this path on the CPU; else its refusal."""
    try:
        cls(parameters(8, 2), **options).step()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def graphs_compiled() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


# --- memory, in a fresh process -----------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _return_freed_memory() -> None:
    """Make glibc give freed blocks of 64 KiB and more back to the system at once.

    By default it serves blocks below a threshold that rises as large blocks are freed from
    memory it keeps for reuse, so the resident size would still count tensors already freed
    (the parameters a fast path has copied into its flat buffer, say). A fixed threshold makes
    each such block its own mapping, unmapped when freed. Without glibc nothing changes."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def probe(name: str, path: str, total: int, count: int) -> dict[str, Any]:
    """In this (fresh) process: build ``path`` of ``name``, take its first step and two more;
    the first step's seconds and the peak resident memory those took, in bytes.

    :func:`warm_process` comes first, and for the fast path :func:`warm_compiler` (timed, as
    ``compiler_startup_s``), as before torch compile in the main process: the first step then
    holds what this optimizer costs, its own compilation and flattening."""
    _return_freed_memory()
    warm_process()
    startup = warm_compiler() if path == "ravine fast" else None
    params = parameters(total, count)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current size
    before = _status_kib("VmRSS")
    build = ravine_build(name, path == "ravine fast", "ignore")
    start = time.perf_counter()
    step = build(params)
    step()
    first = time.perf_counter() - start
    first_peak = _status_kib("VmHWM")
    Path("/proc/self/clear_refs").write_text("5")
    step()
    step()
    later_peak, after = _status_kib("VmHWM"), _status_kib("VmRSS")
    return {
        "fresh_process_first_step_s": first,
        "compiler_startup_s": startup,
        "peak_growth_bytes": (max(first_peak, later_peak) - before) * 1024,
        "later_steps_peak_growth_bytes": (later_peak - before) * 1024,
        "resident_growth_bytes": (after - before) * 1024,
    }


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


def run_row(name: str, count: int, args: argparse.Namespace, shared: dict) -> dict[str, Any]:
    total = (args.params // count) * count
    traffic = TRAFFIC[name]
    floor = traffic.words * BYTES * total / shared["bandwidth"]["bytes_per_s"]
    paths: dict[str, dict[str, Any]] = {}

    def timed(label: str, build: Build) -> dict[str, Any]:
        log(f"  {name}, {count} tensors: {label} ...")
        result = measure(build, args.params, count, args.warmup, args.repeats)
        result["ratio_to_floor"] = result["step_s"] / floor
        log(f"    {result['step_s'] * 1e3:.3f} ms, first step {result['first_step_s']:.3f} s")
        return result

    if args.skip_fast:
        fast_missing = shared["fast_missing"].setdefault(name, "skipped (--skip-fast)")
    else:
        fast_missing = shared["fast_missing"].setdefault(name, ravine_fast_missing(name))
    for label in RAVINE_PATHS:
        if "fast" in label and fast_missing:
            paths[label] = {"unavailable": fast_missing}
            continue
        nonfinite = "raise" if label.endswith("raise") else "ignore"
        try:
            paths[label] = timed(label, ravine_build(name, "fast" in label, nonfinite))
        except Exception as error:
            if "fast" not in label:
                raise
            paths[label] = {"unavailable": f"step failed ({type(error).__name__}: {error})"}

    reference = TORCH_REFERENCE.get(name, name)
    key = (reference, count)
    if key not in shared["torch"]:
        cls, options = torch_options(reference)
        measured: dict[str, dict[str, Any]] = {}
        for label, flag in TORCH_FLAGS.items():
            missing = torch_path_missing(cls, {**options, **flag})
            if missing:
                measured[label] = {"unavailable": missing}
            else:
                measured[label] = timed(label, torch_build(cls, {**options, **flag}))
        if args.skip_compile:
            measured["torch compile"] = {"unavailable": "skipped (--skip-compile)"}
        else:
            try:
                before = graphs_compiled()
                result = timed("torch compile", compiled_build(cls, options))
                result["graphs_compiled"] = graphs_compiled() - before
                measured["torch compile"] = result
            except Exception as error:
                measured["torch compile"] = {"unavailable": f"{type(error).__name__}: {error}"}
        shared["torch"][key] = measured
    torch_paths = {k: dict(v) for k, v in shared["torch"][key].items()}
    for result in torch_paths.values():
        if "step_s" in result:
            result["ratio_to_floor"] = result["step_s"] / floor
    paths.update(torch_paths)

    timed_torch = {k: v["step_s"] for k, v in torch_paths.items() if "step_s" in v}
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
        "floor_s": floor,
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
    """Each of the issue's targets for this row: its bound, the value, met or not (None: n/a)."""
    name, paths = row["rule"], row["paths"]
    judged = "ravine fast" if "step_s" in paths["ravine fast"] else "ravine eager"
    path = paths[judged]
    memory = row["memory"].get(judged, {})
    first = memory.get("fresh_process_first_step_s", path["first_step_s"])

    def check(value: float | None, bound: float) -> dict[str, Any]:
        met = None if value is None else bool(value <= bound)
        return {"value": value, "at_most": bound, "met": met}

    extra = memory.get("extra_bytes")
    return {
        "path": judged,
        "ratio_to_torch_fastest": check(
            row["ratio_to_torch_fastest"].get(judged), TORCH_TARGET.get(name, OTHER_TORCH_TARGET)
        ),
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
    return f"{text} {'met' if check['met'] else 'NOT met'}"


def print_tables(rows: list[dict[str, Any]], repeats: int) -> None:
    labels = (*RAVINE_PATHS, *TORCH_PATHS)
    short = [label.replace("ravine ", "").replace("torch ", "t-") for label in labels]
    print(f"step time, ms (median of {repeats}); floor = bytes moved / measured bandwidth")
    header = f"{'rule':<16}{'tensors':>8}{'floor':>9}" + "".join(f"{s:>14}" for s in short)
    print(header)
    for row in rows:
        cells = "".join(f"{_ms(row['paths'].get(label)):>14}" for label in labels)
        print(f"{row['rule']:<16}{row['tensors']:>8}{row['floor_s'] * 1e3:>9.2f}{cells}")
    print()
    print("targets, judged on the path named (fast when this ravine has it, else eager)")
    print(
        f"{'rule':<16}{'tensors':>8}  {'path':<13}{'torch fastest':<22}{'× torch (≤)':<22}"
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
            f"{ratio_text:<22}{floor_text:<20}{first_text:<24}{extra_text:<24}{compiled_text}"
        )
    print()


# --- the command line -------------------------------------------------------------------------


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def nonnegative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


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
    """Every row the arguments ask for, with the bandwidth and compiler start they share."""
    warm_process()
    startup = None
    if not (args.skip_compile and args.skip_fast):  # something compiles
        log("starting torch compile on a trivial function ...")
        startup = warm_compiler()
        log(f"  {startup:.1f} s")
    log(f"bandwidth over buffers of {args.bandwidth_mib} MiB ...")
    measured = bandwidth(args.bandwidth_mib, args.repeats)
    for kernel, rate in measured["kernels"].items():
        log(f"  {kernel}: {rate / 1e9:.1f} GB/s")
    shared: dict[str, Any] = {"bandwidth": measured, "torch": {}, "fast_missing": {}}
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
