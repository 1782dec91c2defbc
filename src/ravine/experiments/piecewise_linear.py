"""A piecewise-linear curve is a constant plus a sum of hard sigmoids; a curve is approximated
by sums of sigmoids (or pairs of ReLUs), and more pieces fit better.

The target (the lecture's "red curve"): K = ``PIECES`` linear pieces on x ∈ [−1, 1] between
knots x_0 < x_1 < … < x_K (x_0 = −0.8, x_K = 0.8, piece widths drawn at random, each at least
``MIN_WIDTH`` of the span) with values y_0 … y_K ~ U[−1, 1], drawn from a generator seeded
with ``TARGET_SEED``; flat (y_0, y_K) outside [x_0, x_K], linear in between.

**Exact decomposition.** With the hard sigmoid of piece k,

    hard_k(x) = clamp((x − x_{k−1}) / (x_k − x_{k−1}), 0, 1),

the curve is f(x) = y_0 + Σ_k (y_k − y_{k−1})·hard_k(x): left of x_{k−1} piece k adds 0, right
of x_k it adds its whole rise, in between it adds the straight line. And a hard sigmoid is two
ReLUs: hard_k(x) = [ReLU(x − x_{k−1}) − ReLU(x − x_k)] / (x_k − x_{k−1}). Both are checked on
``DENSE`` evenly spaced points against f computed independently (find the piece, interpolate
its two ends): the largest difference must be at most ``EXACT`` (10⁻¹²): f is of order 1, so
float64 rounding leaves differences near 10⁻¹⁶, and any real mistake in a piece would be of
the order of that piece's rise, above 10⁻².

**Approximation.** The lecture's models with n pieces, for n in ``SIZES``:

    sigmoid    y = b + Σ_{i=1}^{n}  c_i·sigmoid(b_i + w_i·x)      (``sigmoid:units=n``)
    ReLU pairs y = b + Σ_{i=1}^{2n} c_i·ReLU(b_i + w_i·x)          (``relu:units=2n``)

each fitted from ``SEEDS`` random starts (the initialization of ``ravine.tasks.parse_model``,
``build(1, 1, seed)``) by full-batch Adam (η = ``LR``, ``UPDATES`` updates; quick mode a
quarter of them) on ``TRAIN_POINTS`` evenly spaced x, the mean squared error as the loss. All
sizes and starts of one family are one stacked network trained at once: the loss is the sum
of the fits' losses, so each fit gets its own gradient and Adam, elementwise, moves it as it
would alone. The error of n pieces is the best start's mean squared error on the ``DENSE``
points, over the variance of f there (the fraction of f's variance left unexplained):
best-of-starts measures what n pieces can do, not one start's luck. The fits run in float32:
their errors, 10⁻³ of the variance or more, are far above its rounding. The target is not a
built-in task, so the page's command re-runs the same kind of fit (a sum of n sigmoids,
full-batch Adam) on ravine's built-in curve, sinc.

**The test** (chosen before any run). A family's error *falls with n* when (a) it never rises
by more than ``NOISE`` (25%) from one n to the next — a tie, since the fit is the best of 3
random starts and its optimization alone moves it — unless it is below ``FLOOR`` (10⁻³ of the
variance, invisible on the plot, where only the optimizer's last digits differ), and (b) the
largest n's error is at most 1/``FACTOR`` (1/10) of n = 1's: an order of magnitude, that no
figure could misread. Held: exact decomposition and both families fall; partial: some of the
three; not held: none.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch

from ..report.plots import save_figure  # (selects matplotlib's file backend)
from ..tasks import parse_model
from .base import OPENING, Evidence, Result, conclude, outcome_of, torch_threads
from .wording import join

NAME = "piecewise-linear"
TITLE = "A curve as a constant plus hard sigmoids; more sigmoids (or ReLU pairs) fit better"
CLAIM = (
    "Every piecewise-linear curve is a constant plus a sum of hard sigmoids, and a hard sigmoid "
    "is two ReLUs (or nearly one sigmoid c·sigmoid(b + w·x)); to approximate a curve well we "
    "need sufficient pieces: the more sigmoids, the smaller the error."
)
LECTURE = (
    "分段函数 All Piecewise Linear Curves = constant (常数项) + sum of a set of 蓝色的function "
    "(Hard Sigmoid); 用 Sigmoid Function y = c·sigmoid(b + wx₁) 逼近 (approximate) each Hard "
    "Sigmoid, or 两个 ReLU (two ReLUs) c·max(0, b + wx₁) 合成一个 Hard Sigmoid. "
    "To have good approximation, we need sufficient pieces."
)
COMMAND = (
    "ravine train --task sinc --model sigmoid:units=8 --optimizer adam --lr 0.01 "
    "--batch-size 200 --validation 0 --epochs 4000 --plot sinc-fit"
)
CAPTIONS = {
    "target.png": (
        "The red curve is the target; each blue dashed curve is one hard sigmoid scaled by its "
        "piece's rise, and the constant plus all of them (black dots) lies exactly on the red "
        "curve."
    ),
    "fits.png": (
        "Left: sums of n sigmoids; right: n pairs of ReLUs, fitted to the red curve (the best of "
        "3 random starts). One piece makes one step; look whether each larger n follows more of "
        "the corners — a sigmoid can only round a corner, a ReLU can make it sharp if gradient "
        "descent puts its kink there."
    ),
    "error.png": (
        "The fraction of the curve's variance each fit misses, against the number of pieces n "
        "(both axes logarithmic). The claim expects both lines to fall, to a tenth or less of "
        "n = 1's by the largest n; the dotted line marks a fit exact to the eye. A line that "
        "rises means more pieces did not help the optimizer."
    ),
}

PIECES = 6  # K, linear pieces of the target
TARGET_SEED = 0
ENDS = (-0.8, 0.8)  # x_0, x_K
MIN_WIDTH = 0.5 / PIECES  # of the span: no piece narrower than half the average
SIZES = (1, 2, 4, 8, 16)  # n, pieces of a fit
SEEDS = (0, 1, 2)
LR = 0.01
UPDATES = 4000
QUICK_FRACTION = 4
TRAIN_POINTS = 201
DENSE = 2001
EXACT = 1e-12
NOISE = 1.25
FLOOR = 1e-3
FACTOR = 10.0
FIT_DTYPE = torch.float32  # the fits' errors (≥ 1e-3 of the variance) are far above its rounding
FAMILIES = {"sigmoid": 1, "relu": 2}  # family → hidden units per piece
SHOWN = (1, 4, 16)  # n drawn in fits.png


def piecewise_target(pieces: int = PIECES, seed: int = TARGET_SEED) -> tuple[list, list]:
    """The knots x_0 … x_K and values y_0 … y_K of a random piecewise-linear curve (float64):
    piece widths MIN_WIDTH·span + a random share of the rest, values ~ U[−1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    share = torch.rand(pieces, generator=generator, dtype=torch.float64)
    span = ENDS[1] - ENDS[0]
    widths = span * (MIN_WIDTH + (1 - MIN_WIDTH * pieces) * share / share.sum())
    knots = ENDS[0] + torch.cat([torch.zeros(1, dtype=torch.float64), widths.cumsum(0)])
    knots[-1] = ENDS[1]  # the sum of widths is the span up to rounding
    values = torch.rand(pieces + 1, generator=generator, dtype=torch.float64) * 2 - 1
    return knots.tolist(), values.tolist()


def curve(x: torch.Tensor, knots: list, values: list) -> torch.Tensor:
    """f(x): find the piece k with x_{k−1} ≤ x < x_k and interpolate between its ends; flat
    (y_0, y_K) outside [x_0, x_K]."""
    knot, value = torch.tensor(knots, dtype=x.dtype), torch.tensor(values, dtype=x.dtype)
    inside = x.clamp(knot[0], knot[-1])
    k = torch.searchsorted(knot, inside, right=True).clamp(1, len(knots) - 1)
    left, right = knot[k - 1], knot[k]
    t = (inside - left) / (right - left)
    return value[k - 1] + t * (value[k] - value[k - 1])


def hard_sigmoids(x: torch.Tensor, knots: list, values: list) -> tuple[float, torch.Tensor]:
    """The constant y_0 and the K scaled hard sigmoids (y_k − y_{k−1})·hard_k(x), (K, len(x))."""
    rows = [
        (values[k] - values[k - 1]) * ((x - knots[k - 1]) / (knots[k] - knots[k - 1])).clamp(0, 1)
        for k in range(1, len(knots))
    ]
    return values[0], torch.stack(rows)


def relu_pairs(x: torch.Tensor, knots: list, values: list) -> torch.Tensor:
    """The same K pieces, each as two ReLUs: rise·[ReLU(x − x_{k−1}) − ReLU(x − x_k)]/width."""
    rows = [
        (values[k] - values[k - 1])
        * (torch.relu(x - knots[k - 1]) - torch.relu(x - knots[k]))
        / (knots[k] - knots[k - 1])
        for k in range(1, len(knots))
    ]
    return torch.stack(rows)


def decomposition(knots: list, values: list) -> dict[str, float]:
    """Largest |f − (y_0 + Σ hard sigmoids)| and |f − (y_0 + Σ ReLU pairs)| on DENSE points."""
    x = torch.linspace(-1, 1, DENSE, dtype=torch.float64)
    f = curve(x, knots, values)
    constant, pieces = hard_sigmoids(x, knots, values)
    return {
        "hard_sigmoid_error": float((f - constant - pieces.sum(0)).abs().max()),
        "relu_pair_error": float((f - constant - relu_pairs(x, knots, values).sum(0)).abs().max()),
    }


def stacked_fits(seeds: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Every (family, n, seed) fit as one layer of hidden units, the sigmoid units first:
    w, b, c (H,) drawn as ``parse_model(f"{family}:units={units}").build(1, 1, seed)`` draws
    them; ``group`` (H, G) puts each unit in its fit; ``bias`` (G,) each fit's b;
    ``sigmoids`` the number of sigmoid units."""
    w, b, c, bias, owner = [], [], [], [], []
    for family, per_piece in FAMILIES.items():
        for n in SIZES:
            for seed in seeds:
                spec = parse_model(f"{family}:units={n * per_piece}")
                hidden, _, readout = spec.build(1, 1, seed=seed, dtype=FIT_DTYPE)
                w.append(hidden.weight.detach()[:, 0])
                b.append(hidden.bias.detach())
                c.append(readout.weight.detach()[0])
                owner += [len(bias)] * hidden.out_features
                bias.append(readout.bias.detach())
        if family == "sigmoid":
            sigmoids = len(owner)
    group = torch.nn.functional.one_hot(torch.tensor(owner), len(bias)).to(FIT_DTYPE)
    leaves = {"w": torch.cat(w), "b": torch.cat(b), "c": torch.cat(c), "bias": torch.cat(bias)}
    fits = {k: v.clone().requires_grad_() for k, v in leaves.items()}
    return {**fits, "group": group, "sigmoids": torch.tensor(sigmoids)}


def predict(fits: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """(len(x), G): fit g's b + Σ_{i in g} c_i·act(b_i + w_i·x), act sigmoid or ReLU."""
    z = x[:, None] * fits["w"] + fits["b"]
    cut = int(fits["sigmoids"])
    hidden = torch.cat([torch.sigmoid(z[:, :cut]), torch.relu(z[:, cut:])], 1) * fits["c"]
    return hidden @ fits["group"] + fits["bias"]


def fit_all(knots: list, values: list, updates: int) -> dict[str, dict[str, Any]]:
    """Fit every family and n in SIZES from every seed at once (full-batch Adam on the sum of
    the fits' mean squared errors). Per family: the error of each fit on DENSE points over f's
    variance there, the dead ReLUs of each fit (units whose ReLU is 0 on every training x:
    their gradient is 0, they never move again), and the best start's curve for each n."""
    x = torch.linspace(-1, 1, TRAIN_POINTS, dtype=FIT_DTYPE)
    y = curve(x, knots, values)[:, None]
    fits = stacked_fits(SEEDS)
    optimizer = torch.optim.Adam([fits[k] for k in ("w", "b", "c", "bias")], lr=LR)
    for _ in range(updates):
        optimizer.zero_grad(set_to_none=True)
        ((predict(fits, x) - y) ** 2).mean(0).sum().backward()
        optimizer.step()
    dense = torch.linspace(-1, 1, DENSE, dtype=FIT_DTYPE)
    f = curve(dense, knots, values)
    with torch.no_grad():
        shapes = predict(fits, dense).T.reshape(len(FAMILIES), len(SIZES), len(SEEDS), DENSE)
        alive = (x[:, None] * fits["w"] + fits["b"] > 0).any(0).to(FIT_DTYPE)
        dead = ((1 - alive) @ fits["group"]).reshape(len(FAMILIES), len(SIZES), len(SEEDS))
    result = {}
    for index, family in enumerate(FAMILIES):
        errors = ((shapes[index] - f) ** 2).mean(2) / f.var(unbiased=False)  # (sizes, seeds)
        best = errors.argmin(1).tolist()
        result[family] = {
            "errors_by_seed": errors.tolist(),
            "errors": errors.min(1).values.tolist(),
            "best_fits": [shapes[index, i, s].tolist() for i, s in enumerate(best)],
        }
        if family == "relu":
            result[family]["dead_by_seed"] = dead[index].int().tolist()
            result[family]["dead"] = [int(dead[index, i, s]) for i, s in enumerate(best)]
    return result


def falls(errors: list[float]) -> dict[str, bool]:
    """The two halves of "the error falls with n": never rises by more than NOISE (or stays
    under FLOOR), and the largest n's error ≤ n = 1's / FACTOR."""
    steady = all(later <= max(NOISE * earlier, FLOOR) for earlier, later in pairwise(errors))
    return {"monotone": steady, "factor": errors[-1] <= errors[0] / FACTOR}


def parts(numbers: dict[str, Any]) -> dict[str, bool]:
    """The three parts of the claim: exact decomposition, sigmoids fall, ReLU pairs fall."""
    exact = max(numbers["hard_sigmoid_error"], numbers["relu_pair_error"]) <= EXACT
    result = {"decomposition": exact}
    for family in FAMILIES:
        result[family] = all(falls(numbers["fits"][family]["errors"]).values())
    return result


def holds(numbers: dict[str, Any]) -> bool:
    """Exact decomposition, and the error falls with n for sigmoids and for ReLU pairs."""
    return all(parts(numbers).values())


def outcome(numbers: dict[str, Any]) -> str:
    """Held: all three parts; partial: some; not held: none."""
    return outcome_of(parts(numbers).values())


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    sizes, fits = numbers["sizes"], numbers["fits"]
    rows = []
    for family, label in (("sigmoid", "sigmoids"), ("relu", "ReLU pairs")):
        errors = fits[family]["errors"]
        trend = falls(errors)
        how = (
            "falls"
            if all(trend.values())
            else "does not fall steadily"
            if not trend["monotone"]
            else f"falls by less than {FACTOR:g}×"
        )
        listed = ", ".join(f"{e:.2g}" for e in errors)
        rows.append(
            f"with {label} the error {how} ({listed} of the variance for n = {join(sizes)})"
        )
        enough = [n for n in sizes if n >= numbers["pieces"]]
        if family == "relu" and not all(trend.values()) and "dead" in fits[family] and enough:
            dead = ", ".join(
                f"{d} of {2 * n}" for d, n in zip(fits[family]["dead"], sizes, strict=True)
            )
            rows.append(
                f"yet {numbers['pieces']} pairs draw the curve exactly (the decomposition) and "
                f"n = {join(enough)} {'has' if len(enough) == 1 else 'have'} as many or more, "
                "so the shortfall is the optimization, not the pieces: gradient descent from "
                "random starts did not find that fit, and left dead ReLUs (0 on every x, so "
                "their gradient is 0 and they never move) in the best fits: " + dead
            )
    exact = max(numbers["hard_sigmoid_error"], numbers["relu_pair_error"])
    return (
        f"{OPENING[outcome(numbers)]}: the {numbers['pieces']}-piece curve equals its constant "
        f"plus hard sigmoids (and plus ReLU pairs) to within {exact:.1e} "
        f"({'exact' if exact <= EXACT else 'NOT exact'}); fitted to it, " + "; ".join(rows) + "."
    )


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """The decomposition's largest difference, and each family's error ratio n = 1 / largest n
    with its steadiness."""
    exact = max(numbers["hard_sigmoid_error"], numbers["relu_pair_error"])
    items = [
        Evidence(
            "largest |curve − (constant + hard sigmoids)|, also with ReLU pairs",
            exact,
            "",
            f"≤ {EXACT:g}",
            "the curve is of order 1: float64 rounding leaves ~1e-16, a wrong piece would be "
            "off by its rise (> 1e-2)",
            exact <= EXACT,
        )
    ]
    largest = numbers["sizes"][-1]
    for family, label in (("sigmoid", "sigmoids"), ("relu", "ReLU pairs")):
        errors = numbers["fits"][family]["errors"]
        trend = falls(errors)
        items.append(
            Evidence(
                f"{label}: error with 1 piece / error with {largest}",
                errors[0] / errors[-1] if errors[-1] > 0 else float("inf"),
                "×",
                f"≥ {FACTOR:g}, and no rise over {NOISE:g}× from one n to the next",
                "an order of magnitude no plot could misread; a rise under 25% is a tie, as "
                "the best of 3 random starts still varies",
                all(trend.values()),
            )
        )
    return items


def run(out: Path, quick: bool = False) -> Result:
    """Full: UPDATES Adam updates per fit; quick: a quarter of them."""
    knots, values = piecewise_target()
    updates = UPDATES // QUICK_FRACTION if quick else UPDATES
    with torch_threads(1):
        fits = fit_all(knots, values, updates)
    numbers: dict[str, Any] = {
        "pieces": PIECES,
        "knots": knots,
        "values": values,
        **decomposition(knots, values),
        "sizes": list(SIZES),
        "seeds": list(SEEDS),
        "updates": updates,
        "lr": LR,
        "fits": {f: {k: v for k, v in n.items() if k != "best_fits"} for f, n in fits.items()},
    }
    folder = out / NAME
    folder.mkdir(parents=True, exist_ok=True)
    figures = [
        _draw_target(folder / "target.png", knots, values),
        _draw_fits(folder / "fits.png", knots, values, fits),
        _draw_errors(folder / "error.png", numbers),
    ]
    return conclude(__name__, numbers, [f.relative_to(out) for f in figures])


def _draw_target(path: Path, knots: list, values: list) -> Path:
    x = torch.linspace(-1, 1, DENSE, dtype=torch.float64)
    constant, pieces = hard_sigmoids(x, knots, values)
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
    ax.plot(x, curve(x, knots, values), color="tab:red", linewidth=3, label="target (red curve)")
    ax.axhline(constant, color="tab:gray", linewidth=1, label=f"constant y₀ = {constant:.2f}")
    for k, piece in enumerate(pieces, start=1):
        ax.plot(
            x, piece, "--", color="tab:blue", linewidth=1, label="hard sigmoids" if k == 1 else None
        )
    total = constant + pieces.sum(0)
    ax.plot(x[::80], total[::80], "k.", label="constant + Σ hard sigmoids")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(
        f"A {len(knots) - 1}-piece curve = constant + {len(knots) - 1} hard sigmoids", fontsize=9
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _draw_fits(path: Path, knots: list, values: list, fits: dict[str, Any]) -> Path:
    x = torch.linspace(-1, 1, DENSE, dtype=torch.float64)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8), dpi=100, sharey=True)
    for ax, (family, label) in zip(
        axes, (("sigmoid", "n sigmoids"), ("relu", "n pairs of ReLUs")), strict=True
    ):
        ax.plot(x, curve(x, knots, values), color="tab:red", linewidth=3, label="target")
        for n in SHOWN:
            shape = fits[family]["best_fits"][SIZES.index(n)]
            ax.plot(x, shape, linewidth=1.2, label=f"n = {n}")
        ax.set_title(f"Fitted with {label}", fontsize=9)
        ax.set_xlabel("x")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("y")  # the panels share it
    return save_figure(fig, path)


def _draw_errors(path: Path, numbers: dict[str, Any]) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    for family, label in (("sigmoid", "sigmoids"), ("relu", "ReLU pairs")):
        ax.plot(numbers["sizes"], numbers["fits"][family]["errors"], "o-", label=label)
    ax.axhline(FLOOR, color="tab:gray", linestyle=":", label=f"exact to the eye ({FLOOR:g})")
    ax.set_xscale("log", base=2)
    ax.set_xticks(numbers["sizes"], [str(n) for n in numbers["sizes"]])
    ax.set_yscale("log")
    ax.set_xlabel("pieces n")
    ax.set_ylabel("error / variance of the curve")
    ax.set_title("Do more pieces fit better? Error of the best of 3 starts", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
