"""The explorer's presets: the setting of each ``ravine reproduce`` claim that lives on an error
surface, as its experiment module declares it (``EXPLORE``, built from the module's own
constants) — so the page opens where the claim was measured, and a constant changed there
changes the preset too.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..experiments import ORDER
from .rules import PARAMETERS, settings


def presets() -> dict[str, dict[str, Any]]:
    """Preset name (the claim's name) → the page's settings, with the claim's title."""
    found = {}
    for name, module_name in ORDER.items():
        module = importlib.import_module(f"ravine.experiments.{module_name}")
        setting = getattr(module, "EXPLORE", None)
        if setting is None:
            continue
        found[name] = {**full(setting), "title": module.TITLE}
    return found


def full(setting: dict[str, Any]) -> dict[str, Any]:
    """A preset's setting with the fields it leaves out at the page's defaults (checked)."""
    given = {
        "schedule": "",
        "start": None,
        "parameters": {},
        **setting,
    }
    given["parameters"] = {
        **{key: spec["default"] for key, spec in PARAMETERS.items()},
        **given["parameters"],
    }
    settings(given)  # a preset that the page would refuse is a bug: fail loudly
    return given


def preset(name: str) -> dict[str, Any]:
    """The preset called ``name``; ValueError listing the valid names otherwise."""
    known = presets()
    if name not in known:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(known)}")
    return known[name]
