"""Adam = RMSProp + Momentum, with bias correction: its m and σ are the lecture's two parts,
and put together from ravine's parts they are torch.optim.Adam, to rounding, over a real run.

Adam's update, parameter i, step t = 1, 2, …, gradient g^t:

    m^t = β1·m^{t−1} + (1−β1)·g^t       momentum: the lecture's m = λ·m − η·g with λ = β1,
                                         scaled by −(1−β1)/η (the same weighted sum of g)
    v^t = β2·v^{t−1} + (1−β2)·(g^t)²    RMSProp's moving average of g², α = β2
    m̂ = m^t/(1−β1^t),  σ^t = sqrt(v^t/(1−β2^t)) + ε      bias correction: m⁰ = v⁰ = 0
    θ^t = θ^{t−1} − η·m̂/σ^t

Three optimizers train the same network from the same θ⁰ on the same mini-batches, ``STEPS``
updates: (1) ``Optimizer(direction=ExponentialAverage(β1), magnitude=SecondMoment(β2, ε))``
built from ravine's parts, (2) ``ravine.optim.Adam``, (3) ``torch.optim.Adam``; and (4) the
update computed here by hand from the formulas above, from each step's gradient of run (3).
Network: digits (scikit-learn's 8×8 images, 10 classes), ``relu:units=32`` in float64, batch
``BATCH``, η = 1e-3, β = (0.9, 0.999), ε = 1e-8 (torch's defaults).

Equal "to rounding": the largest |θ_i| difference over every step, divided by the largest
|θ_i|, is at most ``ROUNDING`` = 1e-10. float64 rounds each operation to 1.1·10⁻¹⁶; a few
dozen operations per step over ``STEPS`` steps stay many orders below 1e-10, while any change
of the rule — ε inside the root, one bias correction missing, β1 and β2 swapped — changes the
first step alone by ~1e-5 of η or more. The uncorrected rule is run beside them to show it.

Without bias correction (m̂ = m, σ = sqrt(v) + ε) the first steps are larger: with a steady
gradient the step is η·(1−β1^t)/sqrt(1−β2^t) — 3.2·η at t = 1, up to 6.5·η near t = 10 —
where the corrected step is η. Measured: the median over the parameters of |Δθ_i|/η, each of
the first ``EARLY`` steps, with and without correction, on the same run.

The claim is held when (1)–(4) agree to rounding at every step and the uncorrected first
step is more than twice the corrected one (the lecture's bias correction matters).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..optim import Adam, ExponentialAverage, Optimizer, SecondMoment
from ..report.plots import plot_curves, superscripts
from ..tasks import task as build_task
from .base import Evidence, Result, conclude, torch_threads
from .wording import join

NAME = "adam-parts"
TITLE = "Adam = RMSProp + Momentum, with bias correction — built from the parts, equal to torch"
CLAIM = (
    "Adam is RMSProp plus momentum: its m is the momentum's weighted sum of past gradients, "
    "its σ RMSProp's moving root mean square, each divided by a bias correction because both "
    "start from zero. Composed from those two parts it is torch.optim.Adam; without the "
    "correction its first steps are several times larger than η."
)
LECTURE = (
    "Adam: RMSProp + Momentum — 「Adam 就是 RMS Prop 加上 Momentum」 (Adam is just RMSProp "
    "plus momentum); m 是 momentum 的部分 (m, the momentum part, keeps the gradients' "
    "directions), σ 是 RMSProp 的部分 (σ, the RMSProp part, their sizes); 今天 pytorch 裡面 "
    "都幫你寫得好好的了 (PyTorch has it written for you)."
)
COMMAND = "ravine verify --optimizer adam"
CAPTIONS = {  # difference.png's is replaced by :func:`difference_caption`, from the run
    "difference.png": (
        "How far each optimizer's θ is from torch.optim.Adam's, step by step, relative to the "
        "largest |θ| (a difference of 0 drawn at 1e-18)."
    ),
    "first-steps.png": (
        "The median effective step |Δθ|/η of the first steps: with bias correction η at the "
        "first step, then less as noisy gradients partly cancel in m; without it 3.2·η at "
        "once, and still more than twice the corrected step for dozens of steps. The steady-"
        "gradient curve is the uncorrected step when every gradient agrees."
    ),
}

STEPS, QUICK_STEPS = 300, 60
BATCH, MODEL, SEED = 64, "relu:units=32", 0
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
EARLY = 50  # the first steps shown and measured for the bias correction
ROUNDING = 1e-10  # largest |Δθ| / largest |θ| still called rounding (float64)
LARGER = 2.0  # the uncorrected first step must exceed the corrected one this many times
RUNS = ("parts", "ravine Adam", "by hand", "no bias correction")


class _ByHand:
    """The formulas of the module doc, one line each, on a list of parameters."""

    def __init__(self, params: list[torch.Tensor], corrected: bool = True) -> None:
        self.params, self.corrected, self.t = params, corrected, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        beta1, beta2 = BETAS
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            g = p.grad
            m.mul_(beta1).add_((1 - beta1) * g)  # m^t = β1·m + (1−β1)·g   (momentum)
            v.mul_(beta2).add_((1 - beta2) * g * g)  # v^t = β2·v + (1−β2)·g²  (RMSProp)
            if self.corrected:
                m_hat = m / (1 - beta1**self.t)  # m̂ = m/(1−β1^t)
                sigma = (v / (1 - beta2**self.t)).sqrt() + EPS  # σ = sqrt(v/(1−β2^t)) + ε
            else:
                m_hat, sigma = m, v.sqrt() + EPS
            p.sub_(LR * m_hat / sigma)  # θ ← θ − η·m̂/σ

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def _optimizer(kind: str, params: list[torch.Tensor]) -> Any:
    if kind == "torch Adam":
        return torch.optim.Adam(params, lr=LR, betas=BETAS, eps=EPS)
    if kind == "ravine Adam":
        return Adam(params, lr=LR, betas=BETAS, eps=EPS)
    if kind == "parts":
        momentum, rmsprop = ExponentialAverage(BETAS[0]), SecondMoment(BETAS[1], EPS)
        return Optimizer(params, lr=LR, direction=momentum, magnitude=rmsprop)
    return _ByHand(params, corrected=kind == "by hand")


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def train_all(steps: int) -> dict[str, list[torch.Tensor]]:
    """θ^0 … θ^steps (flat) of each run: torch Adam and RUNS, in lockstep on one batch order."""
    task = build_task("digits", seed=SEED, model=MODEL)
    inputs, labels = task.inputs.double(), task.targets
    kinds = ("torch Adam", *RUNS)
    models = {k: task.model(SEED).double() for k in kinds}
    optimizers = {k: _optimizer(k, list(m.parameters())) for k, m in models.items()}
    thetas = {k: [_flat(m)] for k, m in models.items()}
    order = torch.Generator().manual_seed(SEED + 1)
    for _ in range(steps):
        batch = torch.randint(len(inputs), (BATCH,), generator=order)
        for k, model in models.items():
            optimizers[k].zero_grad()
            task.loss_fn(model(inputs[batch]), labels[batch]).backward()
            optimizers[k].step()
            thetas[k].append(_flat(model))
    return thetas


def measure(steps: int = STEPS) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train, then each run's relative distance from torch Adam per step and the median
    effective step |Δθ|/η of the first EARLY steps, with and without bias correction."""
    with torch_threads(1):
        thetas = train_all(steps)
    reference = torch.stack(thetas["torch Adam"])  # (steps + 1, P)
    scale = float(reference.abs().max())
    gaps, numbers_runs = {}, {}
    for kind in RUNS:
        gap = (torch.stack(thetas[kind]) - reference).abs().amax(dim=1) / scale
        gaps[kind] = gap.tolist()
        numbers_runs[kind] = {
            "largest_relative_difference": float(gap.max()),
            "first_step_relative_difference": float(gap[1]) if steps else 0.0,
        }
    effective = {}
    for kind in ("torch Adam", "no bias correction"):
        path = torch.stack(thetas[kind][: EARLY + 1])
        effective[kind] = ((path[1:] - path[:-1]).abs().median(dim=1).values / LR).tolist()
    corrected, uncorrected = effective["torch Adam"], effective["no bias correction"]
    theory = [(1 - BETAS[0] ** t) / math.sqrt(1 - BETAS[1] ** t) for t in range(1, EARLY + 1)]
    numbers = {
        "task": f"digits, {MODEL}, float64, batch {BATCH}",
        "steps": steps,
        "lr": LR,
        "betas": list(BETAS),
        "eps": EPS,
        "rounding": ROUNDING,
        "runs": numbers_runs,
        "first_step_corrected": corrected[0],
        "first_step_uncorrected": uncorrected[0],
        "largest_early_step_uncorrected": max(uncorrected),
        "largest_early_step_corrected": max(corrected),
        "steady_gradient_ratio": {"first": theory[0], "largest": max(theory)},
        "larger": LARGER,
    }
    return numbers, {"gaps": gaps, "effective": effective, "theory": theory}


