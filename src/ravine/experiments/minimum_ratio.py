"""Minimum ratio against training loss: at the critical points training reaches, the fraction of
positive Hessian eigenvalues stays below 1 — true local minima are rare, most points have some
negative eigenvalues.

The lecture trains many networks to critical points (with a special method that drives the
gradient to 0), computes at each the *minimum ratio* = #{λ > 0}/P of the Hessian H's
eigenvalues λ (1 at a strict local minimum), and plots it against the training loss: the
points stay below 1, even where the loss is lowest.

Here: R networks of the homework (``ravine.tasks.sinc``: Linear(1,128)–ReLU–Linear(128,1),
P = 385, float64, MSE on 200 points of sin(5πx)/(5πx)), initialized from seeds 0 … R−1, each
trained by :func:`ravine.diagnose.train_to_critical_point` — 3,000 Adam steps with η = 0.02
cosine-decayed to 2·10⁻⁵ (fewer steps than its default, to keep the run under a minute), then
Newton steps on g(θ) = 0 if ‖g‖ is still ≥ 10⁻³ — and classified by
:func:`ravine.diagnose.classify_critical_point` from the exact 385×385 Hessian. The minimum
ratio counts λ > τ with τ = P·ε·λ_max ≈ 10⁻¹¹ (the rounding tolerance): eigenvalues that are 0
to rounding count as not positive. The homework's count without tolerance (#{λ > 0}/P, in
which rounding-level eigenvalues split by sign) is reported beside it.

Why the negative eigenvalues are small. For this network, f(x) = Σ_j v_j·ReLU(w_j·x + b_j) + c,
the Hessian of the mean squared error splits as H = (2/N)·JᵀJ + R: the Gauss–Newton part is
positive semi-definite, and since ReLU'' = 0 the only second derivatives of f are
∂²f/∂v_j∂w_j = 1[w_j x + b_j > 0]·x and ∂²f/∂v_j∂b_j = 1[w_j x + b_j > 0], so R's only entries
are R(v_j, w_j) = (∂L/∂w_j)/v_j and R(v_j, b_j) = (∂L/∂b_j)/v_j. Each unit's block of R has
eigenvalues 0 and ±ρ_j, ρ_j = ‖(∂L/∂w_j, ∂L/∂b_j)‖/|v_j|, so by Weyl's inequality

    λ_min(H) ≥ −ρ,   ρ = max_j ρ_j   (:func:`leftover_gradient_bound`).

At an exact critical point (g = 0, no kink on a data point, every live unit with v_j ≠ 0) ρ = 0
and H is positive semi-definite: the negative eigenvalues measured here belong to points where
‖g‖ is below 10⁻³ but not 0 — the homework's and the lecture's notion of a critical point. The
experiment reports ρ beside λ_min; the verdict says how many networks respect the bound.

The claim is reproduced when, of the R networks,

- at least 75 % reach a critical point (‖∇L‖ < 10⁻³, the homework's criterion),
- none of those has minimum ratio 1 (no strict local minimum), and
- more than half have a negative eigenvalue below −τ (a saddle point by the lecture's rule).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch

from ..diagnose.critical import (
    GRAD_TOL,
    classify_critical_point,
    loss_and_gradient,
    train_to_critical_point,
)
from ..report.plots import save_figure  # (selects matplotlib's file backend)
from ..tasks import sinc_task
from .base import Result, conclude, torch_threads

NAME = "minimum-ratio"
TITLE = "Minimum ratio: critical points are rarely local minima"
CLAIM = (
    "Networks trained until the gradient vanishes stop at critical points whose Hessian still "
    "has non-positive eigenvalues: the minimum ratio (fraction of positive eigenvalues) stays "
    "below 1 even at the lowest training loss, and most critical points have negative "
    "eigenvalues — they are saddle-like, not local minima."
)

NETWORKS, QUICK_NETWORKS = 24, 4  # R
DESCENT_STEPS = 3000  # Adam updates per network
LR = 2e-2  # η of the descent, before the cosine decay
NEWTON_STEPS = 20  # at most this many Newton steps on g(θ) = 0 after the descent
REACHED = 0.75  # at least this fraction of the networks must reach ‖∇L‖ < GRAD_TOL
SADDLE_LIKE = 0.5  # more than this fraction of the critical points must have a λ < −τ


def dead_units(model: torch.nn.Module, inputs: torch.Tensor) -> int:
    """Hidden ReLU units of the sinc network that are 0 on every training input: their three
    parameters (w1, b1, w2) move neither L nor ∇L, so each adds three zero eigenvalues to H."""
    with torch.no_grad():
        return int((~(model[0](inputs) > 0).any(dim=0)).sum())


def leftover_gradient_bound(model: torch.nn.Module, inputs, targets, loss_fn) -> float | None:
    """ρ = max_j ‖(∂L/∂w_j, ∂L/∂b_j)‖/|v_j| over the live hidden units j of the sinc network
    (w_j, b_j its input weight and bias, v_j its output weight): λ_min(H) ≥ −ρ (see the
    module docstring). None (no bound) when a live unit has v_j = 0."""
    _, gradient = loss_and_gradient(model, loss_fn, inputs, targets)
    hidden = model[0].out_features
    g_w, g_b = gradient[:hidden], gradient[hidden : 2 * hidden]  # ∂L/∂w_j, ∂L/∂b_j
    v = model[2].weight.detach().reshape(-1)  # v_j
    with torch.no_grad():
        live = (model[0](inputs) > 0).any(dim=0)
    size = torch.sqrt(g_w**2 + g_b**2)[live]
    if size.numel() == 0:
        return 0.0
    if bool((v[live] == 0).any()):
        return None
    return float((size / v[live].abs()).max())


def measure_network(seed: int) -> dict[str, Any]:
    """Train the sinc network of ``seed`` to a critical point and read its Hessian."""
    task = sinc_task(seed=seed)
    model = task.model()
    training = train_to_critical_point(
        model,
        task.loss_fn,
        task.inputs,
        task.targets,
        descent_steps=DESCENT_STEPS,
        lr=LR,
        newton_steps=NEWTON_STEPS,
    )
    point = classify_critical_point(model, task.loss_fn, task.inputs, task.targets)
    return {
        "seed": seed,
        "training_loss": point.loss,
        "gradient_norm": point.gradient_norm,
        "reached": training.reached,
        "newton_steps": training.newton_steps,
        "kind": point.kind,
        "minimum_ratio": point.minimum_ratio,
        "strict_minimum_ratio": point.strict_minimum_ratio,
        "positive": point.positive,
        "negative": point.negative,
        "zero": point.zero,
        "dead_units": dead_units(model, task.inputs),
        "min_eigenvalue": point.min_eigenvalue,
        "max_eigenvalue": point.max_eigenvalue,
        "negative_over_max": -point.min_eigenvalue / point.max_eigenvalue,
        "leftover_gradient_bound": leftover_gradient_bound(
            model, task.inputs, task.targets, task.loss_fn
        ),
        "zero_tolerance": point.zero_tolerance,
        "local_minimum_like": point.local_minimum_like,
        "strict_local_minimum_like": point.strict_minimum_ratio > 0.5,
        "spectrum": point.eigenvalues.tolist(),
    }


def summarize(networks: list[dict[str, Any]]) -> dict[str, Any]:
    """The numbers the verdict uses, from the per-network records (``spectrum`` left out)."""
    critical = [n for n in networks if n["gradient_norm"] < GRAD_TOL]
    ratios = [n["minimum_ratio"] for n in critical]
    strict = [n["strict_minimum_ratio"] for n in critical]
    saddles = [n for n in critical if n["negative"] > 0]
    count = len(critical)

    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    return {
        "networks": len(networks),
        "parameters": 385,
        "grad_tol": GRAD_TOL,
        "descent_steps": DESCENT_STEPS,
        "lr": LR,
        "reached": count,
        "reached_fraction": count / len(networks) if networks else 0.0,
        "reached_threshold": REACHED,
        "minimum_ratio_max": max(ratios) if ratios else None,
        "minimum_ratio_median": median(ratios),
        "minimum_ratio_min": min(ratios) if ratios else None,
        "strict_minimum_ratio_median": median(strict),
        "strict_minimum_ratio_max": max(strict) if strict else None,
        "ratio_one": sum(r >= 1 for r in ratios),
        "saddle_like": len(saddles),
        "saddle_like_fraction": len(saddles) / count if count else 0.0,
        "saddle_like_threshold": SADDLE_LIKE,
        "local_minimum_like": sum(bool(n["local_minimum_like"]) for n in critical),
        "strict_local_minimum_like": sum(bool(n["strict_local_minimum_like"]) for n in critical),
        "negative_median": median([n["negative"] for n in critical]),
        "zero_median": median([n["zero"] for n in critical]),
        "dead_units_median": median([n["dead_units"] for n in critical]),
        "negative_over_max_median": median([n["negative_over_max"] for n in saddles]),
        "negative_over_max_max": max((n["negative_over_max"] for n in saddles), default=None),
        # λ_min ≥ −ρ (Weyl, up to rounding): the negative curvature is the leftover gradient's
        "within_leftover_bound": sum(
            n["leftover_gradient_bound"] is None
            or n["min_eigenvalue"] >= -(n["leftover_gradient_bound"] + n["zero_tolerance"])
            for n in saddles
        ),
        # |λ_min|/‖∇L‖: how the negative curvature compares with the gradient left over
        "negative_over_gradient_median": median(
            [-n["min_eigenvalue"] / n["gradient_norm"] for n in saddles]
        ),
        "training_loss_min": min((n["training_loss"] for n in critical), default=None),
        "training_loss_max": max((n["training_loss"] for n in critical), default=None),
        "per_network": [{k: v for k, v in n.items() if k != "spectrum"} for n in networks],
    }


def holds(numbers: dict[str, Any]) -> bool:
    """The criterion of the module docstring."""
    n = numbers
    if n["reached"] == 0:
        return False
    return bool(
        n["reached_fraction"] >= n["reached_threshold"]
        and n["ratio_one"] == 0
        and n["minimum_ratio_max"] < 1
        and n["saddle_like_fraction"] > n["saddle_like_threshold"]
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n = numbers
    head = "Reproduced" if reproduced else "Not reproduced"
    if n["reached"] == 0:
        return (
            f"{head}: none of the {n['networks']} networks reached ‖∇L‖ < {n['grad_tol']:g}, "
            "so no critical point was measured."
        )
    text = (
        f"{head}: {n['reached']} of {n['networks']} sinc networks (P = {n['parameters']}) "
        f"reached ‖∇L‖ < {n['grad_tol']:g} (at least {n['reached_threshold']:.0%} needed), at "
        f"training losses {n['training_loss_min']:.2g} to {n['training_loss_max']:.2g}; their "
        f"minimum ratio is at most {n['minimum_ratio_max']:.3f} (median "
        f"{n['minimum_ratio_median']:.3f}; {n['ratio_one']} at 1), and "
        f"{n['saddle_like']} ({n['saddle_like_fraction']:.0%}; more than "
        f"{n['saddle_like_threshold']:.0%} needed) have negative eigenvalues (median "
        f"{n['negative_median']:g} of them)."
    )
    if n["saddle_like"]:
        text += (
            f" The negative eigenvalues are small: |λ_min| is a median "
            f"{n['negative_over_max_median']:.1e} of λ_max and "
            f"{n['negative_over_gradient_median']:.2g} of ‖∇L‖, and in "
            f"{n['within_leftover_bound']} of {n['saddle_like']} networks it lies within the "
            "bound ρ set by the gradient left over (at an exact critical point of this ReLU "
            "network H would be positive semi-definite). A median "
            f"{n['zero_median']:g} eigenvalues are 0 (3 per dead ReLU unit, median "
            f"{n['dead_units_median']:g} dead units), which keeps the ratio low. Counted "
            "without tolerance, as the homework does, the ratio is a median "
            f"{n['strict_minimum_ratio_median']:.3f}, and {n['strict_local_minimum_like']} of "
            f"{n['reached']} points pass the homework's 'ratio > 0.5 is local-minimum-like' "
            f"rule ({n['local_minimum_like']} with the tolerance)."
        )
    return text


def plot_ratio_against_loss(networks: list[dict[str, Any]], path: Path) -> Path:
    """The lecture's scatter: minimum ratio (y) against training loss (x, log scale)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    for reached, marker, label in ((True, "o", "‖∇L‖ < 10⁻³"), (False, "x", "not critical")):
        group = [n for n in networks if n["reached"] == reached]
        if not group:
            continue
        losses = [n["training_loss"] for n in group]
        ax.scatter(
            losses,
            [n["minimum_ratio"] for n in group],
            marker=marker,
            color="#1f5fa8",
            label=f"minimum ratio #{{λ > τ}}/P, {label}",
        )
        ax.scatter(
            losses,
            [n["strict_minimum_ratio"] for n in group],
            marker=marker,
            facecolors="none" if marker == "o" else "#c0392b",
            edgecolors="#c0392b",
            label=f"without tolerance #{{λ > 0}}/P, {label}",
        )
    ax.axhline(1.0, color="#555555", linewidth=1, linestyle="--")
    ax.axhline(0.5, color="#999999", linewidth=1, linestyle=":")
    for y, text in ((1.0, "strict local minimum: ratio 1"), (0.5, "homework's threshold 0.5")):
        ax.text(0.01, y - 0.015, text, transform=ax.get_yaxis_transform(), fontsize=7,
                color="#555555", va="top")  # fmt: skip
    ax.set_xscale("log")
    losses = [n["training_loss"] for n in networks]
    ticks = [
        m * 10.0**e
        for e in range(-8, 2)
        for m in (1, 2, 5)
        if min(losses) / 1.5 <= m * 10.0**e <= max(losses) * 1.5
    ]
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ticks, labels=[f"{t:g}" for t in ticks])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("training loss L(θ) (MSE)")
    ax.set_ylabel("minimum ratio")
    ax.set_title(
        f"{len(networks)} sinc networks (P = 385) at their critical points: minimum ratio "
        "against loss",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, 0.93))
    ax.grid(alpha=0.3)
    save_figure(fig, path)
    return path


