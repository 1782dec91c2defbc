"""What the teaching page reads from the claims of stuck, tiny-lr, adagrad-bursts,
warmup-variance, classification-loss, normalization, momentum, batch-norm, lr-find and
full-rule: the lecture's terms, a command that runs, a caption per figure, and evidence that
decides the same way as the verdict — held on numbers that should pass, not held on numbers that
should fail."""

from __future__ import annotations

import ast
import copy
import re
import shlex
from pathlib import Path

import pytest
import torch

from ravine import experiments
from ravine.cli import build_parser, main
from ravine.experiments import (
    adagrad_bursts,
    batch_norm,
    classification_loss,
    full_rule,
    lr_find,
    momentum,
    normalization,
    stuck,
    tiny_lr,
    warmup_variance,
)
from ravine.report.result import OUTCOMES, Evidence
from ravine.surfaces import Trajectory, surface

MODULES = [
    stuck,
    tiny_lr,
    adagrad_bursts,
    warmup_variance,
    classification_loss,
    normalization,
    momentum,
    batch_norm,
    lr_find,
    full_rule,
]
CJK = re.compile(r"[\u4e00-\u9fff]")


def decided(module, numbers) -> bool:
    """What the evidence says: every number that decides is on the claim's side."""
    rows = module.evidence(numbers)
    assert rows and all(isinstance(row, Evidence) for row in rows)
    assert all(row.name and row.why for row in rows)
    assert any(row.holds is not None for row in rows)
    for row in rows:
        if row.holds is not None:
            assert isinstance(row.holds, bool) and row.threshold, row.name
    return all(row.holds for row in rows if row.holds is not None)


def agrees(module, numbers, expected: bool) -> None:
    """holds() and the evidence both say ``expected``."""
    assert module.holds(numbers) is expected
    assert decided(module, numbers) is expected


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_teaching_attributes(module):
    assert CJK.search(module.LECTURE), "the lecture's own terms, in Chinese"
    assert "(" in module.LECTURE, "the English beside the Chinese"
    assert module.COMMAND.startswith("ravine ")
    assert module.CAPTIONS
    for name, caption in module.CAPTIONS.items():
        assert name.endswith(".png") and "/" not in name
        assert name not in caption and len(caption) > 40


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_command_parses(module):
    argv = shlex.split(module.COMMAND)
    args = build_parser().parse_args(argv[1:])
    assert args.command == argv[1]


@pytest.mark.parametrize(
    "module",
    [stuck, tiny_lr, adagrad_bursts, normalization, momentum, classification_loss, full_rule],
    ids=lambda m: m.NAME,
)
def test_surface_command_runs_with_fewer_steps(module, tmp_path, capsys):
    argv = shlex.split(module.COMMAND)[1:]
    argv[argv.index("--steps") + 1] = "50"
    argv[argv.index("--plot") + 1] = str(tmp_path / "path.png")
    assert main(argv) == 0
    assert (tmp_path / "path.png").stat().st_size > 0
    capsys.readouterr()


def test_lr_find_is_labelled_ravines_addition():
    for text in (lr_find.TITLE, lr_find.CLAIM, lr_find.LECTURE):
        assert "not" in text.lower() and "lecture" in text.lower()
    assert "Smith" in lr_find.CLAIM and "2017" in lr_find.CLAIM
    assert "Cyclical Learning Rates" in lr_find.LECTURE


# --- the evidence decides as holds() does ---------------------------------------------------


def test_stuck_evidence():
    numbers, _ = stuck.measure(stuck.LR, 1000)
    agrees(stuck, numbers, True)
    agrees(stuck, {**numbers, "gradient_fraction_last_half": 0.01}, False)  # near critical
    numbers, _ = stuck.measure(1e-4, 2000)  # no overshoot: the loss keeps falling
    agrees(stuck, numbers, False)


