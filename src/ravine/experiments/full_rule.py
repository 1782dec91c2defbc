"""The full rule θ_i^{t+1} ← θ_i^t − (η^t/σ_i^t)·m_i^t against its pieces, side by side on
the same surfaces and the same budget of updates.

Optimizers (catalog names): ``gd`` (m = g, σ = 1), ``lecture-momentum`` (m = λ·m − η·g,
λ = 0.9, σ = 1), ``lecture-adagrad`` (σ = root mean square of all past g), ``lecture-rmsprop``
(σ = moving root mean square, α = 0.9), ``adam`` (m = moving average of g, σ = moving root mean
square, torch's defaults) and ``radam`` (Adam with σ rectified: σ = 1 while ρ_t <= 5).

Surfaces, each from its own start, ``STEPS`` updates:

- ``pokemon``: flat along b, steep along w (Hessian eigenvalues 5.6 and 1.7·10⁶);
- ``valley``: 400·log cosh(w1) + ½·w2², steep across (curvature 400), flat along (1);
- ``saddle``: x² − y² + y⁴/4 started on the ridge at (1.5, 10⁻³); its minima are (0, ±√2).

η: the optimizers whose step is η·g (``gd``, ``lecture-momentum``) get 0.8 × GD's stability
limit 2/λ_max, λ_max the largest Hessian eigenvalue at the minimum — the largest η with which
plain GD converges at all. The σ-scaled ones move each parameter by about η per step whatever
the gradient's size, so their η is a length in θ: ``SCALED_LR`` per surface, a few percent of
the distance to travel (Pokémon's b must travel about 68, hence η = 3).

"Reaches the minimum": the final distance to the nearest minimum is at most ``TOLERANCE`` (1%)
of the starting distance. "Leaves the ridge": |θ2| >= 1 on the saddle (the minima have
|θ2| = √2).

The claim is reproduced when (1) Adam, the full rule, reaches the minimum on every surface;
(2) GD with the same budget does not on at least one of them; (3) momentum goes further than
GD with the same η: it leaves the saddle's ridge in fewer steps, and ends closer to the minimum
on every surface where GD does not reach it. RAdam is reported beside Adam; its first four
steps (ρ_t <= 5) are plain momentum steps η·m̂ with σ = 1, which on the Pokémon loss, where
|g| is about 10⁷ at the start, throw it out at any η that lets it travel afterwards.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..report.plots import plot_contour
from ..surfaces import Surface, Trajectory, descend, surface
from .base import Evidence, Result, conclude
from .wording import join

NAME = "full-rule"
TITLE = (
    "The full rule with a constant η: momentum and σ together (Adam, RAdam) against their pieces"
)
CLAIM = (
    "The lecture's final update rule combines three ideas: a direction m that remembers past "
    "gradients with their signs (momentum), a per-parameter scale σ from past gradients' sizes, "
    "and a learning rate that may change with time. Put together, as in Adam — here with η held "
    "constant, so that momentum and σ are what is tested — the rule reaches the minimum of "
    "surfaces where plain gradient descent with the same number of updates does not, and "
    "momentum alone already carries the parameters further than gradient descent."
)

LECTURE = (
    "Summary of Optimization: from (vanilla) gradient descent θ_i^{t+1} ← θ_i^t − η·g_i^t to "
    "θ_i^{t+1} ← θ_i^t − (η^t/σ_i^t)·m_i^t — m_i^t, Momentum: weighted sum of the previous "
    "gradients, 有考虑方向 (it considers the direction, the sign of each gradient); σ_i^t, the "
    "root mean square of the gradients, 只考虑 gradient 的大小 (only their magnitude), so the "
    "two 并不会互相抵销 (do not cancel out); and η^t, learning rate scheduling. 这个是今天 "
    "optimization 的完整的版本 (this is the complete version of today's optimization); Adam is "
    "the most used, and its variants 不脱 (never leave) this form: another way to compute m, σ or "
    "the schedule."
)
COMMAND = "ravine descend pokemon --optimizer adam --lr 3 --steps 1000 --plot adam.png"
CAPTIONS = {
    "pokemon.png": (
        "The Pokémon loss is steep along w and flat along b: the start lies far from the "
        "minimum (★) along b. Gradient descent (blue) and momentum (orange), whose η must stay "
        "under the steep wall's stability limit, come down the wall and stop there; Adam (red) "
        "runs along the valley's floor to the star. Adagrad (green) and RMSProp (purple), σ "
        "without momentum, travel along b too but are thrown up and down the steep axis on the "
        "way; RAdam (cyan), whose first steps have no σ, is thrown off the map. Each label gives "
        "the run's η and its final distance to the minimum."
    ),
    "valley.png": (
        "Across the narrow valley the curvature is 400, along it 1. Gradient descent (blue) "
        "comes straight down to the floor and then crawls along it, still short of the minimum "
        "(★) after the last update; momentum (orange), with the same η, zigzags across the "
        "floor but keeps its speed along it and arrives; the σ-scaled runs curve down to the "
        "star, RAdam (cyan) after its first steps without σ have thrown it sideways off the map."
    ),
    "saddle.png": (
        "Every run starts on the ridge θ2 ≈ 0 of x² − y² + y⁴/4, whose saddle point (✕) is "
        "(0, 0) and whose minima (★) are (0, ±√2). Gradient descent (blue) slides along the ridge "
        "to the saddle point before it leaves it for a minimum; momentum (orange), with the "
        "same η, leaves the ridge a few updates sooner and swings far around before it settles "
        "in the lower minimum; the σ-scaled runs curve off the ridge early, to the upper one. "
        "Each label gives the distance to the nearest minimum."
    ),
}

SURFACES = ("pokemon", "valley", "saddle")
OPTIMIZERS = ("gd", "lecture-momentum", "lecture-adagrad", "lecture-rmsprop", "adam", "radam")
UNSCALED = ("gd", "lecture-momentum")  # step η·g: η bounded by GD's stability limit
STEPS = 1000
GD_FRACTION = 0.8  # η = 0.8 · 2/λ_max for gd and momentum
SCALED_LR = {"pokemon": 3.0, "valley": 0.1, "saddle": 0.03}  # η for the σ-scaled optimizers
TOLERANCE = 0.01  # reached: final distance <= 1% of the starting distance
RIDGE_EXIT = 1.0  # left the saddle's ridge: |θ2| >= 1
FULL_RULE = "adam"
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {
    "surface": "pokemon",
    "optimizer": FULL_RULE,
    "lr": SCALED_LR["pokemon"],
    "steps": STEPS,
}


def gd_rate(s: Surface) -> float:
    """0.8 · 2/λ_max, λ_max = the largest eigenvalue of ∇²L at the (first) minimum."""
    largest = float(
        torch.linalg.eigvalsh(s.hessian(torch.tensor(s.minima[0], dtype=torch.float64))).max()
    )
    return GD_FRACTION * 2 / largest


def learning_rate(s: Surface, optimizer: str) -> float:
    return gd_rate(s) if optimizer in UNSCALED else SCALED_LR[s.name]


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def measure_run(s: Surface, optimizer: str, trajectory: Trajectory) -> dict[str, Any]:
    """One row of the table: η, the final distance and loss, ``reached`` (the final distance
    is within tolerance), ``first_step_within`` (the first t within it; a run may pass through
    and leave), ``diverged``, and on the saddle ``steps_to_leave_ridge``."""
    path = trajectory.theta[:, 0]
    distance = s.distance(path)  # ‖θ^t − θ*‖ to the nearest minimum, t = 0 … N
    tolerance = TOLERANCE * float(distance[0])
    inside = distance <= tolerance
    row = {
        "surface": s.name,
        "optimizer": optimizer,
        "lr": float(trajectory.lr[0]),
        "distance_start": float(distance[0]),
        "tolerance": tolerance,
        "distance_final": _finite_or_none(float(distance[-1])),
        "loss_final": _finite_or_none(float(trajectory.loss[-1, 0])),
        "reached": bool(inside[-1]),
        "first_step_within": int(inside.int().argmax()) if bool(inside.any()) else None,
        "diverged": not bool(torch.isfinite(path[-1]).all()) or float(distance[-1]) > 1e6,
    }
    if s.name == "saddle":
        left = path[:, 1].abs() >= RIDGE_EXIT
        row["steps_to_leave_ridge"] = int(left.int().argmax()) if bool(left.any()) else None
    return row


def measure(steps: int = STEPS) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """Run every optimizer on every surface; the numbers, and the paths for the figures."""
    table, paths = [], {}
    for name in SURFACES:
        s = surface(name)
        paths[name] = {}
        for optimizer in OPTIMIZERS:
            trajectory = descend(s, optimizer, lr=learning_rate(s, optimizer), steps=steps)
            table.append(measure_run(s, optimizer, trajectory))
            paths[name][optimizer] = trajectory.theta[:, 0]
    numbers: dict[str, Any] = {
        "steps": steps,
        "tolerance_fraction": TOLERANCE,
        "ridge_exit": RIDGE_EXIT,
        "full_rule": FULL_RULE,
        "table": table,
    }
    numbers.update(_summary(table))
    return numbers, paths


def _row(table: list[dict[str, Any]], surface_name: str, optimizer: str) -> dict[str, Any]:
    return next(r for r in table if r["surface"] == surface_name and r["optimizer"] == optimizer)


def _closer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """a ends closer to the minimum than b (a diverged run is never closer)."""
    if a["distance_final"] is None or a["diverged"]:
        return False
    return b["distance_final"] is None or b["diverged"] or a["distance_final"] < b["distance_final"]


def _summary(table: list[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({r["surface"] for r in table}, key=SURFACES.index)
    reached = {o: [n for n in names if _row(table, n, o)["reached"]] for o in OPTIMIZERS}
    gd_short = [n for n in names if not _row(table, n, "gd")["reached"]]
    gd_exit = _row(table, "saddle", "gd").get("steps_to_leave_ridge")
    momentum_exit = _row(table, "saddle", "lecture-momentum").get("steps_to_leave_ridge")
    return {
        "reached": reached,
        "gd_falls_short_on": gd_short,
        "full_rule_falls_short_on": [n for n in names if n not in reached[FULL_RULE]],
        "momentum_closer_where_gd_falls_short": all(
            _closer(_row(table, n, "lecture-momentum"), _row(table, n, "gd")) for n in gd_short
        ),
        "gd_steps_to_leave_ridge": gd_exit,
        "momentum_steps_to_leave_ridge": momentum_exit,
    }


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """The three parts of the claim (see the module doc), and RAdam beside Adam (context)."""
    n, table = numbers, numbers["table"]
    names = [s for s in SURFACES if any(r["surface"] == s for r in table)]
    short, tolerance = n["gd_falls_short_on"], f"{n['tolerance_fraction']:.0%}"
    momentum_exit, gd_exit = n["momentum_steps_to_leave_ridge"], n["gd_steps_to_leave_ridge"]
    momentum = "; ".join(
        f"{s}: {_distance(_row(table, s, 'lecture-momentum'))} vs {_distance(_row(table, s, 'gd'))}"
        for s in short
    )
    return [
        Evidence(
            f"surfaces on which Adam ended within {tolerance} of its starting distance of the "
            "(nearest) minimum",
            f"{len(n['reached'][FULL_RULE])} of {len(names)}",
            "",
            "all",
            "the full rule has to finish the job everywhere, in the same "
            f"{n['steps']:,} updates as its pieces get",
            not n["full_rule_falls_short_on"],
        ),
        Evidence(
            f"surfaces on which gradient descent, {n['steps']:,} updates at 0.8 × its stability "
            f"limit, did not end within {tolerance}",
            f"{len(short)}" + (f" ({join(short)})" if short else ""),
            "",
            "≥ 1",
            "if plain gradient descent reached every minimum too, momentum and σ would have "
            "nothing left to show",
            bool(short),
        ),
        Evidence(
            f"saddle: the update at which momentum and gradient descent, same η, left the ridge "
            f"(|θ2| ≥ {n.get('ridge_exit', RIDGE_EXIT):g})",
            " against ".join(
                "never" if t is None else f"step {t:,}" for t in (momentum_exit, gd_exit)
            ),
            "",
            "momentum's earlier",
            "momentum keeps the speed it gathered, so it moves off a flat ridge before the "
            "gradient alone does",
            _momentum_sooner(n),
        ),
        Evidence(
            "final distance of momentum against gradient descent, same η, where gradient "
            "descent fell short",
            momentum or "(none fell short)",
            "",
            "momentum's smaller on each",
            "with the same η, remembering past gradients should carry θ further along a flat "
            "direction than the gradient alone",
            bool(n["momentum_closer_where_gd_falls_short"]),
        ),
        Evidence(
            "RAdam, beside Adam: its first steps (ρ_t ≤ 5) have no σ",
            _radam_text(table, names).removeprefix("RAdam (not judged) "),
            "",
            "",
            "shown, not judged: the first steps η·m̂ without σ meet |g| ≈ 10⁷ on the Pokémon loss",
            None,
        ),
    ]


def _momentum_sooner(numbers: dict[str, Any]) -> bool:
    """Momentum left the saddle's ridge, and before gradient descent (or GD never did)."""
    momentum_exit = numbers["momentum_steps_to_leave_ridge"]
    gd_exit = numbers["gd_steps_to_leave_ridge"]
    return momentum_exit is not None and (gd_exit is None or momentum_exit < gd_exit)