def plot_spectrum(network: dict[str, Any], path: Path) -> Path:
    """|λ| of every eigenvalue of one network's Hessian (log scale), by sign, sorted."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    values = torch.tensor(network["spectrum"], dtype=torch.float64)
    tau = network["zero_tolerance"]
    order = values.abs().argsort(descending=True)
    magnitude = values.abs()[order].clamp_min(1e-20)
    signs = values[order]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    index = torch.arange(values.numel())
    for mask, color, label in (
        (signs > tau, "#1f5fa8", "λ > τ"),
        (signs < -tau, "#c0392b", "λ < −τ"),
        (signs.abs() <= tau, "#999999", "|λ| ≤ τ (zero)"),
    ):
        ax.scatter(
            index[mask], magnitude[mask], s=6, color=color, label=f"{label}: {int(mask.sum())}"
        )
    ax.axhline(max(tau, 1e-20), color="#999999", linewidth=1, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalues, largest |λ| first")
    ax.set_ylabel("|λ|")
    ax.set_title(
        f"Hessian spectrum of seed {network['seed']} (loss {network['training_loss']:.2g}, "
        f"‖∇L‖ = {network['gradient_norm']:.1e}, kind: {network['kind']})",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    save_figure(fig, path)
    return path


def run(out: Path, quick: bool = False) -> Result:
    with torch_threads(1):
        networks = [measure_network(seed) for seed in range(QUICK_NETWORKS if quick else NETWORKS)]
    numbers = summarize(networks)
    scatter = plot_ratio_against_loss(networks, out / NAME / "minimum-ratio-vs-loss.png")
    lowest = min(networks, key=lambda n: (not n["reached"], n["training_loss"]))
    spectrum = plot_spectrum(lowest, out / NAME / "spectrum.png")
    return conclude(__name__, numbers, [scatter.relative_to(out), spectrum.relative_to(out)])
