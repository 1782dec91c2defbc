"""The top Hessian eigenvalue: ravine's Lanczos against PyHessian's power iteration, same run.

    python benchmarks/hessian.py [--hidden 96] [--samples 512] [--seeds 5] [--threads 1]

The model is a tanh MLP 20 → hidden → hidden → 10 (12,298 parameters for hidden = 96, float32,
CPU) trained for 300 Adam steps on a fixed generated classification set, the loss cross-entropy
on the whole set as one batch. The reference λ_max is ravine's Lanczos on a float64 copy, run to
its float64 tolerance. For each seed (PyHessian's random start comes from the global RNG,
ravine's from its seed) the benchmark measures:

- the H·v products each method needs before its estimate of λ_max is within a relative error
  ε of the reference (power iteration: Rayleigh quotient vᵀHv of iterate i; Lanczos: the top
  Ritz value after m steps, found by bisection on ``max_iter`` since it only grows with m),
  and the wall time of a run stopped there (fastest of ``--repeats``, graph building included);
- both methods with their own stopping rules: PyHessian's default (relative change between
  iterations < 1e-3) and ravine's (residual ‖Hy − θy‖ ≤ tol‖H‖, tol = 1e-3 and the default).

Ratios are PyHessian / ravine: above 1 means ravine needs fewer products, or less time.

Prints a table and then one JSON document. PyHessian is optional and never a dependency of
ravine; install it next to ravine without its dependencies (it would pull torchvision):

    pip install --no-deps pyhessian
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import statistics
import sys
import time
import warnings

import torch
from torch import nn

from ravine.diagnose import hessian as ravine_hessian
from ravine.diagnose import hessian_eigs
from ravine.optim import Adam

TOLERANCES = (1e-2, 1e-3, 1e-4, 1e-5)


def load_pyhessian():
    """PyHessian's hessian class and its module (for counting products), or exit with advice."""
    try:
        package = importlib.import_module("pyhessian")
    except ImportError:
        sys.exit(
            "benchmarks/hessian.py compares with PyHessian, which is not installed. Install it "
            "without its dependencies (it would pull torchvision):\n\n"
            "    pip install --no-deps pyhessian\n"
        )
    return package.hessian, sys.modules["pyhessian.hessian"]


def problem(hidden: int, samples: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A trained tanh MLP and its data: x ~ N(0, I₂₀), labels from a random teacher network."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 20, generator=generator)
    teacher = torch.randn(20, 10, generator=generator)
    y = torch.argmax(
        torch.tanh(x @ teacher) + 0.5 * torch.randn(samples, 10, generator=generator), 1
    )
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(20, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, 10),
    )
    optimizer = Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(300):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return model, x, y


class Counter:
    """Counts calls of a function in a module while active; optionally records v ↦ vᵀHv."""

    def __init__(self, owner, name: str, rayleigh=None) -> None:
        self.owner, self.name, self.rayleigh = owner, name, rayleigh
        self.calls, self.quotients = 0, []

    def __enter__(self) -> Counter:
        original = getattr(self.owner, self.name)
        self.original = original

        def counted(*args, **kwargs):
            self.calls += 1
            result = original(*args, **kwargs)
            if self.rayleigh is not None:
                self.quotients.append(self.rayleigh(args, result))
            return result

        setattr(self.owner, self.name, counted)
        return self

    def __exit__(self, *exc) -> None:
        setattr(self.owner, self.name, self.original)


def power_iteration(pyhessian, model, loss_fn, x, y, seed: int, max_iter: int, tol: float):
    """PyHessian's top eigenvalue on a fresh copy of the model (it sets .grad and eval mode)."""
    torch.manual_seed(seed)
    computer = pyhessian(copy.deepcopy(model), loss_fn, data=(x, y), cuda=False)
    values, _ = computer.eigenvalues(maxIter=max_iter, tol=tol, top_n=1)
    return values[0]


def lanczos(model, loss_fn, x, y, seed: int, max_iter: int | None, tol: float) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # stopped at max_iter on purpose
        values, _ = hessian_eigs(
            model, loss_fn, x, y, k=1, which="largest", max_iter=max_iter, tol=tol, seed=seed
        )
    return float(values[0])


