"""Running the experiments in worker processes gives the results of running them in turn."""

from __future__ import annotations

import pytest

from ravine import experiments
from ravine.report import jsonable

CHEAP = ["tiny-lr", "stuck", "normalization"]


def _numbers(results):
    return [(r.name, r.outcome, jsonable(r.numbers), [str(f) for f in r.figures]) for r in results]


def test_parallel_runs_give_the_sequential_results(tmp_path):
    seen = []
    in_turn = experiments.run_all(tmp_path / "one", only=CHEAP, quick=True)
    at_once = experiments.run_all(
        tmp_path / "two",
        only=CHEAP,
        quick=True,
        jobs=2,
        progress=lambda name, done, total: seen.append((done, total)),
    )
    assert [r.name for r in at_once] == CHEAP  # the lecture's order, whatever finished first
    assert _numbers(at_once) == _numbers(in_turn)
    assert seen[-1] == (3, 3) and (0, 3) in seen
    assert seen.count((3, 3)) == 1  # "3/3 done" once
    for result in at_once:
        for figure in result.figures:
            assert (tmp_path / "two" / figure).is_file()


def test_jobs_must_be_a_whole_number():
    with pytest.raises(ValueError, match="jobs must be an integer >= 1, got 0"):
        experiments.run_all(None, only=CHEAP, jobs=0)


def test_the_longest_experiments_start_first_and_the_others_keep_their_order():
    assert set(experiments.LONGEST_FIRST) <= set(experiments.ORDER)
    started = experiments.longest_first(["stuck", "general-guide", "tiny-lr", "minimum-ratio"])
    assert started == ["minimum-ratio", "general-guide", "stuck", "tiny-lr"]
    assert experiments.longest_first(experiments.ORDER)[: len(experiments.LONGEST_FIRST)] == list(
        experiments.LONGEST_FIRST
    )
