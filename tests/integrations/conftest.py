"""The fixture of the four runs (see trainer_runs.py) for both trainers' tests."""

from __future__ import annotations

import pytest
from trainer_runs import RUNS, Run


@pytest.fixture(params=RUNS, ids=[run.name for run in RUNS])
def run(request) -> Run:
    return request.param
