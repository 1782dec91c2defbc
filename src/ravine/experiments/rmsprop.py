"""RMSProp's α: how much σ remembers. A small α lets σ follow the newest gradient — it brakes at
once when the slope steepens and speeds up on a flat stretch; a large α weighs the past, like
Adagrad, and reacts late.

The two rules, per parameter i, with the same fixed η:

    Adagrad (lecture):  σ_i^t = sqrt( Σ_{s=0..t} (g_i^s)² / (t+1) )
    RMSProp (lecture):  σ_i^0 = |g_i^0|,  σ_i^t = sqrt( α·(σ_i^{t−1})² + (1 − α)·(g_i^t)² )

and θ_i^{t+1} = θ_i^t − η/σ_i^t · g_i^t. Note what holds by construction: σ_i^t >=
sqrt(1 − α)·|g_i^t|, so for α <= 3/4 RMSProp's σ is at least ½·|g| at every step and its brake
can never be late (delay 0). Comparing Adagrad with one such α can only fail on Adagrad's side;
the lecture's claim is about α, so α is swept and the measured dependence on α is the test.

Set-up: the ``crescent`` surface from its own start (4, 4), whose slope along θ1 goes steep →
flat → steep; ``STEPS`` updates of ``lecture-adagrad`` and of ``lecture-rmsprop`` for every α
in ``ALPHAS``, η = ``LR`` for all (an adaptive step moves a parameter by about η, here about
1% of the way to the minimum).

Measured on θ1, from each run's own path (g1^t = ∂L/∂θ1 at θ^t, the gradient step t uses):

- the flat stretch begins at the first step with |g1^t| < ``FLAT_BELOW`` · |g1^0|;
- the slope steepens again at the first later step t0 with |g1^t| >= ``STEEP_ABOVE`` · |g1^0|;
- on the flat stretch (its first step up to t0, or to the end if it never steepens), the
  median step along θ1, η·|g1^t|/σ1^t: the speed-up (η when σ has caught up with the small |g|);
- the brake's delay: the number of steps from t0 until σ1^t >= ½·|g1^t| holds for good within
  the ``WINDOW`` steps from t0 (0: at once; ``unbraked_steps`` counts the steps with σ1^t below
  ½·|g1^t|, brake off), and the largest step in that window (how far it is thrown).

The claim's three parts, each decided from the sweep (thresholds set before the run):

- the delay rises with α: Spearman's rank correlation of α and delay over the α whose path
  steepened again (at least 3) is >= ``TREND`` (0.8: a clear monotone order — 1 is a perfect
  one, 0 none; a few neighbour swaps among 7 α pass, a flat or reversed dependence does not);
- the flat-stretch step falls as α grows: the rank correlation is <= −``TREND``;
- the smallest α beats Adagrad on both: a shorter delay and a longer flat-stretch step.

Held when all three hold, partial when one or two do, not held when none does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..report.plots import save_figure  # (selects matplotlib's file backend)
from ..surfaces import Trajectory, descend, surface
from .base import Evidence, Result, conclude, torch_threads
from .wording import join, plural

NAME = "rmsprop"
TITLE = "RMSProp's α: a small α follows the newest gradient, a large α weighs the past"
CLAIM = (
    "Even along one parameter the slope can change as training moves: steep, then gentle, then "
    "steep again. RMSProp's α sets how much σ remembers: with a small α, σ follows the newest "
    "gradient, so the step grows on the gentle stretch and is cut at once, like a brake, when "
    "the slope steepens; with α near 1, σ weighs the past and reacts late, as Adagrad's σ — an "
    "equal average of every past gradient — does."
)
LECTURE = (
    "RMSProp: σ_i^t = √(α(σ_i^{t−1})² + (1−α)(g_i^t)²). 同一个参数的梯度也会变化 (the same "
    "parameter's slope changes): 设 α 很小 (a small α) → 比较看重新的梯度 (weigh the newest "
    "gradient), so σ reacts quickly — 踩刹车 (brakes) when the slope turns steep and takes larger "
    "steps where it is gentle; Adagrad's root mean square weighs every past gradient equally."
)
COMMAND = (
    "ravine descend crescent --optimizer lecture-rmsprop --opt alpha=0.9 --lr 0.05 --steps 600 "
    "--plot crescent.png"
)
CAPTIONS = {
    "alpha-sweep.png": (
        "Left: steps until σ catches up with the steep slope again, for each α; right: the "
        "step along θ1 on the flat stretch. The dashed line is Adagrad. The lecture expects, "
        "left to right, a later brake and a shorter flat-stretch step, towards Adagrad's."
    ),
    "sigma.png": (
        "|g1| (solid) and σ1 (dashed) along the path, for a small α, two large ones and "
        "Adagrad: where the solid line jumps up after the flat stretch, see whether the dashed "
        "line jumps with it or lags below it."
    ),
    "paths.png": (
        "The paths on the crescent for three α and Adagrad, with a dot every 10 steps: dots far "
        "apart on the flat middle stretch mean fast progress there."
    ),
}

SURFACE = "crescent"
LR = 0.05  # η, the same for all runs
ALPHAS = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)  # RMSProp's α
SHOWN = (0.1, 0.9, 0.99)  # the α drawn in the path and σ figures
STEPS = 600
FLAT_BELOW = 0.1  # flat: |g1| < 10% of |g1⁰|
STEEP_ABOVE = 0.25  # steep again: |g1| >= 25% of |g1⁰|
BRAKED = 0.5  # braked: σ1 >= ½·|g1|
WINDOW = 20  # the steps from t0 in which the delay and the largest step are measured
TREND = 0.8  # the rank correlation a dependence on α must reach (see the module doc)
ADAGRAD = "lecture-adagrad"
RMSPROP = "lecture-rmsprop"
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {
    "surface": SURFACE,
    "optimizer": RMSPROP,
    "parameters": {"alpha": 0.9},
    "lr": LR,
    "steps": STEPS,
}


def brake_numbers(gradient: torch.Tensor, sigma: torch.Tensor, lr: float) -> dict[str, Any]:
    """The flat stretch, its median step, the steepening and the brake's delay along one
    parameter.

    ``gradient`` (N,) is g^t, the gradient step t used, and ``sigma`` (N,) the σ^t it divided
    by; ``lr`` is η. Step numbers count from 0; None where the event never happens.
    """
    slope = gradient.abs()  # |g^t|
    step = lr * slope / sigma  # η·|g^t|/σ^t
    start = float(slope[0])
    flat = torch.nonzero(slope < FLAT_BELOW * start).flatten()
    flat_start = int(flat[0]) if len(flat) else None
    steep_again = None
    if flat_start is not None:
        later = torch.nonzero(slope[flat_start:] >= STEEP_ABOVE * start).flatten()
        steep_again = flat_start + int(later[0]) if len(later) else None
    delay = unbraked = largest_step = slope_peak = sigma_before = None
    if steep_again is not None:
        window = slice(steep_again, steep_again + WINDOW)
        loose = torch.nonzero(sigma[window] < BRAKED * slope[window]).flatten()  # σ < ½·|g|
        unbraked = len(loose)
        delay = int(loose[-1]) + 1 if len(loose) else 0
        largest_step = float(step[window].max())
        slope_peak = float(slope[window].max())
        sigma_before = float(sigma[steep_again - 1])
    after_flat = slope[flat_start:] if flat_start is not None else slope[:0]
    on_flat = step[flat_start:steep_again] if flat_start is not None else step[:0]
    return {
        "slope_start": start,
        "flat_start": flat_start,
        "steep_again": steep_again,
        "flat_steps": None if steep_again is None else steep_again - flat_start,
        "flat_step": float(on_flat.median()) if len(on_flat) else None,
        "slope_max_after_flat": float(after_flat.max()) if len(after_flat) else None,
        "sigma_before_steep": sigma_before,
        "slope_peak_after_steep": slope_peak,
        "brake_delay": delay,
        "unbraked_steps": unbraked,
        "largest_step_after_steep": largest_step,
    }


def rank_correlation(x: list[float], y: list[float]) -> float | None:
    """Spearman's ρ: the Pearson correlation of the ranks of ``x`` and ``y`` (tied values share
    their mean rank). None for fewer than 3 pairs or when either side is constant."""
    if len(x) < 3:
        return None

    def ranks(values: list[float]) -> torch.Tensor:
        v = torch.tensor(values, dtype=torch.float64)
        below = (v.unsqueeze(0) < v.unsqueeze(1)).sum(1)
        equal = (v.unsqueeze(0) == v.unsqueeze(1)).sum(1)
        return below + (equal + 1) / 2  # mean rank of the tie group, 1-based

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    scale = float(rx.norm() * ry.norm())
    return None if scale == 0 else float((rx * ry).sum()) / scale


def runs(steps: int = STEPS) -> dict[str, Trajectory]:
    """Adagrad, then RMSProp for every α of ``ALPHAS``, from the crescent's start, same η."""
    s = surface(SURFACE)
    trajectories = {"Adagrad": descend(s, ADAGRAD, lr=LR, steps=steps)}
    for alpha in ALPHAS:
        trajectories[f"α = {alpha:g}"] = descend(
            s, RMSPROP, lr=LR, options={"alpha": alpha}, steps=steps
        )
    return trajectories


