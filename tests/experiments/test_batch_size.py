"""The batch-size experiment: a quick run gives the lecture's six rows with figures and JSON
numbers; the gradient noise is the sampling theory's; the training rows compare the two sizes
at the same training loss, paired by seed; the verdict counts the rows that hold (held,
partial, not held). No timing is asserted."""

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
    assert r.outcome == batch_size.outcome(r.numbers)
    head = {
        "held": "Reproduced: ",
        "partial": "Partly reproduced: ",
        "not held": "Not reproduced: ",
    }
    assert r.verdict.startswith(head[r.outcome])
    assert r.lecture and r.command.startswith("ravine train --task digits")
    assert {f.name for f in r.figures} == set(r.captions)
    assert [e.name for e in r.evidence] == list(batch_size.TABLE)
    paired = {e.name: e.why for e in r.evidence}["Optimization"]  # quick: 2 seeds
    assert "'better in every one of 2' would happen by chance 1 time in 4" in paired
    assert len(r.figures) == 3
    for figure in r.figures:
        assert not figure.is_absolute() and figure.parts[0] == "batch-size"
        assert (out / figure).read_bytes()[:8] == PNG
    text = json.dumps(r.numbers, allow_nan=False)
    assert json.loads(text) == r.numbers
    rows = r.numbers["rows"]
    assert [row["row"] for row in rows] == list(batch_size.TABLE)
    for row in rows:
        assert (row["lecture_small"], row["lecture_large"]) == batch_size.TABLE[row["row"]]
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


def test_training_runs_stop_at_the_same_training_loss(result):
    fit = result[1].numbers["training"]
    assert fit["check"] == 45 and fit["seeds"] == [0, 1] and fit["target"] == 0.1
    for b in ("32", "1438"):
        for seed, run in zip(fit["seeds"], fit["runs"][b], strict=True):
            assert run["seed"] == seed and run["reached"] is True
            assert run["train_loss"] <= 0.1 and run["updates"] % 45 == 0
            assert run["updates"] == 45 * len(run["curve"]) and run["curve"][-1] <= 0.1
            assert all(loss > 0.1 for loss in run["curve"][:-1])  # stopped at the first check
            assert 0 < run["val_loss"] and 0 <= run["val_acc"] <= 1


def test_train_to_loss_stops_on_the_budget():
    run = batch_size.train_to_loss(task("digits"), 1438, 0, target=1e-9, budget=10, check=5)
    assert run["reached"] is False and run["updates"] == 10 and len(run["curve"]) == 2


def _rebuilt(numbers, change):
    """A copy of the numbers with ``change`` applied and the rows recomputed from them."""
    n = copy.deepcopy(numbers)
    change(n)
    n["rows"] = batch_size.lecture_table(n)
    return n


def _every_row_held(n):
    """Numbers under which every row of the table holds, whatever this machine measured."""
    for by_size in n["time"].values():
        by_size["32"].update(update=1.0, epoch=45.0)
        by_size["128"].update(update=1.2, epoch=14.0)
        by_size["1438"].update(update=1.3, epoch=1.3)
    n["time"]["1"]["1438"]["update"] = 2.0  # no parallel: the large update slower
    n["time"]["1"]["1438"]["epoch"] = 2.0
    for seed, (small, large) in enumerate(zip(*n["training"]["runs"].values(), strict=True)):
        small.update(reached=True, updates=180, val_loss=0.10 + seed / 100)
        large.update(reached=True, updates=270, val_loss=0.12 + seed / 100)


def test_outcome_counts_the_rows_that_hold(result):
    numbers = result[1].numbers

    def held(n):
        return {row["row"]: row["holds"] for row in n["rows"]}

    base = _rebuilt(numbers, _every_row_held)
    assert all(held(base).values()) and batch_size.holds(base) is True
    assert batch_size.outcome(base) == "held"
    assert batch_size.verdict(base, True).startswith("Reproduced: 6 of 6 rows")

    def equal_validation(n):  # the large batch as good in one seed: generalization fails
        _every_row_held(n)
        large = n["training"]["runs"]["1438"][1]
        large["val_loss"] = n["training"]["runs"]["32"][1]["val_loss"]

    n = _rebuilt(numbers, equal_validation)
    assert held(n)["Generalization"] is False and held(n)["Optimization"] is True
    assert batch_size.outcome(n) == "partial" and batch_size.holds(n) is False
    assert batch_size.verdict(n, False).startswith("Partly reproduced: 5 of 6 rows")

    def missed_target(n):  # the small batch never reached the target in one seed
        _every_row_held(n)
        n["training"]["runs"]["32"][0]["reached"] = False

    n = _rebuilt(numbers, missed_target)
    assert held(n)["Optimization"] is False and held(n)["Generalization"] is False
    assert "missed the target" in next(r["note"] for r in n["rows"] if r["row"] == "Generalization")

    def large_update_slower_with_threads(n):  # with parallel: 3× the small update
        _every_row_held(n)
        many = str(n["threads_parallel"])
        n["time"][many]["1438"]["update"] = 3.0

    n = _rebuilt(numbers, large_update_slower_with_threads)
    if numbers["threads_parallel"] > 1:
        assert held(n)["Speed for one update (with parallel)"] is False

    def nothing(n):  # every row the wrong way round
        for by_size in n["time"].values():
            by_size["32"].update(update=5.0, epoch=1.0)
            by_size["1438"].update(update=1.0, epoch=2.0)
        n["noise"]["measured"]["1438"] = n["noise"]["measured"]["128"]
        for small, large in zip(*n["training"]["runs"].values(), strict=True):
            small.update(reached=True, updates=300, val_loss=0.2)
            large.update(reached=True, updates=100, val_loss=0.1)

    n = _rebuilt(numbers, nothing)
    assert not any(held(n).values()) and batch_size.outcome(n) == "not held"
    assert batch_size.verdict(n, False).startswith("Not reproduced: 0 of 6 rows")


