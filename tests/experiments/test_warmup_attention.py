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


def _attention_numbers():
    """Numbers shaped like a full run's: three of the four runs never rose above their start."""

    def run(spike, moved, reached, final):
        return {
            "initial_loss": 2.98,
            "early_spike": spike,
            "moved_after_early": moved,
            "steps_to_level": reached,
            "final_loss": final,
            "final_accuracy": 0.9,
        }

    return {
        "steps": 400,
        "lr": 0.07,
        "warmup_steps": 100,
        "early_steps": 20,
        "level": 0.5,
        "runs": {
            "adam": run(1.0500901, 41.97, None, 2.51),
            "adam + warm-up": run(1.0, 5.64, 64, 0.0302),
            "radam": run(1.0, 10.3, 52, 0.0219),
            "adam + warm-up + decay": run(1.0, 5.99, 64, 0.00421),
        },
    }


def test_verdict_says_never_rose_for_a_spike_of_one():
    n = _attention_numbers()
    text = warmup_attention.verdict(n, warmup_attention.holds(n))
    assert text.startswith("Reproduced: ")
    assert (
        "Adam without warm-up never reached it (first 20 steps: loss rose to ×1.05 its start"
        in (text)
    )
    assert "reached it at step 64 (first 20 steps: loss never rose above its start" in text
    assert "RAdam reached it at step 52 (first 20 steps: loss never rose above its start" in text
    assert "Adam with the Transformer's warm-up and 1/√n decay reached it at step 64" in text
    assert "ending below warm-up alone." in text
    assert "×1 its start" not in text and "it reached it" not in text
    n["runs"]["adam + warm-up + decay"]["final_loss"] = 0.05
    assert "ending no lower than warm-up alone." in warmup_attention.verdict(n, True)


def test_evidence_says_never_without_python():
    first = warmup_attention.evidence(_attention_numbers())[0]
    assert first.value is None  # the report shows "—"
    assert first.unit == "steps to 0.5 nats (—: never)"
    assert first.threshold == "never, or ≥ 2× the slower remedy (128)"


def test_evidence_gives_the_final_losses_in_words():
    last = warmup_attention.evidence(_attention_numbers())[-1]
    assert last.value == "0.00421 with the decay vs 0.0302 without"
    assert "[" not in str(last.value)


def test_captions_say_what_the_run_did():
    n = _attention_numbers()
    said = warmup_attention.captions(n)
    assert set(said) == set(warmup_attention.CAPTIONS)
    early = said["early.png"]
    assert "without warm-up the loss rose to ×1.05 its start in its first 20 steps" in early
    assert "and the loss never rose above its start in its first 20 steps" in early
    assert "only falls once" not in early
    whole = said["loss.png"]
    assert "Adam without warm-up never gets there (it ends at 2.51, from 2.98" in whole
    assert "Adam with warm-up gets there at step 64 and RAdam gets there at step 52" in whole
    assert "ends below warm-up alone: 0.00421 against 0.0302 nats" in whole
    n["runs"]["adam + warm-up + decay"]["final_loss"] = 0.05
    assert (
        "ends no lower than warm-up alone: 0.05 against" in warmup_attention.captions(n)["loss.png"]
    )
    n["runs"]["adam"]["early_spike"] = 1.0
    assert (
        "without warm-up the loss never rose above its start"
        in (warmup_attention.captions(n)["early.png"])
    )