def _theta1(trajectory: Trajectory) -> tuple[torch.Tensor, torch.Tensor]:
    """(g1^t, σ1^t) for t = 0 … N−1."""
    gradient = trajectory.surface.gradient(trajectory.theta[:-1, 0])[:, 0]
    return gradient, trajectory.sigma[:, 0, 0]


def trends(adagrad: dict[str, Any], sweep: list[dict[str, Any]]) -> dict[str, Any]:
    """The dependence on α: rank correlations of α with the delay (over the α that steepened
    again) and with the flat-stretch step, and the smallest α against Adagrad."""
    steepened = [m for m in sweep if m["brake_delay"] is not None]
    flat = [m for m in sweep if m["flat_step"] is not None]
    first = sweep[0]
    return {
        "steepened": len(steepened),
        "delay_trend": rank_correlation(
            [m["alpha"] for m in steepened], [m["brake_delay"] for m in steepened]
        ),
        "flat_step_trend": rank_correlation(
            [m["alpha"] for m in flat], [m["flat_step"] for m in flat]
        ),
        "smallest_alpha_brakes_sooner": (
            first["brake_delay"] is not None
            and adagrad["brake_delay"] is not None
            and first["brake_delay"] < adagrad["brake_delay"]
        ),
        "smallest_alpha_faster_on_flat": (
            first["flat_step"] is not None
            and adagrad["flat_step"] is not None
            and first["flat_step"] > adagrad["flat_step"]
        ),
    }


