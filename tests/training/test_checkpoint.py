"""Checkpointed training: interrupted at any update and resumed, a run ends bit for bit where the
run that never stopped ends; a checkpoint write killed at any instant leaves the previous one
loadable; a bad checkpoint is refused in one line with nothing overwritten."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time

import pytest
import torch

from ravine.schedules import from_spec
from ravine.training import checkpoint as checkpoints
from ravine.training import train

SETTINGS = dict(
    optimizer="adam",
    lr=0.01,
    batch_size=16,
    epochs=3,
    seed=3,
    schedule=from_spec("linear-warmup:steps=5 >> cosine:steps=30"),
    monitor=True,
)


def _stop_after(updates: int):
    """A ``stop()`` that asks the run to stop once it has made ``updates`` updates."""
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= updates

    return stop


def _same_run(one, other) -> None:
    assert one.losses == other.losses
    for a, b in zip(one.model.parameters(), other.model.parameters(), strict=True):
        assert torch.equal(a, b)
    strip = lambda e: {k: v for k, v in vars(e).items() if k != "seconds"}  # noqa: E731
    assert [strip(e) for e in one.history] == [strip(e) for e in other.history]
    assert _nan_equal(one.monitor.history, other.monitor.history)


def _nan_equal(one, other) -> bool:
    """Records equal, nan equal to nan (the first step's cosine has no g^{t−1})."""
    if isinstance(one, dict):
        return one.keys() == other.keys() and all(_nan_equal(one[k], other[k]) for k in one)
    if isinstance(one, list):
        return len(one) == len(other) and all(map(_nan_equal, one, other))
    return one == other or (one != one and other != other)


@pytest.fixture(scope="module")
def whole():
    return train("sinc", **SETTINGS)


# sinc has 10 batches of 16 per epoch: stops inside epochs 1, 2 and 3, and after the last batch
# of epoch 1 (before its evaluation)
@pytest.mark.parametrize("stop_at", [1, 7, 10, 13, 29])
def test_interrupted_anywhere_and_resumed_ends_where_the_whole_run_ends(tmp_path, whole, stop_at):
    assert len(whole.losses) == 30
    first = train("sinc", **SETTINGS, checkpoint=tmp_path, stop=_stop_after(stop_at))
    assert first.interrupted is not None and first.interrupted.update == stop_at
    assert first.interrupted.checkpoint == tmp_path / "checkpoint.pt"
    resumed = train("sinc", **SETTINGS, resume=tmp_path)
    _same_run(resumed, whole)


def test_a_checkpoint_every_n_updates_resumes_exactly(tmp_path, whole):
    every = 4
    first = train("sinc", **{**SETTINGS, "epochs": 1}, checkpoint=tmp_path, checkpoint_every=every)
    assert first.interrupted is None
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert len(saved["record"]["losses"]) == len(first.losses) // every * every
    resumed = train("sinc", **SETTINGS, resume=tmp_path)
    _same_run(resumed, whole)


def test_the_default_is_a_checkpoint_at_each_epochs_end(tmp_path, whole):
    train("sinc", **{**SETTINGS, "epochs": 2}, checkpoint=tmp_path)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["position"]["epoch"] == 3 and saved["position"]["batch"] == 0
    resumed = train("sinc", **SETTINGS, resume=tmp_path)
    _same_run(resumed, whole)


def test_stopping_without_a_checkpoint_says_it_cannot_resume():
    run = train("sinc", **SETTINGS, stop=_stop_after(3))
    assert run.interrupted.checkpoint is None and run.updates == 3
    assert "cannot be resumed" in str(run.interrupted)


# --- refused, with nothing overwritten -------------------------------------------------------


@pytest.fixture
def saved_folder(tmp_path):
    train("sinc", **SETTINGS, checkpoint=tmp_path, stop=_stop_after(5))
    return tmp_path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"optimizer": "sgd"}, "trained with optimizer adam; this run asks for optimizer sgd;"),
        ({"lr": 0.02}, "trained with η = 0.01; this run asks for η = 0.02;"),
        ({"batch_size": 8}, "trained with batch size 16; this run asks for batch size 8;"),
        ({"seed": 4}, "trained with seed 3; this run asks for seed 4;"),
        (
            {"schedule": None},
            "trained with schedule linear-warmup:steps=5 >> cosine:steps=30; this run asks for "
            "no schedule;",
        ),
        (
            {"options": {"betas": (0.5, 0.9)}},
            "trained with no --opt options; this run asks for --opt betas=0.5,0.9;",
        ),
        (
            {"validation": 0.5},
            "trained with 160 training examples; this run asks for 100 training examples "
            "(the split is set by --validation or --folds);",
        ),
        ({"monitor": False}, "trained with --monitor; this run asks for no --monitor;"),
    ],
)
def test_a_checkpoint_of_another_run_is_refused(saved_folder, change, message):
    before = (saved_folder / "checkpoint.pt").read_bytes()
    with pytest.raises(ValueError, match="is of another run") as error:
        train("sinc", **{**SETTINGS, **change}, resume=saved_folder, checkpoint=saved_folder)
    assert message in str(error.value)
    assert "None" not in str(error.value) and "{" not in str(error.value)
    assert (saved_folder / "checkpoint.pt").read_bytes() == before


