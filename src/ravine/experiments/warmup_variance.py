"""At the start of training σ is an estimate from a handful of gradients, so the adaptive step
η/σ it gives is erratic; RAdam's rectification keeps that step's spread the same at every step.

Adam's magnitude (:class:`ravine.optim.SecondMoment`) at step t, from gradients g_1 … g_t:

    v_t = β2·v_{t−1} + (1 − β2)·g_t²,   v̂_t = v_t/(1 − β2^t),   σ_t = sqrt(v̂_t) + ε

and the adaptive step size is ψ_t = 1/σ_t (η^t/σ_t per unit of η). RAdam
(:class:`ravine.optim.Rectified`) multiplies it by

    r_t = sqrt( (ρ_t − 4)(ρ_t − 2)·ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)·ρ_t) ),
    ρ∞ = 2/(1 − β2) − 1,   ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t)

(:func:`ravine.optim.magnitudes.rectification_lengths`), and uses σ = 1 — no adaptive step at
all — while ρ_t <= 5.

The simulation: g_t ~ N(μ, 1) independently, for μ in ``MEANS``, in ``RUNS`` independent runs
(one tensor of shape (len(MEANS), RUNS), seeded), through the library's own magnitudes with
Adam's defaults β2 = 0.999, ε = 1e-8. At each step the variance across runs of ψ_t (Adam) and of
r_t·ψ_t (RAdam; exactly 0 while σ = 1) is measured.

The claim is reproduced when, for every μ, Adam's variance at step ``EARLY_STEP`` = 3 is at
least ``DROP_AT_LEAST`` times its variance at the last step (step ``STEPS``), and RAdam's
rectified variance, over the steps with ρ_t > 5, stays within a factor ``SPREAD_AT_MOST`` (its
largest over its smallest). Step 3 is the first step at which Adam's variance is finite (but
for ε): v̂_t is close to a mean of t squared normals, a (non-central) χ² with t degrees of
freedom, whose E[1/χ²] — and so Var[1/σ_t] — is infinite for t <= 2. The values measured at
steps 1 and 2 are reported, but they only say how small the smallest |g| of this sample
happened to be.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..optim.magnitudes import Rectified, SecondMoment, rectification_lengths
from ..report.plots import plot_curves
from .base import Evidence, Result, conclude
from .wording import join

NAME = "warmup-variance"
TITLE = "Warm-up: σ from few gradients is unreliable; RAdam's rectification"
CLAIM = (
    "Early in training σ is a statistic of only a few gradients, so the per-parameter step η/σ "
    "it produces varies wildly from one run to another and settles only as gradients "
    "accumulate; that is one reason to keep η small at first (warm-up). RAdam builds the remedy "
    "into σ: it takes no adaptive step until enough gradients are in, then shrinks the adaptive "
    "step by r_t so its variance stays roughly the same from step to step."
)

LECTURE = (
    "Warm Up: at the beginning, the estimate of σ_i^t has large variance — σ 是一个统计的结果 "
    "(σ is a statistic), 要看得够多笔数据以后,这个统计才精準 (it is accurate only after enough "
    "data), 所以一开始 learning rate 比较小 (so η starts small) while σ's statistics are "
    "gathered. The lecture calls this 一个可能的解释 (one possible explanation) and points to "
    "RAdam for more."
)
COMMAND = "ravine reproduce --only warmup-variance --out warmup-variance"
CAPTIONS = {
    "variance.png": (
        "Adam's curves (one per mean μ of the gradients) start high and fall by two orders of "
        "magnitude or more over the first steps: 1/σ from a few gradients differs from run to "
        "run. RAdam's curves begin only at its first adaptive step and stay level."
    ),
}

MEANS = (0.0, 0.5, 1.0, 2.0)  # μ of the simulated gradients g ~ N(μ, 1)
RUNS = 10_000  # independent runs per μ (quick runs the same: it takes under a second)
STEPS = 200  # t = 1 … STEPS
BETA2, EPS = 0.999, 1e-8  # Adam's defaults (torch.optim.Adam, the paper)
SEED = 0
EARLY_STEP = 3  # the first step whose Var[ψ_t] is finite in theory, for every μ
DROP_AT_LEAST = 10.0  # Adam: Var[ψ_3] / Var[ψ_STEPS] must be at least this, for every μ
SPREAD_AT_MOST = 4.0  # RAdam: max/min of Var[r_t·ψ_t] over ρ_t > 5 must be at most this


def adaptive_step_variance(
    means: tuple[float, ...] = MEANS, runs: int = RUNS, steps: int = STEPS, seed: int = SEED
) -> tuple[torch.Tensor, torch.Tensor]:
    """Var over ``runs`` runs of Adam's ψ_t = 1/σ_t and of RAdam's r_t·ψ_t, for t = 1 … steps.

    Gradients g_t ~ N(μ, 1), float64, one row per μ in ``means``. Returns two tensors of shape
    (steps, len(means)); RAdam's is 0 where ρ_t <= 5 (σ = 1, the step is not adaptive).
    """
    generator = torch.Generator().manual_seed(seed)
    mu = torch.tensor(means, dtype=torch.float64).unsqueeze(-1)
    shape = (len(means), runs)
    adam, radam = SecondMoment(BETA2, EPS), Rectified(BETA2, EPS)
    adam_group, radam_group = adam.defaults(), radam.defaults()
    adam_state: dict[str, Any] = {}
    radam_state: dict[str, Any] = {}
    zeros = torch.zeros(shape, dtype=torch.float64)
    adam.init_state(zeros, adam_state, adam_group)
    radam.init_state(zeros, radam_state, radam_group)
    adam_variance = torch.empty(steps, len(means), dtype=torch.float64)
    radam_variance = torch.zeros(steps, len(means), dtype=torch.float64)
    for t in range(1, steps + 1):
        g = mu + torch.randn(shape, generator=generator, dtype=torch.float64)  # g_t ~ N(μ, 1)
        sigma = adam(g, adam_state, adam_group, t)  # σ_t = sqrt(v̂_t) + ε
        adam_variance[t - 1] = sigma.reciprocal().var(dim=1)  # Var[ψ_t]
        rectified = radam(g, radam_state, radam_group, t)  # σ_t/r_t, or None: σ = 1
        if rectified is not None:
            radam_variance[t - 1] = rectified.reciprocal().var(dim=1)  # Var[r_t·ψ_t]
    return adam_variance, radam_variance


def first_rectified_step(steps: int = STEPS) -> int:
    """The first t with ρ_t > 5 (RAdam's first adaptive step); steps + 1 if none."""
    return next(
        (t for t in range(1, steps + 1) if rectification_lengths(BETA2, t)[0] > 5), steps + 1
    )


def measure(
    runs: int, steps: int = STEPS
) -> tuple[dict[str, Any], tuple[torch.Tensor, torch.Tensor]]:
    """Run the simulation; returns its JSON-able numbers and the two variance curves."""
    adam_variance, radam_variance = adaptive_step_variance(MEANS, runs, steps, SEED)
    first = first_rectified_step(steps)
    rectified = radam_variance[first - 1 :]
    spread = rectified.max(dim=0).values / rectified.min(dim=0).values
    adam_same_steps = adam_variance[first - 1 :]
    adam_spread = adam_same_steps.max(dim=0).values / adam_same_steps.min(dim=0).values
    per_mean = []
    for index, mu in enumerate(MEANS):
        per_mean.append(
            {
                "mu": mu,
                "adam_variance_step_1": float(adam_variance[0, index]),
                "adam_variance_step_2": float(adam_variance[1, index]),
                "adam_variance_step_3": float(adam_variance[EARLY_STEP - 1, index]),
                "adam_variance_step_10": float(adam_variance[min(9, steps - 1), index]),
                "adam_variance_last": float(adam_variance[-1, index]),
                # Var[ψ_3] / Var[ψ_N]
                "adam_drop": float(adam_variance[EARLY_STEP - 1, index] / adam_variance[-1, index]),
                "adam_spread_rectified_steps": float(adam_spread[index]),
                "radam_variance_first": float(rectified[0, index]),
                "radam_variance_last": float(rectified[-1, index]),
                "radam_spread": float(spread[index]),
            }
        )
    rho_first, rho_inf = rectification_lengths(BETA2, first)
    numbers = {
        "runs": runs,
        "steps": steps,
        "beta2": BETA2,
        "eps": EPS,
        "seed": SEED,
        "means": list(MEANS),
        "first_rectified_step": first,
        "rho_first_rectified": rho_first,
        "rho_inf": rho_inf,
        "early_step": EARLY_STEP,
        "drop_at_least": DROP_AT_LEAST,
        "spread_at_most": SPREAD_AT_MOST,
        "per_mean": per_mean,
        "adam_drop_min": min(row["adam_drop"] for row in per_mean),
        "radam_spread_max": max(row["radam_spread"] for row in per_mean),
    }
    return numbers, (adam_variance, radam_variance)


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """Adam's drop and RAdam's spread, the worst over μ; Adam's spread and RAdam's first
    adaptive step for context."""
    n = numbers
    return [
        Evidence(
            f"Adam: Var[1/σ] at step {n['early_step']} over Var[1/σ] at step {n['steps']}, "
            "smallest over μ",
            n["adam_drop_min"],
            "×",
            f"≥ {n['drop_at_least']:g}",
            "an order of magnitude: the early σ must be clearly less reliable than the settled "
            f"one, for every μ (step {n['early_step']} is the first whose variance is finite in "
            "theory: at steps 1 and 2 it is infinite, and the sampled one only says how small "
            "this sample's smallest |g| happened to be)",
            _adam_settles(n),
        ),
        Evidence(
            "RAdam: largest over smallest Var[r/σ] across its adaptive steps, largest over μ",
            n["radam_spread_max"],
            "×",
            f"≤ {n['spread_at_most']:g}",
            "'roughly the same variance at every step': within a factor 4, where Adam's spans "
            f"{_adam_spread(n)} over the same steps",
            _radam_steady(n),
        ),
        Evidence(
            "RAdam's first adaptive step (ρ_t > 5; before it σ = 1)",
            f"step {n['first_rectified_step']:,}",
            "",
            "",
            "RAdam takes no adaptive step while σ rests on too few gradients: its built-in warm-up",
            None,
        ),
    ]


def holds(numbers: dict[str, Any]) -> bool:
    """For every μ: Adam's Var[ψ] falls by ≥ DROP_AT_LEAST from step 3 to the last step, and
    RAdam's Var[r·ψ] over ρ_t > 5 stays within a factor SPREAD_AT_MOST."""
    return _adam_settles(numbers) and _radam_steady(numbers)


def _adam_settles(numbers: dict[str, Any]) -> bool:
    """Adam's Var[ψ_3] / Var[ψ_N] >= drop_at_least for every μ."""
    return all(row["adam_drop"] >= numbers["drop_at_least"] for row in numbers["per_mean"])


def _adam_spread(numbers: dict[str, Any]) -> str:
    """Adam's max/min of Var[ψ_t] over RAdam's adaptive steps, the smallest over μ: "… × or
    more (μ = …)"."""
    row = min(numbers["per_mean"], key=lambda r: r["adam_spread_rectified_steps"])
    return f"{row['adam_spread_rectified_steps']:.3g}× or more (the least, at μ = {row['mu']:g})"


def _radam_steady(numbers: dict[str, Any]) -> bool:
    """RAdam's max/min of Var[r_t·ψ_t] <= spread_at_most for every μ."""
    return all(row["radam_spread"] <= numbers["spread_at_most"] for row in numbers["per_mean"])


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n = numbers
    zero = next(row for row in n["per_mean"] if row["mu"] == min(n["means"], key=abs))
    means = join([f"{mu:g}" for mu in n["means"]])
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: over {n['runs']:,} runs of "
        f"g ~ N(μ, 1), the variance between runs of Adam's adaptive step 1/σ_t is at least "
        f"{n['adam_drop_min']:.3g}× larger at step {n['early_step']} than at step {n['steps']} "
        f"for every μ of {means} (μ = {zero['mu']:g}: {zero['adam_variance_step_3']:.3g} vs "
        f"{zero['adam_variance_last']:.3g}; needed ≥ {n['drop_at_least']:g}×; at steps 1 and 2 "
        f"the variance is infinite in theory, and the sample's "
        f"{zero['adam_variance_step_1']:.3g} at step 1 only reflects its smallest |g|), while "
        f"the variance of RAdam's rectified r_t/σ_t, "
        f"from its first adaptive step t = {n['first_rectified_step']} "
        f"(ρ_t = {n['rho_first_rectified']:.3g} > 5) on, stays within a factor "
        f"{n['radam_spread_max']:.3g} (needed ≤ {n['spread_at_most']:g}; Adam's spans "
        f"{_adam_spread(n)} over the same steps)."
    )


def run(out: Path, quick: bool = False) -> Result:
    numbers, (adam_variance, radam_variance) = measure(RUNS)
    # index = step t (nothing at t = 0); RAdam's 0 while σ = 1 is left off the log axis
    series: dict[str, list[float]] = {}
    for index, mu in enumerate(MEANS):
        series[f"Adam 1/σ, μ = {mu:g}"] = [math.nan, *adam_variance[:, index].tolist()]
    for index, mu in enumerate(MEANS):
        values = radam_variance[:, index].tolist()
        series[f"RAdam r/σ, μ = {mu:g}"] = [math.nan] + [v if v > 0 else math.nan for v in values]
    figure = Path(NAME) / "variance.png"
    plot_curves(
        series,
        out / figure,
        title=(
            f"Variance across {numbers['runs']:,} runs of the adaptive step (g ~ N(μ, 1), "
            f"β2 = {BETA2:g})"
        ),
        ylabel="variance across runs",
        logy=True,
    )
    return conclude(__name__, numbers, [figure])