def measure(steps: int = STEPS) -> tuple[dict[str, Any], dict[str, Trajectory]]:
    trajectories = runs(steps)
    measured = {}
    for label, trajectory in trajectories.items():
        gradient, sigma = _theta1(trajectory)
        measured[label] = brake_numbers(gradient, sigma, LR)
        measured[label]["distance_final"] = float(trajectory.distance[0])
    adagrad = measured.pop("Adagrad")
    sweep = [dict(alpha=a, **measured[f"α = {a:g}"]) for a in ALPHAS]
    numbers: dict[str, Any] = {
        "surface": SURFACE,
        "start": list(trajectories["Adagrad"].theta[0, 0].tolist()),
        "lr": LR,
        "steps": steps,
        "flat_below": FLAT_BELOW,
        "steep_above": STEEP_ABOVE,
        "braked": BRAKED,
        "window": WINDOW,
        "trend_threshold": TREND,
        "adagrad": adagrad,
        "sweep": sweep,
        **trends(adagrad, sweep),
    }
    return numbers, trajectories


def parts(numbers: dict[str, Any]) -> dict[str, bool]:
    """The claim's three parts (see the module doc), each held or not."""
    n, trend = numbers, numbers["trend_threshold"]
    delay, flat = n["delay_trend"], n["flat_step_trend"]
    return {
        "delay rises with α": n["steepened"] >= 3 and delay is not None and delay >= trend,
        "flat step falls with α": flat is not None and flat <= -trend,
        "small α beats Adagrad": bool(
            n["smallest_alpha_brakes_sooner"] and n["smallest_alpha_faster_on_flat"]
        ),
    }


def holds(numbers: dict[str, Any]) -> bool:
    """All three parts hold."""
    return all(parts(numbers).values())


