"""The explorer's presets are the claims' own settings; its menus and checks; its cache."""

from __future__ import annotations

import threading

import pytest

from ravine.experiments import ORDER, adagrad_bursts, base, experiment, momentum, rmsprop, stuck
from ravine.explore import compute, preset, rules
from ravine.explore.presets import presets


def test_each_surface_claim_has_a_preset_from_its_own_constants():
    found = presets()
    assert {"stuck", "tiny-lr", "adagrad-bursts", "rmsprop", "momentum"} <= set(found)
    assert set(found) <= set(ORDER)
    bursts = found["adagrad-bursts"]
    assert (bursts["surface"], bursts["optimizer"]) == ("pokemon", "lecture-adagrad")
    assert (bursts["lr"], bursts["steps"]) == (adagrad_bursts.LR, adagrad_bursts.STEPS)
    assert found["stuck"]["lr"] == stuck.LR
    assert found["rmsprop"]["lr"] == rmsprop.LR and found["rmsprop"]["surface"] == rmsprop.SURFACE
    assert found["momentum"]["parameters"]["lambda"] == momentum.MOMENTUM
    for setting in found.values():
        rules.settings({k: v for k, v in setting.items() if k != "title"})  # each one runs


def test_unknown_preset_is_one_line():
    with pytest.raises(ValueError, match="unknown preset 'nope'; valid: stuck"):
        preset("nope")


def test_the_report_says_how_to_explore_surface_claims_only():
    for name in ORDER:
        module = experiment(name)
        line = base.explore_command(module)
        if name in presets():
            assert line == f"ravine explore --preset {name}"
        else:
            assert line == ""  # a claim on a network: its COMMAND re-runs it
            assert getattr(module, "COMMAND", "") or name in ("general-guide",)


def test_every_named_optimizer_fills_in_parts_the_page_offers():
    options = rules.choices()
    for name, filled in options["named"].items():
        assert filled["direction"] in rules.DIRECTIONS and filled["magnitude"] in rules.MAGNITUDES
        assert filled["lr"] > 0, name
    for template in options["schedules"].values():
        rules.settings(
            {"surface": "valley", "optimizer": "gd", "lr": 1e-2, "steps": 5, "schedule": template}
        )


def test_lr_grid_holds_the_lectures_values_exactly():
    grid = rules.lr_grid()
    assert len(grid) == 73 and grid[0] == pytest.approx(1e-8) and grid[-1] == 10.0
    assert {1e-7, 1e-2, 1.0} <= set(grid)


def test_cache_is_bounded_and_prefetch_fills_it_in_order():
    done = threading.Event()
    computed = []

    def fake(found, stop=None):
        computed.append(found.lr)
        if len(computed) == 4:
            done.set()
        return {"lr": found.lr}

    answers = compute.Answers(limit=2, compute=fake)
    first = rules.settings({"surface": "valley", "optimizer": "gd", "lr": 1e-2, "steps": 10})
    assert answers.get(first) == ({"lr": 1e-2}, False)
    assert answers.get(first) == ({"lr": 1e-2}, True)
    grid = rules.lr_grid()
    answers.prefetch(compute.neighbours(first, grid, reach=2)[:3])
    assert done.wait(60)
    answers.close()
    here = grid.index(1e-2)
    assert computed == [1e-2, grid[here + 1], grid[here - 1], grid[here + 2]]
    # 4 answers of size 1 (a one-key dict) are over the limit of 2: the newest two are kept
    assert first not in answers
    assert first.with_lr(grid[here + 2]) in answers


def test_a_background_run_no_longer_wanted_is_stopped():
    from ravine.surfaces import Stopped

    running, stopped = threading.Event(), threading.Event()

    def slow(found, stop=None):
        running.set()
        while not stop():
            pass
        stopped.set()
        raise Stopped("no longer wanted")

    answers = compute.Answers(compute=slow)
    first = rules.settings({"surface": "valley", "optimizer": "gd", "lr": 1e-2, "steps": 10})
    answers.prefetch([first.with_lr(1e-3)])
    assert running.wait(60)
    answers.prefetch([first.with_lr(1e-4)])  # the page moved on: 1e-3 is not queued any more
    assert stopped.wait(60)
    answers.close()
    assert first.with_lr(1e-3) not in answers
