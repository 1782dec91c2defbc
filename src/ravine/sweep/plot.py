"""The sweep's figure: the final loss against η, and the loss curves coloured by η."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first

from ..files import write_figure
from .result import SweepResult


def plot_sweep(result: SweepResult, path: str | Path, *, title: str) -> Path:
    """Left: L(θ^N) against η on log axes, diverged runs marked × along the top, the best η
    circled. Right: L(θ^t) against t for every run, darker for larger η. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lrs = result.lrs
    final = result.final_loss.tolist()
    diverged = result.diverged.tolist()
    kept = [(lr, loss) for lr, loss, bad in zip(lrs, final, diverged, strict=True) if not bad]
    finite = [loss for _, loss in kept]
    log_y = bool(finite) and min(finite) > 0
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    if kept:
        left.plot(*zip(*kept, strict=True), "o-", color="#1f5fa8", markersize=3, linewidth=1.2)
    bad_lrs = [lr for lr, bad in zip(lrs, diverged, strict=True) if bad]
    if bad_lrs:  # along the top of the axes, above every kept loss: no loss of their own
        left.plot(
            bad_lrs,
            [0.97] * len(bad_lrs),
            "x",
            color="#c0392b",
            label=f"diverged ({len(bad_lrs)})",
            transform=left.get_xaxis_transform(),
        )
    if result.best_index is not None:
        left.plot(
            [result.best_lr],
            [result.best_loss],
            "o",
            markersize=9,
            markerfacecolor="none",
            color="#c0392b",
            label=f"best η = {result.best_lr:.3g}, loss {result.best_loss:.3g}",
        )
    left.set_xscale("log")
    if log_y:
        left.set_yscale("log")
    left.set_xlabel(r"learning rate $\eta$")
    left.set_ylabel(f"loss after {result.steps} steps")
    left.grid(alpha=0.3)
    if bad_lrs or result.best_index is not None:
        left.legend(fontsize=7)

    colours = plt.get_cmap("viridis")
    low, high = math.log(min(lrs)), math.log(max(lrs))
    losses = result.losses
    # a diverged run is drawn up to where it left the window: past 100·L⁰ (or inf) it is not
    ceiling = 100 * max([abs(result.initial_loss), *(abs(v) for v in finite)])
    curves = losses.masked_fill(~(losses.abs() <= ceiling), math.nan).T.tolist()
    for lr, curve, bad in zip(lrs, curves, diverged, strict=True):
        shade = 0.5 if high == low else (math.log(lr) - low) / (high - low)
        right.plot(
            result.curve_steps,
            curve,
            color=colours(shade),
            linewidth=0.8,
            alpha=0.4 if bad else 0.9,
        )
    if log_y:
        right.set_yscale("log")
    if result.steps > 10:
        right.set_xscale("symlog", linthresh=1)  # t = 0 kept, early steps visible
    right.set_xlim(0, result.steps)
    right.set_xlabel("step t")
    right.set_ylabel(r"loss $L(\theta^t)$")
    right.grid(alpha=0.3)
    mappable = plt.cm.ScalarMappable(
        norm=matplotlib.colors.LogNorm(
            min(lrs), max(lrs) if max(lrs) > min(lrs) else min(lrs) * 10
        ),
        cmap=colours,
    )
    fig.colorbar(mappable, ax=right, label=r"$\eta$")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    write_figure(path, fig, path.suffix[1:] or plt.rcParams["savefig.format"])
    plt.close(fig)
    return path
