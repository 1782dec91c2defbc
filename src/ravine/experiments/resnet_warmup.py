"""ResNet's warm-up: η = 0.01 until the training error falls below 80%, then η = 0.1 —
against starting at 0.1 directly, and against 0.01 throughout.

He et al. (2016, the residual-network paper, section 4.2, quoted by the lecture) found the
initial η = 0.1 "slightly too large to start converging" for their 110-layer network on
CIFAR-10, so they trained at 0.01 until the training error was below 80% (about 400
iterations) and then went back to 0.1; in a footnote, starting at 0.1 also converged, after
several epochs, to similar accuracy.

Here, at a scale this machine runs in seconds: scikit-learn's digits (8×8 images, 10 classes),
a seeded split of 1,437 for training and 360 for validation; a residual network of the paper's
kind for vectors — a stem Linear(64, 32)–BN–ReLU, ``BLOCKS`` residual blocks
h ← ReLU(h + BN(W2·ReLU(BN(W1·h)))) of width 32, and a linear read-out to the 10 logits
(20 weight layers, as ResNet-20); cross-entropy; the paper's optimizer, SGD with momentum 0.9
and weight decay 10⁻⁴, mini-batches of 128, ``STEPS`` steps. Three schedules, each run from the
same initial weights on the same batches, for each seed of SEEDS:

- ``warm-up``: ravine.schedules.resnet_warmup (0.01 → 0.1), which observes each batch's
  training error (measured on that batch before its update) and switches from the next step;
- ``0.1``: η = 0.1 from the first step;
- ``0.01``: η = 0.01 throughout (for context).

Measured per run: the early spike, the largest batch loss over the first ``EARLY`` steps over
the first batch's loss; the first step whose batch error is below 80%; the final training loss
(mean batch loss over the last 10% of steps); the final validation accuracy.

The criterion, fixed before the runs (means over the seeds):

- 0.1 from the start is unstable early: its early spike > ``SPIKE`` = 1.5 (the loss climbed
  half again above where it started: a climb, not a wobble between batches), or it takes at
  least twice as many steps as the warm-up to get the error below 80% (the paper's "slow to
  start converging");
- the warm-up is not: its early spike ≤ ``SPIKE``;
- the warm-up ends at least as well: its final validation accuracy is at most ``SLACK`` = 1
  percentage point below that of 0.1 (about 4 of 360 images).

Held: all three. Partial: the warm-up is stable and ends as well, but 0.1 was not unstable
here — nothing to avoid at this depth and scale. Not held: the warm-up is unstable itself or
ends worse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..optim import SGD
from ..report.plots import plot_curves
from ..schedules import Scheduler, resnet_warmup
from ..tasks import digits_data
from .base import OPENING, Evidence, Result, conclude, torch_threads
from .wording import by_seed, count, join, plural, rise

NAME = "resnet-warmup"
TITLE = "ResNet's warm-up: η = 0.01 until the training error is below 80%, then 0.1"
CLAIM = (
    "A residual network started at η = 0.1 can be too unstable to start converging; warming up "
    "at η = 0.01 until the training error falls below 80%, then going back to 0.1, avoids the "
    "early trouble and ends at least as well."
)
LECTURE = (
    "Warm up 在远古时代就有了：Residual Network 先用 learning rate 0.01 暖身 (warm up)，直到 "
    "training error 低于 80%，再把 learning rate 改成 0.1；一开始就用 0.1 反而 train 不好 "
    "(slightly too large to start converging)。"
)
# No command builds a residual network, and `ravine train` feeds a metric-driven schedule the
# epoch's loss rather than the batch error, so the setting is re-run by the experiment itself.
COMMAND = "ravine reproduce --only resnet-warmup --out resnet-warmup"
CAPTIONS = {  # early-loss: replaced by :func:`captions`, which says what the run did
    "early-loss.png": (
        "The batch loss over the first steps, seed 0, with the warm-up's η (dashed, right axis): "
        "look for a climb above the starting loss at η = 0.1, and at what the loss does just "
        "after the warm-up jumps to 0.1 (its batch error fell below 80%)."
    ),
    "loss.png": (
        "The batch loss over the whole run, seed 0, smoothed over 10 steps: where each schedule "
        "ends; 0.01 throughout is shown for context."
    ),
}

WIDTH, BLOCKS = 32, 9
BATCH, STEPS, QUICK_STEPS = 128, 150, 60
SEEDS, QUICK_SEEDS = (0, 1), (0,)
MOMENTUM, WEIGHT_DECAY = 0.9, 1e-4  # the paper's
EARLY = 30  # steps over which the early spike is measured
SPIKE = 1.5  # an early spike above this is instability
SLACK = 0.01  # the warm-up may end at most this much accuracy below 0.1
VALIDATION = 360
RUNS = ("warm-up", "0.1", "0.01")


class Block(nn.Module):
    """h ← ReLU(h + BN(W2·ReLU(BN(W1·h)))): the residual network's basic block, for vectors."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.first, self.second = nn.Linear(width, width), nn.Linear(width, width)
        self.norm1, self.norm2 = nn.BatchNorm1d(width), nn.BatchNorm1d(width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        inner = torch.relu(self.norm1(self.first(h)))
        return torch.relu(h + self.norm2(self.second(inner)))


def residual_network(seed: int) -> nn.Module:
    """Stem, BLOCKS residual blocks of WIDTH, read-out; initialized from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        stem = [nn.Linear(64, WIDTH), nn.BatchNorm1d(WIDTH), nn.ReLU()]
        blocks = [Block(WIDTH) for _ in range(BLOCKS)]
        return nn.Sequential(*stem, *blocks, nn.Linear(WIDTH, 10))


def train(kind: str, steps: int, seed: int) -> dict[str, Any]:
    """One run: batch losses and errors per step, η per step, the switch step, and the
    final validation accuracy."""
    x, y = digits_data()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[:-VALIDATION], order[-VALIDATION:]
    batches = torch.Generator().manual_seed(seed + 1)
    model = residual_network(seed)
    lr = 1.0 if kind == "warm-up" else float(kind)
    optimizer = SGD(model.parameters(), lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    schedule = resnet_warmup(low=0.01, high=0.1, threshold=0.8) if kind == "warm-up" else None
    scheduler = Scheduler(optimizer, schedule) if schedule is not None else None
    losses, errors, rates = [], [], []
    model.train()
    for _ in range(steps):
        pick = train_idx[torch.randint(len(train_idx), (BATCH,), generator=batches)]
        logits = model(x[pick])
        loss = nn.functional.cross_entropy(logits, y[pick])
        error = float((logits.argmax(-1) != y[pick]).float().mean())  # before the update
        rates.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        errors.append(error)
        if scheduler is not None:
            scheduler.step(error)  # the training error the switch listens to
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x[val_idx]).argmax(-1) == y[val_idx]).float().mean())
    switched = None if schedule is None else schedule.switched_at
    return {
        "losses": losses,
        "errors": errors,
        "rates": rates,
        "switched_at": switched,
        "accuracy": accuracy,
    }


def summarize(trained: dict[str, Any], early: int = EARLY) -> dict[str, Any]:
    """A run's numbers from its batch losses and errors."""
    losses, errors = trained["losses"], trained["errors"]
    tail = max(1, len(losses) // 10)
    below = next((t for t, e in enumerate(errors) if e < 0.8), None)
    return {
        "first_loss": losses[0],
        "early_spike": max(losses[:early]) / losses[0],
        "steps_to_error_below_80": below,
        "switched_at": trained["switched_at"],
        "final_loss": sum(losses[-tail:]) / tail,
        "final_accuracy": trained["accuracy"],
    }


def measure(steps: int = STEPS, seeds=SEEDS):
    """Every schedule on every seed; per-seed numbers, their means, and seed 0's curves."""
    per_seed, curves = [], {}
    with torch_threads(1):
        for seed in seeds:
            runs = {}
            for kind in RUNS:
                trained = train(kind, steps, seed)
                runs[kind] = summarize(trained)
                if seed == seeds[0]:
                    curves[kind] = trained
            per_seed.append({"seed": seed, "runs": runs})
    means = {
        kind: {
            key: sum(s["runs"][kind][key] for s in per_seed) / len(per_seed)
            for key in ("early_spike", "final_loss", "final_accuracy")
        }
        for kind in RUNS
    }
    for kind in RUNS:  # a run that never got below 80% counts as `steps`
        reached = [s["runs"][kind]["steps_to_error_below_80"] for s in per_seed]
        means[kind]["steps_to_error_below_80"] = sum(steps if r is None else r for r in reached)
        means[kind]["steps_to_error_below_80"] /= len(per_seed)
    numbers = {
        "task": "digits, 1,437 training and 360 validation images",
        "model": f"residual network, {BLOCKS} blocks of width {WIDTH}, batch norm",
        "optimizer": f"SGD, momentum {MOMENTUM}, weight decay {WEIGHT_DECAY:g}, batch {BATCH}",
        "steps": steps,
        "seeds": list(seeds),
        "early_steps": EARLY,
        "spike_limit": SPIKE,
        "slack": SLACK,
        "per_seed": per_seed,
        "means": means,
    }
    return numbers, curves


def _large_unstable(numbers: dict[str, Any]) -> bool:
    large, warm = numbers["means"]["0.1"], numbers["means"]["warm-up"]
    return bool(
        large["early_spike"] > numbers["spike_limit"]
        or large["steps_to_error_below_80"] >= 2 * max(warm["steps_to_error_below_80"], 1)
    )


def _warmup_stable(numbers: dict[str, Any]) -> bool:
    return numbers["means"]["warm-up"]["early_spike"] <= numbers["spike_limit"]


def _ends_as_well(numbers: dict[str, Any]) -> bool:
    means = numbers["means"]
    return means["warm-up"]["final_accuracy"] >= means["0.1"]["final_accuracy"] - numbers["slack"]


def outcome(numbers: dict[str, Any]) -> str:
    """Held, partial or not held, as the module doc says."""
    if not (_warmup_stable(numbers) and _ends_as_well(numbers)):
        return "not held"
    return "held" if _large_unstable(numbers) else "partial"


def holds(numbers: dict[str, Any]) -> bool:
    return outcome(numbers) == "held"


def evidence(numbers: dict[str, Any]) -> list[Evidence]:
    m, limit = numbers["means"], numbers["spike_limit"]
    spike_why = "a loss half again above its start is a climb, not a wobble between batches"
    return [
        Evidence(
            f"η = 0.1 from the start: early spike (largest loss in {numbers['early_steps']} "
            "steps / first loss)",
            round(m["0.1"]["early_spike"], 3),
            "×",
            threshold=f"> {limit:g}, or twice the warm-up's steps to error < 80%",
            why=spike_why + "; the paper's 0.1 was slow to start converging",
            holds=_large_unstable(numbers),
        ),
        Evidence(
            "η = 0.1 from the start / warm-up: steps to a batch error below 80%",
            f"{count(m['0.1']['steps_to_error_below_80'])} / "
            f"{count(m['warm-up']['steps_to_error_below_80'])}",  # a mean over seeds
            "steps",
            why="the paper's footnote: at 0.1 it starts converging only after several epochs",
        ),
        Evidence(
            "warm-up: early spike",
            round(m["warm-up"]["early_spike"], 3),
            "×",
            threshold=f"≤ {limit:g}",
            why=spike_why,
            holds=_warmup_stable(numbers),
        ),
        Evidence(
            "final validation accuracy, warm-up vs 0.1 (0.01 throughout)",
            f"{m['warm-up']['final_accuracy']:.1%} vs {m['0.1']['final_accuracy']:.1%} "
            f"({m['0.01']['final_accuracy']:.1%})",
            threshold=f"warm-up ≥ 0.1's − {numbers['slack']:.0%}",
            why="about 4 of 360 images: a difference smaller than that is not 'worse'",
            holds=_ends_as_well(numbers),
        ),
    ]


def verdict(numbers: dict[str, Any], reproduced: bool) -> str:
    m, seeds = numbers["means"], numbers["seeds"]

    def each(kind: str, key: str) -> str:
        return by_seed([s["runs"][kind][key] for s in numbers["per_seed"]], seeds)

    reasons = []
    if not _large_unstable(numbers):
        reasons.append("η = 0.1 was not unstable here, so the warm-up had nothing to avoid")
    if not _warmup_stable(numbers):
        reasons.append(f"the warm-up itself climbed above ×{numbers['spike_limit']:g}")
    if not _ends_as_well(numbers):
        gap = m["0.1"]["final_accuracy"] - m["warm-up"]["final_accuracy"]
        reasons.append(
            f"the warm-up ended {100 * gap:.1f} percentage points below 0.1, more than the "
            f"{100 * numbers['slack']:g} allowed"
        )
    why = "" if not reasons else " — " + "; ".join(reasons)
    mean = "" if len(seeds) == 1 else " (mean over the seeds)"
    spike = {k: rise(m[k]["early_spike"], "its first loss") for k in ("0.1", "warm-up")}
    return (
        f"{OPENING[outcome(numbers)]}: over {plural(len(seeds), 'seed')} ({join(seeds)}) and "
        f"{numbers['steps']:,} steps, η = 0.1 from the start {spike['0.1']} in the first "
        f"{numbers['early_steps']} steps{mean if spike['0.1'].startswith('rose') else ''} and "
        f"got the batch error below 80% {each('0.1', 'steps_to_error_below_80')}; the warm-up "
        f"{spike['warm-up']}{mean if spike['warm-up'].startswith('rose') else ''}, got the "
        f"batch error below 80% {each('warm-up', 'steps_to_error_below_80')}, switched to 0.1 "
        f"{each('warm-up', 'switched_at')}, and ended at "
        f"{m['warm-up']['final_accuracy']:.1%} validation accuracy against "
        f"{m['0.1']['final_accuracy']:.1%} for 0.1 and {m['0.01']['final_accuracy']:.1%} for "
        f"0.01 throughout{why}."
    )


def _smooth(values: list[float], width: int = 10) -> list[float]:
    """The mean of the last ``width`` values at each step (fewer at the start)."""
    windows = [values[max(0, t - width + 1) : t + 1] for t in range(len(values))]
    return [sum(w) / len(w) for w in windows]


def run(out: Path, quick: bool = False) -> Result:
    steps, seeds = (QUICK_STEPS, QUICK_SEEDS) if quick else (STEPS, SEEDS)
    numbers, curves = measure(steps, seeds)
    labels = {
        "warm-up": "warm-up 0.01 → 0.1",
        "0.1": "η = 0.1 from the start",
        "0.01": "η = 0.01 throughout",
    }
    early = Path(NAME) / "early-loss.png"
    shown = min(steps, 2 * EARLY)
    plot_curves(
        {labels[k]: c["losses"][:shown] for k, c in curves.items()},
        out / early,
        title=f"Residual network on digits: batch loss over the first {shown} steps (seed 0)",
        ylabel="cross-entropy of the batch",
        right={f"η, {labels['warm-up']}": curves["warm-up"]["rates"][:shown]},
        right_label="η",
    )
    whole = Path(NAME) / "loss.png"
    plot_curves(
        {labels[k]: _smooth(c["losses"]) for k, c in curves.items()},
        out / whole,
        title="Batch loss, smoothed over 10 steps (seed 0)",
        ylabel="cross-entropy of the batch",
        logy=True,
    )
    return conclude(__name__, numbers, [early, whole], captions=captions(numbers))


def captions(numbers: dict[str, Any]) -> dict[str, str]:
    """The early-loss caption, saying what seed 0's runs did in their first steps: whether η =
    0.1 climbed above its starting loss (and how far), and when the warm-up switched."""
    first = numbers["per_seed"][0]["runs"]
    large, warm = first["0.1"], first["warm-up"]
    steps = numbers["early_steps"]
    if large["early_spike"] > 1:
        climb = f"at η = 0.1 it climbs to {large['early_spike']:.2f}× its starting loss"
    else:
        climb = "at η = 0.1 it never climbs above its starting loss"
    if warm["switched_at"] is None:
        switch = "the warm-up never reached a batch error below 80%, so η stays 0.01"
    else:
        switch = (
            f"the warm-up jumps to 0.1 at step {warm['switched_at']:,} (its batch error fell "
            "below 80%): look at what the loss does just after"
        )
    return {
        "early-loss.png": (
            "The batch loss over the first steps, seed 0, with the warm-up's η (dashed, right "
            f"axis): within the first {steps} steps {climb}; {switch}."
        )
    }
