"""Step time of ravine's optimizers on a CUDA GPU against every torch path and the HBM floor.

    python benchmarks/optimizer_step_cuda.py [--params 20000000 200000000] [--tensors 100 1000]
        [--only adam adamw momentum] [--dtype float32] [--repeats 20] [--warmup 3]
        [--skip-compile] [--skip-fast] [--bandwidth-mib 1024]

The GPU counterpart of ``optimizer_step.py`` (which times the CPU): for every rule, parameter
count and tensor count, one row times ``step()`` of

- ``ravine default``: ``catalog.create(name, params, nonfinite="ignore")``, no flag: on CUDA
  the eager step runs each group as lists (torch's multi-tensor kernels);
- ``ravine default raise``: the same with ravine's default ``nonfinite="raise"`` (one
  reduction over the gradients before the step, and a host sync to read it);
- ``ravine fast``, ``ravine fast raise``: ``fused=True`` (flat buffers, one compiled kernel);
- ``torch for-loop``, ``torch foreach``, ``torch fused`` (where torch has the kernel) and
  ``torch compile`` (the step of torch's optimizer under ``torch.compile``, a tensor ``lr``).

Timing. Each path is built on its own parameters (all gradients set, fixed seed) and takes its
first step and ``--warmup`` more; then come ``--repeats`` rounds in which every path takes one
step, in an order rotated by one from round to round (as in ``optimizer_step.py``). A step is
timed with CUDA events recorded before and after it on the current stream, so the time is the
GPU's, launches included; a path's time is the median of its rounds, with the spread (min,
max) in the JSON.

The floor. ``dst.copy_(src)`` over two buffers of ``--bandwidth-mib`` MiB is timed like a path
in every round; its bytes (read + written) over its median time are the row's HBM bandwidth,
and the floor is the bytes the rule must move (``optimizer_step.TRAFFIC``: θ, g and the state
read, θ and the state written, at the dtype's size) over that bandwidth.

Without a CUDA device the script stops at once with one line and exit status 2. Prints
progress to stderr, one table to stdout, then one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import optimizer_step as cpu
from ravine.optim import catalog
from step_timing import TORCH_REFERENCE, TRAFFIC, rotations, torch_options, warm_process

RULES = ("adam", "adamw", "momentum")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
RAVINE_PATHS = ("ravine default", "ravine default raise", "ravine fast", "ravine fast raise")
TORCH_FLAGS = cpu.TORCH_FLAGS  # for-loop, foreach, fused
TORCH_PATHS = (*TORCH_FLAGS, "torch compile")
FLOOR = "copy floor probe"

Step = Callable[[], Any]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parameters(total: int, count: int, dtype: torch.dtype, seed: int = 0) -> list[torch.Tensor]:
    """``count`` tensors of ``total // count`` numbers on the GPU, every gradient set."""
    gen = torch.Generator(device="cuda").manual_seed(seed)
    size = total // count
    params = []
    for _ in range(count):
        p = torch.randn(size, generator=gen, device="cuda").to(dtype).requires_grad_()
        p.grad = torch.randn(size, generator=gen, device="cuda").to(dtype)
        params.append(p)
    return params


def builds(name: str, args: argparse.Namespace) -> tuple[dict[str, Callable], dict[str, str]]:
    """Each path's builder (parameters → step) and, for the paths left out, why."""
    made: dict[str, Callable] = {}
    missing: dict[str, str] = {}
    for label in RAVINE_PATHS:
        if "fast" in label and args.skip_fast:
            missing[label] = "skipped (--skip-fast)"
            continue
        options: dict[str, Any] = {"nonfinite": "raise" if label.endswith("raise") else "ignore"}
        if "fast" in label:
            options["fused"] = True
        made[label] = lambda params, o=options: catalog.create(name, params, **o).step
    cls, options = torch_options(TORCH_REFERENCE.get(name, name))
    for label, flag in TORCH_FLAGS.items():
        try:
            cls(parameters(8, 2, torch.float32), **{**options, **flag}).step()
        except Exception as error:  # torch has no such kernel for this algorithm
            missing[label] = f"{type(error).__name__}: {error}"
            continue
        made[label] = lambda params, f=flag: cls(params, **{**options, **f}).step
    if args.skip_compile:
        missing["torch compile"] = "skipped (--skip-compile)"
    else:

        def compiled(params: list[torch.Tensor]) -> Step:
            optimizer = cls(params, **{**options, "lr": torch.tensor(options.get("lr", 1e-3))})
            return torch.compile(optimizer.step, fullgraph=False)

        made["torch compile"] = compiled
    return made, missing


def timed_rounds(steps: dict[str, Step], repeats: int) -> dict[str, list[float]]:
    """Seconds of every step in ``repeats`` rotated rounds, each timed with CUDA events."""
    times: dict[str, list[float]] = {label: [] for label in steps}
    for order in rotations(list(steps), repeats):
        for label in order:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            steps[label]()
            end.record()
            end.synchronize()
            times[label].append(start.elapsed_time(end) / 1e3)
    return times


