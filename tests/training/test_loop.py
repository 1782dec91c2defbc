"""The mini-batch loop: epochs and batches as the lecture defines them, the split and the folds,
evaluation, schedules, the stop on a non-finite loss, and clear errors."""

import math

import numpy as np
import pytest
import torch

from ravine import tasks
from ravine.schedules import from_spec
from ravine.training import cross_validate, make_folds, split, train


def test_split_is_a_seeded_partition():
    a, b = split(10, 0.3, seed=1)
    assert len(a) == 7 and len(b) == 3
    assert sorted(torch.cat([a, b]).tolist()) == list(range(10))
    again = split(10, 0.3, seed=1)
    assert torch.equal(a, again[0]) and torch.equal(b, again[1])
    assert not torch.equal(a, split(10, 0.3, seed=2)[0])
    everything, nothing = split(10, 0)
    assert len(everything) == 10 and len(nothing) == 0


@pytest.mark.parametrize("bad", [-0.1, 1, 1.5, "0.2", True])
def test_split_refuses_a_fraction_outside_0_1(bad):
    with pytest.raises(ValueError, match=r"validation must be a fraction in \[0, 1\)"):
        split(10, bad)


def test_split_refuses_to_hold_out_nothing_by_rounding():
    with pytest.raises(ValueError, match=r"validation=0.01 of 10 examples holds out none"):
        split(10, 0.01)


def test_folds_cover_every_example_once():
    parts = make_folds(10, 3, seed=0)
    assert [len(v) for _, v in parts] == [4, 3, 3]
    held = torch.cat([v for _, v in parts])
    assert sorted(held.tolist()) == list(range(10))
    for train_idx, val_idx in parts:
        assert set(train_idx.tolist()).isdisjoint(val_idx.tolist())
        assert len(train_idx) + len(val_idx) == 10


def test_folds_are_scikit_learns_kfold_shuffled_with_the_seed():
    from sklearn.model_selection import KFold

    for seed in (0, 3):
        expected = KFold(n_splits=4, shuffle=True, random_state=seed).split(np.arange(30))
        for (train_idx, val_idx), (kept, held) in zip(
            make_folds(30, 4, seed), list(expected), strict=True
        ):
            assert train_idx.tolist() == kept.tolist() and val_idx.tolist() == held.tolist()
            assert train_idx.dtype == val_idx.dtype == torch.long
    assert make_folds(30, 4, 0)[0][1].tolist() != make_folds(30, 4, 3)[0][1].tolist()


@pytest.mark.parametrize(
    ("k", "message"),
    [
        (1, "folds must be a whole number >= 2, got 1"),
        (11, "folds=11 is more than the 10 examples"),
    ],
)
def test_bad_fold_counts(k, message):
    with pytest.raises(ValueError, match=message):
        make_folds(10, k)


def test_an_epoch_sees_every_batch_once_and_reshuffles():
    task = tasks.task("sinc")
    seen = []
    model = task.model()
    forward = model.forward

    def record(x):
        seen.append(x.detach().clone())
        return forward(x)

    model.forward = record
    run = train(task, "gd", lr=0.01, batch_size=64, epochs=2, validation=0.2, model=model)
    # 160 training examples in batches of 64: 64, 64, 32 → 3 updates per epoch
    assert run.updates == 6 and [e.updates for e in run.history] == [3, 6]
    batches = [x for x in seen if len(x) != 160 and len(x) != 40]  # not the evaluations
    assert [len(x) for x in batches] == [64, 64, 32] * 2
    first, second = torch.cat(batches[:3]), torch.cat(batches[3:])
    assert sorted(first.flatten().tolist()) == sorted(second.flatten().tolist())  # same examples
    assert not torch.equal(first, second)  # in a new order


def test_full_batch_gd_is_plain_gradient_descent():
    task = tasks.task("sinc")
    run = train(task, "gd", lr=0.05, batch_size=200, epochs=3, validation=0)
    model = task.model()
    for _ in range(3):
        model.zero_grad()
        task.loss(model).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.05 * p.grad
    for a, b in zip(run.model.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)
    assert run.val_size == 0 and run.final.val_loss is None
    assert run.final.train_loss == pytest.approx(float(task.loss(model).detach()), rel=1e-12)


def test_evaluation_is_the_loss_and_metric_on_each_set():
    task = tasks.task("digits")
    run = train(task, "adam", lr=1e-3, batch_size=128, epochs=2, seed=3)
    train_idx, val_idx = split(task.size, 0.2, seed=3)
    model = run.model.eval()
    with torch.no_grad():
        out = model(task.inputs[val_idx])
        assert run.final.val_loss == pytest.approx(float(task.loss_fn(out, task.targets[val_idx])))
        assert run.final.val_metric == task.metric(out, task.targets[val_idx])
        out = model(task.inputs[train_idx])
        assert run.final.train_loss == pytest.approx(
            float(task.loss_fn(out, task.targets[train_idx]))
        )
    assert run.final.train_metric > 0.5  # two epochs of Adam learn digits well past chance


def test_same_seed_same_run():
    a = train("diabetes", "adam", lr=1e-2, epochs=2, seed=4)
    b = train("diabetes", "adam", lr=1e-2, epochs=2, seed=4)
    assert a.losses == b.losses
    assert a.to_json()["history"][-1]["val_loss"] == b.to_json()["history"][-1]["val_loss"]