def holds(numbers: dict[str, Any]) -> bool:
    """(1) the full rule reaches every minimum, (2) GD misses at least one, (3) momentum leaves
    the ridge sooner than GD and ends closer wherever GD misses."""
    return (
        not numbers["full_rule_falls_short_on"]
        and bool(numbers["gd_falls_short_on"])
        and _momentum_sooner(numbers)
        and numbers["momentum_closer_where_gd_falls_short"]
    )


def _distance(row: dict[str, Any]) -> str:
    return "diverged" if row["diverged"] else f"{row['distance_final']:.2g}"


def _ridge(steps: int | None) -> str:
    return "never" if steps is None else f"at step {steps:,}"


def _radam_text(table: list[dict[str, Any]], names: list[str]) -> str:
    """RAdam, reported beside Adam: where it diverged, and how far from each surface's
    (nearest) minimum it ended elsewhere."""
    rows = {s: _row(table, s, "radam") for s in names}
    diverged = [s for s in names if rows[s]["diverged"]]
    ended = [
        f"{_distance(rows[s])} from the {s}'s" + (" minimum" if i == 0 else "")
        for i, s in enumerate(s for s in names if not rows[s]["diverged"])
    ]
    parts = ([f"diverged on {join(diverged)}"] if diverged else []) + (
        [f"ended {join(ended)}"] if ended else []
    )
    return f"RAdam (not judged) {join(parts)}"


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n, table = numbers, numbers["table"]
    names = [s for s in SURFACES if any(r["surface"] == s for r in table)]
    short = n["gd_falls_short_on"]
    full = ", ".join(f"{s} {_distance(_row(table, s, FULL_RULE))}" for s in names)
    gd = "; ".join(
        f"{s}: {_distance(_row(table, s, 'gd'))} > {_row(table, s, 'gd')['tolerance']:.2g}"
        for s in short
    )
    momentum = "; ".join(
        f"{s}: {_distance(_row(table, s, 'lecture-momentum'))} vs {_distance(_row(table, s, 'gd'))}"
        for s in short
    )
    closer = "closer" if n["momentum_closer_where_gd_falls_short"] else "not closer"
    gd_text = f"GD fell short on {len(short)} ({gd})" if short else "GD fell short on none"
    momentum_text = f"ended {closer} where GD fell short ({momentum}) and " if short else ""
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: in {n['steps']:,} updates Adam "
        f"ended within {n['tolerance_fraction']:.0%} of the starting distance of the minimum on "
        f"{len(n['reached'][FULL_RULE])} of {len(names)} surfaces (final distances: {full}), "
        f"{gd_text}; with GD's η, momentum {momentum_text}left the saddle's ridge "
        f"{_ridge(n['momentum_steps_to_leave_ridge'])} against GD's "
        f"{_ridge(n['gd_steps_to_leave_ridge'])}; {_radam_text(table, names)}."
    )


LABELS = {
    "gd": "GD",
    "lecture-momentum": "momentum",
    "lecture-adagrad": "Adagrad",
    "lecture-rmsprop": "RMSProp",
    "adam": "Adam",
    "radam": "RAdam",
}


def run(out: Path, quick: bool = False) -> Result:
    """Full and quick are the same size (every run is 1,000 updates of two parameters)."""
    numbers, paths = measure(STEPS)
    figures = []
    for name in SURFACES:
        s = surface(name)
        labelled = {}
        for optimizer, path in paths[name].items():
            row = _row(numbers["table"], name, optimizer)
            finite = torch.where(torch.isfinite(path), path, torch.nan)
            labelled[f"{LABELS[optimizer]} η={row['lr']:.2g}: {_distance(row)}"] = finite.tolist()
        figure = Path(NAME) / f"{name}.png"
        plot_contour(
            s,
            labelled,
            out / figure,
            title=(
                f"{name}: {numbers['steps']:,} updates each; label: η and final distance"
                + (" to the nearest minimum, (0, ±√2)" if name == "saddle" else "")
            ),
        )
        figures.append(figure)
    return conclude(__name__, numbers, figures)
