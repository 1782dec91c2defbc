"""Momentum carries θ past a critical point where gradient descent stops.

The lecture's movement: m^0 = 0, m^t = λ·m^{t−1} − η·g^{t−1}, θ^t = θ^{t−1} + m^t
(ravine.optim.lecture.Momentum, catalog name ``lecture-momentum``); plain gradient descent is
θ^t = θ^{t−1} − η·g^{t−1}, the same rule with λ = 0.

Surface: ``two-minima`` (:class:`ravine.surfaces.library.TwoMinima`),
L(θ1, θ2) = (θ1² − 1)² + 0.3·θ1 + (θ2 − θ1/2)², a shallow local minimum near (0.96, 0.48)
(L ≈ 0.294), a saddle on the bump between the wells near (0.075, 0.038) (L ≈ 1.011) and the
global minimum near (−1.036, −0.518) (L ≈ −0.305). From the start (2, 1.5), both runs use the
same η = ``LR`` for ``STEPS`` updates; momentum uses λ = ``MOMENTUM``.

Measured for each run: the final θ and L, ‖∇L‖ there, the eigenvalues of the exact Hessian
there (both positive: a local minimum; one negative: a saddle), which well it ended in, and
the first update at which θ1 crossed the bump. Robustness: a grid of ``GRID``×``GRID`` starts
θ1 ∈ [1.2, 2.5], θ2 ∈ [−1, 2.5] (all on the shallow side of the bump), run at once for GD and
for each λ in ``LAMBDAS``; per λ, the fraction of starts where momentum ended lower than GD
from the same start (by more than ``TOL``), and the fraction where it ended higher.

The claim is reproduced when

- GD has stopped: ‖∇L(θ_GD)‖ < ``STOPPED`` at a critical point that is not the global minimum
  (L above the global minimum's by more than ``TOL``);
- momentum from the same start ends lower than GD by more than ``TOL``; and
- over the grid, at λ = ``MOMENTUM``, momentum ends lower on at least ``MIN_LOWER`` of the
  starts and higher on at most ``MAX_HIGHER`` of them.

Momentum does not always get over: from starts near the shallow minimum it has not built up
enough speed by the time it reaches it, and with too little λ it loses its speed too soon; the
per-λ fractions and the starting losses of the starts that escaped and those that did not are
reported for that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..report.plots import plot_contour, plot_curves
from ..surfaces import Trajectory, descend, surface
from ..validation import WHOLE, check_range, is_count, require
from .base import Evidence, Result, conclude

NAME = "momentum"
TITLE = "Momentum rolls over the bump where gradient descent stops"
CLAIM = (
    "Gradient descent stops where the gradient vanishes: at a local minimum or a saddle. With "
    "momentum, each movement is the last movement minus η times the gradient, so the "
    "parameters keep moving where the gradient is zero and can carry on over a bump into a "
    "lower minimum."
)

LECTURE = (
    "Gradient Descent + Momentum: movement of last step minus gradient at present, "
    "m^t = λ·m^{t−1} − η·g^{t−1}, θ^t = θ^{t−1} + m^t. 有一个动量或惯性 (a momentum, an "
    "inertia), so 接近 critical point 时,不陷入其中,可以继续 update (near a critical point it "
    "does not sink in but keeps updating) — 不一定会被卡住 (it is not necessarily stuck)."
)
COMMAND = (
    "ravine descend two-minima --optimizer lecture-momentum --lr 0.01 --opt momentum=0.9 "
    "--steps 1500 --plot momentum.png"
)
CAPTIONS = {
    "paths.png": (
        "Both paths start on the right. Gradient descent slides into the shallow well and stops "
        "at its bottom; momentum swings through it, over the bump between the wells, and "
        "settles in the deeper well on the left."
    ),
    "loss.png": (
        "Gradient descent's loss comes down smoothly and stops at the shallow minimum's level; "
        "momentum's rises and falls as it swings, passes the bump's level, and ends lower."
    ),
}

SURFACE = "two-minima"
LR = 0.01  # η, the same for both runs
MOMENTUM = 0.9  # λ
STEPS, QUICK_STEPS = 1500, 1000
GRID, QUICK_GRID = 10, 6  # starts per side of the robustness grid
LAMBDAS = (0.5, 0.8, 0.9, 0.95)
GRID_BOUNDS = ((1.2, 2.5), (-1.0, 2.5))  # (θ1 range, θ2 range) of the grid's starts
STOPPED = 1e-6  # ‖∇L‖ below this: stopped at a critical point
TOL = 1e-6  # losses closer than this count as equal
MIN_LOWER = 0.25  # smallest fraction of grid starts where momentum must end lower
MAX_HIGHER = 0.05  # largest fraction where it may end higher
SHOWN = 201  # loss-curve points drawn: both runs are flat after that
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {
    "surface": SURFACE,
    "optimizer": "lecture-momentum",
    "parameters": {"lambda": MOMENTUM},
    "lr": LR,
    "steps": STEPS,
}


def endpoint(trajectory: Trajectory, run: int = 0) -> dict[str, Any]:
    """Where run ``run`` of ``trajectory`` ended: θ, L, ‖∇L‖, the exact Hessian's eigenvalues
    there and what they make it (``local minimum``, ``saddle``, ``local maximum``, or
    ``not critical`` when ‖∇L‖ ≥ STOPPED), the well (the side of the bump) it is in, and the
    first update after which θ1 was past the bump (None if never)."""
    s = trajectory.surface
    theta = trajectory.theta[:, run]  # (N+1, 2)
    final = theta[-1]
    eigenvalues = torch.linalg.eigvalsh(s.hessian(final))
    norm = float(torch.linalg.vector_norm(s.gradient(final)))
    negative = int((eigenvalues < 0).sum())
    if norm >= STOPPED:
        kind = "not critical"
    else:
        kind = ("local minimum", "saddle", "local maximum")[negative]
    bump = s.critical_points()[1][0]
    crossed = torch.nonzero(theta[:, 0] < bump)
    return {
        "theta": [float(v) for v in final],
        "loss": float(s.loss(final)),
        "gradient_norm": norm,
        "hessian_eigenvalues": [float(v) for v in eigenvalues],
        "kind": kind,
        "well": "deep" if float(final[0]) < bump else "shallow",
        "crossed_bump_at": int(crossed[0, 0]) if len(crossed) else None,
    }


def grid_starts(size: int) -> torch.Tensor:
    """size × size starts evenly spaced over GRID_BOUNDS, shape (size², 2), float64."""
    (x0, x1), (y0, y1) = GRID_BOUNDS
    xs = torch.linspace(x0, x1, size, dtype=torch.float64)
    ys = torch.linspace(y0, y1, size, dtype=torch.float64)
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)


def compare_grid(
    size: int, steps: int, lr: float = LR, lambdas: tuple[float, ...] = LAMBDAS
) -> dict[str, Any]:
    """GD and momentum (each λ in ``lambdas``) from every grid start, all starts in one run
    each.

    Per λ: ``lower`` / ``higher``, the fractions of starts where momentum's final L is below /
    above GD's by more than TOL; ``escaped_start_loss`` / ``stayed_start_loss``, the mean L(θ⁰)
    of the starts where it ended lower / did not (None when there are none)."""
    s = surface(SURFACE)
    starts = grid_starts(size)
    gd = descend(s, "gd", lr=lr, steps=steps, start=starts)
    gd_loss = gd.loss[-1]
    start_loss = s.loss(starts)
    bump = s.critical_points()[1][0]
    per_lambda = {}
    for lam in lambdas:
        run = descend(
            s, "lecture-momentum", lr=lr, options={"momentum": lam}, steps=steps, start=starts
        )
        loss = run.loss[-1]
        lower, higher = loss < gd_loss - TOL, loss > gd_loss + TOL
        per_lambda[f"{lam:g}"] = {
            "lower": float(lower.double().mean()),
            "higher": float(higher.double().mean()),
            "escaped_start_loss": float(start_loss[lower].mean()) if lower.any() else None,
            "stayed_start_loss": float(start_loss[~lower].mean()) if (~lower).any() else None,
            "largest_final_gradient_norm": float(run.gradient_norm[-1].max()),
        }
    return {
        "starts": len(starts),
        "theta1_range": list(GRID_BOUNDS[0]),
        "theta2_range": list(GRID_BOUNDS[1]),
        "gd_shallow_fraction": float((gd.final[:, 0] > bump).double().mean()),
        "gd_largest_final_gradient_norm": float(gd.gradient_norm[-1].max()),
        "by_lambda": per_lambda,
    }


def measure(
    steps: int = STEPS, grid: int = GRID, lr: float = LR, momentum: float = MOMENTUM
) -> tuple[dict[str, Any], Trajectory, Trajectory]:
    """Both runs from the surface's start, and the grid; the numbers the verdict uses."""
    require(is_count(grid) and grid >= 2, "grid", grid, f"{WHOLE} >= 2 (starts per side)")
    check_range("momentum λ", momentum, 0, 1, closed="[)")
    s = surface(SURFACE)
    gd = descend(s, "gd", lr=lr, steps=steps)
    heavy = descend(s, "lecture-momentum", lr=lr, options={"momentum": momentum}, steps=steps)
    names = ("global_minimum", "saddle", "local_minimum")
    points = s.critical_points()
    numbers = {
        "surface": s.name,
        "lr": lr,
        "momentum": momentum,
        "steps": steps,
        "start": list(s.start),
        "start_loss": float(s.loss(torch.tensor(s.start, dtype=torch.float64))),
        "critical_points": {
            name: {"theta": list(p), "loss": float(s.loss(torch.tensor(p, dtype=torch.float64)))}
            for name, p in zip(names, points, strict=True)
        },
        "gd": endpoint(gd),
        "momentum_run": endpoint(heavy),
        "grid": compare_grid(grid, steps, lr, tuple(sorted({*LAMBDAS, momentum}))),
        "stopped_threshold": STOPPED,
        "tolerance": TOL,
        "min_lower_fraction": MIN_LOWER,
        "max_higher_fraction": MAX_HIGHER,
    }
    return numbers, gd, heavy


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    """GD stopped above the global minimum; momentum ended lower; and over the grid of
    starts, at λ = MOMENTUM, lower often and higher seldom."""
    n, gd, heavy = numbers, numbers["gd"], numbers["momentum_run"]
    tol, lam = n["tolerance"], f"{n['momentum']:g}"
    best = n["critical_points"]["global_minimum"]["loss"]
    grid = n["grid"]["by_lambda"][lam]
    return [
        Evidence(
            "gradient descent: ‖∇L‖ where it ended",
            gd["gradient_norm"],
            "",
            f"< {n['stopped_threshold']:g}",
            "the gradient has vanished: GD is at a critical point and will not move again",
            bool(gd["gradient_norm"] < n["stopped_threshold"]),
        ),
        Evidence(
            "gradient descent: its final L above the global minimum's",
            gd["loss"] - best,
            "",
            f"> {tol:g}",
            "the critical point it stopped at is not the best one, so there was somewhere lower "
            "to go",
            bool(gd["loss"] > best + tol),
        ),
        Evidence(
            f"momentum (λ = {lam}): its final L below gradient descent's",
            gd["loss"] - heavy["loss"],
            "",
            f"> {tol:g}",
            "from the same start with the same η, momentum got past where GD stopped",
            bool(heavy["loss"] < gd["loss"] - tol),
        ),
        Evidence(
            f"grid of {n['grid']['starts']} starts: fraction where momentum ended lower / higher",
            f"{grid['lower']:.0%} / {grid['higher']:.0%}",
            "",
            f"≥ {n['min_lower_fraction']:.0%} / ≤ {n['max_higher_fraction']:.0%}",
            "not one lucky start: a real share of starts gains, and almost none loses — the "
            "lecture says momentum can carry on, not that it always does",
            bool(
                grid["lower"] >= n["min_lower_fraction"]
                and grid["higher"] <= n["max_higher_fraction"]
            ),
        ),
    ]


