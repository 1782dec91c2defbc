"""Plots, drawn with matplotlib's file backend (no screen needed), sized and coloured to be read
on the report's page.

Every figure of the report is drawn here or with these helpers, so the page speaks one visual
language:

- one colour per optimizer, everywhere (:data:`OPTIMIZER_COLORS`; :func:`series_colors` finds
  the optimizer a line's label names: "GD, η = 0.01" is drawn in GD's colour on every figure);
  lines that name no optimizer (a loss, a gradient norm, a fold) take neutral colours that no
  optimizer uses, so a colour never means two things;
- legends outside the data: below the axes for curves, beside them for contours;
- figures about 800 px wide at 10-point text, legible at the page's width of about 1000 px.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first
from matplotlib.colors import to_hex, to_rgb

from ..files import write_figure, written_through
from ..validation import require
from .notation import POWER, power

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ..training.lr_find import RangeTest

# Text sizes in points, at DPI pixels per inch: 10 pt is about 14 px on the page.
DPI = 100
plt.rcParams.update(
    {
        "font.size": 10,
        "axes.titlesize": 10.5,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
    }
)
# Figure sizes in inches (× DPI = pixels): curves are wide and short, contours leave room for
# the legend beside the map.
CURVES_SIZE = (8.0, 4.4)
CONTOUR_SIZE = (9.0, 5.2)

# One colour per optimizer on every figure, and the words that name it in a label (matched as
# whole words, case ignored, in this order: "RAdam" before "Adam", "SGD with momentum" is
# momentum).
OPTIMIZER_COLORS = {
    "GD": "#1f77b4",  # blue
    "Momentum": "#ff7f0e",  # orange
    "Nesterov": "#8c564b",  # brown
    "Adagrad": "#2ca02c",  # green
    "RMSProp": "#9467bd",  # purple
    "Adam": "#d62728",  # red
    "AdamW": "#e377c2",  # pink
    "RAdam": "#17becf",  # cyan
}
OPTIMIZER_NAMES = (
    ("RAdam", r"radam"),
    ("AdamW", r"adamw"),
    ("Adam", r"adam"),
    ("RMSProp", r"rms ?prop"),
    ("Adagrad", r"adagrad"),
    ("Nesterov", r"nesterov|nag"),
    ("Momentum", r"momentum|heavy[- ]ball"),
    ("GD", r"s?gd|gradient descent"),
)
# Lines that name no optimizer: dark grey, olive, grey, dark teal, plum — none an optimizer's.
NEUTRAL_COLORS = ("#333333", "#a08c00", "#8c8c8c", "#2f6f62", "#7a3b69")
# Markers shared by every map: the start, and the minima (gold, not an optimizer's colour).
START_COLOR, MINIMUM_COLOR = "#000000", "#f5b700"
# The colours in words, for a caption that names the colour a line is drawn in.
COLOR_NAMES = {
    **dict(
        zip(
            OPTIMIZER_COLORS.values(),
            ("blue", "orange", "brown", "green", "purple", "red", "pink", "cyan"),
            strict=True,
        )
    ),
    **dict(zip(NEUTRAL_COLORS, ("dark grey", "olive", "grey", "dark teal", "plum"), strict=True)),
}
# Step by step on a map (``plot_contour(..., steps=True)``): each path its own marker and line
# style, so paths that run over each other stay apart.
STEP_STYLES = (("o", "-"), ("x", "--"), ("^", ":"), ("s", "-."))


# λ_max, the Hessian's largest eigenvalue, as the figures draw it
LAMBDA_MAX = r"$\lambda_{\max}$"
MATH_ESCAPES = {"−": "-", "⌊": r"\lfloor ", "⌋": r"\rfloor ", "#": r"\#", " ": r"\;"}


def superscripts(text: str) -> str:
    """``text`` with each power written with a caret (``η^t``, ``0.5^⌊t/1000⌋``, ``n^−0.5``)
    raised as a superscript (matplotlib's mathtext), for a figure's labels and titles; a power
    is what the page raises too (:data:`.notation.POWER`)."""

    def raised(match: re.Match) -> str:
        return "$^{" + "".join(MATH_ESCAPES.get(c, c) for c in power(match)) + "}$"

    return POWER.sub(raised, text)


def color_name(color: str) -> str:
    """The word for one of the figures' colours (``"#2ca02c"`` → ``"green"``)."""
    require(color in COLOR_NAMES, "a named colour", color, f"one of {', '.join(COLOR_NAMES)}")
    return COLOR_NAMES[color]


def optimizer_of(label: str) -> str | None:
    """The optimizer a line's ``label`` names ("Adagrad, η = 1" → "Adagrad"), or None."""
    for name, words in OPTIMIZER_NAMES:
        if re.search(rf"\b(?:{words})\b", label, flags=re.IGNORECASE):
            return name
    return None


def series_colors(labels: Sequence[str]) -> list[str]:
    """A colour per label: its optimizer's (:data:`OPTIMIZER_COLORS`), or the next neutral one.

    Two lines of one figure that name the same optimizer (with and without decay, say) keep its
    hue: the second is darker, the third lighter, and so on; neutral colours run out the same
    way (darker, then lighter, copies of the list).
    """
    colors = []
    for name, count in _occurrences(labels):
        if name is not None:
            colors.append(_shade(OPTIMIZER_COLORS[name], count))
        else:
            base = NEUTRAL_COLORS[count % len(NEUTRAL_COLORS)]
            colors.append(_shade(base, count // len(NEUTRAL_COLORS)))
    return colors


def _occurrences(labels: Sequence[str]) -> list[tuple[str | None, int]]:
    """For each label, the optimizer it names (None for none) and how many earlier labels name
    the same one (or, for None, how many earlier name none)."""
    seen: dict[str | None, int] = {}
    found = []
    for label in labels:
        name = optimizer_of(str(label))
        found.append((name, seen.get(name, 0)))
        seen[name] = seen.get(name, 0) + 1
    return found


def _shade(color: str, variant: int) -> str:
    """``color`` itself (variant 0), then darker (1), lighter (2), darker still (3), lighter
    still (4), …: mixed with black by 45 %, 70 %, … or with white by 50 %, 75 %, …"""
    if variant == 0:
        return color
    step = (variant - 1) // 2
    darker = variant % 2 == 1
    amount = min(0.9, (0.45 if darker else 0.5) + 0.25 * step)
    target = (0.0, 0.0, 0.0) if darker else (1.0, 1.0, 1.0)
    mixed = [c + (t - c) * amount for c, t in zip(to_rgb(color), target, strict=True)]
    return to_hex(mixed)


def _title(ax: Axes, title: str, inches: float | None = None) -> None:
    """The title, wrapped to ``inches`` (default: the figure's width) at about 11 characters
    per inch at 10.5 pt; a line break in it stays one."""
    width = int((inches or ax.figure.get_figwidth()) * 11)
    lines = [part for line in title.splitlines() for part in textwrap.wrap(line, width) or [""]]
    ax.set_title("\n".join(lines))


def _legend_below(fig: Figure, handles: Sequence) -> None:
    """The legend under the axes, outside the data, in as many columns as fit."""
    if not handles:
        return
    longest = max(len(h.get_label()) for h in handles)
    columns = max(1, min(len(handles), int(fig.get_figwidth() * 13) // (longest + 6)))
    fig.legend(handles=list(handles), loc="outside lower center", ncols=columns, frameon=False)


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Lay out ``fig`` (unless it has its own layout engine, as the helpers' figures do), write it
    to ``path`` atomically (the format from the suffix: .png, .svg, .pdf) and close it. A name
    without a suffix gets matplotlib's default format's, as ``savefig`` gives it (a device or
    pipe such as /dev/stdout keeps its name and gets that format). Returns the path written."""
    path = Path(path)
    if not path.suffix and not written_through(path):
        path = path.with_name(f"{path.name}.{plt.rcParams['savefig.format']}")
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    write_figure(path, fig, path.suffix[1:] or plt.rcParams["savefig.format"])
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
    line, mark = NEUTRAL_COLORS[0], NEUTRAL_COLORS[1]
    fig, ax = plt.subplots(figsize=(CURVES_SIZE[0], 3.8), layout="constrained")
    ax.plot(range(len(values)), values, color=line, linewidth=1.8)
    if warmup_end is not None and 0 <= warmup_end < len(values):
        ax.axvline(warmup_end, color=NEUTRAL_COLORS[2], linestyle="--", linewidth=1)
        # at the foot of its line: by the curve it would sit under the peak's label, often the
        # same point, and the decay after it would run through the words
        ax.annotate(
            f"warm-up ends (t = {warmup_end})",
            xy=(warmup_end, 0.04),
            xycoords=("data", "axes fraction"),
            xytext=(6, 0),
            textcoords="offset points",
            color="#555555",
        )
    ax.plot([peak], [values[peak]], "o", color=mark)
    ax.annotate(
        f"peak {values[peak]:.3g} at t = {peak}",
        xy=(peak, values[peak]),
        xytext=(8, 4),
        textcoords="offset points",
        color=mark,
    )
    ax.set_xlabel("step t")
    ax.set_ylabel(ylabel)
    _title(ax, title)
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
    steps: bool = False,
) -> Path:
    """Trajectories on the surface's contours (log-spaced levels), the start, the minima and
    any saddle point marked.

    ``paths`` maps a label to a trajectory of points (θ1, θ2), e.g. ``trajectory.theta[:, 0]``;
    each is drawn in its optimizer's colour (:func:`series_colors`), its end marked by a square.
    ``bounds`` ((θ1 low, high), (θ2 low, high)) defaults to the surface's plot window; a star
    marks each minimum, a cross each saddle point (:func:`_mark_critical_points`); ``steps`` marks
    every θ^t, each path with its own marker and line style (:data:`STEP_STYLES`), for short
    paths that run over each other. The title spans the figure, and the legend stands to the
    right of the map, under it.
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
    fig, ax = plt.subplots(figsize=CONTOUR_SIZE, layout="constrained")
    ax.contour(
        xs.numpy(),
        ys.numpy(),
        shifted,
        levels=np.geomspace(max(shifted.min(), 1e-12), shifted.max(), levels),
        cmap="viridis",
        linewidths=0.7,
        alpha=0.8,
    )
    colors = series_colors(list(paths))
    # how many earlier paths name the same optimizer (0 for a path that names none)
    repeats = [count if name else 0 for name, count in _occurrences(list(paths))]
    for index, ((label, points), color) in enumerate(zip(paths.items(), colors, strict=True)):
        pts = np.asarray(points, dtype=float)
        # a second run of one optimizer (a shade of its hue) also dashed, so that two runs
        # that meet (one ends where the other starts) do not read as one path
        solo = ("", ("-", "--", ":", "-.")[repeats[index] % 4])
        marker, style = STEP_STYLES[index % len(STEP_STYLES)] if steps else solo
        ax.plot(
            pts[:, 0],
            pts[:, 1],
            linestyle=style,
            marker=marker or None,
            markersize=11 - 3 * (index % len(STEP_STYLES)),
            markerfacecolor="none",
            color=color,
            linewidth=1.6,
            label=label,
            alpha=0.95,
        )
        ax.plot(pts[-1, 0], pts[-1, 1], "s", color=color, markersize=6)
    start = np.asarray(next(iter(paths.values())), dtype=float)[0]
    ax.plot(start[0], start[1], "o", color=START_COLOR, markersize=7, label="start")
    _mark_critical_points(ax, surface)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(surface.labels[0])
    ax.set_ylabel(surface.labels[1])
    handles, _ = ax.get_legend_handles_labels()
    handles.append(_end_key())
    fig.legend(handles=handles, loc="outside right upper", frameon=False)
    # wrapped to the map's width, which the legend beside it narrows: wrapped to the figure's,
    # a long title ran past both edges of the map
    fig.draw_without_rendering()
    _title(ax, title, ax.get_position().width * fig.get_figwidth())
    save_figure(fig, path)
    return path


def _mark_critical_points(ax, surface) -> None:
    """A gold star on each of the surface's minima, a cross on each of its saddle points."""
    mx, my = zip(*surface.minima, strict=True)
    label = "minima" if len(mx) > 1 else "minimum"
    ax.plot(mx, my, "*", color=MINIMUM_COLOR, markeredgecolor="black", markersize=15, label=label)
    if surface.saddle_points:
        sx, sy = zip(*surface.saddle_points, strict=True)
        ax.plot(
            sx, sy, "X", color="white", markeredgecolor="black", markersize=11, label="saddle point"
        )


def _end_key() -> Line2D:
    """The legend's key to the squares that end each path."""
    from matplotlib.lines import Line2D

    return Line2D([], [], marker="s", linestyle="", color="#777777", label="where a run ended")


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
    points: dict[str, Sequence[float]] | None = None,
    start: int = 0,
    styles: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Curves against the step; ``right`` series go on a second y axis (e.g. gradient norm
    beside the loss), dashed; ``points`` series are drawn as markers without a line (nan where
    there is none), so that a single value shows. Entry i of a series stands at x = ``start`` +
    i. Each line in its optimizer's colour (:func:`series_colors`, over all the labels
    together); a series equal at every step to one drawn before it is dashed, with markers, so
    both lines show. ``styles`` gives a ``series`` label its own line (``color``,
    ``linestyle``, …), for figures whose lines pair two things, a colour for one and a style
    for the other. The legend stands below the axes. Returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=CURVES_SIZE, layout="constrained")
    right, points = right or {}, points or {}
    colors = iter(series_colors([*series, *points, *right]))
    handles, drawn = [], []
    for label, values in series.items():
        x = range(start, start + len(values))
        # a line exactly over one drawn before would hide it: dashed, with markers, on top
        over = list(values) in drawn
        style = {"linestyle": "--", "marker": "o", "markevery": max(1, len(values) // 12)}
        drawn_as = {
            "color": next(colors),
            **(style if over else {}),
            **(styles or {}).get(label, {}),
        }
        (line,) = ax.plot(x, values, linewidth=1.6, label=label, **drawn_as)
        handles.append(line)
        drawn.append(list(values))
    for label, values in points.items():
        x = range(start, start + len(values))
        (line,) = ax.plot(x, values, "o", color=next(colors), markersize=9, zorder=3, label=label)
        handles.append(line)
    if logy:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # whole x
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if right:
        twin = ax.twinx()
        for label, values in right.items():
            x = range(start, start + len(values))
            (line,) = twin.plot(
                x, values, color=next(colors), linewidth=1.6, linestyle="--", label=label
            )
            handles.append(line)
        twin.set_ylabel(right_label)
        twin.set_ylim(bottom=0)
    _legend_below(fig, handles)
    _title(ax, title)
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
    logarithmic when every value is > 0 and they span more than a factor of 10. The runs are
    folds, not optimizers, so they take the neutral colours; the legend stands below the axes.
    Returns the path written.
    """
    require(quantity in ("loss", "metric"), "quantity", quantity, "'loss' or 'metric'")
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    finite = _finite_array
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=CURVES_SIZE, layout="constrained")
    single = len(runs) == 1
    colors = series_colors([f"run {index}" for index in range(max(2, len(runs)))])
    handles: list[Line2D] = []
    drawn: list[np.ndarray] = []
    for index, run in enumerate(runs):
        train_color = colors[index]
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
        ax.plot(epochs, train, "-", color=train_color, linewidth=1.6, marker=".", markersize=5)
        ax.plot(epochs, val, "--", color=val_color, linewidth=1.6, marker=".", markersize=5)
        if not single:
            label = f"fold {run.fold + 1}" if run.fold is not None else f"run {index + 1}"
            handles.append(Line2D([], [], color=train_color, linewidth=2, label=label))
    handles += _line_styles(quantity, ylabel, colors[:2] if single else None, runs)
    values = np.concatenate(drawn) if drawn else np.array([])
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() > 10 * values.min():
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or quantity)
    _title(ax, title)
    _legend_below(fig, handles)
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

    train_color, val_color = ("#555555", "#555555") if colors is None else (colors[0], colors[1])
    keys = []
    if quantity == "loss":
        keys.append(Line2D([], [], color=train_color, alpha=0.35, linewidth=1, label="batch loss"))
    name = "loss" if quantity == "loss" else ylabel or quantity
    keys.append(Line2D([], [], color=train_color, linestyle="-", label=f"training {name}"))
    keys.append(Line2D([], [], color=val_color, linestyle="--", label=f"validation {name}"))
    if any(run.stopped is not None for run in runs):
        keys.append(
            Line2D([], [], color="#555555", linestyle=":", label="stopped: non-finite loss")
        )
    return keys


def plot_range_test(test: RangeTest, path: str | Path, *, title: str) -> Path:
    """The range test's loss against η on a log axis: the batch losses L_k faint, the smoothed
    L̄_k bold, the suggestion η* and the minimum's η marked; the legend below the axes. Returns
    the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line, mark, suggestion = NEUTRAL_COLORS[0], NEUTRAL_COLORS[2], NEUTRAL_COLORS[1]
    fig, ax = plt.subplots(figsize=CURVES_SIZE, layout="constrained")
    ax.plot(test.lrs, test.losses, color=line, alpha=0.25, linewidth=0.9, label="batch loss")
    ax.plot(test.lrs, test.smoothed, color=line, linewidth=2, label="smoothed loss")
    if test.minimum is not None:
        ax.plot(
            [test.minimum_lr],
            [test.smoothed[test.minimum]],
            "o",
            color=mark,
            markersize=7,
            label=f"smoothed minimum, η = {test.minimum_lr:.3g}",
        )
    if test.suggestion is not None:
        ax.axvline(
            test.suggestion,
            color=suggestion,
            linestyle="--",
            linewidth=1.6,
            label=f"suggestion η* = {test.suggestion:.3g}",
        )
    ax.set_xscale("log")
    if test.smoothed:
        low, high = min(test.losses), max(test.smoothed[0], min(test.losses) * 1.01)
        ax.set_ylim(low - 0.05 * (high - low), high + 0.35 * (high - low))
    ax.set_xlabel(r"learning rate $\eta$")
    ax.set_ylabel("training loss")
    _title(ax, title)
    ax.grid(alpha=0.3)
    ax.grid(alpha=0.1, which="minor")
    _legend_below(fig, ax.get_legend_handles_labels()[0])
    save_figure(fig, path)
    return path
