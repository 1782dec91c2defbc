"""The batch-size experiment: a quick run gives the lecture's six rows with figures and JSON
numbers; the gradient noise is the sampling theory's; the verdict needs the mechanics rows
(epoch time, gradient noise) and only reports the others. No timing is asserted."""

import copy
import dataclasses
import json
import math

import pytest
import torch

from ravine.experiments import ORDER, batch_size, experiment
from ravine.tasks import task
from ravine.training import split

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch-size")
    return out, batch_size.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["batch-size"] == "batch_size"
    assert experiment("batch-size") is batch_size
    names = list(ORDER)
    assert names.index("batch-size") < names.index("momentum")


def test_quick_run_has_the_six_rows_figures_and_json_numbers(result):
    out, r = result
    assert r.name == "batch-size" and r.title and r.claim
    assert r.reproduced is batch_size.holds(r.numbers)
    assert r.verdict.startswith("Reproduced: " if r.reproduced else "Not reproduced: ")
    assert len(r.figures) == 3
    for figure in r.figures:
        assert not figure.is_absolute() and figure.parts[0] == "batch-size"
        assert (out / figure).read_bytes()[:8] == PNG
    text = json.dumps(r.numbers, allow_nan=False)
    assert json.loads(text) == r.numbers
    rows = r.numbers["rows"]
    assert [row["row"] for row in rows] == list(batch_size.LECTURE)
    for row in rows:
        assert (row["lecture_small"], row["lecture_large"]) == batch_size.LECTURE[row["row"]]
        assert isinstance(row["holds"], bool) and row["note"] and row["unit"]
        assert math.isfinite(row["measured_small"]) and math.isfinite(row["measured_large"])
        assert row["row"] in r.verdict


def test_sizes_and_split(result):
    n = result[1].numbers
    train_idx, val_idx = split(1797, 0.2, 0)
    assert n["train_size"] == len(train_idx) == 1438 and len(val_idx) == 359
    assert n["large"] == 1438 and n["small"] == 32
    assert n["sizes"] == [1, 8, 32, 128, 1438]
    assert n["parameters"] == 64 * 64 + 64 + 64 * 10 + 10
    for by_size in n["time"].values():
        assert sorted(by_size, key=int) == ["32", "128", "1438"]  # the quick run's
        for seconds in by_size.values():
            assert seconds["update"] > 0 and seconds["epoch"] >= seconds["update"]


def test_gradient_noise_follows_the_sampling_theory(result):
    noise = result[1].numbers["noise"]
    sigma2 = noise["sigma2"]
    assert noise["theory"]["1"] == pytest.approx(sigma2)
    assert noise["theory"]["1438"] == 0.0
    for b in ("1", "8", "32", "128"):
        # 30 batches: the sample mean of ‖g_B − g‖² is within 25% of its expectation
        assert noise["measured"][b] == pytest.approx(noise["theory"][b], rel=0.25)
    assert noise["measured"]["1438"] < 1e-20 * sigma2  # the whole set: g itself, up to rounding
    gradient = next(row for row in result[1].numbers["rows"] if row["row"] == "Gradient")
    assert gradient["holds"] is True


def test_noise_theory_by_hand():
    assert batch_size.noise_theory(2.0, 1, 10) == 2.0
    assert batch_size.noise_theory(2.0, 4, 10) == pytest.approx(2.0 / 4 * 6 / 9)
    assert batch_size.noise_theory(2.0, 10, 10) == 0.0
    for b in (0, 11):
        with pytest.raises(ValueError, match=f"batch size must be in \\[1, 10\\].*got {b}"):
            batch_size.noise_theory(2.0, b, 10)


def test_batch_gradient_is_the_mean_of_per_example_gradients():
    digits = task("digits")
    model = digits.model(0).to(torch.float64)
    wide = dataclasses.replace(digits, inputs=digits.inputs.to(torch.float64))
    idx = torch.arange(0, 40, 3)
    each = batch_size.per_example_gradients(model, wide, idx)
    assert each.shape == (len(idx), digits.parameters)
    torch.testing.assert_close(
        batch_size.batch_gradient(model, wide, idx), each.mean(0), rtol=1e-12, atol=1e-15
    )
    torch.testing.assert_close(batch_size.batch_gradient(model, wide, idx[:1]), each[0])


