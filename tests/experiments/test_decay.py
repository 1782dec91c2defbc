"""The decay experiment in quick mode: η/√(t+1) removes Adagrad's bursts at the price of a
later arrival; cosine and step decay still burst while η^t is large; the outcome is held,
partial or not held from the rows' numbers."""

import copy
import json
import re

import pytest

from ravine.experiments import ORDER, adagrad_bursts, decay, experiment

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("decay")
    return out, decay.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["decay"] == "decay" and experiment("decay") is decay


def test_quick_run_numbers_figures_and_json(quick):
    out, result = quick
    n = result.numbers
    assert result.reproduced is decay.holds(n) is True
    assert result.outcome == decay.outcome(n)
    assert result.verdict == decay.verdict(n, result.reproduced)
    assert [f.name for f in result.figures] == ["pokemon-paths.png", "loss.png", "other-decays.png"]
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG
        assert figure.name in decay.CAPTIONS
    json.dumps(result.to_json(), allow_nan=False)
    assert result.lecture and result.command.startswith("ravine descend pokemon")
    assert any(e.holds is True for e in result.evidence)


def test_inverse_sqrt_is_smooth_but_late(quick):
    n = quick[1].numbers
    assert n["bursts"] == 0 and n["loss_rises"] == 0 and n["instability_onsets"] == 0
    assert n["fixed_lr"]["bursts"] > 0
    assert n["arrival_delay"] == pytest.approx(n["arrival_step"] / n["fixed_lr"]["arrival_step"])
    assert n["arrival_delay"] > 10  # the classic Adagrad's steps only shrink: it arrives late


def test_other_decays_are_compared_over_the_same_window(quick):
    rows = quick[1].numbers["other_decays"]
    assert list(rows) == ["cosine", "step"]
    for row in rows.values():
        assert row["steps"] == decay.QUICK_SHORT_STEPS
        assert 0 < row["fixed_lr_bursts_same_window"]
        # while η^t is still large they burst, but less often than the fixed η does
        assert row["bursts"] <= row["fixed_lr_bursts_same_window"]
    assert rows["cosine"]["schedule"].startswith("cosine")


def test_outcome_from_the_rows(quick):
    n = copy.deepcopy(quick[1].numbers)
    for row in n["other_decays"].values():
        row.update(bursts=0, loss_rises=0, distance_final=0.0)
    assert decay.outcome(n) == "held"
    assert decay.verdict(n, True).startswith("Reproduced: ")
    n["other_decays"]["cosine"]["bursts"] = 3
    assert decay.outcome(n) == "partial"
    n["bursts"] = 1
    assert decay.holds(n) is False and decay.outcome(n) == "partial"
    n["other_decays"]["step"]["loss_rises"] = 5
    assert decay.outcome(n) == "not held"
    assert decay.verdict(n, False).startswith("Not reproduced: ")


def test_criterion_fails_on_the_fixed_rate_run(quick):
    """The fixed-η run, judged by decay's criterion: its bursts make it fail."""
    trajectory = adagrad_bursts.adagrad_run(adagrad_bursts.QUICK_STEPS)
    numbers = {**adagrad_bursts.burst_numbers(trajectory), "loss_rises": 0}
    assert decay.holds(numbers) is False
    assert decay.holds({**quick[1].numbers, "loss_rises": 1}) is False
    assert decay.holds({**quick[1].numbers, "distance_final": 2.0}) is False
    assert decay.later(None, 2098) is None and decay.later(4196, 2098) == 2.0


def _decay_numbers():
    """Numbers shaped like a full run's: no burst with η/√(t+1); cosine arrives on the fixed
    η's very step, step decay a little later."""

    def other(bursts, last, arrival, delay):
        return {
            "steps": 20000,
            "bursts": bursts,
            "last_burst_start": last,
            "fixed_lr_bursts_same_window": 20,
            "arrival_step": arrival,
            "arrival_delay": delay,
            "loss_rises": 10,
            "distance_final": 0.001,
        }

    return {
        "lr": 1.0,
        "steps": 100000,
        "bursts": 0,
        "loss_rises": 0,
        "instability_onsets": 0,
        "arrival_radius": 1.0,
        "arrival_step": 61142,
        "arrival_delay": 29.13,
        "distance_final": 0.0664,
        "loss_final": 101936.742,
        "loss_minimum": 101936.730,
        "fixed_lr": {
            "bursts": 62,
            "arrival_step": 2099,
            "bursts_after_arrival": 59,
            "largest_burst_loss_gap": 1.42e7,
            "largest_burst_after_arrival_loss_gap": 9.59e6,
        },
        "other_decays": {
            "cosine": other(6, 4624, 2099, 1.0),
            "step": other(1, 1746, 2196, 1.0462),
        },
    }


def test_verdict_words_no_bursts_the_same_step_and_one_burst():
    text = decay.verdict(_decay_numbers(), False)
    assert "Adagrad had no bursts and no rise of the loss in 100,000 updates" in text
    assert "(29.1× the fixed η's steps)" in text
    # the size of the bursts after arriving, not of the largest, which came before it
    assert "burst 62 times (59 after arriving, reaching L − L* up to 9.59e+06)" in text
    assert "1.42e+07" not in text
    assert "cosine decay over 20,000 updates had 6 bursts (the last starting at step 4,624" in text
    assert "arrived at step 2,099 (the same step as the fixed η)" in text
    assert "step decay over 20,000 updates had 1 burst (the last starting" in text
    assert "arrived at step 2,196 (1.05× the fixed η's steps)" in text
    for odd in ("0 bursts", "0 rises", "(1×", "1 bursts"):
        assert odd not in text


def test_figures_raise_the_powers(tmp_path, monkeypatch):
    """η^t and the step decay's 0.5^⌊t/k⌋ are drawn as superscripts, not with a caret."""
    texts = []

    def kept(values, path, *, title, **options):
        texts.extend([title, *values])
        return path

    monkeypatch.setattr(decay, "plot_curves", kept)
    monkeypatch.setattr(decay, "plot_contour", lambda s, values, path, **o: kept(values, path, **o))
    monkeypatch.setattr(decay, "STEPS", 3000)
    monkeypatch.setattr(decay, "SHORT_STEPS", 3000)
    decay.run(tmp_path, quick=False)
    assert any("η$^{t}$ = 1/√(t+1)" in t for t in texts)
    assert any("$^{\\lfloor" in t for t in texts)  # the step decay's power
    assert not [t for t in texts if "^" in re.sub(r"\$[^$]*\$", "", t)]


def test_captions_say_when_this_run_arrived(quick):
    numbers = copy.deepcopy(quick[1].numbers)
    text = decay.captions(numbers)
    assert quick[1].captions["loss.png"] == text["loss.png"]  # the report shows the run's own
    assert "reaches the bottom" not in text["loss.png"]
    assert f"only at step {numbers['arrival_step']:,}" in text["loss.png"]
    assert "about as early as the fixed η" not in text["other-decays.png"]
    rows = numbers["other_decays"]
    first = next(iter(rows))
    rows[first].update(arrival_step=3316, arrival_delay=1.58)
    assert (
        f"{first} decay arrived at step 3,316 (1.58× the fixed η's steps)"
        in (decay.captions(numbers)["other-decays.png"])
    )
    numbers.update(arrival_step=None, bursts=1)
    assert (
        "has 1 burst but never comes within 1 of the minimum"
        in (decay.captions(numbers)["loss.png"])
    )