def outcome(numbers: dict[str, Any]) -> str:
    """held (all three parts), partial (one or two), not held (none)."""
    count = sum(parts(numbers).values())
    return "held" if count == 3 else "partial" if count else "not held"


def _listing(numbers: dict[str, Any], key: str, form: str) -> str:
    """The sweep's values of ``key`` in α's order, joined with 'and' (None: never)."""
    return join(["never" if m[key] is None else format(m[key], form) for m in numbers["sweep"]])


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    n, held = numbers, parts(numbers)
    adagrad, first = n["adagrad"], n["sweep"][0]
    why_trend = (
        "rank correlation 1 is a perfect order, 0 none; 0.8 lets a few neighbouring α swap "
        "but not a flat or reversed dependence"
    )
    return [
        Evidence(
            "rank correlation of α with the brake's delay",
            None if n["delay_trend"] is None else round(n["delay_trend"], 3),
            threshold=f"≥ {n['trend_threshold']:g}, over at least 3 α that met a steep slope",
            why=f"a larger α should remember the flat stretch longer; {why_trend}",
            holds=held["delay rises with α"],
        ),
        Evidence(
            "rank correlation of α with the flat-stretch step",
            None if n["flat_step_trend"] is None else round(n["flat_step_trend"], 3),
            threshold=f"≤ −{n['trend_threshold']:g}",
            why=f"a larger α keeps σ at the steep start's size, so its step stays short; "
            f"{why_trend}",
            holds=held["flat step falls with α"],
        ),
        Evidence(
            f"brake delay, α = {first['alpha']:g} against Adagrad",
            f"{first['brake_delay']} vs {adagrad['brake_delay']}",
            "steps",
            "shorter than Adagrad's, and the flat-stretch step longer "
            f"({_fmt(first['flat_step'])} vs {_fmt(adagrad['flat_step'])})",
            "the lecture's contrast: a small α reacts to the newest gradient, Adagrad to all",
            held["small α beats Adagrad"],
        ),
    ]


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.3g}"


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n, held = numbers, parts(numbers)
    count = sum(held.values())
    head = "Reproduced" if reproduced else "Partly reproduced" if count else "Not reproduced"
    adagrad = n["adagrad"]
    failed = [name for name, ok in held.items() if not ok]
    alphas = join([f"{m['alpha']:g}" for m in n["sweep"]])
    delay = adagrad["brake_delay"]
    return (
        f"{head} ({count} of 3 parts hold"
        + (f"; not: {', '.join(failed)}" if failed else "")
        + f"): on {n['surface']} with η = {n['lr']:g}, the brake's delay after the slope "
        f"steepened was {_listing(n, 'brake_delay', 'd')} steps for α = {alphas} (rank "
        f"correlation {_fmt(n['delay_trend'])}; Adagrad: "
        f"{'never' if delay is None else plural(delay, 'step')}); the median step along θ1 on "
        f"the flat stretch was {_listing(n, 'flat_step', '.3g')} for the same α (rank "
        f"correlation {_fmt(n['flat_step_trend'])}; Adagrad: {_fmt(adagrad['flat_step'])}). For "
        "α ≤ 3/4 a delay of 0 holds by construction (σ ≥ √(1−α)·|g| ≥ ½|g|); the dependence on α "
        "is what is tested."
    )


