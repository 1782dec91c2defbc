"""Schedules from text: the grammar every ``--schedule`` and ``ravine schedule`` take.

    SPEC   := PIECE ( ">>" PIECE )*          pieces run one after another
    PIECE  := FACTOR ( "*" FACTOR )*         factors multiply
    FACTOR := NUMBER | NAME [ ":" KEY=VALUE ( "," KEY=VALUE )* ]

Values are numbers, true/false, words, or lists in brackets: ``multistep:milestones=[30,60]``.
Each piece but the last needs ``steps=``: it says where the next piece begins. Examples:
``linear-warmup:steps=500 >> cosine:steps=9500``, ``transformer:d_model=512,warmup=4000``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from typing import Any

from . import library, metric
from .core import Join, Schedule

SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls
    for cls in (
        library.Constant,
        library.StepDecay,
        library.MultiStep,
        library.Exponential,
        library.InverseTime,
        library.InverseSqrt,
        library.Polynomial,
        library.Cosine,
        library.CosineRestarts,
        library.LinearWarmup,
        library.Transformer,
        library.WarmupCosine,
        library.OneCycle,
        metric.ResNetWarmup,
        metric.Plateau,
    )
}

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def from_spec(spec: str) -> Schedule:
    """Parse ``spec`` (grammar above) into a schedule; ValueError with one clear line if not."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("empty schedule spec; e.g. 'cosine:steps=1000'")
    pieces = [_piece(text.strip(), spec) for text in spec.split(">>")]
    return pieces[0] if len(pieces) == 1 else Join(tuple(pieces))


def _piece(text: str, spec: str) -> Schedule:
    if not text:
        raise ValueError(f"empty piece in schedule spec {spec!r}")
    factors = [f.strip() for f in text.split("*")]
    numbers = [float(f) for f in factors if _NUMBER.match(f)]
    schedules = [_schedule(f) for f in factors if not _NUMBER.match(f)]
    if not schedules:
        raise ValueError(f"piece {text!r} has no schedule, only numbers")
    result = schedules[0]
    for other in schedules[1:]:
        result = result * other
    scale = math.prod(numbers)
    return scale * result if numbers else result


def _schedule(text: str) -> Schedule:
    name, _, rest = text.partition(":")
    name = name.strip()
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; valid: {', '.join(SCHEDULES)}")
    cls = SCHEDULES[name]
    params = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    given: dict[str, Any] = {}
    for item in _split_params(rest) if rest.strip() else []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{name}: expected key=value, got {item.strip()!r}")
        if key not in params:
            raise ValueError(f"{name} has no parameter {key!r}; valid: {', '.join(params)}")
        if key in given:
            raise ValueError(f"{name}: {key} is given twice")
        given[key] = _convert(name, key, value.strip(), hints[key])
    missing = [
        k
        for k, f in params.items()
        if k not in given
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"{name} needs {', '.join(k + '=' for k in missing)}")
    try:
        return cls(**given)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _split_params(text: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return items


def _convert(name: str, key: str, text: str, hint: Any) -> Any:
    """Read ``text`` as the parameter's annotated type (int, float, bool, str, int tuple)."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    kinds = set(typing.get_args(hint)) - {type(None)} if union else {hint}
    where = f"{name}: {key}={text}"
    if any(typing.get_origin(k) is tuple for k in kinds):
        if not (text.startswith("[") and text.endswith("]")):
            raise ValueError(f"{where}: expected a list like [30,60]")
        items = [i.strip() for i in text[1:-1].split(",") if i.strip()]
        return tuple(_convert(name, key, i, int) for i in items)
    if bool in kinds:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError(f"{where}: expected true or false")
    if int in kinds and float not in kinds:
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if _NUMBER.match(text) and float(text).is_integer():
            return int(float(text))  # 1e3 is a whole number of steps
        raise ValueError(f"{where}: expected a whole number")
    if float in kinds:
        if _NUMBER.match(text) or text.lower() in ("inf", "-inf"):
            return float(text)
        raise ValueError(f"{where}: expected a number")
    return text