def _equal(numbers: dict[str, Any], kind: str) -> bool:
    return numbers["runs"][kind]["largest_relative_difference"] <= numbers["rounding"]


def holds(numbers: dict[str, Any]) -> bool:
    """Parts, preset and formula equal torch to rounding; the uncorrected first step is
    more than LARGER times the corrected one."""
    equal = all(_equal(numbers, k) for k in ("parts", "ravine Adam", "by hand"))
    ratio = numbers["first_step_uncorrected"] / max(numbers["first_step_corrected"], 1e-300)
    return bool(equal and ratio > numbers["larger"])


WHY_ROUNDING = (
    "float64 rounds each operation to 1.1e-16; a real change of the rule (ε inside the root, "
    "a missing bias correction) moves θ by far more from the first step"
)


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    runs = numbers["runs"]
    named = {
        "parts": "ExponentialAverage(β1) + SecondMoment(β2, ε) against torch.optim.Adam",
        "ravine Adam": "ravine.optim.Adam against torch.optim.Adam",
        "by hand": "the formulas written out against torch.optim.Adam",
    }
    rows = [
        Evidence(
            name,
            runs[kind]["largest_relative_difference"],
            "largest |Δθ| / largest |θ|",
            f"≤ {numbers['rounding']:g}",
            WHY_ROUNDING,
            _equal(numbers, kind),
        )
        for kind, name in named.items()
    ]
    ratio = numbers["first_step_uncorrected"] / max(numbers["first_step_corrected"], 1e-300)
    rows.append(
        Evidence(
            "first step without bias correction, against with it",
            ratio,
            "×",
            f"> {numbers['larger']:g}",
            "with a steady gradient the uncorrected first step is (1−β1)/sqrt(1−β2) = 3.2 "
            "times the corrected one; twice is the least that says the correction matters",
            ratio > numbers["larger"],
        )
    )
    rows.append(
        Evidence(
            "without bias correction: its θ against torch.optim.Adam's",
            runs["no bias correction"]["largest_relative_difference"],
            "largest |Δθ| / largest |θ|",
            why="the contrast: how far a real change of the rule moves θ",
        )
    )
    return rows