def fastest_time(run, repeats: int) -> float:
    """The fastest of ``repeats`` runs: the one least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def products_to_reach(error_of, low: int, high: int) -> int | None:
    """The least m in [low, high] with error_of(m) ≤ 0, error_of non-increasing in m."""
    if error_of(high) > 0:
        return None
    while low < high:
        middle = (low + high) // 2
        if error_of(middle) <= 0:
            high = middle
        else:
            low = middle + 1
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--max-products", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Using backward.. with create_graph=True")
    pyhessian, pyhessian_module = load_pyhessian()

    model, x, y = problem(args.hidden, args.samples)
    loss_fn = nn.CrossEntropyLoss()
    parameters = sum(p.numel() for p in model.parameters())
    reference = lanczos(copy.deepcopy(model).double(), loss_fn, x.double(), y, 0, None, 1e-14)

    def relative(value: float) -> float:
        return abs(value - reference) / abs(reference)

    def quotient(args, hv):  # PyHessian's v is normalized: vᵀHv is its eigenvalue estimate
        _, _, v = args
        return float(sum((a * b).sum() for a, b in zip(hv, v, strict=True)))

    seeds = range(args.seeds)
    reach = {eps: {"power": [], "lanczos": []} for eps in TOLERANCES}
    for seed in seeds:
        with Counter(pyhessian_module, "hessian_vector_product", quotient) as power:
            power_iteration(pyhessian, model, loss_fn, x, y, seed, args.max_products, 0.0)
        errors = [relative(q) for q in power.quotients]
        for eps in TOLERANCES:
            # power iteration's error is not monotone early on: the first i from which it stays
            hits = [i for i in range(len(errors)) if all(e <= eps for e in errors[i:])]
            reach[eps]["power"].append(hits[0] + 1 if hits else None)
            reach[eps]["lanczos"].append(
                products_to_reach(
                    lambda m, eps=eps, seed=seed: (
                        relative(lanczos(model, loss_fn, x, y, seed, m, 1e-14)) - eps
                    ),
                    1,
                    min(args.max_products, parameters),
                )
            )

    rows = []
    for eps in TOLERANCES:
        power_counts = [n for n in reach[eps]["power"] if n is not None]
        lanczos_counts = [n for n in reach[eps]["lanczos"] if n is not None]
        row = {"target": f"rel. error ≤ {eps:.0e}", "tolerance": eps}
        row["power_products"] = (
            statistics.median(power_counts) if len(power_counts) == len(seeds) else None
        )
        row["lanczos_products"] = (
            statistics.median(lanczos_counts) if len(lanczos_counts) == len(seeds) else None
        )
        row["power_products_per_seed"] = reach[eps]["power"]
        row["lanczos_products_per_seed"] = reach[eps]["lanczos"]
        if row["power_products"] is not None and row["lanczos_products"] is not None:
            n_power, n_lanczos = int(row["power_products"]), int(row["lanczos_products"])
            row["power_seconds"] = fastest_time(
                lambda n=n_power: power_iteration(pyhessian, model, loss_fn, x, y, 0, n, 0.0),
                args.repeats,
            )
            row["lanczos_seconds"] = fastest_time(
                lambda n=n_lanczos: lanczos(model, loss_fn, x, y, 0, n, 1e-14), args.repeats
            )
            row["product_ratio"] = row["power_products"] / row["lanczos_products"]
            row["time_ratio"] = row["power_seconds"] / row["lanczos_seconds"]
        rows.append(row)

    # each method with its own stopping rule
    own = []
    for name, run in (
        (
            "PyHessian power iteration, change < 1e-3 (default)",
            lambda seed: power_iteration(pyhessian, model, loss_fn, x, y, seed, 100, 1e-3),
        ),
        (
            "ravine Lanczos, tol = 1e-3",
            lambda seed: lanczos(model, loss_fn, x, y, seed, None, 1e-3),
        ),
        (
            "ravine Lanczos, default tol (1e-10 → 7.6e-6 in float32)",
            lambda seed: lanczos(model, loss_fn, x, y, seed, None, 1e-10),
        ),
    ):
        counts, errors = [], []
        for seed in seeds:
            owner = pyhessian_module if name.startswith("PyHessian") else None
            counter = (
                Counter(owner, "hessian_vector_product")
                if owner is not None
                else Counter(ravine_hessian._HessianOperator, "__call__")
            )
            with counter:
                value = run(seed)
            counts.append(counter.calls)
            errors.append(relative(value))
        own.append(
            {
                "method": name,
                "products": statistics.median(counts),
                "seconds": fastest_time(lambda run=run: run(0), args.repeats),
                "max_relative_error": max(errors),
                "products_per_seed": counts,
                "relative_error_per_seed": errors,
            }
        )

    print(
        f"top Hessian eigenvalue, tanh MLP with {parameters} parameters (float32, CPU, "
        f"{args.threads} thread(s)), {args.samples} samples; λ_max = {reference:.6g} "
        f"(float64 reference); H·v: median over {len(seeds)} seeds; seconds: fastest of "
        f"{args.repeats} runs (seed 0)\n"
    )
    header = (
        f"{'target':<22}{'power H·v':>11}{'Lanczos H·v':>13}{'ratio':>8}"
        f"{'power s':>10}{'Lanczos s':>11}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        if "product_ratio" not in row:
            print(f"{row['target']:<22}  not reached within {args.max_products} products")
            continue
        print(
            f"{row['target']:<22}{row['power_products']:>11g}{row['lanczos_products']:>13g}"
            f"{row['product_ratio']:>8.1f}{row['power_seconds']:>10.3f}"
            f"{row['lanczos_seconds']:>11.3f}{row['time_ratio']:>8.1f}"
        )
    print()
    header = f"{'own stopping rule':<58}{'H·v':>6}{'seconds':>10}{'max rel. error':>16}"
    print(header)
    print("-" * len(header))
    for row in own:
        print(
            f"{row['method']:<58}{row['products']:>6g}{row['seconds']:>10.3f}"
            f"{row['max_relative_error']:>16.1e}"
        )
    print()
    print(
        json.dumps(
            {
                "benchmark": "hessian_top_eigenvalue",
                "parameters": parameters,
                "samples": args.samples,
                "threads": args.threads,
                "seeds": len(seeds),
                "reference_lambda_max": reference,
                "to_target": rows,
                "own_stopping_rule": own,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
