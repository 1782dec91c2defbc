"""``ravine schedule SPEC [--lr BASE] --steps N [--plot FILE.png] [--json]``: the values of a
learning-rate schedule, η^t = η · f(t) for t = 0 … N−1."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import schedules
from .arguments import add_json, add_plot, add_steps, positive_number, schedule_spec

NAME = "schedule"
HELP = "the values of a learning-rate schedule"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``SPEC``, ``--lr``, ``--steps``, ``--plot``, ``--json``."""
    parser.add_argument(
        "spec",
        metavar="SPEC",
        type=schedule_spec,
        help="e.g. 'linear-warmup:steps=500 >> cosine:steps=9500' or "
        f"'transformer:d_model=512,warmup=4000'; names: {', '.join(schedules.SCHEDULES)}",
    )
    parser.add_argument("--lr", type=positive_number, default=1.0, help="base η (default 1)")
    add_steps(parser, None, "steps to show", metavar=None)
    add_plot(parser, "save a plot of η^t")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    """Print η^t for the first ``--steps`` steps (text or JSON), plotted with ``--plot``."""
    found = values(args.spec, args.lr, args.steps)
    if args.plot:
        from ..report.plots import plot_schedule, superscripts

        # the formula's powers (0.5^⌊t/10⌋, (t+1)^−0.5) raised, not carets
        formula = superscripts(args.spec.formula())
        title = f"$\\eta^t$ = {args.lr:g} × {args.spec.spec}\n{formula}"
        plot_schedule(found["values"], args.plot, title=title, warmup_end=found["warmup_end"])
    if args.json:
        print(json.dumps(found))
        return 0
    print(text(args.spec, found))
    if args.plot:
        print(f"  plot: {args.plot}")
    return 0


def values(schedule: schedules.Schedule, lr: float, steps: int) -> dict[str, Any]:
    """η^t = ``lr`` · f(t) for t = 0 … ``steps`` − 1, with its peak and where warm-up ends."""
    rates = [lr * m for m in schedule.values(steps)]
    peak = max(range(len(rates)), key=rates.__getitem__)
    return {
        "spec": schedule.spec,
        "lr": lr,
        "steps": steps,
        "values": rates,
        "peak": {"step": peak, "value": rates[peak]},
        "warmup_end": schedule.warmup_end,
    }


def text(schedule: schedules.Schedule, found: dict[str, Any]) -> str:
    """The spec, the formula, the peak, η^t at five steps and a note for a metric-driven one."""
    rates, steps, peak = found["values"], found["steps"], found["peak"]
    warmup_end = found["warmup_end"]
    ends = "" if warmup_end is None else f"; warm-up ends at step {warmup_end}"
    marks = sorted({0, steps // 4, steps // 2, 3 * steps // 4, steps - 1})
    lines = [
        f"{schedule.spec}",
        f"  η^t = {found['lr']:g} × {times(schedule.formula())}",
        f"  peak {peak['value']:.6g} at step {peak['step']}{ends}",
        "  " + "   ".join(f"t={t}: {rates[t]:.4g}" for t in marks),
    ]
    if schedule.metric_driven:
        lines.append("  (metric-driven: without observed metrics the rate stays where it starts)")
    return "\n".join(lines)


def times(formula: str) -> str:
    """``formula`` as the right operand of η ×: in parentheses when it is a sum (a term added
    or subtracted outside any parentheses), so that η multiplies all of it. A clause after a
    comma at the top level (", T = …") stays outside."""
    depth, main, rest = 0, formula, ""
    for index, char in enumerate(formula):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if depth == 0 and formula.startswith(", ", index):
            main, rest = formula[:index], formula[index:]
            break
    depth, summed = 0, False
    for index, char in enumerate(main):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        summed |= depth == 0 and main[index : index + 3] in (" + ", " − ")
    return f"({main}){rest}" if summed else formula