def holds(numbers: dict[str, Any]) -> bool:
    """The criterion of the module doc: GD stopped at a critical point above the global
    minimum, momentum ended lower, and not by a lucky start (the grid at λ = MOMENTUM)."""
    return all(e.holds for e in evidence(numbers) if e.holds is not None)


def _where(run: dict[str, Any]) -> str:
    theta = ", ".join(f"{v:.3f}" for v in run["theta"])
    eigen = ", ".join(f"{v:.3g}" for v in run["hessian_eigenvalues"])
    return (
        f"({theta}), L = {run['loss']:.4f}, ‖∇L‖ = {run['gradient_norm']:.2g}, Hessian "
        f"eigenvalues ({eigen}): a {run['kind']} in the {run['well']} well"
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    n, gd, heavy = numbers, numbers["gd"], numbers["momentum_run"]
    grid = n["grid"]
    lam = f"{n['momentum']:g}"
    fractions = ", ".join(
        f"{key}: {value['lower']:.0%} / {value['higher']:.0%}"
        for key, value in grid["by_lambda"].items()
    )
    crossed = (
        f"crossed the bump at update {heavy['crossed_bump_at']}"
        if heavy["crossed_bump_at"] is not None
        else "never crossed the bump"
    )
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: on {n['surface']} from "
        f"({n['start'][0]:g}, {n['start'][1]:g}) with η = {n['lr']:g} for {n['steps']:,} "
        f"updates, gradient descent stopped at {_where(gd)}; momentum with λ = {lam} {crossed} "
        f"and ended at {_where(heavy)} (global minimum L = "
        f"{n['critical_points']['global_minimum']['loss']:.4f}). Over {grid['starts']} starts "
        f"on the shallow side, momentum with λ = {lam} ended lower than GD from the same start "
        f"on {grid['by_lambda'][lam]['lower']:.0%} of them and higher on "
        f"{grid['by_lambda'][lam]['higher']:.0%} (required: at least "
        f"{n['min_lower_fraction']:.0%} and at most {n['max_higher_fraction']:.0%}); lower / "
        f"higher by λ: {fractions}."
    )


