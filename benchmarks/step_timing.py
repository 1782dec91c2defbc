"""What the step benchmarks share: the rules and the bytes each step must move, the
parameters, the paths (ravine's and torch's) built on them, the rotated timing rounds, the
bandwidth floor and the first step's memory in a fresh process. The runners are
``optimizer_step.py`` (CPU) and ``optimizer_step_cuda.py``; their docstrings say how the numbers
are read."""

from __future__ import annotations

import ctypes
import gc
import inspect
import sys
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

Step = Callable[[], Any]
Build = Callable[[list[torch.Tensor]], Step]


# --- parameters and timing ------------------------------------------------------------------


def parameters(total: int, count: int, seed: int = 0) -> list[torch.Tensor]:
    """``count`` float32 tensors of ``total // count`` numbers each, every gradient set."""
    gen = torch.Generator().manual_seed(seed)
    size = total // count
    params = [torch.randn(size, generator=gen).requires_grad_() for _ in range(count)]
    for p in params:
        p.grad = torch.randn(size, generator=gen)
    return params


def first_step(build: Build, total: int, count: int) -> tuple[Step, float]:
    """The step of a path built on fresh parameters, and the seconds from building it to the end
    of its first step."""
    params = parameters(total, count)
    gc.collect()
    start = time.perf_counter()
    step = build(params)
    step()
    return step, time.perf_counter() - start


def rotations(labels: list[str], repeats: int) -> list[list[str]]:
    """The order of each of ``repeats`` rounds: round r starts at ``labels[r % n]`` and goes on
    cyclically, so that over n rounds every label runs once in every position."""
    n = len(labels)
    return [labels[r % n :] + labels[: r % n] for r in range(repeats)]


def timed_rounds(
    steps: dict[str, Step], repeats: int
) -> tuple[dict[str, list[float]], dict[str, int], list[list[str]]]:
    """``repeats`` rounds in which every step runs once, in the orders of :func:`rotations`.

    Returns each label's seconds per round, the graphs torch compiled during its steps (read
    outside the timer) and the orders the rounds ran in."""
    times: dict[str, list[float]] = {label: [] for label in steps}
    graphs = dict.fromkeys(steps, 0)
    ran = []
    for order in rotations(list(steps), repeats):
        for label in order:
            before = graphs_compiled()
            start = time.perf_counter()
            steps[label]()
            times[label].append(time.perf_counter() - start)
            graphs[label] += graphs_compiled() - before
        ran.append(order)
    return times, graphs, ran


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
    writes only tensors it has read), ``torch.add(a, b, out=c)`` and ``c.copy_(a)``. Measured
    once per run, for information: each row's floor comes from :func:`bandwidth_probe` timed
    in its own rounds."""
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


def bandwidth_probe(mib: int) -> tuple[Step, int]:
    """``a.add_(b)`` over two float32 buffers of ``mib`` MiB each, to be timed in a row's rounds
    like a path, and the bytes it reads and writes (a and b read, a written)."""
    n = mib * 2**20 // BYTES
    a, b = torch.rand(n), torch.rand(n)
    return lambda: a.add_(b), 3 * BYTES * n


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
    """Torch's recipe for a compiled step. Dynamo is not reset here: :func:`measure_row` resets
    it once, before the row's first path is built."""

    def build(params: list[torch.Tensor]) -> Step:
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
