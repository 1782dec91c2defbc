"""The gd-critical experiment: the stacked descent is plain GD on the sinc network, the stop
rule is the one stated, and held / partial / not held follow from the numbers."""

import copy
import json

import pytest
import torch

from ravine.experiments import ORDER, experiment, gd_critical
from ravine.tasks import sinc_task

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("gd-critical")
    return out, gd_critical.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["gd-critical"] == "gd_critical"
    assert experiment("gd-critical") is gd_critical


def test_quick_run_computes_its_verdict_with_figures_and_json_numbers(quick):
    out, result = quick
    assert result.reproduced is gd_critical.holds(result.numbers)
    assert result.outcome == gd_critical.outcome(result.numbers)
    assert result.verdict == gd_critical.verdict(result.numbers, result.reproduced)
    assert [f.name for f in result.figures] == list(gd_critical.CAPTIONS)
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG
    json.dumps(result.to_json(), allow_nan=False)
    n = result.numbers
    assert n["steps"] == gd_critical.QUICK_STEPS and n["parameters"] == 385
    for run in n["runs"]:
        assert run["lr"] == pytest.approx(run["factor"] / n["lambda_max_start"])
        assert run["gradient_norm_min"] > n["critical_gradient_norm"]  # never critical


def test_stacked_descent_is_gradient_descent_on_the_task_network():
    task = sinc_task(seed=gd_critical.SEED)
    model = task.model()
    losses, norms = gd_critical.descend_copies(
        torch.tensor([0.01, 0.02], dtype=torch.float64), steps=2
    )
    params = list(model.parameters())
    for t in range(3):
        loss = task.loss_fn(model(task.inputs), task.targets)
        grads = torch.autograd.grad(loss, params)
        assert float(losses[t, 0]) == pytest.approx(float(loss.detach()), rel=1e-12)
        norm = float(torch.sqrt(sum((g * g).sum() for g in grads)))
        assert float(norms[t, 0]) == pytest.approx(norm, rel=1e-12)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= 0.01 * g
    assert float(losses[0, 1]) == float(losses[0, 0])  # the same θ⁰ for every copy


def test_stop_rule_reads_the_lowest_loss_so_far():
    falling = torch.tensor([1.0 / (1 + t) for t in range(300)], dtype=torch.float64)
    assert gd_critical.stopped_at(falling, window=100) is None
    flat = torch.cat([falling[:150], torch.full((150,), float(falling[149]))])
    assert gd_critical.stopped_at(flat, window=100) == 150 + 100 - 1
    bouncing = flat.clone()
    bouncing[200::2] = 5.0  # spikes do not count as falling, nor as rising the minimum
    assert gd_critical.stopped_at(bouncing, window=100) == 150 + 100 - 1


def _run(stopped_at, fraction, norm=0.5):
    run = {"factor": 1.0, "lr": 0.02, "stopped_at": stopped_at, "loss_start": 0.1}
    run.update(loss_final=0.02, gradient_norm_start=0.45, gradient_norm_final=norm)
    run.update(gradient_norm_min=norm)
    if stopped_at is not None:
        run.update(loss_at_stop=0.02, gradient_norm_at_stop=norm)
        run.update(gradient_fraction_at_stop=fraction)
        run.update(loss_lowest_by_stop=0.02, loss_lowest_after_stop=0.02)
    return run


def test_outcome_from_hand_made_numbers(quick):
    base = copy.deepcopy(quick[1].numbers)
    cases = [
        ([_run(900, 1.5), _run(1200, 0.2)], "held"),
        ([_run(None, None), _run(1200, 0.2)], "partial"),
        ([_run(None, None), _run(None, None)], "not held"),
        ([_run(900, 0.005, norm=0.002), _run(1200, 0.2)], "not held"),  # stopped near g = 0
        ([_run(900, 0.5, norm=5e-4), _run(1200, 0.2)], "not held"),  # below 10⁻³
    ]
    for runs, expected in cases:
        numbers = dict(base, runs=runs)
        assert gd_critical.outcome(numbers) == expected
        assert gd_critical.holds(numbers) is (expected == "held")
        words = {"held": "Reproduced", "partial": "Partly reproduced"}
        assert gd_critical.verdict(numbers, expected == "held").startswith(
            words.get(expected, "Not reproduced")
        )
        if expected == "held":
            assert all(e.holds for e in gd_critical.evidence(numbers))
        else:
            assert any(e.holds is False for e in gd_critical.evidence(numbers))


def _numbers(runs):
    numbers = {"steps": 1500, "critical_gradient_norm": 1e-3, "far_fraction": 0.01}
    return dict(numbers, relative=1e-4, window=100, runs=runs)


def test_a_run_that_never_stopped_reads_never_not_never_steps():
    (row, _) = gd_critical.evidence(_numbers([_run(None, None), _run(1200, 0.2)]))[:2]
    assert row.value == "never" and row.unit == ""
    stopped = gd_critical.evidence(_numbers([_run(900, 1.5), _run(1200, 0.2)]))[0]
    assert stopped.value == 900 and stopped.unit == "steps"


def test_captions_say_what_the_run_did():
    still = gd_critical.captions(_numbers([_run(None, None, 0.02), _run(None, None, 0.018)]))
    assert set(still) == set(gd_critical.CAPTIONS)
    panels, norm = still["loss-and-gradient.png"], still["gradient-norm.png"]
    assert "none has a dotted line" in panels
    assert "bouncing" not in panels and "grows" not in norm
    assert "stays above it, its smallest ‖g‖ 0.018 (18× the line)." in norm
    bounced = _run(2277, 1.7, norm=0.78)
    bounced.update(factor=1.9, gradient_norm_min=0.017)
    said = gd_critical.captions(_numbers([_run(None, None, 0.02), bounced]))
    panels = said["loss-and-gradient.png"]
    assert "(η = 1.9/λ_max at step 2,277): look at ‖g‖ there, far from 0." in panels
    assert "Without a dotted line, the loss was still falling at the end." in panels
    assert "At η = 1.9/λ_max the stop comes when descent starts bouncing" in panels
    assert said["gradient-norm.png"].endswith("at η = 1.9/λ_max ‖g‖ grows as the loss stalls.")


def test_figures_draw_lambda_max_as_math():
    assert gd_critical.LAMBDA_MAX == r"$\lambda_{\max}$"
