"""Plots, drawn with matplotlib's file backend (no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first

from ..files import replace_atomically
from ..validation import require

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ..training.lr_find import RangeTest


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Lay out ``fig``, write it to ``path`` atomically (the format from the suffix: .png,
    .svg, .pdf) and close it. A name without a suffix gets matplotlib's default format's, as
    ``savefig`` gives it. Returns the path written."""
    path = Path(path)
    if not path.suffix:
        path = path.with_name(f"{path.name}.{plt.rcParams['savefig.format']}")
    fig.tight_layout()
    replace_atomically(path, fig.savefig)
    plt.close(fig)
    return path


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
    save_figure(fig, path)
    return path


def plot_contour(
    surface,
    paths: dict[str, Sequence[Sequence[float]]],
    path: str | Path,
    *,
    title: str,
    bounds=None,
    levels: int = 30,
) -> Path:
    """Trajectories on the surface's contours (log-spaced levels), start and minimum marked.

    ``paths`` maps a label to a trajectory of points (θ1, θ2), e.g. ``trajectory.theta[:, 0]``.
    ``bounds`` ((θ1 low, high), (θ2 low, high)) defaults to the surface's plot window.
    """
    import numpy as np
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    (x0, x1), (y0, y1) = bounds or surface.bounds
    xs, ys = torch.linspace(x0, x1, 200, dtype=torch.float64), torch.linspace(y0, y1, 200)
    grid = torch.stack(torch.meshgrid(xs, ys.to(torch.float64), indexing="xy"), dim=-1)
    loss = surface.loss(grid).numpy()
    low = float(np.nanmin(loss))
    shifted = loss - low + 1e-12 * max(1.0, abs(low))
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    ax.contour(
        xs.numpy(),
        ys.numpy(),
        shifted,
        levels=np.geomspace(max(shifted.min(), 1e-12), shifted.max(), levels),
        cmap="viridis",
        linewidths=0.7,
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (label, points) in enumerate(paths.items()):
        pts = np.asarray(points, dtype=float)
        color = colors[index % len(colors)]
        ax.plot(pts[:, 0], pts[:, 1], "-", color=color, linewidth=1.1, label=label, alpha=0.9)
        ax.plot(pts[-1, 0], pts[-1, 1], "s", color=color, markersize=5)
    start = np.asarray(next(iter(paths.values())), dtype=float)[0]
    ax.plot(start[0], start[1], "o", color="black", markersize=6, label="start")
    mx, my = surface.minimum
    ax.plot(mx, my, "*", color="#c0392b", markersize=12, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(surface.labels[0])
    ax.set_ylabel(surface.labels[1])
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    save_figure(fig, path)
    return path


def plot_curves(
    series: dict[str, Sequence[float]],
    path: str | Path,
    *,
    title: str,
    xlabel: str = "step t",
    ylabel: str = "",
    logy: bool = False,
    right: dict[str, Sequence[float]] | None = None,
    right_label: str = "",
) -> Path:
    """Curves against the step; ``right`` series go on a second y axis (e.g. gradient norm
    beside the loss). Returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = []
    for index, (label, values) in enumerate(series.items()):
        (line,) = ax.plot(values, color=colors[index % len(colors)], linewidth=1.3, label=label)
        handles.append(line)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if right:
        twin = ax.twinx()
        for index, (label, values) in enumerate(right.items(), start=len(series)):
            (line,) = twin.plot(
                values,
                color=colors[index % len(colors)],
                linewidth=1.3,
                linestyle="--",
                label=label,
            )
            handles.append(line)
        twin.set_ylabel(right_label)
        twin.set_ylim(bottom=0)
    ax.legend(handles=handles, fontsize=7, loc="best")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    save_figure(fig, path)
    return path


def plot_training(
    runs: Sequence,
    path: str | Path,
    *,
    title: str,
    quantity: str = "loss",
    ylabel: str = "",
) -> Path:
    """Training curves against the epoch, one colour per run (per fold of cross-validation).

    ``runs`` are training runs (:class:`ravine.training.Run`: ``losses`` per update, ``history``
    per epoch, ``train_size``, ``batch_size``, ``fold``, ``stopped``). With ``quantity="loss"``:
    the loss L^b of every batch, faint, at x = u/U for update u = 1, 2, … with
    U = ⌈train_size / batch_size⌉ updates per epoch; the loss on the whole training set (solid)
    and validation set (dashed) after each epoch e, at x = e; a run stopped by a non-finite loss
    gets a dotted line at its last update. With ``quantity="metric"``: the training and
    validation metric after each epoch. Non-finite values are left out (gaps). The loss axis is
    logarithmic when every value is > 0 and they span more than a factor of 10. Returns the path
    written.
    """
    require(quantity in ("loss", "metric"), "quantity", quantity, "'loss' or 'metric'")
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    finite = _finite_array
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    single = len(runs) == 1
    handles: list[Line2D] = []
    drawn: list[np.ndarray] = []
    for index, run in enumerate(runs):
        train_color = colors[index % len(colors)]
        val_color = colors[1] if single else train_color
        epochs = np.array([e.epoch for e in run.history], dtype=float)
        if quantity == "loss":
            per_epoch = -(-run.train_size // run.batch_size)  # U = ⌈N_train / B⌉
            batches = finite(run.losses)
            x = np.arange(1, len(batches) + 1) / per_epoch
            ax.plot(x, batches, color=train_color, linewidth=0.6, alpha=0.3)
            train = finite([e.train_loss for e in run.history])
            val = finite([e.val_loss for e in run.history])
            drawn += [batches, train, val]
            if run.stopped is not None:
                ax.axvline(x[-1], color=train_color, linestyle=":", linewidth=1)
        else:
            train = finite([e.train_metric for e in run.history])
            val = finite([e.val_metric for e in run.history])
        ax.plot(epochs, train, "-", color=train_color, linewidth=1.5, marker=".", markersize=4)
        ax.plot(epochs, val, "--", color=val_color, linewidth=1.5, marker=".", markersize=4)
        if not single:
            label = f"fold {run.fold + 1}" if run.fold is not None else f"run {index + 1}"
            handles.append(Line2D([], [], color=train_color, linewidth=2, label=label))
    handles += _line_styles(quantity, ylabel, colors if single else None, runs)
    values = np.concatenate(drawn) if drawn else np.array([])
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() > 10 * values.min():
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or quantity)
    ax.set_title(title, fontsize=9)
    ax.legend(handles=handles, fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    save_figure(fig, path)
    return path


def _finite_array(values: Sequence[float | None]) -> np.ndarray:
    """``values`` as a float array, None and non-finite numbers as nan (gaps in a line)."""
    import numpy as np

    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    array[~np.isfinite(array)] = np.nan
    return array


def _line_styles(
    quantity: str, ylabel: str, colors: Sequence[str] | None, runs: Sequence
) -> list[Line2D]:
    """The legend's keys to the line styles of :func:`plot_training`: batch loss (faint),
    training (solid), validation (dashed), stopped (dotted, when a run stopped); in the
    single run's ``colors``, or grey for several runs."""
    from matplotlib.lines import Line2D

    train_color, val_color = ("#333333", "#333333") if colors is None else (colors[0], colors[1])
    keys = []
    if quantity == "loss":
        keys.append(Line2D([], [], color=train_color, alpha=0.35, linewidth=1, label="batch loss"))
    name = "loss" if quantity == "loss" else ylabel or quantity
    keys.append(Line2D([], [], color=train_color, linestyle="-", label=f"training {name}"))
    keys.append(Line2D([], [], color=val_color, linestyle="--", label=f"validation {name}"))
    if any(run.stopped is not None for run in runs):
        keys.append(
            Line2D([], [], color="#333333", linestyle=":", label="stopped: non-finite loss")
        )
    return keys


def plot_range_test(test: RangeTest, path: str | Path, *, title: str) -> Path:
    """The range test's loss against η on a log axis: the batch losses L_k faint, the smoothed
    L̄_k bold, the suggestion η* and the minimum's η marked. Returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    ax.plot(test.lrs, test.losses, color="#1f5fa8", alpha=0.25, linewidth=0.9, label="batch loss")
    ax.plot(test.lrs, test.smoothed, color="#1f5fa8", linewidth=1.8, label="smoothed loss")
    if test.minimum is not None:
        ax.plot(
            [test.minimum_lr],
            [test.smoothed[test.minimum]],
            "o",
            color="#555555",
            label=f"smoothed minimum, η = {test.minimum_lr:.3g}",
        )
    if test.suggestion is not None:
        ax.axvline(
            test.suggestion,
            color="#c0392b",
            linestyle="--",
            linewidth=1.3,
            label=f"suggestion η* = {test.suggestion:.3g}",
        )
    ax.set_xscale("log")
    if test.smoothed:
        low, high = min(test.losses), max(test.smoothed[0], min(test.losses) * 1.01)
        ax.set_ylim(low - 0.05 * (high - low), high + 0.35 * (high - low))
    ax.set_xlabel(r"learning rate $\eta$")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.grid(alpha=0.1, which="minor")
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)
    return path
