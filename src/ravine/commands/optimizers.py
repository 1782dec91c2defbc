"""``ravine optimizers [--json]``: every optimizer of the catalog as its choice of m, σ and η."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..optim import catalog
from .arguments import add_json

NAME = "optimizers"
HELP = "every optimizer with its m, σ and η"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json``."""
    add_json(parser, "print a JSON list")


def run(args: argparse.Namespace) -> int:
    """Print the catalog (:func:`ravine.optim.catalog.describe` of each name); exit status 0."""
    described = [catalog.describe(name) for name in catalog.CATALOG]
    print(json.dumps(described, indent=2, default=str) if args.json else text(described))
    return 0


def text(described: list[dict[str, Any]]) -> str:
    """The rule, then two lines per optimizer: its name, default η and m; then its σ."""
    width = max(len(d["name"]) for d in described)
    lines = ["θ ← θ − (η^t/σ^t)·m^t   — each optimizer is a choice of m, σ and η", ""]
    for d in described:
        lines.append(f"{d['name']:<{width}}  η={d['lr']:<6g}  {d['direction']}")
        lines.append(f"{'':<{width}}  {'':<8}{d['magnitude']}   [{d['summary']}]")
    return "\n".join(lines)