IMPLEMENTATIONS = {  # run → how the verdict names it
    "parts": "momentum + RMSProp composed from ravine's parts",
    "ravine Adam": "ravine.optim.Adam",
    "by hand": "the formulas by hand",
}


def _matches(numbers: dict[str, Any]) -> str:
    """How closely each implementation's θ followed torch.optim.Adam's: exactly (0), to
    within a difference no larger than rounding, or by how much it missed."""
    runs, rounding = numbers["runs"], numbers["rounding"]
    gaps = {name: runs[run]["largest_relative_difference"] for run, name in IMPLEMENTATIONS.items()}
    exact = [f"by {name}" for name, gap in gaps.items() if gap == 0]
    near = [f"to within {gap:.2g} by {name}" for name, gap in gaps.items() if 0 < gap <= rounding]
    far = [f"{name} was {gap:.2g} away" for name, gap in gaps.items() if gap > rounding]
    groups = [f"exactly {join(exact)}"] if exact else []
    if near:
        groups.append(join(near))
    matched = ", and ".join(groups)
    scale = f"(relative to the largest |θ|; rounding: ≤ {rounding:g})"
    if not matched:
        return f"torch.optim.Adam's θ was matched by none: {join(far)} {scale}"
    return f"torch.optim.Adam's θ was matched {matched} {scale}" + (
        f", but {join(far)}" if far else ""
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    runs = numbers["runs"]
    uncorrected = runs["no bias correction"]["largest_relative_difference"]
    return (
        f"{'Reproduced' if reproduced else 'Not reproduced'}: over {numbers['steps']} updates "
        f"on {numbers['task']}, {_matches(numbers)}, while the rule without bias correction was "
        f"{uncorrected:.2g} away; its first step moved the median parameter "
        f"{numbers['first_step_uncorrected']:.3g}·η against {numbers['first_step_corrected']:.3g}"
        f"·η with the correction (steady-gradient theory: "
        f"{numbers['steady_gradient_ratio']['first']:.3g}·η), and up to "
        f"{numbers['largest_early_step_uncorrected']:.3g}·η in the first {EARLY} steps."
    )


def difference_caption(numbers: dict[str, Any], gaps: dict[str, list[float]]) -> str:
    """What the difference figure shows, from the run's numbers and the ``gaps`` it draws: the
    lines at exactly 0 (drawn at 1e-18), within rounding or beyond it; the lines that coincide
    (each later one dashed over the first); and how far the rule without bias correction is
    after its first step and at most."""
    runs, rounding = numbers["runs"], numbers["rounding"]
    largest = {run: runs[run]["largest_relative_difference"] for run in RUNS}

    def named(kinds: list[str]) -> str:  # as the legend names them
        return join([f"“{kind}”" for kind in kinds])

    exact = [run for run in IMPLEMENTATIONS if largest[run] == 0]
    said = [f"{named(exact)} at exactly 0 every step (drawn at 1e-18)"] if exact else []
    for where, kinds in (
        ("within float64 rounding", [r for r in IMPLEMENTATIONS if 0 < largest[r] <= rounding]),
        ("beyond rounding", [r for r in IMPLEMENTATIONS if largest[r] > rounding]),
    ):
        if kinds:
            said.append(f"{named(kinds)} {where} (at most {max(largest[r] for r in kinds):.2g})")
    uncorrected = runs["no bias correction"]
    text = (
        "How far each optimizer's θ is from torch.optim.Adam's, step by step, relative to the "
        f"largest |θ|: {'; '.join(said)}; the rule without bias correction (“no bias "
        f"correction”) is {uncorrected['first_step_relative_difference']:.2g} away after its "
        f"first step and {largest['no bias correction']:.2g} at most."
    )
    for place, first in enumerate(RUNS):
        if any(gaps[first] == gaps[before] for before in RUNS[:place]):
            continue  # already told with the first line it coincides with
        later = [run for run in RUNS[place + 1 :] if gaps[run] == gaps[first]]
        if later:
            text += (
                f" The lines of {named([first, *later])} coincide (the same difference at "
                f"every step): {named(later)} dashed, with markers, over “{first}”."
            )
    return text


def run(out: Path, quick: bool = False) -> Result:
    """Full: 300 updates; quick: 60 (every number but the length is measured the same way)."""
    numbers, curves = measure(QUICK_STEPS if quick else STEPS)
    difference = Path(NAME) / "difference.png"
    floor = 1e-18  # a zero difference drawn on the log axis
    drawn = {kind: [max(x, floor) for x in values] for kind, values in curves["gaps"].items()}
    plot_curves(
        drawn,
        out / difference,
        title="Distance from torch.optim.Adam's θ, relative to the largest |θ| (0 drawn at 1e-18)",
        xlabel="update",
        ylabel="largest |Δθ| / largest |θ|",
        logy=True,
    )
    first = Path(NAME) / "first-steps.png"
    effective = curves["effective"]
    plot_curves(
        {
            "with bias correction (torch.optim.Adam)": effective["torch Adam"],
            "without bias correction": effective["no bias correction"],
            superscripts("steady gradient, without: (1−β1^t)/sqrt(1−β2^t)"): curves["theory"],
        },
        out / first,
        title=f"The first {EARLY} steps: median " + r"$|\Delta\theta_i|\,/\,\eta$",
        xlabel="update t − 1",
        ylabel="effective step (× η)",
    )
    captions = {"difference.png": difference_caption(numbers, drawn)}
    return conclude(__name__, numbers, [difference, first], captions)
