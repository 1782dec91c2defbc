"""Leaving a saddle point along the eigenvector of a negative eigenvalue of the Hessian.

At a critical point θ′ (g = ∇L(θ′) = 0) the lecture's Taylor expansion leaves only the
Hessian term, L(θ) ≈ L(θ′) + ½ (θ − θ′)ᵀ H (θ − θ′). For an eigenvector u of H with
eigenvalue λ, uᵀHu = λ‖u‖², so a step θ = θ′ + ε·u (‖u‖ = 1) changes the loss by

    ΔL(ε) = L(θ′ + ε·u) − L(θ′) ≈ ½ λ ε²,

which is negative when λ < 0: the way out of a saddle, on either side (±u).

Two critical points, both exact saddles whose H has eigenvalues ±2:

- the surface ``saddle``, L(x, y) = x² − y² + ¼·y⁴, at (0, 0): H = diag(2, −2), u = (0, 1),
  and exactly ΔL(ε) = −ε² + ¼ε⁴;
- the lecture's network y = w1·w2·x with one training example x = 1, ŷ = 1 and the squared
  error L = (ŷ − w1·w2·x)², at the origin: g = 0, H = [[0, −2], [−2, 0]], λ = ±2,
  u = (1, 1)/√2, and exactly ΔL(ε) = −ε² + ¼ε⁴. Gradient descent started there never moves
  (g = 0 exactly), which is what "stuck at a saddle" means.

On the network the eigenpair comes from ravine.diagnose (exact_hessian, classify_critical_point,
escape_direction, move_along): the tools, not the hand computation, find the way out.

Measured, for the step lengths ε of EPSILONS and both signs: ΔL(±ε) against ½λε² (their
ratio), and ``STEPS`` updates of gradient descent with η = ``LR`` from the saddle and from the
saddle moved by ``ESCAPE``·u.

The claim is reproduced when, on both critical points,

- the loss falls along both +u and −u for every ε of EPSILONS, and
- for the small steps (ε ≤ ``SMALL``) the ratio ΔL/(½λε²) is within ``TOLERANCE`` of 1 —
  the Taylor remainder there is ¼ε⁴ against ε², at most 0.25% at ε = 0.1, so 10% leaves room
  for a Hessian that is only approximately right and still fails a wrong one (a wrong
  eigenvalue by a factor of 2 gives 0.5 or 2); and
- gradient descent from the saddle stays where it is (its loss unchanged) while from the
  escaped point it brings the loss below ``ESCAPED`` of the saddle's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..diagnose import classify_critical_point, escape_direction, exact_hessian, move_along
from ..report.plots import plot_contour, plot_curves
from ..surfaces import descend, surface
from .base import Evidence, Result, conclude, torch_threads

NAME = "saddle-escape"
TITLE = "Escaping a saddle point along an eigenvector of H with λ < 0"
CLAIM = (
    "At a saddle point the gradient is zero, so gradient descent does not move; but the "
    "Hessian H shows the way out: along an eigenvector u of a negative eigenvalue λ the loss "
    "falls, by about ½λ‖u‖²."
)
LECTURE = (
    "在鞍点 (saddle point) 梯度 (gradient) g = 0，但海塞矩阵 (Hessian) H 可以告诉我们参数更新"
    "的方向：u 是 H 的特征向量 (eigenvector)，λ 是它的特征值 (eigenvalue)，uᵀHu = λ‖u‖²；"
    "若 λ < 0，令 θ = θ′ + u，L 就会变小 — L(θ′+u) ≈ L(θ′) + ½λ‖u‖²."
)
COMMAND = (
    "ravine descend saddle --optimizer gd --lr 0.1 --steps 200 --start 1.5,0 --plot saddle.png"
)
CAPTIONS = {
    "loss-along-u.png": (
        "The measured drop of the loss along ±u (points) against the lecture's ½λε² (line): "
        "they agree for small steps and part only where the ¼ε⁴ term starts to count."
    ),
    "network-descent.png": (
        "Gradient descent on y = w1·w2·x started exactly at the saddle stays flat at L = 1 "
        "forever; one small step along u first, and the same descent reaches the minimum."
    ),
    "saddle-surface.png": (
        "On x² − y² + ¼y⁴ (the cross marks the saddle point (0, 0), the stars the minima "
        "(0, ±√2)), descent that starts on the line y = 0 slides into the saddle and stops; "
        "started a step ε·u away from it, descent leaves along u to the minimum at (0, √2)."
    ),
}

EPSILONS = (1e-3, 1e-2, 0.1, 0.3, 1.0)  # ε, step lengths along u
SMALL = 0.1  # the ratio is judged for ε up to this
TOLERANCE = 0.1  # |ratio − 1| allowed there
ESCAPE = 1e-2  # ε of the escape step before descent
LR, STEPS, QUICK_STEPS = 0.1, 200, 100  # gradient descent: η and updates
# the explorer's preset for this claim (`ravine explore --preset NAME`)
EXPLORE = {"surface": "saddle", "optimizer": "gd", "lr": LR, "steps": STEPS, "start": [1.5, 0.0]}
ESCAPED = 0.01  # descent from the escaped point must end below this fraction of L(θ′)


class Product(nn.Module):
    """The lecture's network y = w1·w2·x: two weights, no bias, both starting at 0."""

    def __init__(self) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.w2 = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w1 * self.w2 * x


def squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L = mean (ŷ − y)², here one example: (ŷ − w1·w2·x)²."""
    return ((target - prediction) ** 2).mean()


DATA = (torch.tensor([1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64))


def _network_loss(model: nn.Module) -> float:
    with torch.no_grad():
        return float(squared_error(model(DATA[0]), DATA[1]))


def _descent(model: nn.Module, steps: int) -> list[float]:
    """Plain gradient descent θ ← θ − η·g on the network; the loss before each step and after."""
    losses = [_network_loss(model)]
    for _ in range(steps):
        model.zero_grad()
        squared_error(model(DATA[0]), DATA[1]).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= LR * p.grad
        losses.append(_network_loss(model))
    return losses


def _along(loss_at, lam: float, epsilons) -> list[dict[str, float]]:
    """ΔL(±ε) = loss_at(±ε) − loss_at(0) against ½λε², for each ε."""
    base = loss_at(0.0)
    rows = []
    for eps in epsilons:
        predicted = 0.5 * lam * eps**2
        plus, minus = loss_at(eps) - base, loss_at(-eps) - base
        rows.append(
            {
                "epsilon": eps,
                "predicted": predicted,
                "change_plus": plus,
                "change_minus": minus,
                "ratio_plus": plus / predicted,
                "ratio_minus": minus / predicted,
            }
        )
    return rows


def measure_network(steps: int) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The lecture's network at the origin: H, its kind, u, ΔL along ±u, and descent."""
    model = Product()
    hessian = exact_hessian(model, squared_error, *DATA)
    point = classify_critical_point(model, squared_error, *DATA)
    lam, u = escape_direction(model, squared_error, *DATA)

    def loss_at(eps: float) -> float:
        probe = Product()
        move_along(probe, u, eps)
        return _network_loss(probe)

    stuck = _descent(Product(), steps)
    escaped = Product()
    move_along(escaped, u, ESCAPE)
    freed = _descent(escaped, steps)
    numbers = {
        "hessian": hessian.tolist(),
        "kind": point.kind,
        "gradient_norm": point.gradient_norm,
        "eigenvalues": point.eigenvalues.tolist(),
        "lambda": lam,
        "u": u.tolist(),
        "along": _along(loss_at, lam, EPSILONS),
        "loss_saddle": stuck[0],
        "descent_from_saddle_final": stuck[-1],
        "descent_from_escape_final": freed[-1],
        "escaped_fraction": freed[-1] / stuck[0],
        "w_final": [float(p.detach()) for p in escaped.parameters()],
    }
    return numbers, {"stuck": stuck, "freed": freed}


