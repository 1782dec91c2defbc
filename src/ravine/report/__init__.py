"""Figures and reports: what people would rather look at than read.

:class:`Result` is one experiment's outcome, :func:`jsonable` turns its numbers into plain
JSON, and :func:`write_report` writes the HTML page and ``results.json`` for a list of them.
The plots (:mod:`.plots`) are imported on their own, since they load matplotlib.
"""

from .html import write_report
from .result import Evidence, NotRun, Result, jsonable

__all__ = ["Evidence", "NotRun", "Result", "jsonable", "write_report"]