def _plot_sweep(numbers: dict[str, Any], path: Path) -> Path:
    """Delay and flat-stretch step against α (evenly spaced, labelled), Adagrad as a line."""
    import matplotlib.pyplot as plt

    sweep, adagrad = numbers["sweep"], numbers["adagrad"]
    spots = list(range(len(sweep)))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.9), dpi=100)
    panels = (
        (
            "brake_delay",
            r"steps until $\sigma_1$ ≥ ½·$|g_1|$ for good",
            "Brake delay after the slope steepens",
        ),
        (
            "flat_step",
            r"median $\eta\,|g_1|/\sigma_1$ on the flat stretch",
            r"Step along $\theta_1$ on the flat stretch",
        ),
    )
    for ax, (key, ylabel, title) in zip(axes, panels, strict=True):
        points = [(i, m[key]) for i, m in zip(spots, sweep, strict=True) if m[key] is not None]
        ax.plot(*zip(*points, strict=True), "o-", color="#1f5fa8", label="RMSProp, by α")
        if adagrad[key] is not None:
            ax.axhline(adagrad[key], color="#c0392b", linestyle="--", label="Adagrad")
        if key == "flat_step":
            ax.axhline(numbers["lr"], color="#777777", linestyle=":", label="η (σ = |g|)")
        ax.set_xticks(spots, labels=[f"{m['alpha']:g}" for m in sweep])
        ax.set_xlabel("α (left: follows the newest gradient; right: weighs the past)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    return save_figure(fig, path)


def _plot_sigma(trajectories: dict[str, Trajectory], numbers: dict[str, Any], path: Path) -> Path:
    """|g1| and σ1 along the path for the shown α and Adagrad, one panel each."""
    import matplotlib.pyplot as plt

    labels = [f"α = {a:g}" for a in SHOWN] + ["Adagrad"]
    events = [m["steep_again"] for m in (numbers["adagrad"], *numbers["sweep"])]
    shown = STEPS if None in events else min(STEPS, max(events) + 2 * WINDOW)
    fig, axes = plt.subplots(1, len(labels), figsize=(10, 3.4), dpi=100, sharey=True)
    for ax, label in zip(axes, labels, strict=True):
        gradient, sigma = _theta1(trajectories[label])
        ax.plot(gradient.abs()[:shown].tolist(), color="#333333", linewidth=1.2, label=r"$|g_1^t|$")
        ax.plot(sigma[:shown].tolist(), color="#c0392b", linestyle="--", label=r"$\sigma_1^t$")
        ax.set_yscale("log")
        ax.set_ylim(bottom=1e-2)  # |g1| crosses 0 where the path overshoots; cut those dips
        ax.set_title("RMSProp, " + label if label != "Adagrad" else label, fontsize=10)
        ax.set_xlabel("step t")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(r"$|g_1|$, $\sigma_1$")
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.04, 1.0))
    return save_figure(fig, path)


def _plot_paths(trajectories: dict[str, Trajectory], path: Path) -> Path:
    """Contours of the crescent, the paths of the shown α and Adagrad, a dot every 10 steps."""
    import matplotlib.pyplot as plt
    import numpy as np

    s = trajectories["Adagrad"].surface
    (x0, x1), (y0, y1) = s.bounds
    xs = torch.linspace(x0, x1, 120, dtype=torch.float64)
    ys = torch.linspace(y0, y1, 120, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    loss = s.loss(grid).numpy()
    shifted = loss - loss.min() + 1e-6
    fig, ax = plt.subplots(figsize=(8.6, 5.2), dpi=100)
    ax.contour(xs, ys, shifted, levels=np.geomspace(shifted.min(), shifted.max(), 30),
               cmap="viridis", linewidths=0.6, alpha=0.6)  # fmt: skip
    colors = ("#1f5fa8", "#e67e22", "#8e44ad", "#c0392b")
    for color, label in zip(colors, [*(f"α = {a:g}" for a in SHOWN), "Adagrad"], strict=True):
        pts = trajectories[label].theta[:, 0].numpy()
        name = label if label == "Adagrad" else f"RMSProp, {label}"
        ax.plot(pts[:, 0], pts[:, 1], "-", color=color, linewidth=0.6, alpha=0.6)
        ax.plot(pts[::10, 0], pts[::10, 1], "o", color=color, markersize=3, label=name)
    ax.plot(*s.start, "o", color="black", markersize=6, label="start")
    ax.plot(*s.minimum, "*", color="#c0392b", markersize=12, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("θ1")
    ax.set_ylabel("θ2")
    ax.set_title(f"{SURFACE}, η = {LR:g}, {STEPS} updates: a dot every 10 steps", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save_figure(fig, path)


def run(out: Path, quick: bool = False) -> Result:
    """Full and quick are the same size (8 runs of 600 updates of two parameters)."""
    with torch_threads(1):
        numbers, trajectories = measure(STEPS)
    folder = out / NAME
    folder.mkdir(parents=True, exist_ok=True)
    figures = [
        _plot_sweep(numbers, folder / "alpha-sweep.png"),
        _plot_sigma(trajectories, numbers, folder / "sigma.png"),
        _plot_paths(trajectories, folder / "paths.png"),
    ]
    return conclude(__name__, numbers, [f.relative_to(out) for f in figures])
