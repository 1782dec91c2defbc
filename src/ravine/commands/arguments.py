"""The flags several commands share, each defined once, and the argparse types that read them.

A type refuses a bad value with one line that names what was expected and repeats what was
typed (``argument --steps: must be >= 1, got 0``); the parser prints it and exits with status 2.

The optimizer flags (:func:`add_optimizer_arguments`) give η and the other hyperparameters
apart: :func:`hyperparameters` returns η as its own value, ``--lr`` first, else ``--opt lr=X``,
else None for the optimizer's own default.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import schedules
from ..files import check_writable, folder_to_write
from ..optim import catalog
from ..validation import is_real

OPTIMIZERS = ", ".join(catalog.CATALOG)
OPT_HELP = "an optimizer hyperparameter, repeatable (e.g. --opt betas=0.9,0.98)"

# --- argparse types ---------------------------------------------------------------------------


def reading(
    convert: Callable[[str], Any], kind: str, ok: Callable[[Any], bool], domain: str
) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)`` (refused as not ``kind``), then ``ok(value)`` (refused
    with ``domain``), each with a one-line reason that repeats the text typed."""

    def read(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{domain}, got {text}")
        return value

    return read


# A count of steps, epochs or examples: a whole number >= 1.
whole_number = reading(int, "a whole number", lambda v: v >= 1, "must be >= 1")
# η and its bounds: a finite number > 0.
positive_number = reading(
    float, "a number", lambda v: is_real(v) and v > 0, "must be a finite number > 0"
)
# K of K-fold cross-validation.
fold_count = reading(
    int, "a whole number", lambda v: v >= 2, "K-fold cross-validation needs K >= 2"
)
# The share of the examples held out for validation.
fraction = reading(float, "a number", lambda v: 0 <= v < 1, "must be a fraction in [0, 1)")


def folder_path(text: str) -> Path:
    """argparse type: a folder to read (a checkpoint to resume); an existing regular file there
    is refused."""
    try:
        return folder_to_write(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def output_folder(text: str) -> Path:
    """argparse type: a folder to write in (figures, checkpoints, a report), refused before
    any work when nothing could be written there (:func:`ravine.files.check_writable`)."""
    try:
        return check_writable(text, folder=True)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def output_file(text: str) -> str:
    """argparse type: the name of a file to write (a figure, a CSV table), refused before any
    work when it names a folder or nothing could be written where it goes
    (:func:`ravine.files.check_writable`)."""
    try:
        check_writable(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def one_of(kind: str, names: Iterable[str]) -> Callable[[str], str]:
    """argparse type: a name from ``names``; anything else is refused listing the valid ones."""
    valid = list(names)

    def read(text: str) -> str:
        if text not in valid:
            raise argparse.ArgumentTypeError(f"unknown {kind} {text!r}; valid: {', '.join(valid)}")
        return text

    return read


def schedule_spec(text: str) -> schedules.Schedule:
    """argparse type: a schedule spec (η^t as a multiple of η), refused with its reason."""
    try:
        return schedules.from_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def lr_spec(text: str) -> list[float]:
    """argparse type: η as X, X,Y,... or A:B:N (log-spaced), refused with its reason."""
    from ..sweep import parse_lrs

    try:
        return parse_lrs(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def start_point(text: str) -> tuple[float, float]:
    """argparse type: a surface's θ⁰ as two finite numbers 'θ1,θ2' (b,w on the Pokémon loss)."""
    try:
        values = tuple(float(p) for p in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2 or not all(is_real(v) for v in values):
        raise argparse.ArgumentTypeError(
            f"expected two finite numbers separated by a comma, like --start=-120,-4; got {text!r}"
        )
    return values  # type: ignore[return-value]


# --- the optimizer: --optimizer, --lr, --opt, --schedule --------------------------------------


def add_optimizer_arguments(
    parser: argparse.ArgumentParser, *, many: bool = False, sweep: bool = False
) -> argparse.Action | None:
    """``--optimizer NAME``, ``--lr X``, repeated ``--opt key=value`` and ``--schedule SPEC``.

    With ``many``, ``--optimizer`` is repeatable and optional (default: all). With ``sweep``,
    ``--lr`` also takes a list or a log-spaced grid: a list of η. Returns the ``--optimizer``
    action (None with ``many``)."""
    optimizer = add_optimizer(parser, many=many)
    if sweep:
        from ..sweep import LR_SPEC_HELP

        parser.add_argument("--lr", type=lr_spec, metavar="SPEC", help=LR_SPEC_HELP)
    else:
        parser.add_argument("--lr", type=float, metavar="X", help="learning rate η")
    add_opt(parser)
    parser.add_argument(
        "--schedule",
        metavar="SPEC",
        type=schedule_spec,
        help="η^t as a multiple of --lr, e.g. 'linear-warmup:steps=10 >> cosine:steps=90'",
    )
    return optimizer


def add_optimizer(
    parser: argparse.ArgumentParser, *, many: bool = False, checked: bool = False
) -> argparse.Action | None:
    """``--optimizer NAME``, a catalog name, required; with ``many``, repeatable and optional
    (default: all). With ``checked``, an unknown name is refused while parsing; otherwise
    :func:`ravine.optim.catalog.entry` refuses it when the command runs. Returns the argparse
    action (None with ``many``)."""
    if many:
        parser.add_argument(
            "--optimizer",
            action="append",
            metavar="NAME",
            help=f"optimizer to use, repeatable (default: all); one of {OPTIMIZERS}",
        )
        return
    return parser.add_argument(
        "--optimizer",
        required=True,
        type=one_of("optimizer", catalog.CATALOG) if checked else None,
        metavar="NAME",
        help=f"one of {OPTIMIZERS}",
    )


def add_opt(parser: argparse.ArgumentParser, help: str = OPT_HELP) -> None:
    """Repeated ``--opt key=value``: the optimizer's hyperparameters, typed by
    :func:`ravine.optim.catalog.parse_options`."""
    parser.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE", help=help)


def hyperparameters(
    optimizer: str, pairs: Iterable[str], lr: float | None
) -> tuple[float | None, dict[str, Any]]:
    """η and the other hyperparameters of ``optimizer`` from the command line.

    ``pairs`` are the ``--opt key=value`` texts, ``lr`` the ``--lr`` value (None when not
    given). η is ``lr``, else None: the optimizer's own default, which the library fills in
    and reports with its result; ``--opt lr=X`` is refused (η is set in one place, ``--lr``)."""
    return lr, catalog.parse_options(optimizer, pairs)


# --- the rest of the shared flags ---------------------------------------------------------------


def add_task(
    parser: argparse.ArgumentParser,
    help: str,
    *,
    names: Iterable[str] | None = None,
    kind: str = "task",
    default: str | None = None,
) -> argparse.Action:
    """``--task NAME``: a built-in task (or surface); required unless it has a ``default``.
    With ``names``, anything else is refused while parsing as an unknown ``kind``. Returns the
    argparse action."""
    return parser.add_argument(
        "--task",
        required=default is None,
        default=default,
        type=None if names is None else one_of(kind, names),
        metavar="NAME",
        help=help,
    )


def add_steps(
    parser: argparse.ArgumentParser,
    default: int | None,
    help: str | None = None,
    *,
    metavar: str | None = "N",
    type: Callable[[str], int] = whole_number,
) -> None:
    """``--steps N``: the number of updates (help: "updates (default N)"); required when
    ``default`` is None."""
    parser.add_argument(
        "--steps",
        type=type,
        default=default,
        required=default is None,
        metavar=metavar,
        help=f"updates (default {default})" if help is None else help,
    )


def add_batch_size(parser: argparse.ArgumentParser) -> None:
    """``--batch-size B``: examples per mini-batch, a whole number (default 32)."""
    parser.add_argument(
        "--batch-size", type=whole_number, default=32, metavar="B", help="default 32"
    )


def add_seed(
    parser: argparse.ArgumentParser,
    help: str,
    *,
    default: int | None = 0,
    metavar: str | None = "S",
) -> None:
    """``--seed S``: the seed of what ``help`` names."""
    parser.add_argument("--seed", type=int, default=default, metavar=metavar, help=help)


def add_plot(parser: argparse.ArgumentParser, help: str, *, folder: bool = False) -> None:
    """``--plot FILE.png``, or ``--plot DIR`` (a Path) for a ``folder`` of figures."""
    if folder:
        parser.add_argument("--plot", type=output_folder, metavar="DIR", help=help)
    else:
        parser.add_argument("--plot", type=output_file, metavar="FILE.png", help=help)


def add_json(parser: argparse.ArgumentParser, help: str = "print JSON") -> None:
    """``--json``: print the result as JSON instead of text."""
    parser.add_argument("--json", action="store_true", help=help)


def add_output_flags(parser: argparse.ArgumentParser, *, command: bool = False) -> None:
    """``-v/--verbose`` and ``-q/--quiet``: what is said on stderr (:mod:`.progress`).

    Given to ``ravine`` and again to each ``command`` (with no default there, so that
    ``ravine -q train ...`` and ``ravine train ... -q`` both count)."""
    default: Any = argparse.SUPPRESS if command else False
    said = parser.add_mutually_exclusive_group()
    said.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="say more on stderr: the debug messages too",
    )
    said.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="say less on stderr: no progress, only warnings and errors",
    )
