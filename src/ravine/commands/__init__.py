"""The ``ravine`` commands, one module each.

A command module has ``NAME`` (what is typed after ``ravine``), ``HELP`` (its line in
``ravine --help``), ``add_arguments(parser)`` (its flags, the shared ones from
:mod:`.arguments`) and ``run(args) -> int`` (the exit status; a ValueError is a bad input,
which ``ravine`` prints as one line and exits with status 2). :data:`COMMANDS` lists them in
the order ``ravine --help`` shows them: a new command is a new module and one entry here.
"""

from __future__ import annotations

from . import (
    critical,
    descend,
    doctor,
    explore,
    lr_find,
    optimizers,
    reproduce,
    schedule,
    sweep,
    train,
    verify,
)

COMMANDS = (
    optimizers,
    verify,
    schedule,
    descend,
    sweep,
    reproduce,
    explore,
    critical,
    doctor,
    train,
    lr_find,
)

__all__ = ["COMMANDS"]
