"""The fat-or-tall experiment: its networks have the parameter counts of the module doc, the
stacked training equals ``ravine train`` seed by seed, and the test of the claim passes only
when the tall net wins every seed."""

import copy
import json

import pytest

from ravine.experiments import ORDER, experiment, fat_or_tall
from ravine.experiments.deep_networks import train_seeds
from ravine.tasks import task
from ravine.training import train

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("fat-or-tall")
    return out, fat_or_tall.run(out, quick=True)


def test_registered_after_the_piecewise_claim():
    assert list(ORDER)[:2] == ["piecewise-linear", "fat-or-tall"]
    assert experiment("fat-or-tall") is fat_or_tall


def test_stacked_seeds_train_as_ravine_train_does():
    stacked = train_seeds(
        "sinc", "deep:layers=2,units=3", [0, 1], lr=0.01, updates=5, validation=0.2
    )
    assert stacked.parameters == 3 * 2 + 3 * 3 + 3 + 3 + 1
    for index, seed in enumerate([0, 1]):
        alone = train(
            task("sinc", model="deep:layers=2,units=3"),
            "adam",
            lr=0.01,
            batch_size=160,
            epochs=5,
            seed=seed,
        )
        assert stacked.train[index] == pytest.approx(alone.final.train_loss, rel=1e-9)
        assert stacked.val[index] == pytest.approx(alone.final.val_loss, rel=1e-9)
    assert len(stacked.curves["train"]) == 2  # the initial model and the last update


def test_quick_run_compares_equal_parameter_counts(quick):
    out, result = quick
    nets = result.numbers["nets"]
    assert [n["parameters"] for n in nets.values()] == [301, 286, 298]
    assert result.numbers["updates"] == fat_or_tall.UPDATES // 4
    for n in nets.values():
        assert len(n["train"]) == len(n["val"]) == len(fat_or_tall.SEEDS)
        assert n["curves"]["train"][-1] == pytest.approx(sum(n["train"]) / 3)
        assert n["curves"]["train"][-1] < n["curves"]["train"][0]  # training did something
    assert result.outcome == fat_or_tall.outcome(result.numbers)
    assert result.verdict == fat_or_tall.verdict(result.numbers, result.reproduced)
    assert [f.name for f in result.figures] == ["curves.png", "final.png"]
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG and figure.name in result.captions
    json.dumps(result.to_json(), allow_nan=False)


def _numbers(fat, tall):
    nets = {
        fat_or_tall.FAT: {"parameters": 301, "train": fat[0], "val": fat[1]},
        fat_or_tall.TALL: {"parameters": 298, "train": tall[0], "val": tall[1]},
    }
    return {"seeds": [0, 1, 2], "updates": 2000, "nets": nets}


def test_criterion_needs_every_seed():
    fat = ([3e-3, 1.2e-3, 3.5e-3], [4e-3, 1.3e-3, 1.9e-3])
    wins = _numbers(fat, ([1e-3, 1e-3, 1e-3], [1e-3, 1e-3, 1e-3]))
    assert fat_or_tall.holds(wins) and fat_or_tall.outcome(wins) == "held"
    assert all(e.holds for e in fat_or_tall.evidence(wins))
    # lower on the mean, beaten in one seed: partial, and the verdict says the seeds disagree
    mean_only = _numbers(fat, ([1.1e-3, 3.6e-3, 1.2e-3], [1.4e-3, 3.7e-3, 0.7e-3]))
    assert not fat_or_tall.holds(mean_only) and fat_or_tall.outcome(mean_only) == "partial"
    text = fat_or_tall.verdict(mean_only, False)
    assert text.startswith("Partly reproduced: ") and "seeds disagree" in text
    assert "after 2,000 Adam updates — fat, 1 layer × 100 (P = 301): training 0.0026, " in text
    assert "the tall net beat the fat one in 2 of 3 seeds on training loss and in 2 of 3 on " in (
        text
    )
    assert "at about 300 parameters" in text and "~300" not in text
    loses = copy.deepcopy(mean_only)
    loses["nets"][fat_or_tall.TALL].update(train=[5e-3] * 3, val=[5e-3] * 3)
    assert fat_or_tall.outcome(loses) == "not held"
    text = fat_or_tall.verdict(loses, False)  # lost in every seed: the seeds agree
    assert "in 0 of 3 seeds on training loss and in 0 of 3 on validation loss." in text
    assert "seeds disagree" not in text


def test_the_final_caption_names_the_mean_bar():
    assert "a black bar at their mean" in fat_or_tall.CAPTIONS["final.png"]