def run(out: Path, quick: bool = False) -> Result:
    """Full: 1,500 updates, a 10 × 10 grid; quick: 1,000 updates (GD has stopped by then to
    ‖∇L‖ < 10⁻⁶) and a 6 × 6 grid."""
    steps, grid = (QUICK_STEPS, QUICK_GRID) if quick else (STEPS, GRID)
    numbers, gd, heavy = measure(steps, grid)
    s = gd.surface
    paths = {
        f"gradient descent, η = {LR:g}": gd.theta[:, 0].numpy(),
        f"momentum, η = {LR:g}, λ = {MOMENTUM:g}": heavy.theta[:, 0].numpy(),
    }
    both = torch.cat([gd.theta[:, 0], heavy.theta[:, 0]])
    (x0, x1), (y0, y1) = s.bounds
    low, high = both.min(0).values.tolist(), both.max(0).values.tolist()
    bounds = (
        (min(x0, low[0] - 0.1), max(x1, high[0] + 0.1)),
        (min(y0, low[1] - 0.1), max(y1, high[1] + 0.1)),
    )
    contour = Path(NAME) / "paths.png"
    plot_contour(
        s,
        paths,
        out / contour,
        title=(
            f"Gradient descent ends in the {numbers['gd']['well']} well, momentum in the "
            f"{numbers['momentum_run']['well']} well"
        ),
        bounds=bounds,
    )
    curves = Path(NAME) / "loss.png"
    points = numbers["critical_points"]
    plot_curves(
        {
            label: values
            for label, values in zip(
                paths, (gd.loss[:SHOWN, 0].numpy(), heavy.loss[:SHOWN, 0].numpy()), strict=True
            )
        },
        out / curves,
        title=(
            f"Loss, first {SHOWN - 1} updates (flat after): local minimum L = "
            f"{points['local_minimum']['loss']:.3f}, global L = "
            f"{points['global_minimum']['loss']:.3f}"
        ),
        ylabel="L(θ)",
    )
    return conclude(__name__, numbers, [contour, curves])