def test_a_time_schedule_steps_per_update_and_plateau_per_epoch():
    run = train(
        "sinc",
        "sgd",
        lr=0.1,
        schedule=from_spec("step:step_size=2,gamma=0.5"),
        batch_size=80,
        epochs=2,
        validation=0.2,
    )  # 2 updates per epoch
    assert run.updates == 4
    assert run.to_json()["schedule"] == "step:step_size=2,gamma=0.5"
    plateau = train(
        "sinc",
        "sgd",
        lr=0.1,
        schedule=from_spec("plateau:patience=0,factor=0.5"),
        batch_size=80,
        epochs=3,
    )
    assert plateau.updates == 6


def test_a_non_finite_loss_stops_and_keeps_the_last_good_parameters():
    task = tasks.task("diabetes", model="linear")
    run = train(task, "gd", lr=10.0, batch_size=64, epochs=50, validation=0.2)
    stop = run.stopped
    assert stop is not None
    assert not math.isfinite(run.losses[-1]) and all(math.isfinite(x) for x in run.losses[:-1])
    # counted from 1, the refused update not among those applied
    assert stop.update == len(run.losses) == run.updates + 1 and "the loss is" in stop.reason
    assert run.to_json()["updates"] == run.updates
    assert stop.diagnosis.verdict == "diverged"
    assert "update" in str(stop) and "the model keeps θ from before that update" in str(stop)
    assert ".;" not in str(stop)
    # the model holds θ from before the update whose loss was not finite: finite parameters
    assert all(torch.isfinite(p).all() for p in run.model.parameters())
    assert run.to_json()["stopped"]["verdict"] == "diverged"


def test_the_monitor_diagnoses_the_run():
    run = train("sinc", "adam", lr=1e-2, batch_size=50, epochs=3, monitor=True)
    assert run.monitor is not None and len(run.monitor.history) == run.updates
    assert run.diagnosis is not None and run.diagnosis.verdict


def test_cross_validation_trains_once_per_fold():
    cv = cross_validate("sinc", "adam", folds=3, lr=1e-2, batch_size=50, epochs=2)
    assert [r.fold for r in cv.runs] == [0, 1, 2]
    assert sum(r.val_size for r in cv.runs) == 200
    losses = [r.final.val_loss for r in cv.runs]
    assert cv.mean("val_loss") == pytest.approx(sum(losses) / 3)
    assert cv.to_json()["folds"] == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 161}, r"batch_size 161 is larger than the 160 training examples"),
        ({"batch_size": 0}, r"batch_size must be a whole number >= 1, got 0"),
        ({"epochs": 0}, r"epochs must be a whole number >= 1, got 0"),
        ({"validation": 1.0}, r"validation must be a fraction"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train("sinc", "gd", **kwargs)


def test_unknown_task_and_optimizer_are_refused():
    with pytest.raises(ValueError, match=r"unknown task 'mnist'"):
        train("mnist", "gd")
    with pytest.raises(ValueError, match=r"unknown optimizer"):
        train("sinc", "adamax")


def test_the_schedule_sets_eta_per_update():
    task = tasks.task("sinc")
    schedule = from_spec("step:step_size=2,gamma=0.5")  # η^t = η·0.5^⌊t/2⌋
    run = train(task, "gd", lr=0.1, schedule=schedule, batch_size=200, epochs=4, validation=0)
    model = task.model()
    for t in range(4):
        model.zero_grad()
        task.loss(model).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * 0.5 ** (t // 2) * p.grad
    for a, b in zip(run.model.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)


def test_the_run_records_the_base_eta_not_the_warmed_up_one():
    run = train("sinc", "adam", lr=0.01, schedule=from_spec("linear-warmup:steps=10"), epochs=1)
    assert run.lr == 0.01


def test_each_fold_gets_its_own_copy_of_a_stateful_schedule():
    plateau = from_spec("plateau:patience=0,factor=0.5")
    cv = cross_validate("sinc", "sgd", folds=2, lr=0.1, schedule=plateau, epochs=2)
    assert len(cv.runs) == 2 and plateau.scale == 1.0  # the caller's schedule is untouched


def test_batch_norm_is_refused_a_last_batch_of_one_before_any_update():
    task = tasks.task("digits", seed=0, model="deep:layers=2,units=8,norm=batch")
    updates = []
    message = (
        r"batch_size 3 leaves a last batch of 1 example \(1438 = 479·3 \+ 1\); BatchNorm needs "
        r"at least 2 examples per batch in training: choose another --batch-size \(e\.g\. 4\)"
    )
    with pytest.raises(ValueError, match=message):
        train(task, "adam", batch_size=3, epochs=2, each_update=lambda *a: updates.append(a))
    assert updates == []
    with pytest.raises(ValueError, match="batch_size 1 gives batches of 1 example; BatchNorm"):
        train(task, "adam", batch_size=1, epochs=1)


def test_batch_norm_trains_when_every_batch_has_two_examples():
    task = tasks.task("sinc", seed=0, model="deep:layers=1,units=4,norm=batch")
    train_idx, _ = split(task.size, 0.2, 0)
    batch = next(b for b in range(2, 40) if len(train_idx) % b not in (1,))
    run = train(task, "adam", batch_size=batch, epochs=1)
    assert run.updates == math.ceil(len(train_idx) / batch)
    plain = tasks.task("digits", seed=0, model="relu:units=8")  # no BatchNorm: nothing to check
    assert train(plain, "adam", batch_size=3, epochs=1, validation=0.2).updates == 480