def test_a_checkpoint_of_another_task_is_refused(saved_folder):
    with pytest.raises(ValueError, match="trained with task sinc; this run asks for task diabetes"):
        train("diabetes", **SETTINGS, resume=saved_folder)


def test_a_checkpoint_past_the_runs_epochs_is_refused(tmp_path):
    train("sinc", **SETTINGS, checkpoint=tmp_path, stop=_stop_after(25))  # in epoch 3
    before = (tmp_path / "checkpoint.pt").read_bytes()
    message = (
        r"is already past --epochs 2: it was saved in epoch 3, after update 25; resume with "
        r"--epochs 3 or more"
    )
    with pytest.raises(ValueError, match=message):
        train("sinc", **{**SETTINGS, "epochs": 2}, resume=tmp_path, checkpoint=tmp_path)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    done = tmp_path / "done"
    train("sinc", **{**SETTINGS, "epochs": 2}, checkpoint=done)  # saved after epoch 2
    with pytest.raises(ValueError, match="past --epochs 1: it was saved after epoch 2, after"):
        train("sinc", **{**SETTINGS, "epochs": 1}, resume=done)
    assert train("sinc", **{**SETTINGS, "epochs": 2}, resume=done).updates == 20  # nothing left


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_an_unreadable_checkpoint_is_refused_in_one_line(saved_folder, damage):
    path = saved_folder / "checkpoint.pt"
    data = path.read_bytes()
    broken = {"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 9, "empty": b""}
    path.write_bytes(broken[damage])
    with pytest.raises(ValueError, match="cannot be read") as error:
        train("sinc", **SETTINGS, resume=saved_folder, checkpoint=saved_folder)
    assert "\n" not in str(error.value) and str(path) in str(error.value)
    assert "not a ravine training checkpoint, or it is truncated or corrupted" in str(error.value)
    assert "weights_only" not in str(error.value)
    assert path.read_bytes() == broken[damage]


def test_another_file_is_not_a_checkpoint(tmp_path):
    torch.save({"model": {}}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="is not a ravine training checkpoint"):
        train("sinc", **SETTINGS, resume=tmp_path)


def test_a_missing_checkpoint_and_a_file_for_a_folder_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint to resume from"):
        train("sinc", **SETTINGS, resume=tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        train("sinc", **SETTINGS, checkpoint=tmp_path / "file")
    with pytest.raises(ValueError, match="checkpoint_every must be a whole number >= 1, got 0"):
        train("sinc", **SETTINGS, checkpoint=tmp_path, checkpoint_every=0)


# --- killed while writing ------------------------------------------------------------------


def _write_forever(folder: str) -> None:
    """Write checkpoints of growing content as fast as possible until killed."""
    n = 0
    while True:
        n += 1
        contents = {"format": checkpoints.FORMAT, "n": n, "weights": torch.full((20_000,), n)}
        checkpoints.save(folder, contents)


def test_a_write_killed_at_any_instant_leaves_a_loadable_checkpoint(tmp_path):
    """20 SIGKILLs at random moments while checkpoints are being written: every time the file
    that is left loads, whole (the previous or the new checkpoint, never half of one)."""
    context = multiprocessing.get_context("fork")
    rng = random.Random(0)
    last = 0
    for _ in range(20):
        writer = context.Process(target=_write_forever, args=(str(tmp_path),))
        writer.start()
        deadline = time.monotonic() + 5
        while not (tmp_path / "checkpoint.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
        assert torch.equal(saved["weights"], torch.full((20_000,), saved["n"]))
        last = saved["n"]
    assert last >= 1
    leftovers = [p for p in tmp_path.iterdir() if p.name != "checkpoint.pt"]
    assert all(p.name.startswith(".checkpoint.") for p in leftovers)  # killed mid-write
