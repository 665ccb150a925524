"""``kgr blocking_threads``: the TIDs of the threads holding up the transition."""

from __future__ import annotations

from .common import EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "blocking_threads"
SYNOPSIS = NAME
SUMMARY = "TIDs of threads blocking the transition"
OPTIONS = ()


def run(opts: Values, console: Console) -> int:
    from ...core import render
    from .blocking import report

    console.out(render.threads_text(report(opts, console, 0)))
    return EXIT_OK
