"""The digits part of the classification-loss experiment: cross-entropy against MSE on a real
network from the same θ⁰, its gradient against the lecture's formulas, and a criterion that
fails on numbers that break either part."""

import copy
import dataclasses
import json

import pytest
import torch

from ravine.experiments import classification_loss
from ravine.training import split

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("classification-loss")
    return out, classification_loss.run(out, quick=True)


def test_quick_run_has_the_digits_figure_and_json_numbers(quick):
    out, result = quick
    assert result.reproduced is True, result.verdict
    assert result.reproduced == classification_loss.holds(result.numbers)
    assert "On the digits" in result.verdict
    assert [f.name for f in result.figures] == [
        "surfaces.png",  # MSE and cross-entropy side by side, as the lecture shows them
        "gap-left.png",
        "digits-accuracy.png",
    ]
    assert set(classification_loss.CAPTIONS) == {f.name for f in result.figures}
    assert (out / result.figures[-1]).read_bytes()[:8] == PNG
    assert json.loads(json.dumps(result.numbers, allow_nan=False)) == result.numbers


def test_digits_numbers(quick):
    d = quick[1].numbers["digits"]
    assert d["same_initial_parameters"] is True
    assert d["rates"] == [0.1] and d["adam"] is None  # quick: the judged η only
    ce, mse = d["sgd"]["0.1"]["cross_entropy"], d["sgd"]["0.1"]["mse"]
    # the same θ⁰: the same predictions, so the same accuracy before training
    assert ce["train_accuracy"][0] == mse["train_accuracy"][0]
    assert ce["relative_loss"][0] == mse["relative_loss"][0] == 1.0
    assert ce["initial_loss"] == pytest.approx(2.30, abs=0.05)  # ≈ ln 10: near-uniform outputs
    assert mse["initial_loss"] == pytest.approx(0.9, abs=0.02)  # ≈ 1 − 1/10: Σ(p − y)² at p = 1/10
    assert len(ce["train_accuracy"]) == 11 and ce["updates"] == 10 * 45
    assert ce["updates_to_accuracy"] == 180  # the end of epoch 4
    assert mse["updates_to_accuracy"] is None  # not within 450 updates
    norms = d["gradient_norm_start"]
    assert norms["cross_entropy"] > 3 * norms["mse"]


@pytest.mark.parametrize("key", ["cross_entropy", "mse"])
def test_gradient_norm_matches_the_formulas_for_the_logits(key):
    """∂L/∂z_n = (p_n − y_n)/N for cross-entropy and 2·(diag p_n − p_n p_nᵀ)(p_n − y_n)/N for
    softmax-MSE, pushed back through the net with autograd: the same ‖∇L(θ)‖."""
    net = classification_loss.digits_task(key)
    model = net.model(0).double()
    net_double = dataclasses.replace(net, inputs=net.inputs.double())
    training, _ = split(net.size, 0.2, 0)
    logits = model(net_double.inputs[training])
    p = torch.softmax(logits.detach(), dim=-1)
    y = torch.nn.functional.one_hot(net.targets[training], 10).double()
    n = len(training)
    if key == "cross_entropy":
        dz = (p - y) / n
    else:
        jacobian = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
        dz = 2 * (jacobian @ (p - y)[:, :, None])[:, :, 0] / n
    grads = torch.autograd.grad(logits, list(model.parameters()), grad_outputs=dz)
    by_hand = float(torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in grads])))
    assert classification_loss.gradient_norm(net_double, model) == pytest.approx(by_hand, rel=1e-10)


def test_bad_input_is_refused_with_the_value():
    with pytest.raises(ValueError, match="loss must be one of cross_entropy, mse, got 'hinge'"):
        classification_loss.digits_task("hinge")
    with pytest.raises(ValueError, match=r"rates must include the judged η = 0.1, got \(0.3,\)"):
        classification_loss.measure_digits(rates=(0.3,))


def test_criterion_needs_both_parts(quick):
    n = quick[1].numbers
    assert classification_loss.holds(n) is True

    def broken(change):
        m = copy.deepcopy(n)
        change(m)
        return classification_loss.holds(m)

    row = lambda m: m["digits"]["sgd"]["0.1"]  # noqa: E731
    breaks = {
        "no digits part": lambda m: m.pop("digits"),
        "different initial parameters": lambda m: m["digits"].update(same_initial_parameters=False),
        "cross-entropy never reaches 90 %": lambda m: row(m)["cross_entropy"].update(
            updates_to_accuracy=None
        ),
        "MSE only 1.5× slower": lambda m: row(m)["mse"].update(updates_to_accuracy=270),
        "the surface part fails": lambda m: m["mse"].update(gap_left_at_budget=0.4),
    }
    for why, change in breaks.items():
        assert broken(change) is False, why
    assert broken(lambda m: row(m)["mse"].update(updates_to_accuracy=360)) is True  # exactly 2×


def _digits_numbers(same=True):
    def run(reached, accuracy, loss):
        return {
            "updates": 900,
            "updates_to_accuracy": reached,
            "final_train_accuracy": accuracy,
            "relative_loss": [1.0, loss],
        }

    return {
        "accuracy_level": 0.9,
        "lr": 0.1,
        "adam_lr": 0.001,
        "same_initial_parameters": same,
        "gradient_norm_start": {"cross_entropy": 0.253, "mse": 0.0507},
        "sgd": {
            "0.1": {"cross_entropy": run(180, 0.974, 0.049), "mse": run(540, 0.951, 0.12)},
            "0.03": {"cross_entropy": run(495, 0.93, 0.1), "mse": run(None, 0.8, 0.5)},
        },
        "adam": {"cross_entropy": run(225, 0.99, 0.01), "mse": run(225, 0.99, 0.02)},
    }


def test_digits_verdict_says_the_same_start_in_words():
    text = classification_loss.digits_verdict(_digits_numbers())
    assert text.startswith(" On the digits (the same θ⁰ for both losses; ‖∇L(θ⁰)‖ 0.253 ")
    assert "reached 90% training accuracy after 180 updates with cross-entropy and 540 " in text
    assert "η = 0.03: 495 against more than 900" in text
    assert "True" not in text
    text = classification_loss.digits_verdict(_digits_numbers(same=False))
    assert "(not the same θ⁰ for both losses;" in text and "False" not in text
