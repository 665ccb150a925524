"""``klp check``: the exit status says whether a transition is in progress."""

from __future__ import annotations

from .common import EXIT_FAIL, EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "check"
SYNOPSIS = NAME
SUMMARY = "exit 0 when ready, 1 while a transition is in progress"
OPTIONS = ()


def run(opts: Values, console: Console) -> int:
    from ...wiring import open_kernel

    return EXIT_FAIL if open_kernel(opts.root).in_transition() else EXIT_OK