def run_row(name: str, total: int, count: int, args: argparse.Namespace) -> dict[str, Any]:
    dtype = DTYPES[args.dtype]
    total = (total // count) * count
    made, missing = builds(name, args)
    steps: dict[str, Step] = {}
    log(f"  {name}, {total:,} numbers in {count} tensors: building {len(made)} paths ...")
    torch._dynamo.reset()
    for label, build in made.items():
        try:
            step = build(parameters(total, count, dtype))
            for _ in range(1 + args.warmup):
                step()
            steps[label] = step
        except Exception as error:  # a path torch or ravine cannot run here: n/a, with why
            missing[label] = f"step failed ({type(error).__name__}: {error})"
    words = args.bandwidth_mib * 2**20 // 4
    src, dst = torch.rand(words, device="cuda"), torch.empty(words, device="cuda")
    steps[FLOOR] = lambda: dst.copy_(src)
    torch.cuda.synchronize()
    times = timed_rounds(steps, args.repeats)
    probe = statistics.median(times.pop(FLOOR))
    bandwidth = 2 * 4 * words / probe
    traffic = TRAFFIC[name]
    floor = traffic.words * dtype.itemsize * total / bandwidth
    paths: dict[str, Any] = {}
    for label in (*RAVINE_PATHS, *TORCH_PATHS):
        if label in times:
            seconds = times[label]
            median = statistics.median(seconds)
            paths[label] = {
                "step_s": median,
                "min_s": min(seconds),
                "max_s": max(seconds),
                "ratio_to_floor": median / floor,
            }
        else:
            paths[label] = {"unavailable": missing.get(label, "not built")}
    timed = {k: v["step_s"] for k, v in paths.items() if "step_s" in v and k in TORCH_PATHS}
    ratios = {}
    for label in RAVINE_PATHS:
        for reference in ("torch foreach", "torch fused"):
            if "step_s" in paths[label] and reference in timed:
                ratios[f"{label} / {reference}"] = paths[label]["step_s"] / timed[reference]
    steps.clear()  # the paths' tensors go with their steps
    torch.cuda.empty_cache()
    return {
        "rule": name,
        "params": total,
        "tensors": count,
        "dtype": args.dtype,
        "hbm_bytes_per_s": bandwidth,
        "floor_s": floor,
        "paths": paths,
        "ratios": ratios,
    }


def print_table(rows: list[dict[str, Any]], repeats: int) -> None:
    labels = (*RAVINE_PATHS, *TORCH_PATHS)
    short = [label.replace("ravine ", "").replace("torch ", "t-") for label in labels]
    print(f"step time, ms (median of {repeats} rotated rounds, CUDA events); HBM GB/s by copy_")
    print(
        f"{'rule':<10}{'params':>12}{'tensors':>8}{'GB/s':>8}{'floor':>8}"
        + "".join(f"{s:>15}" for s in short)
    )
    for row in rows:
        cells = "".join(
            f"{row['paths'][label]['step_s'] * 1e3:>15.3f}"
            if "step_s" in row["paths"][label]
            else f"{'n/a':>15}"
            for label in labels
        )
        print(
            f"{row['rule']:<10}{row['params']:>12,}{row['tensors']:>8}"
            f"{row['hbm_bytes_per_s'] / 1e9:>8.0f}{row['floor_s'] * 1e3:>8.3f}{cells}"
        )
    print()
    for row in rows:
        ratios = ", ".join(f"{k} {v:.2f}" for k, v in row["ratios"].items())
        print(f"{row['rule']} {row['params']:,}/{row['tensors']}: {ratios}")
    print()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=cpu.positive, nargs="+", default=[20_000_000, 200_000_000])
    parser.add_argument("--tensors", type=cpu.positive, nargs="+", default=[100, 1000])
    parser.add_argument("--only", nargs="+", metavar="NAME", default=list(RULES))
    parser.add_argument("--dtype", choices=list(DTYPES), default="float32")
    parser.add_argument("--repeats", type=cpu.positive, default=20)
    parser.add_argument("--warmup", type=cpu.nonnegative, default=3)
    parser.add_argument("--skip-compile", action="store_true", help="leave out torch compile")
    parser.add_argument("--skip-fast", action="store_true", help="leave out ravine's fast path")
    parser.add_argument("--bandwidth-mib", type=cpu.positive, default=1024)
    args = parser.parse_args(argv)
    for name in args.only:
        if name not in TRAFFIC:
            parser.error(
                f"--only {name!r}: not a benchmarked rule; choose from {', '.join(TRAFFIC)}"
            )
    for count in args.tensors:
        if count > min(args.params):
            parser.error(f"--tensors {count}: more tensors than --params {min(args.params)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if not torch.cuda.is_available():
        print(
            "optimizer_step_cuda.py needs a CUDA device and torch sees none "
            "(torch.cuda.is_available() is False); on the CPU run benchmarks/optimizer_step.py",
            file=sys.stderr,
        )
        raise SystemExit(2)
    warm_process()
    rows = [
        run_row(name, total, count, args)
        for name in args.only
        for total in args.params
        for count in args.tensors
    ]
    print_table(rows, args.repeats)
    document = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "dtype": args.dtype,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "rows": rows,
    }
    print(json.dumps(document, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