def test_tiny_lr_evidence():
    numbers, _, _ = tiny_lr.measure(steps=2000)
    agrees(tiny_lr, numbers, True)
    whys = " ".join(row.why for row in tiny_lr.evidence(numbers))
    assert "after this run's 2,000 updates (the lecture's: 100,000)" in whys  # what it did
    assert "after the lecture's 100,000" not in whys
    lecture = {**numbers, "steps": tiny_lr.STEPS}
    assert "after the lecture's 100,000 updates" in " ".join(
        row.why for row in tiny_lr.evidence(lecture)
    )
    for key, value in [
        ("w_error_fraction_left", 0.5),
        ("distance_fraction_left", 0.01),
        ("valley_w1_never_increased", False),
        ("valley_w2_fraction_left", 0.5),
    ]:
        agrees(tiny_lr, {**numbers, key: value}, False)


def test_adagrad_bursts_evidence():
    numbers = {
        "steps": 1000,
        "arrival_radius": 1.0,
        "arrival_step": 40,
        "burst_threshold": 1.0,
        "bursts": 4,
        "bursts_after_arrival": 3,
        "min_bursts": 3,
        "bursts_after_an_onset": 4,
        "largest_burst_w_error": 3.0,
        "largest_burst_loss_gap": 1e6,
        "largest_burst_start": 60,
        "largest_burst_after_arrival_w_error": 3.0,
        "largest_burst_after_arrival_loss_gap": 1e6,
    }
    agrees(adagrad_bursts, numbers, True)
    agrees(adagrad_bursts, {**numbers, "bursts_after_arrival": 2}, False)
    agrees(adagrad_bursts, {**numbers, "arrival_step": None}, False)


def test_burst_segments_are_the_bursts_split_by_nan():
    s = surface("pokemon")
    b, w = s.minimum
    errors = [5.0, 0.5, -2.0, 3.0, 0.2, -1.0, 1.5, 0.0]  # bursts: steps 2–3 and 6
    theta = torch.tensor([[[b, w + e]] for e in errors], dtype=torch.float64)
    path = Trajectory(s, "gd", torch.ones(1), theta, None, torch.ones(7, 1, dtype=torch.float64))
    segments = adagrad_bursts.burst_segments(path)
    gaps = torch.isnan(segments[:, 0]).nonzero().flatten().tolist()
    # each burst from the step before it to the step it is back inside, then a NaN row
    assert gaps == [4, 8]
    assert (segments[:4, 1] - w).tolist() == pytest.approx([0.5, -2.0, 3.0, 0.2])
    assert (segments[5:8, 1] - w).tolist() == pytest.approx([-1.0, 1.5, 0.0])


def test_warmup_variance_evidence():
    row = {"mu": 0.0, "adam_drop": 300.0, "radam_spread": 2.5, "adam_spread_rectified_steps": 60.0}
    numbers = {
        "early_step": 3,
        "steps": 200,
        "drop_at_least": 10.0,
        "spread_at_most": 4.0,
        "first_rectified_step": 6,
        "per_mean": [row, {**row, "adam_drop": 20.0}],
        "adam_drop_min": 20.0,
        "radam_spread_max": 2.5,
    }
    agrees(warmup_variance, numbers, True)
    flat = copy.deepcopy(numbers)
    flat["per_mean"][1]["adam_drop"] = 5.0  # σ from a few gradients no worse than settled
    agrees(warmup_variance, flat, False)
    unsteady = copy.deepcopy(numbers)
    unsteady["per_mean"][0]["radam_spread"] = 9.0
    agrees(warmup_variance, unsteady, False)


def test_normalization_evidence():
    numbers, _, _ = normalization.measure(steps=2000)
    agrees(normalization, numbers, True)
    elongated = copy.deepcopy(numbers)
    elongated["pokemon_normalized"]["condition_number"] = 50.0
    agrees(normalization, elongated, False)
    slow = copy.deepcopy(numbers)
    slow["pokemon_normalized"]["steps_to_reach"] = [1, None]
    agrees(normalization, slow, False)
    arrived = copy.deepcopy(numbers)
    arrived["pokemon"]["distance_fraction_left"] = 0.01
    agrees(normalization, arrived, False)


