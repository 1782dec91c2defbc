"""Plots, drawn with matplotlib's file backend (no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first


def plot_schedule(
    values: Sequence[float],
    path: str | Path,
    *,
    title: str,
    warmup_end: int | None = None,
    ylabel: str = r"learning rate $\eta^t$",
) -> Path:
    """Draw η^t against the step t, marking the end of warm-up and the peak; save as PNG.

    ``values[t]`` is η at step t (the units of the learning rate). Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    peak = max(range(len(values)), key=values.__getitem__)
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    ax.plot(range(len(values)), values, color="#1f5fa8", linewidth=1.6)
    if warmup_end is not None and 0 <= warmup_end < len(values):
        ax.axvline(warmup_end, color="#999999", linestyle="--", linewidth=1)
        ax.annotate(
            f"warm-up ends (t = {warmup_end})",
            xy=(warmup_end, values[warmup_end]),
            xytext=(8, -14),
            textcoords="offset points",
            fontsize=8,
            color="#555555",
        )
    ax.plot([peak], [values[peak]], "o", color="#c0392b")
    ax.annotate(
        f"peak {values[peak]:.3g} at t = {peak}",
        xy=(peak, values[peak]),
        xytext=(8, 4),
        textcoords="offset points",
        fontsize=8,
        color="#c0392b",
    )
    ax.set_xlabel("step t")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.set_ylim(bottom=0, top=max(values) * 1.15 if max(values) > 0 else 1)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