def test_measure_noise_rejects_bad_settings():
    digits = task("digits")
    with pytest.raises(ValueError, match="batches must be a whole number >= 2, got 1"):
        batch_size.measure_noise(digits, [1], 1)
    with pytest.raises(ValueError, match="batch size 2000 is larger than the 1438"):
        batch_size.measure_noise(digits, [2000], 2)


def test_same_cost_by_hand():
    times = {"8": {"update": 1.0}, "32": {"update": 1.4}, "128": {"update": 1.6}, "512": {}}
    times["512"]["update"] = 1.1  # after a slower one: not counted
    assert batch_size.same_cost(times, 1.5) == 32
    assert batch_size.same_cost(times, 2.0) == 512
    assert batch_size.same_cost(times, 1.2) == 8


def _rebuilt(numbers, change):
    """A copy of the numbers with ``change`` applied and the rows recomputed from them."""
    n = copy.deepcopy(numbers)
    change(n)
    n["rows"] = batch_size.lecture_table(n)
    return n


def test_criterion_needs_the_mechanics_rows(result):
    numbers = result[1].numbers
    many = str(numbers["threads_parallel"])

    def held(n):
        return {row["row"]: row["holds"] for row in n["rows"]}

    def good(n):  # the mechanics rows made to hold, whatever this machine measured
        n["time"][many]["32"]["epoch"] = 10 * n["time"][many]["1438"]["epoch"]

    base = _rebuilt(numbers, good)
    assert batch_size.holds(base) is True

    def slow_full_epoch(n):
        good(n)
        n["time"][many]["1438"]["epoch"] = 20 * n["time"][many]["32"]["epoch"]

    n = _rebuilt(numbers, slow_full_epoch)
    assert held(n)["Time for one epoch"] is False and batch_size.holds(n) is False

    def noisy_full_batch(n):
        good(n)
        n["noise"]["measured"]["1438"] = n["noise"]["measured"]["128"]

    n = _rebuilt(numbers, noisy_full_batch)
    assert held(n)["Gradient"] is False and batch_size.holds(n) is False

    def off_theory(n):
        good(n)
        n["noise"]["measured"]["8"] = 2 * n["noise"]["theory"]["8"]

    n = _rebuilt(numbers, off_theory)
    assert held(n)["Gradient"] is False and batch_size.holds(n) is False
    assert batch_size.verdict(n, False).startswith("Not reproduced: ")


def test_other_rows_are_reported_not_required(result):
    numbers = result[1].numbers
    many = str(numbers["threads_parallel"])

    def worse_small(n):
        n["time"][many]["32"]["epoch"] = 10 * n["time"][many]["1438"]["epoch"]
        for b in ("32", "1438"):  # the small batch fits and generalizes worse
            for values in n["training"]["grid"][b].values():
                bad = b == "32"
                values["train_loss"] = values["val_loss"] = 2.0 if bad else 0.1
        n["time"]["1"]["32"]["update"] = 2 * n["time"]["1"]["1438"]["update"]  # slower update
        n["time"][many]["1438"]["update"] = 3 * n["time"][many]["32"]["update"]  # not the same

    n = _rebuilt(numbers, worse_small)
    held = {row["row"]: row["holds"] for row in n["rows"]}
    assert held == {
        "Speed for one update (no parallel)": False,
        "Speed for one update (with parallel)": False,
        "Time for one epoch": True,
        "Gradient": True,
        "Optimization": False,
        "Generalization": False,
    }
    assert batch_size.holds(n) is True


def test_with_parallel_counts_within_the_factor_either_way(result):
    numbers = result[1].numbers
    many = str(numbers["threads_parallel"])
    for ratio, same in ((1.4, True), (1 / 1.4, True), (1.6, False), (1 / 1.6, False)):

        def set_ratio(n, ratio=ratio):
            n["time"][many]["1438"]["update"] = ratio * n["time"][many]["32"]["update"]

        n = _rebuilt(numbers, set_ratio)
        row = next(r for r in n["rows"] if r["row"] == "Speed for one update (with parallel)")
        assert row["holds"] is same, ratio
