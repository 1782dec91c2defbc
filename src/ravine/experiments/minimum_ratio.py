"""Minimum ratio against training loss: local minima, in the strict sense of every Hessian
eigenvalue positive, are rare — training stops where the minimum ratio is below 1.

The lecture trains many networks to critical points (with a special method that drives the
gradient to 0), computes at each the *minimum ratio* = #{λ > 0}/P of the Hessian H's
eigenvalues λ (1 at a strict local minimum), and plots it against the training loss: no point
reaches 1 (they sit at about 0.5–0.6, even where the loss is lowest). The homework calls a
point with ratio > 0.5 "local-minimum-like". Two readings of the figure, each measured here so
that it can fail:

- **No strict local minimum** (what the figure shows): no network reaches ratio 1.
- **Saddle points** (what the lecture concludes from the high dimension: "大概率是卡在了saddle
  point上"): most points have a direction of real negative curvature — more than half are below
  the homework's 0.5 line, and more than half have a negative eigenvalue that the gradient left
  over cannot explain (below −ρ, the bound derived below).

Here: R networks of the homework (``ravine.tasks.sinc``: Linear(1,128)–ReLU–Linear(128,1),
P = 385, float64, MSE on 200 points of sin(5πx)/(5πx)), initialized from seeds 0 … R−1, each
trained as :func:`ravine.diagnose.train_to_critical_point` trains — 3,000 Adam steps with η =
0.02 cosine-decayed to 2·10⁻⁵ (fewer steps than its default, to keep the run short), then
Newton steps on g(θ) = 0 if ‖g‖ is still ≥ 10⁻³ — and classified by
:func:`ravine.diagnose.classify_critical_point` from the exact 385×385 Hessian. The minimum
ratio is counted as the lecture and the homework count it, #{λ > 0}/P ("the lecture's count");
beside it, with a rounding tolerance τ = P·ε·λ_max ≈ 10⁻¹¹, #{λ > τ}/P, in which eigenvalues
that are 0 to rounding (3 for each dead ReLU unit) count as not positive. The Adam steps run 10
networks at a time as one :class:`ravine.sweep.StackedNetworks` (each moves as it would alone,
at less than half the CPU time of one by one); the Newton steps and the Hessian, one at a time.

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

Held when at least ``REACHED`` of the networks reach a critical point (‖∇L‖ < 10⁻³, the
homework's criterion) and both readings hold; partial when one does; not held when none does or
too few critical points were reached.
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
from ..sweep import StackedNetworks, runs_per_chunk
from ..tasks import sinc_task
from .base import Evidence, Result, conclude, torch_threads
from .wording import count, plural

NAME = "minimum-ratio"
TITLE = "Minimum ratio: critical points are rarely strict local minima"
CLAIM = (
    "Networks trained until the gradient vanishes stop at critical points whose minimum ratio "
    "(the fraction of the Hessian's eigenvalues that are positive) stays below 1, even at the "
    "lowest training loss: a point where every eigenvalue is positive is rare. The lecture "
    "reads this as training being stuck at saddle points more often than at local minima."
)
LECTURE = (
    "Minimum ratio = 正的特征值数目 / 所有特征值数目 (positive eigenvalues / all eigenvalues of "
    "H). Local minima 并没有如此常见 (are not that common): in the lecture's figure the "
    "trained networks sit at ratios of about 0.5–0.6, none at 1, and 大概率是卡在了 saddle "
    "point 上 (most likely stuck at a saddle point); the homework calls a ratio above 0.5 "
    "local-minimum-like."
)
COMMAND = "ravine critical --task sinc --seed 3"
CAPTIONS = {
    "minimum-ratio-vs-loss.png": (
        "Each network is a dot: its minimum ratio against its training loss. Look whether any "
        "dot reaches the dashed line at 1 (a strict local minimum), and where the dots sit "
        "against the homework's 0.5 line and the lecture's band of 0.5–0.6."
    ),
    "spectrum.png": (
        "Every eigenvalue of one network's Hessian by size: compare the red negative ones with "
        "the largest blue ones and with the dashed line ρ, the most negative curvature the "
        "gradient left over can produce; the grey ones are 0 to rounding — flat directions, "
        "among them the dead ReLU units'."
    ),
}
LECTURE_BAND = (0.5, 0.6)  # the ratios of the lecture's figure

NETWORKS, QUICK_NETWORKS = 24, 4  # R
DESCENT_STEPS = 3000  # Adam updates per network
LR = 2e-2  # η of the descent, before the cosine decay
NEWTON_STEPS = 20  # at most this many Newton steps on g(θ) = 0 after the descent
REACHED = 0.75  # at least this fraction of the networks must reach ‖∇L‖ < GRAD_TOL
SADDLE_LIKE = 0.5  # the saddle reading: more than this fraction of the critical points…
HOMEWORK_LINE = 0.5  # …below the homework's "local-minimum-like" ratio, and with a λ < −(ρ + τ)


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


def descend_side_by_side(seeds: list[int]) -> list[torch.nn.Module]:
    """The descent phase of :func:`train_to_critical_point` — ``DESCENT_STEPS`` Adam updates,
    η = ``LR`` cosine-decayed — for the sinc network of every seed, as many at a time as
    :func:`ravine.sweep.runs_per_chunk` allows, trained as one
    :class:`ravine.sweep.StackedNetworks` (Adam moves each as it would alone); returns the
    networks, one per seed."""
    task = sinc_task()
    size, descended = runs_per_chunk(task), []
    for first in range(0, len(seeds), size):
        models = [task.model(seed) for seed in seeds[first : first + size]]
        networks = StackedNetworks(models, task.loss_fn)
        train_to_critical_point(
            networks,
            networks.loss,
            task.inputs,
            task.targets,
            descent_steps=DESCENT_STEPS,
            lr=LR,
            newton_steps=0,
        )
        descended += [networks.network(index) for index in range(len(models))]
    return descended


def measure_network(seed: int, model: torch.nn.Module) -> dict[str, Any]:
    """Take the sinc network of ``seed``, after its descent, on to a critical point (Newton on
    g(θ) = 0 while ‖g‖ >= 10⁻³) and read its Hessian."""
    task = sinc_task(seed=seed)
    training = train_to_critical_point(
        model,
        task.loss_fn,
        task.inputs,
        task.targets,
        descent_steps=0,
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
        "strict_ratio_one": sum(r >= 1 for r in strict),
        "homework_line": HOMEWORK_LINE,
        "below_homework_line": sum(r < HOMEWORK_LINE for r in strict),
        "lecture_band": list(LECTURE_BAND),
        "in_lecture_band": sum(LECTURE_BAND[0] <= r <= LECTURE_BAND[1] for r in strict),
        # negative curvature the leftover gradient cannot explain: λ_min < −(ρ + τ)
        "beyond_leftover_bound": sum(
            n["leftover_gradient_bound"] is not None
            and n["min_eigenvalue"] < -(n["leftover_gradient_bound"] + n["zero_tolerance"])
            for n in critical
        ),
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


def parts(numbers: dict[str, Any]) -> dict[str, bool]:
    """The two readings of the module docstring, each held or not (both False when too few
    networks reached a critical point)."""
    n = numbers
    if n["reached"] == 0 or n["reached_fraction"] < n["reached_threshold"]:
        return {"no strict local minimum": False, "saddle points": False}
    count = n["reached"]
    return {
        "no strict local minimum": n["strict_ratio_one"] == 0 and n["ratio_one"] == 0,
        "saddle points": (
            n["below_homework_line"] / count > n["saddle_like_threshold"]
            and n["beyond_leftover_bound"] / count > n["saddle_like_threshold"]
        ),
    }


def holds(numbers: dict[str, Any]) -> bool:
    """Enough critical points, and both readings hold."""
    return all(parts(numbers).values())


def outcome(numbers: dict[str, Any]) -> str:
    """held (both readings), partial (one), not held (none, or too few critical points)."""
    count = sum(parts(numbers).values())
    return "held" if count == 2 else "partial" if count else "not held"


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    n, held = numbers, parts(numbers)
    count = max(n["reached"], 1)
    enough = n["reached_fraction"] >= n["reached_threshold"] and n["reached"] > 0
    half = f"more than {n['saddle_like_threshold']:.0%} of the {n['reached']} critical points"
    return [
        Evidence(
            "networks that reached a critical point (‖∇L‖ < 10⁻³)",
            f"{n['reached']} of {n['networks']}",
            threshold=f"at least {n['reached_threshold']:.0%}",
            why="the ratio describes a critical point; too few would say little about them",
            holds=enough,
        ),
        Evidence(
            "largest minimum ratio #{λ > 0}/P",
            None
            if n["strict_minimum_ratio_max"] is None
            else round(n["strict_minimum_ratio_max"], 3),
            threshold="below 1 for every network",
            why="ratio 1 is a strict local minimum, which the lecture says is rare",
            holds=held["no strict local minimum"],
        ),
        Evidence(
            f"networks below the homework's {n['homework_line']:g} line",
            f"{n['below_homework_line']} of {n['reached']}",
            threshold=half,
            why="the homework calls a ratio above 0.5 local-minimum-like",
            holds=n["below_homework_line"] / count > n["saddle_like_threshold"],
        ),
        Evidence(
            "networks with negative curvature beyond the leftover gradient's bound",
            f"{n['beyond_leftover_bound']} of {n['reached']}",
            threshold=f"λ_min < −ρ in {half}",
            why="λ_min ≥ −ρ is all a gradient of the size left over can produce; only a λ "
            "below −ρ is a direction of descent the exact critical point would keep",
            holds=n["beyond_leftover_bound"] / count > n["saddle_like_threshold"],
        ),
        Evidence(
            "median |λ_min| / λ_max",
            n["negative_over_max_median"],
            threshold="for context",
            why="how deep the negative curvature is against the steepest direction",
        ),
    ]


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n, held = numbers, parts(numbers)
    if n["reached"] == 0:
        return (
            f"Not reproduced: none of the {n['networks']} networks reached ‖∇L‖ < "
            f"{n['grad_tol']:g}, so no critical point was measured."
        )
    if n["reached_fraction"] < n["reached_threshold"]:
        return (
            f"Not reproduced: only {n['reached']} of {n['networks']} networks reached ‖∇L‖ < "
            f"{n['grad_tol']:g} (at least {n['reached_threshold']:.0%} needed)."
        )
    head = {2: "Reproduced", 1: "Partly reproduced", 0: "Not reproduced"}[sum(held.values())]
    minimum = (
        f"no network reached a ratio of 1 (largest {n['strict_minimum_ratio_max']:.3f}): a "
        "point where every eigenvalue is positive is rare, as the lecture says"
        if held["no strict local minimum"]
        else f"{plural(n['strict_ratio_one'], 'network')} reached a ratio of 1, a strict local "
        "minimum"
    )
    saddles = (
        "most are saddle points"
        if held["saddle points"]
        else "but they are not saddle points: they are near-minima with flat directions"
    )
    text = (
        f"{head}: {n['reached']} of {n['networks']} sinc networks (P = {n['parameters']}) "
        f"reached ‖∇L‖ < {n['grad_tol']:g}, at training losses {n['training_loss_min']:.2g} to "
        f"{n['training_loss_max']:.2g}; {minimum}; {saddles} — median ratio "
        f"{n['strict_minimum_ratio_median']:.2f} ({n['in_lecture_band']} of {n['reached']} in "
        f"the lecture's {n['lecture_band'][0]:g}–{n['lecture_band'][1]:g}), "
        f"{n['reached'] - n['below_homework_line']} of {n['reached']} above the homework's "
        f"{n['homework_line']:g} line, and {n['beyond_leftover_bound'] or 'none'} with negative "
        "curvature beyond what the gradient left over can produce."
    )
    if n["saddle_like"]:
        text += (
            f" The negative eigenvalues are tiny (median |λ_min| = "
            f"{n['negative_over_max_median']:.1e}·λ_max); {n['within_leftover_bound']} of "
            f"{n['saddle_like']} lie within the bound ρ of the leftover gradient, and at an "
            "exact critical point of this ReLU network H would be positive semi-definite."
        )
    return text + (
        f" The ratio is below 1 because of flat directions: a median of "
        f"{count(n['zero_median'])} eigenvalues are 0 to rounding (|λ| ≤ τ), 3 for each dead ReLU "
        f"unit (a median of {count(n['dead_units_median'])} dead units); counting only λ > τ as "
        f"positive, the median ratio is {n['minimum_ratio_median']:.3f}."
    )


def plot_ratio_against_loss(networks: list[dict[str, Any]], path: Path) -> Path:
    """The lecture's scatter: minimum ratio (y) against training loss (x, log scale)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9.6, 4.4), dpi=100)
    ax.axhspan(*LECTURE_BAND, color="#f1c40f", alpha=0.25, label="the lecture's figure: 0.5–0.6")
    for reached, marker, label in ((True, "o", "‖∇L‖ < 10⁻³"), (False, "x", "not critical")):
        group = [n for n in networks if n["reached"] == reached]
        if not group:
            continue
        losses = [n["training_loss"] for n in group]
        ax.scatter(
            losses,
            [n["strict_minimum_ratio"] for n in group],
            marker=marker,
            color="#1f5fa8",
            label=f"#{{λ > 0}}/P (the lecture's count), {label}",
        )
        ax.scatter(
            losses,
            [n["minimum_ratio"] for n in group],
            marker=marker,
            facecolors="none" if marker == "o" else "#999999",
            edgecolors="#999999",
            label=f"#{{λ > τ}}/P (zeros to rounding not counted), {label}",
        )
    ax.axhline(1.0, color="#333333", linewidth=1.2, linestyle="--", label="1: strict local minimum")
    ax.axhline(0.5, color="#c0392b", linewidth=1, linestyle=":", label="0.5: the homework's line")
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
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
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
    fig, ax = plt.subplots(figsize=(9.6, 3.8), dpi=100)
    index = torch.arange(values.numel())
    for mask, color, label in (
        (signs > tau, "#1f5fa8", "λ > τ"),
        (signs < -tau, "#c0392b", "λ < −τ"),
        (signs.abs() <= tau, "#999999", "|λ| ≤ τ (zero)"),
    ):
        ax.scatter(
            index[mask], magnitude[mask], s=6, color=color, label=f"{label}: {int(mask.sum())}"
        )
    ax.axhline(max(tau, 1e-20), color="#999999", linewidth=1, linestyle=":", label="τ (rounding)")
    rho = network["leftover_gradient_bound"]
    if rho:
        ax.axhline(rho, color="#c0392b", linewidth=1, linestyle="--", label="ρ: |λ| the leftover "
                   "gradient can make negative")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalues, largest |λ| first")
    ax.set_ylabel("|λ|")
    ax.set_title(
        f"Hessian spectrum of seed {network['seed']} (loss {network['training_loss']:.2g}, "
        f"‖∇L‖ = {network['gradient_norm']:.1e}; by the sign of λ alone: {network['kind']})",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.grid(alpha=0.3)
    save_figure(fig, path)
    return path


def run(out: Path, quick: bool = False) -> Result:
    seeds = list(range(QUICK_NETWORKS if quick else NETWORKS))
    with torch_threads(1):
        descended = descend_side_by_side(seeds)
        networks = [
            measure_network(seed, model) for seed, model in zip(seeds, descended, strict=True)
        ]
    numbers = summarize(networks)
    scatter = plot_ratio_against_loss(networks, out / NAME / "minimum-ratio-vs-loss.png")
    lowest = min(networks, key=lambda n: (not n["reached"], n["training_loss"]))
    spectrum = plot_spectrum(lowest, out / NAME / "spectrum.png")
    return conclude(__name__, numbers, [scatter.relative_to(out), spectrum.relative_to(out)])