def measure_surface(steps: int):
    """The surface ``saddle`` at (0, 0): H from the surface, u, ΔL along ±u, and descent."""
    saddle = surface("saddle")
    origin = torch.zeros(2, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(saddle.hessian(origin))
    lam, u = float(values[0]), vectors[:, 0]
    u = u if u[u.abs().argmax()] > 0 else -u

    def loss_at(eps: float) -> float:
        return float(saddle.loss(origin + eps * u))

    # descent along y = 0 slides into the saddle; from ε·u beside it, it leaves
    stuck = descend(saddle, "gd", lr=LR, steps=steps, start=(1.5, 0.0))
    away = tuple((origin + ESCAPE * u).tolist())
    freed = descend(saddle, "gd", lr=LR, steps=steps, start=away)
    numbers = {
        "eigenvalues": values.tolist(),
        "lambda": lam,
        "u": u.tolist(),
        "along": _along(loss_at, lam, EPSILONS),
        "loss_saddle": loss_at(0.0),
        "descent_from_line_final": float(stuck.loss[-1, 0]),
        "descent_from_line_gradient": float(stuck.gradient_norm[-1, 0]),
        "descent_from_escape_final": float(freed.loss[-1, 0]),
        "minimum_loss": -1.0,  # L(0, ±√2) = −2 + 1
    }
    return numbers, stuck, freed


def measure(steps: int = STEPS):
    network, curves = measure_network(steps)
    on_surface, stuck, freed = measure_surface(steps)
    numbers = {
        "epsilons": list(EPSILONS),
        "small": SMALL,
        "tolerance": TOLERANCE,
        "escape": ESCAPE,
        "lr": LR,
        "steps": steps,
        "escaped_below": ESCAPED,
        "network": network,
        "surface": on_surface,
    }
    return numbers, curves, stuck, freed


def _ratios_near_one(part: dict[str, Any], small: float, tolerance: float) -> bool:
    rows = [r for r in part["along"] if r["epsilon"] <= small]
    return bool(rows) and all(
        abs(r[key] - 1) <= tolerance for r in rows for key in ("ratio_plus", "ratio_minus")
    )


def _falls(part: dict[str, Any]) -> bool:
    return all(r["change_plus"] < 0 and r["change_minus"] < 0 for r in part["along"])


def _descent_shows(numbers: dict[str, Any]) -> bool:
    """GD from the network's saddle leaves L unchanged; from the escaped point it gets below
    ESCAPED·L(θ′); on the surface it escapes to below L(θ′) too."""
    net, surf = numbers["network"], numbers["surface"]
    stuck = net["descent_from_saddle_final"] == net["loss_saddle"]
    freed = net["escaped_fraction"] < numbers["escaped_below"]
    surface_freed = surf["descent_from_escape_final"] < surf["loss_saddle"]
    return bool(stuck and freed and surface_freed)


def holds(numbers: dict[str, Any]) -> bool:
    """See the module doc: the loss falls along ±u, the ratio is near 1 for small ε, and
    descent is stuck at the saddle but not after the escape step."""
    small, tol = numbers["small"], numbers["tolerance"]
    parts = (numbers["network"], numbers["surface"])
    return bool(
        all(_falls(p) and _ratios_near_one(p, small, tol) for p in parts)
        and _descent_shows(numbers)
    )


def _worst_small(part: dict[str, Any], small: float) -> float:
    rows = [r for r in part["along"] if r["epsilon"] <= small]
    return max(abs(r[k] - 1) for r in rows for k in ("ratio_plus", "ratio_minus"))


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    small, tol = numbers["small"], numbers["tolerance"]
    net, surf = numbers["network"], numbers["surface"]
    why_ratio = (
        f"the ¼ε⁴ remainder is at most {0.25 * small**2:.2%} of ε² at ε = {small:g}; a wrong "
        "eigenvalue by a factor 2 would give a ratio of 0.5 or 2"
    )
    return [
        Evidence(
            "network: smallest eigenvalue λ of H at the origin",
            round(net["lambda"], 6),
            threshold="< 0 (a saddle)",
            why="only a negative eigenvalue gives a direction that lowers the loss",
            holds=net["lambda"] < 0,
        ),
        Evidence(
            f"network: largest |ΔL/(½λε²) − 1| for ε ≤ {small:g}",
            round(_worst_small(net, small), 6),
            threshold=f"≤ {tol:g}",
            why=why_ratio,
            holds=_ratios_near_one(net, small, tol),
        ),
        Evidence(
            f"surface: largest |ΔL/(½λε²) − 1| for ε ≤ {small:g}",
            round(_worst_small(surf, small), 6),
            threshold=f"≤ {tol:g}",
            why=why_ratio,
            holds=_ratios_near_one(surf, small, tol),
        ),
        Evidence(
            "the loss fell along both +u and −u at every ε",
            _falls(net) and _falls(surf),
            threshold="yes, on both",
            why="λ < 0 makes ½λε² negative on either side of the saddle",
            holds=_falls(net) and _falls(surf),
        ),
        Evidence(
            f"network: loss after {numbers['steps']} GD steps from the saddle / from ε = "
            f"{numbers['escape']:g} along u",
            f"{net['descent_from_saddle_final']:.4g} / {net['descent_from_escape_final']:.3g}",
            threshold=f"unchanged at {net['loss_saddle']:g} / < {numbers['escaped_below']:g}·L",
            why="g = 0 at the saddle, so GD cannot move; once off it, nothing holds it back",
            holds=_descent_shows(numbers),
        ),
    ]


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    net, surf, small = numbers["network"], numbers["surface"], numbers["small"]
    row = next(r for r in net["along"] if r["epsilon"] == small)
    start, end = net["loss_saddle"], net["descent_from_saddle_final"]
    stayed = (
        f"left L where it was, at {end:.4g}"
        if end == start
        else f"moved L from {start:.4g} to {end:.4g}"
    )
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: at the origin of y = w1·w2·x the "
        f"tools found a {net['kind']} with ‖g‖ = {net['gradient_norm']:.2g}, λ = "
        f"{net['lambda']:.4g}, u = ({net['u'][0]:.3f}, {net['u'][1]:.3f}); a step ε = {small:g} "
        f"along ±u changed L by {row['change_plus']:.4g} / {row['change_minus']:.4g} against "
        f"½λε² = {row['predicted']:.4g} (worst ratio error for ε ≤ {small:g}: "
        f"{_worst_small(net, small):.2%} on the network, {_worst_small(surf, small):.2%} on the "
        f"surface); {numbers['steps']} GD steps from the saddle itself {stayed}, while "
        f"{numbers['steps']} from a point {numbers['escape']:g} along u brought it to "
        f"{net['descent_from_escape_final']:.2g}."
    )


