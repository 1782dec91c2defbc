"""The catalog's command-line options: each key once."""

from __future__ import annotations

import pytest

from ravine.optim import catalog


def test_a_repeated_option_is_refused():
    with pytest.raises(ValueError, match="--opt momentum is given twice; give each option once"):
        catalog.parse_options("momentum", ["momentum=0.5", "momentum=0.9"])


def test_distinct_options_are_all_kept():
    assert catalog.parse_options("momentum", ["momentum=0.5", "dampening=0.1"]) == {
        "momentum": 0.5,
        "dampening": 0.1,
    }
