"""The Transformer's learning-rate schedule: the formula, its peak, and its use on a small
attention model.

The Transformer paper (Vaswani et al. 2017, section 5.3, quoted by the lecture) sets

    lrate = d_model^−0.5 · min(step_num^−0.5, step_num · warmup_steps^−1.5),

step_num = 1, 2, …: it rises linearly for warmup_steps steps and then falls as 1/√step_num.
The two branches meet at step_num = warmup_steps, so the peak is there, and its value is
d_model^−0.5 · warmup_steps^−0.5. By hand, half the peak is reached twice: at
step_num = warmup_steps/2 on the way up and at 4·warmup_steps on the way down.

**The formula** (the paper's d_model = 512, warmup_steps = 4000, ``SHOWN`` steps):
ravine.schedules.transformer (t = step_num − 1, since ravine counts steps from 0) against the
formula above computed here from ``math`` — the largest relative difference, the step and value
of the peak, and the two half-peak steps.

**Its use**: the reversal task of :mod:`ravine.tasks.sequence`, trained as in
:mod:`ravine.experiments.warmup_attention` (one post-LN attention block, d_model = 32, Adam
with the paper's β = (0.9, 0.98), ε = 10⁻⁹, a fresh batch of 64 sequences per step, loss on a
fixed set of 256), ``STEPS`` steps from the same initial weights, twice:

- ``transformer``: η^t = lrate with d_model = 32 (the model's) and warmup_steps = ``WARMUP`` —
  the warm-up length of the warm-up experiment on the same task — and base η = 1 as the paper;
- ``constant``: η = the schedule's peak, d_model^−0.5·warmup^−0.5, from the first step to the
  last: the same largest step, without the warm-up and without the decay.

Measured per run: the first step where the evaluation loss is ≤ 0.5 nats per token
(the warm-up experiment's "trained"), the early spike (largest loss over the first 20 steps
over the initial loss) and the final loss (mean over the last 10% of steps).

The claim is reproduced when the formula matches (relative difference < 10⁻¹², peak at
step_num = warmup_steps with the value computed by hand), the scheduled run reaches 0.5 nats,
and it ends no higher than the constant η (final loss ≤ the constant run's): warm-up then
decay trains at least as well as the same peak η held fixed. Partial: the formula matches and
the scheduled run trains, but ends higher than the constant η.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..optim import Adam
from ..report.plots import plot_curves, plot_schedule, superscripts
from ..schedules import Scheduler, transformer
from ..tasks.sequence import D_MODEL, VOCAB, ReverseModel, reverse_data
from .base import OPENING, Evidence, Result, conclude, torch_threads
from .warmup_attention import BATCH, BETAS, EPS, EVAL, LEVEL, summarize
from .wording import final_loss

NAME = "transformer-schedule"
TITLE = "The Transformer's schedule: warm-up, then decay as 1/√step"
CLAIM = (
    "The Transformer sets its learning rate by a formula, d_model^−0.5·min(step^−0.5, "
    "step·warmup^−1.5): it grows linearly for warmup steps, peaks at step = warmup with "
    "d_model^−0.5·warmup^−0.5, then decays as 1/√step; with it, an attention model trains, "
    "and ends at least as well as with its peak η held fixed."
)
LECTURE = (
    "Warm up：learning rate 要先变大后变小 (increase and then decrease)。Transformer 用一个式子"
    "来设定 learning rate：lrate = d_model^−0.5 · min(step_num^−0.5, step_num · "
    "warmup_steps^−1.5)，warmup_steps = 4000 — 先线性变大，再按 1/√step_num 变小。"
)
COMMAND = (
    "ravine schedule 'transformer:d_model=512,warmup=4000' --steps 20000 --plot transformer.png"
)
CAPTIONS = {
    "schedule.png": (
        "The paper's schedule (d_model = 512, warmup = 4000): a straight rise to the peak at "
        "step_num 4000 (drawn at t = step_num − 1 = 3999), then the slow 1/√step fall; the "
        "peak's value is d_model^−0.5·warmup^−0.5."
    ),
    "loss.png": (
        "The attention model trained with the schedule (d_model = 32) and with its peak η "
        "fixed: compare how fast each reaches 0.5 nats and where each ends."
    ),
}

PAPER_D_MODEL, PAPER_WARMUP, SHOWN = 512, 4000, 20_000  # the paper's schedule, steps drawn
WARMUP = 100  # warmup_steps on the reversal task
STEPS, QUICK_STEPS = 300, 150
MATCH = 1e-12  # largest relative difference that counts as the same formula (rounding)
SEED = 0
RUNS = ("transformer", "constant")


def lrate(step_num: int, d_model: int, warmup_steps: int) -> float:
    """The paper's formula (3), by hand: d_model^−0.5 · min(n^−0.5, n · warmup^−1.5)."""
    return d_model**-0.5 * min(step_num**-0.5, step_num * warmup_steps**-1.5)