def test_momentum_evidence():
    numbers, _, _ = momentum.measure(steps=1000, grid=6)
    agrees(momentum, numbers, True)
    lam = f"{numbers['momentum']:g}"
    lucky = copy.deepcopy(numbers)
    lucky["grid"]["by_lambda"][lam]["lower"] = 0.1
    agrees(momentum, lucky, False)
    same = copy.deepcopy(numbers)
    same["momentum_run"]["loss"] = same["gd"]["loss"]
    agrees(momentum, same, False)


def digits_part(ce: int | None, mse: int | None, same: bool = True) -> dict:
    """A made-up digits part: updates to 90 % for each loss at the judged η."""

    def run(updates):
        return {"updates_to_accuracy": updates, "updates": 900}

    return {
        "same_initial_parameters": same,
        "lr": 0.1,
        "accuracy_level": 0.9,
        "sgd": {"0.1": {"cross_entropy": run(ce), "mse": run(mse)}},
        "criteria": {"faster_at_least": 2.0},
    }


def test_classification_evidence_and_outcome():
    numbers, _ = classification_loss.measure(steps=1000)
    for digits, expected, outcome in [
        (digits_part(180, 540), True, "held"),
        (digits_part(180, None), True, "held"),
        (digits_part(180, 270), False, "partial"),  # MSE only 1.5× slower
        (digits_part(None, None), False, "partial"),
        (digits_part(180, 540, same=False), False, "partial"),
    ]:
        both = {**numbers, "digits": digits}
        agrees(classification_loss, both, expected)
        assert classification_loss.outcome(both) == outcome
    stalled, _ = classification_loss.measure(lr=1e-3, steps=1000)  # η too small for both
    assert classification_loss.outcome({**stalled, "digits": digits_part(180, 540)}) == "partial"
    agrees(classification_loss, {**stalled, "digits": digits_part(180, 540)}, False)
    assert classification_loss.outcome({**stalled, "digits": digits_part(None, None)}) == (
        "not held"
    )


def batch_norm_numbers() -> dict:
    """Made-up batch-norm numbers that pass: two η, κ 600 against 40 at the start."""

    def rate(none, batch):
        return {
            "none": {"updates_to_level": none, "updates": 900},
            "batch": {"updates_to_level": batch, "updates": 900},
        }

    return {
        "same_linear_weights": True,
        "lr": 1.0,
        "level": 0.5,
        "sgd": {"0.3": rate(None, 135), "1": rate(None, 90)},
        "hessian": {
            "initial": {"none": {"spread": 600.0}, "batch": {"spread": 40.0}},
            "trained": {"none": {"spread": 500.0}, "batch": {"spread": 230.0}},
        },
        "criteria": {"faster_at_least": 5.0, "initial_spread_ratio_at_least": 5.0},
    }


def test_batch_norm_evidence_and_outcome():
    n = batch_norm_numbers()
    agrees(batch_norm, n, True)
    assert batch_norm.outcome(n) == "held"
    one_rate = copy.deepcopy(n)
    one_rate["sgd"]["0.3"]["batch"]["updates_to_level"] = None
    agrees(batch_norm, one_rate, False)
    assert batch_norm.outcome(one_rate) == "partial"
    curvature = copy.deepcopy(n)
    curvature["hessian"]["initial"]["none"]["spread"] = 100.0  # only 2.5× the BatchNorm one
    agrees(batch_norm, curvature, False)
    assert batch_norm.outcome(curvature) == "partial"
    nothing = copy.deepcopy(curvature)
    for row in nothing["sgd"].values():
        row["none"]["updates_to_level"] = row["batch"]["updates_to_level"]
    agrees(batch_norm, nothing, False)
    assert batch_norm.outcome(nothing) == "not held"
    other_start = {**n, "same_linear_weights": False}
    agrees(batch_norm, other_start, False)
    assert batch_norm.outcome(other_start) == "not held"
    assert {batch_norm.outcome(x) for x in (n, one_rate, nothing)} <= set(OUTCOMES)