def _hand_numbers():
    """Numbers shaped like a full run's on a two-core machine: the rows recomputed from them."""

    def timed(update_small, update_large, epoch_small, update_8, update_128):
        return {
            "8": {"update": update_8, "epoch": 0.05},
            "32": {"update": update_small, "epoch": epoch_small},
            "128": {"update": update_128, "epoch": 0.004},
            "1438": {"update": update_large, "epoch": update_large},
        }

    def runs(updates, val_loss):
        return [
            {"reached": True, "updates": u, "val_loss": v, "val_acc": 0.97, "train_loss": 0.018}
            for u, v in zip(updates, val_loss, strict=True)
        ]

    sizes = ["1", "8", "32", "128", "1438"]
    measured = dict(zip(sizes, [4.9, 0.6, 0.153, 0.036, 6.7e-33], strict=True))
    theory = dict(zip(sizes, [4.9, 0.61, 0.15, 0.035, 0.0], strict=True))
    numbers = {
        "task": "digits",
        "small": 32,
        "large": 1438,
        "train_size": 1438,
        "threads_parallel": 2,
        "cpu_count": 2,
        "load_average": 1.2,
        "same_factor": 1.5,
        "theory_tolerance": 0.25,
        "time": {
            "1": timed(0.000302, 0.00117, 0.0136, 0.0003, 0.00035),
            "2": timed(0.000593, 0.000909, 0.0267, 0.0004, 0.0007),
        },
        "noise": {"measured": measured, "theory": theory, "sigma2": 4.9},
        "training": {
            "target": 0.02,
            "runs": {"32": runs([540, 630, 540, 585], [0.076, 0.09, 0.094, 0.09]),
                     "1438": runs([450] * 4, [0.0869, 0.0917, 0.088, 0.0898])},
        },
    }  # fmt: skip
    numbers["rows"] = batch_size.lecture_table(numbers)
    return numbers


def test_verdict_words_the_rows_without_python_or_empty_ranges():
    n = _hand_numbers()
    text = batch_size.verdict(n, False)
    assert text.startswith("Partly reproduced: 3 of 6 rows of the lecture's table hold here")
    assert "Speed for one update (no parallel), lecture Faster/Slower: 0.000302 vs " in text
    assert "cost within 1.5× of B = 8 on 1 thread (up to 32 on 2 threads)" in text
    assert "the full batch's update took 1.53× the small batch's (the same: within 1.5×" in text
    assert "holds: the noise falls as B grows; measured within" in text
    assert "0 to rounding at B = N;" in text
    assert "updates 574 (540–630) vs 450 in every seed;" in text
    assert "validation loss at training loss ≤ 0.02" in text
    for odd in (": yes", "450 (450–450)", "6.7e-33 at B = N", "<=", "(32 on 2)", "(Faster/"):
        assert odd not in text
    n["training"]["runs"]["32"][0]["reached"] = False
    n["rows"] = batch_size.lecture_table(n)
    assert "; 1 seed where a size missed the target" in batch_size.verdict(n, False)


def test_updates_in_every_seed_read_as_words():
    n = _hand_numbers()
    n["training"]["runs"]["32"] = [dict(r, updates=180) for r in n["training"]["runs"]["32"]]
    n["rows"] = batch_size.lecture_table(n)
    text = batch_size.verdict(n, False)
    assert "updates 180 in every seed vs 450 in every seed;" in text
    assert "seed updates" not in text


def test_the_noise_axis_is_drawn_as_math(tmp_path):
    import matplotlib.pyplot as plt

    assert batch_size.NOISE_LABEL.startswith("$") and "g_B" in batch_size.NOISE_LABEL
    fig, ax = plt.subplots()
    ax.set_ylabel(batch_size.NOISE_LABEL)
    fig.savefig(tmp_path / "noise.png")  # mathtext that does not parse raises here
    plt.close(fig)


def test_the_chance_of_a_paired_win_is_computed_from_the_seeds_run():
    """A quick run pairs 2 seeds (chance 1 in 4), a full one 4 (1 in 16): the why says which."""
    for seeds, chance in (((0, 1), "4"), ((0, 1, 2, 3), "16")):
        numbers = {"training": {"seeds": list(seeds)}}
        optimization = batch_size.why("Optimization", numbers)
        generalization = batch_size.why("Generalization", numbers)
        assert f"'better in every one of {len(seeds)}'" in optimization
        assert optimization.endswith(f"by chance 1 time in {chance}")
        assert generalization.endswith(
            f"every one of {len(seeds)} seeds, paired, so chance passes 1 time in {chance}"
        )
        assert "^" not in generalization
