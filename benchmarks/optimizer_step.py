"""Step time of ravine's optimizers against torch.optim's, measured in the same run.

    python benchmarks/optimizer_step.py [--params 2000000] [--tensors 20] [--repeats 20]

Prints a table and then one JSON document. Each row times ``optimizer.step()`` on the same
parameters and gradients (float32, CPU) for the ravine preset and for torch.optim's for-loop
and foreach paths (and fused, where torch has a fused CPU kernel), reporting the median time
and ravine's ratio to torch's fastest path. The lecture's own rules have no torch counterpart
and are reported alone. This is the eager reference path; the fused fast path is still to come.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from ravine.optim import catalog

FUSED_ON_CPU = {"sgd", "momentum", "adagrad", "adam", "adamw"}


def tensors(total: int, count: int, seed: int = 0) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    size = max(1, total // count)
    params = [torch.randn(size, generator=gen).requires_grad_() for _ in range(count)]
    grads = [torch.randn(size, generator=gen) for _ in range(count)]
    return params, grads


def time_steps(build, total: int, count: int, repeats: int) -> float:
    """Median seconds of one step after two warm-up steps."""
    params, grads = tensors(total, count)
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    optimizer = build(params)
    for _ in range(2):
        optimizer.step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=2_000_000)
    parser.add_argument("--tensors", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)

    rows = []
    for name, known in catalog.CATALOG.items():
        options = {k: v for k, v in known.defaults().items() if k != "nonfinite"}
        row = {"name": name, "ravine_s": None, "torch": {}}
        row["ravine_s"] = time_steps(
            lambda ps, n=name, o=options: catalog.create(n, ps, **o),
            args.params,
            args.tensors,
            args.repeats,
        )
        if known.torch_class is not None:
            keys = known.torch_class.__init__.__code__.co_varnames
            base = {k: v for k, v in options.items() if k in keys}
            paths = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}}
            if name in FUSED_ON_CPU:
                paths["fused"] = {"fused": True}
            for path, flag in paths.items():
                row["torch"][path] = time_steps(
                    lambda ps, c=known.torch_class, o={**base, **flag}: c(ps, **o),
                    args.params,
                    args.tensors,
                    args.repeats,
                )
            fastest = min(row["torch"].values())
            row["ratio_to_fastest_torch"] = row["ravine_s"] / fastest
        rows.append(row)
        torch_text = "  ".join(f"{k} {v * 1e3:7.2f} ms" for k, v in row["torch"].items())
        ratio = row.get("ratio_to_fastest_torch")
        ratio_text = f"{ratio:5.2f}x" if ratio is not None else "  —  "
        print(
            f"{name:<17} ravine {row['ravine_s'] * 1e3:7.2f} ms  {ratio_text}  {torch_text}",
            flush=True,
        )
    print(
        json.dumps(
            {
                "params": args.params,
                "tensors": args.tensors,
                "dtype": "float32",
                "threads": torch.get_num_threads(),
                "rows": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
