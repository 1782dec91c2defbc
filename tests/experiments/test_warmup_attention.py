"""warmup-attention's decay half: the Transformer's warm-up and 1/√n decay, scaled to peak
at η, trains the attention model and ends lower than warm-up alone; the outcome is held,
partial or not held from the two parts."""

import copy
import math

import pytest

from ravine.experiments import warmup_attention


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return warmup_attention.run(tmp_path_factory.mktemp("warmup-attention"), quick=True)


def test_the_schedules():
    assert warmup_attention.schedule("adam") is None
    assert warmup_attention.schedule("radam") is None
    warm = warmup_attention.schedule("adam + warm-up")
    both = warmup_attention.schedule("adam + warm-up + decay")
    w = warmup_attention.WARMUP
    assert warm(0) == 0 and warm(w) == 1 == warm(4 * w)
    # η^t/η = min(n/W, √(W/n)), n = t + 1: linear up to 1 at n = W, then 1/√n
    assert both(0) == pytest.approx(1 / w)
    assert both(w - 1) == pytest.approx(1.0)
    assert both(4 * w - 1) == pytest.approx(0.5)


def test_quick_run_has_the_decay_half(quick):
    runs = quick.numbers["runs"]
    assert list(runs) == list(warmup_attention.RUNS)
    decayed, warm = runs["adam + warm-up + decay"], runs["adam + warm-up"]
    assert decayed["initial_loss"] == warm["initial_loss"]
    assert decayed["steps_to_level"] is not None
    assert quick.outcome == warmup_attention.outcome(quick.numbers)
    assert quick.verdict == warmup_attention.verdict(quick.numbers, quick.reproduced)
    assert [e.holds for e in quick.evidence][-1] == warmup_attention.decay_settles(quick.numbers)
    assert set(warmup_attention.CAPTIONS) == {f.name for f in quick.figures}
    assert math.isfinite(decayed["final_loss"])


def test_outcome_from_the_two_parts(quick):
    n = copy.deepcopy(quick.numbers)
    runs = n["runs"]
    runs["adam"]["steps_to_level"] = None
    runs["adam + warm-up"].update(steps_to_level=60, final_loss=0.04)
    runs["radam"]["steps_to_level"] = 50
    runs["adam + warm-up + decay"].update(steps_to_level=64, final_loss=0.003)
    assert warmup_attention.outcome(n) == "held"
    assert warmup_attention.verdict(n, True).startswith("Reproduced: ")
    runs["adam + warm-up + decay"]["final_loss"] = 0.05  # the decay did not settle lower
    assert not warmup_attention.decay_settles(n)
    assert warmup_attention.outcome(n) == "partial"
    assert warmup_attention.verdict(n, True).startswith("Partly reproduced: ")
    runs["adam"]["steps_to_level"] = 70  # Adam trains without warm-up too
    assert warmup_attention.outcome(n) == "not held"
    runs["adam + warm-up + decay"].update(final_loss=0.003, steps_to_level=None)
    assert not warmup_attention.decay_settles(n)  # never trained: no settling to speak of