def lr_find_numbers() -> dict:
    return {
        "suggestion": 5e-3,
        "best_lr": 1e-2,
        "best_index": 2,
        "best_inside_grid": True,
        "suggestion_over_best": 0.5,
        "suggestion_val_loss": 0.10,
        "best_val_loss": 0.094,
        "suggestion_loss_excess": 0.10 / 0.094 - 1,
        "factor": 10.0,
        "margin": 0.25,
        "sweep": [{}] * 17,
        "run_updates": 900,
        "range_test_updates": 157,
    }


def test_lr_find_evidence():
    agrees(lr_find, lr_find_numbers(), True)
    for change in [
        {"best_inside_grid": False},
        {"suggestion_over_best": 12.0},
        {"suggestion_loss_excess": 0.3},
        {"suggestion_val_loss": None, "suggestion_loss_excess": None},
    ]:
        agrees(lr_find, {**lr_find_numbers(), **change}, False)


# --- figures that must not hide a curve -----------------------------------------------------


def test_classification_surfaces_side_by_side(tmp_path):
    _, trajectories = classification_loss.measure(steps=1200)
    path = classification_loss.plot_surfaces(trajectories, 1000, tmp_path / "surfaces.png")
    assert path.stat().st_size > 0
    figure = classification_loss.plot_digits(
        {
            **digits_part(180, 540),
            "model": "relu:units=64",
            "epochs": 2,
            "adam": None,
            "sgd": {
                "0.1": {
                    key: {
                        "train_accuracy": [0.1, 0.5, 0.9],
                        "relative_loss": [1.0, 0.6, 0.3],
                        "updates": 90,
                    }
                    for key in ("cross_entropy", "mse")
                }
            },
        },
        tmp_path / "digits.png",
    )
    assert figure.stat().st_size > 0


def test_batch_norm_losses_drawn_both(tmp_path):
    row = {
        norm: {"train_loss": [2.3, 2.3, 2.3], "val_loss": [2.3, 2.3, 2.3]}
        for norm in batch_norm.NORMS
    }
    path = batch_norm.plot_losses(row, tmp_path / "loss.png", title="two nets")
    assert path.stat().st_size > 0


@pytest.mark.parametrize(
    "module",
    [stuck, tiny_lr, adagrad_bursts, warmup_variance, normalization, momentum, full_rule],
    ids=lambda m: m.NAME,
)
def test_quick_run_carries_the_teaching_fields(module, tmp_path):
    result = module.run(tmp_path, quick=True)
    assert set(module.CAPTIONS) == {figure.name for figure in result.figures}
    assert result.captions == module.CAPTIONS
    assert result.lecture == module.LECTURE and result.command == module.COMMAND
    assert result.outcome == ("held" if result.reproduced else "not held")
    assert decided(module, result.numbers) is result.reproduced


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_no_needed_column_reads_like_code(module):
    for name in ("true", "false", "True", "False", "None"):
        assert f'            "{name}",\n' not in open(module.__file__, encoding="utf-8").read()


def evidence_words(path) -> list[str]:
    """Every piece of text written into an ``Evidence(...)`` of the module at ``path``."""
    words = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Evidence":
            words += [
                part.value
                for part in ast.walk(node)
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            ]
    return words


@pytest.mark.parametrize(
    "path",
    sorted(Path(experiments.__file__).parent.glob("*.py")),
    ids=lambda path: path.stem,
)
def test_every_needed_column_writes_at_most_and_at_least_as_math(path):
    """≤ and ≥ throughout the evidence tables, never code's <= and >= in some of them."""
    code = [words for words in evidence_words(path) if "<=" in words or ">=" in words]
    assert not code, f"{path.name}: {code}"
