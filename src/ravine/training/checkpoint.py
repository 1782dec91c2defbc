"""Checkpoints of a training run: what a resumed run needs to end bit for bit where the run that
never stopped ends.

A checkpoint is one file, ``DIR/checkpoint.pt`` (``torch.save``; read back with
``torch.load(weights_only=True)``), written atomically: a new checkpoint goes to a temporary
file, is flushed to disk and renamed over the old one, so a run killed at any instant leaves
the previous checkpoint whole and loadable. It holds:

- the run's identity (task, model, loss, optimizer, η, options, schedule, batch size, seed,
  split sizes, fold): a checkpoint of another run is refused, naming what differs;
- θ and the buffers, the optimizer's state (m, σ, step counts), the scheduler's and the
  Monitor's state;
- where the run is: the epoch, the next batch within it and that epoch's order of examples,
  the shuffling generator's state and torch's global random state (dropout);
- the record so far: every update's loss, the per-epoch table, the update time.

A file that cannot be read (truncated, corrupted, not a checkpoint) is refused with one line,
and nothing is written over it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from ..files import folder_to_write, replace_atomically

FORMAT = "ravine-train-checkpoint/1"
FILE = "checkpoint.pt"


@dataclass
class Position:
    """Where a run is: ``epoch`` (from 1) is the epoch in progress or next, ``batch`` the next
    batch of it to use (from 0), ``order`` the epoch's order of training examples once drawn
    (None when the epoch has not begun: it is drawn from the shuffling generator)."""

    epoch: int = 1
    batch: int = 0
    order: torch.Tensor | None = None


def path_of(directory: str | Path) -> Path:
    """The checkpoint file of the folder ``directory``."""
    return Path(directory) / FILE


def check_folder(directory: str | Path) -> Path:
    """``directory`` as a folder a checkpoint can be written in: an existing regular file
    there is refused (ValueError), a missing folder is created at the first save."""
    return folder_to_write(directory, "checkpoint folder")


def save(directory: str | Path, contents: dict[str, Any]) -> Path:
    """Write ``contents`` (see :func:`contents_of`) as the checkpoint of ``directory``,
    atomically and durably (flushed to disk before the rename). Returns the file's path."""

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as file:
            torch.save(contents, file)
            file.flush()
            os.fsync(file.fileno())

    return replace_atomically(path_of(check_folder(directory)), write)


def contents_of(
    identity: dict[str, Any],
    position: Position,
    states: dict[str, Any],
    shuffle: torch.Generator,
    record: dict[str, Any],
) -> dict[str, Any]:
    """The checkpoint's contents: the run's ``identity``, its ``position``, the ``states`` of
    model, optimizer, scheduler and Monitor (state_dicts, None where there is none), the
    generators' states and the ``record`` so far (losses, history, update_seconds)."""
    return {
        "format": FORMAT,
        "identity": identity,
        "position": asdict(position),
        "states": states,
        "shuffle": shuffle.get_state(),
        "rng": torch.get_rng_state(),
        "record": record,
    }


def load(directory: str | Path, identity: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint of ``directory``, checked: readable, a ravine training checkpoint, and of
    the run described by ``identity``. Raises ValueError in one line naming what is wrong."""
    path = path_of(directory)
    if not path.is_file():
        raise ValueError(f"no checkpoint to resume from: {str(path)!r} does not exist")
    try:
        saved = torch.load(path, weights_only=True)
    except Exception:  # truncated, corrupted, or another format; torch's advice does not apply
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be read: it is not a ravine training checkpoint, "
            "or it is truncated or corrupted"
        ) from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a ravine training checkpoint")
    for key, value in identity.items():
        theirs = saved["identity"].get(key)
        if _comparable(theirs) != _comparable(value):
            hint = " (the split is set by --validation or --folds)" if key in SPLIT else ""
            raise ValueError(
                f"checkpoint {str(path)!r} is of another run: it was trained with "
                f"{_setting(key, theirs)}; this run asks for {_setting(key, value)}{hint}; "
                "resume with the settings it was written with"
            )
    return saved


SPLIT = ("train_size", "val_size")  # what a different --validation or --folds changes


def _setting(key: str, value: Any) -> str:
    """One identity entry in a user's words: "no schedule", "η = 0.01", "batch size 16"."""
    if key == "schedule":
        return "no schedule" if value is None else f"schedule {value}"
    if key == "options":
        pairs = [
            f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
            for k, v in (value or {}).items()
        ]
        return "no --opt options" if not pairs else f"--opt {' --opt '.join(pairs)}"
    if key == "lr":
        return f"η = {value:g}"
    if key in SPLIT:
        return f"{value} {'training' if key == 'train_size' else 'validation'} examples"
    if key == "fold":
        return "no folds" if value is None else f"fold {value + 1}"
    if key == "monitor":
        return "--monitor" if value else "no --monitor"
    return f"{key.replace('_', ' ')} {value}"


def check_epochs(directory: str | Path, saved: dict[str, Any], epochs: int) -> None:
    """ValueError when the checkpoint of ``directory`` has gone past ``epochs``: the epoch it
    was saved in (or the last it finished) is later than the run's last."""
    position = position_of(saved)
    reached = position.epoch if position.batch > 0 else position.epoch - 1
    if reached > epochs:
        updates = len(saved["record"]["losses"])
        where = f"in epoch {reached}" if position.batch > 0 else f"after epoch {reached}"
        raise ValueError(
            f"checkpoint {str(path_of(directory))!r} is already past --epochs {epochs}: it was "
            f"saved {where}, after update {updates}; resume with --epochs {reached} or more"
        )


def position_of(saved: dict[str, Any]) -> Position:
    """The saved run's :class:`Position`."""
    return Position(**saved["position"])


def _comparable(value: Any) -> Any:
    """Lists and tuples alike (a saved tuple may come back a list)."""
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return value
