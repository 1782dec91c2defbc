"""The ``ravine`` command: it assembles the commands of :mod:`ravine.commands` (one module
each, with its own flags and its own ``run``), parses the command line and runs the one
chosen. A bad value fails with one line and exit status 2, whether the parser or the library
refuses it.

``ravine --help`` lists the commands; ``ravine COMMAND --help`` gives each one's flags;
``ravine --version`` says the installed version. ``-v/--verbose`` and ``-q/--quiet`` (before or
after the command) say more or less on stderr: results go to stdout, progress and warnings to
stderr through :mod:`logging` (:mod:`ravine.commands.progress`).

A file or folder that cannot be written is also one line and exit status 2 (the commands check
their output paths before the work starts; this catches what those checks could not foresee).
When the reader of stdout goes away (``ravine ... | head``), ravine stops quietly with exit
status 141, as a Unix tool stopped by SIGPIPE does (128 + 13).
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Sequence

from .commands import COMMANDS
from .commands.arguments import add_output_flags
from .commands.progress import configure_logging
from .files import WriteError


def version() -> str:
    """The installed distribution's version, else the package's ``__version__``."""
    from importlib import metadata

    try:
        return metadata.version("ravine")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        from . import __version__

        return __version__


class _Parser(argparse.ArgumentParser):
    """Bad command lines fail with one clear line (and exit status 2), not a usage dump."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """``ravine`` and one sub-parser per command module, each with the module's flags and its
    ``run`` as the ``run`` default."""
    parser = _Parser(
        prog="ravine",
        description="Adaptive learning rates for PyTorch: θ ← θ − (η^t/σ^t)·m^t.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    add_output_flags(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(sub)
        add_output_flags(sub, command=True)
        sub.set_defaults(run=command.run)
    return parser


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--start -120,-4`` → ``--start=-120,-4``: argparse would take ``-120,-4`` for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--start" and arg.startswith("-"):
            joined[-1] = f"--start={arg}"
        else:
            joined.append(arg)
    return joined


PIPE_CLOSED = 128 + 13  # the status of a process stopped by SIGPIPE, as a shell reports it


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ravine`` on ``argv`` (default: the process's arguments); the exit status."""
    parser = build_parser()
    args = parser.parse_args(_join_negative_values(list(sys.argv[1:] if argv is None else argv)))
    if args.verbose and args.quiet:  # one given before the command, the other after
        parser.error("-v/--verbose and -q/--quiet say opposite things; give one")
    try:
        with configure_logging(verbose=args.verbose, quiet=args.quiet):
            status = args.run(args)
            sys.stdout.flush()  # a closed pipe is found here, not at the exit
            return status
    except ValueError as error:
        print(f"ravine: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout is gone (| head): nothing more to say
        _silence_stdout()
        return PIPE_CLOSED
    except OSError as error:  # a file that could not be written (or read)
        print(f"ravine: error: {_reason(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C, or one where no command stops cleanly
        print("ravine: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at the null device, so that flushing what is left at the exit does not
    fail again on the closed pipe (the recipe of Python's documentation on SIGPIPE)."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (captured): nothing to flush
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)


def _reason(error: OSError) -> str:
    """One line for ``error``: what could not be done with which path, and why."""
    if isinstance(error, WriteError) or not error.filename:
        return str(error)
    return f"cannot use {str(error.filename)!r}: {error.strerror}"