def _plot_along(numbers: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    from ..report.plots import save_figure

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    dense = [10 ** (k / 20) for k in range(-60, 1)]
    lam = numbers["network"]["lambda"]
    ax.plot(dense, [-0.5 * lam * e**2 for e in dense], "-", color="#555555", label="−½λε²")
    for label, key, marker in (("network", "network", "o"), ("surface", "surface", "s")):
        rows = numbers[key]["along"]
        for sign, column in (("+u", "change_plus"), ("−u", "change_minus")):
            ax.plot(
                [r["epsilon"] for r in rows],
                [-r[column] for r in rows],
                marker,
                fillstyle="none" if sign == "−u" else "full",
                label=f"{label}, along {sign}: −ΔL",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step length ε along u")
    ax.set_ylabel("drop of the loss −ΔL")
    ax.set_title("How much the loss falls along ±u, against the Taylor term ½λε²", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def run(out: Path, quick: bool = False) -> Result:
    steps = QUICK_STEPS if quick else STEPS
    with torch_threads(1):
        numbers, curves, stuck, freed = measure(steps)
    along = Path(NAME) / "loss-along-u.png"
    (out / along).parent.mkdir(parents=True, exist_ok=True)
    _plot_along(numbers, out / along)
    descent = Path(NAME) / "network-descent.png"
    plot_curves(
        {
            "GD from the saddle (w1, w2) = (0, 0)": curves["stuck"],
            f"GD after one step ε = {ESCAPE:g} along u": curves["freed"],
        },
        out / descent,
        title=f"y = w1·w2·x, one example (x = 1, ŷ = 1), gradient descent η = {LR:g}",
        ylabel="loss L = (ŷ − w1·w2·x)²",
    )
    contour = Path(NAME) / "saddle-surface.png"
    plot_contour(
        stuck.surface,
        {
            "GD from (1.5, 0): into the saddle": stuck.theta[:, 0].numpy(),
            f"GD from ε = {ESCAPE:g} along u": freed.theta[:, 0].numpy(),
        },
        out / contour,
        title="x² − y² + ¼y⁴: stuck at the saddle, or out along u",
    )
    return conclude(__name__, numbers, [along, descent, contour])