def check_formula(d_model: int = PAPER_D_MODEL, warmup: int = PAPER_WARMUP, shown: int = SHOWN):
    """ravine's schedule against :func:`lrate`, n = t + 1; the peak and the half-peak steps."""
    schedule = transformer(d_model=d_model, warmup=warmup)
    values = schedule.values(shown)  # η^t for t = 0 … shown − 1
    by_hand = [lrate(t + 1, d_model, warmup) for t in range(shown)]
    difference = max(abs(a - b) / b for a, b in zip(values, by_hand, strict=True))
    peak_t = max(range(shown), key=values.__getitem__)
    peak_by_hand = d_model**-0.5 * warmup**-0.5
    half = peak_by_hand / 2
    return {
        "d_model": d_model,
        "warmup_steps": warmup,
        "steps_shown": shown,
        "largest_relative_difference": difference,
        "peak_step_num": peak_t + 1,
        "peak_value": values[peak_t],
        "peak_by_hand": peak_by_hand,
        "value_at_half_warmup": schedule(warmup // 2 - 1),
        "value_at_four_warmup": schedule(4 * warmup - 1),
        "half_peak_by_hand": half,
    }, values


def _loss(model: nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(model(tokens).reshape(-1, VOCAB), targets.reshape(-1))


def train(kind: str, steps: int, seed: int = SEED) -> tuple[list[float], list[float]]:
    """One run (``kind`` in RUNS) on the seed's data from the seed's weights: the evaluation
    loss before each step and after the last, and η of each step."""
    eval_tokens, eval_targets = reverse_data(EVAL, torch.Generator().manual_seed(seed))
    batches = torch.Generator().manual_seed(seed + 1)
    torch.manual_seed(seed)
    model = ReverseModel()
    peak = D_MODEL**-0.5 * WARMUP**-0.5
    if kind == "transformer":
        optimizer = Adam(model.parameters(), lr=1.0, betas=BETAS, eps=EPS)
        scheduler = Scheduler(optimizer, transformer(d_model=D_MODEL, warmup=WARMUP))
    else:
        optimizer = Adam(model.parameters(), lr=peak, betas=BETAS, eps=EPS)
        scheduler = None
    losses, rates = [], []
    for t in range(steps + 1):
        with torch.no_grad():
            losses.append(float(_loss(model, eval_tokens, eval_targets)))
        if t == steps:
            break
        rates.append(float(optimizer.param_groups[0]["lr"]))
        loss = _loss(model, *reverse_data(BATCH, batches))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return losses, rates


def measure(steps: int = STEPS):
    formula, values = check_formula()
    curves, rates, runs = {}, {}, {}
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch_threads(1):
        torch.use_deterministic_algorithms(True)
        try:
            for kind in RUNS:
                curves[kind], rates[kind] = train(kind, steps)
                runs[kind] = summarize(curves[kind], math.nan, math.nan)
        finally:
            torch.use_deterministic_algorithms(deterministic)
    for run in runs.values():  # accuracy and distance are the warm-up experiment's, not ours
        run.pop("final_accuracy"), run.pop("moved_after_early")
    numbers = {
        "formula": formula,
        "steps": steps,
        "d_model": D_MODEL,
        "warmup_steps": WARMUP,
        "peak_lr": D_MODEL**-0.5 * WARMUP**-0.5,
        "final_scheduled_lr": rates["transformer"][-1],
        "level": LEVEL,
        "match": MATCH,
        "runs": runs,
    }
    return numbers, values, curves


def _formula_holds(numbers: dict[str, Any]) -> bool:
    f = numbers["formula"]
    return bool(
        f["largest_relative_difference"] < numbers["match"]
        and f["peak_step_num"] == f["warmup_steps"]
        and abs(f["peak_value"] / f["peak_by_hand"] - 1) < numbers["match"]
    )


def _trains(numbers: dict[str, Any]) -> bool:
    return numbers["runs"]["transformer"]["steps_to_level"] is not None


def _ends_as_well(numbers: dict[str, Any]) -> bool:
    scheduled, constant = numbers["runs"]["transformer"], numbers["runs"]["constant"]
    if scheduled["final_loss"] is None:
        return False
    return constant["final_loss"] is None or scheduled["final_loss"] <= constant["final_loss"]


def outcome(numbers: dict[str, Any]) -> str:
    """Held: formula, trains, ends as well; partial: formula and trains; else not held."""
    if not (_formula_holds(numbers) and _trains(numbers)):
        return "not held"
    return "held" if _ends_as_well(numbers) else "partial"


def holds(numbers: dict[str, Any]) -> bool:
    return outcome(numbers) == "held"


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    f, runs = numbers["formula"], numbers["runs"]
    reached = runs["transformer"]["steps_to_level"]
    return [
        Evidence(
            "largest relative difference, ravine's schedule vs the formula by hand",
            f"{f['largest_relative_difference']:.1e}",
            threshold=f"< {numbers['match']:g}",
            why="the same formula differs only by floating-point rounding",
            holds=f["largest_relative_difference"] < numbers["match"],
        ),
        Evidence(
            "peak of the schedule (step_num, value)",
            f"{f['peak_step_num']}, {f['peak_value']:.6g}",
            threshold=f"{f['warmup_steps']}, {f['peak_by_hand']:.6g} (by hand)",
            why="the two branches of the min meet at step_num = warmup_steps",
            holds=_formula_holds(numbers),
        ),
        Evidence(
            f"steps for the scheduled run to reach {numbers['level']:g} nats",
            "never" if reached is None else reached,
            "steps",
            threshold=f"within {numbers['steps']}",
            why="the warm-up experiment's line for 'trained' on the same task",
            holds=reached is not None,
        ),
        Evidence(
            "final loss, scheduled vs constant peak η",
            f"{final_loss(runs['transformer']['final_loss'])} vs "
            f"{final_loss(runs['constant']['final_loss'])}",
            "nats",
            threshold="scheduled ≤ constant",
            why="decay after the peak should let the model settle at least as low",
            holds=_ends_as_well(numbers),
        ),
    ]


def _final(run: dict[str, Any]) -> str:
    return (
        "diverged" if run["final_loss"] is None else f"ended at a loss of {run['final_loss']:.3g}"
    )


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    f, runs = numbers["formula"], numbers["runs"]

    def reach(run: dict[str, Any]) -> str:
        step = run["steps_to_level"]
        return "never reached it" if step is None else f"reached it at step {step}"

    difference = f["largest_relative_difference"]
    match = "exactly" if difference == 0 else f"to within {difference:.1e} (relative)"
    return (
        f"{OPENING[outcome(numbers)]}: ravine's transformer schedule matches the formula "
        f"{match} and peaks at step_num {f['peak_step_num']} with {f['peak_value']:.4g} (by hand "
        f"d_model^−0.5·warmup^−0.5 = {f['peak_by_hand']:.4g}); at steps "
        f"{f['warmup_steps'] // 2} and {4 * f['warmup_steps']} it is "
        f"{f['value_at_half_warmup']:.4g} and {f['value_at_four_warmup']:.4g} (half the peak, "
        f"by hand: {f['half_peak_by_hand']:.4g}); on the attention model, asked to reach "
        f"{numbers['level']:g} nats in {numbers['steps']} steps, the schedule (peak "
        f"{numbers['peak_lr']:.3g}, down to {numbers['final_scheduled_lr']:.3g}) "
        f"{reach(runs['transformer'])} and {_final(runs['transformer'])}; the constant "
        f"η = {numbers['peak_lr']:.3g} {reach(runs['constant'])} and {_final(runs['constant'])}."
    )


def run(out: Path, quick: bool = False) -> Result:
    numbers, values, curves = measure(QUICK_STEPS if quick else STEPS)
    schedule = Path(NAME) / "schedule.png"
    plot_schedule(
        values,
        out / schedule,
        title=superscripts(
            f"lrate = {PAPER_D_MODEL}^−0.5·min(n^−0.5, n·{PAPER_WARMUP}^−1.5), n = step_num"
        ),
        warmup_end=PAPER_WARMUP - 1,
        ylabel="lrate",
    )
    loss = Path(NAME) / "loss.png"
    peak = numbers["peak_lr"]
    plot_curves(
        {
            f"Adam, transformer schedule (d_model {D_MODEL}, warmup {WARMUP})": curves[
                "transformer"
            ],
            f"Adam, constant η = {peak:.3g} (the schedule's peak)": curves["constant"],
        },
        out / loss,
        title="Evaluation loss of the attention model reversing 8 tokens",
        ylabel="cross-entropy (nats per token)",
        logy=True,
    )
    return conclude(__name__, numbers, [schedule, loss])
