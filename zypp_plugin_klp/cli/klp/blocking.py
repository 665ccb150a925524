"""``klp blocking``: the tasks holding up the transition (also the report ``wait`` prints)."""

from __future__ import annotations

from .common import EXIT_OK, NON_ROOT_WARNING, is_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...core.reports import BlockingReport
    from ..options import Values
    from .common import Console

NAME = "blocking"
SYNOPSIS = NAME
SUMMARY = "PIDs of tasks blocking the transition; -v command lines, -vv stacks"
OPTIONS = ()


def report(opts: Values, console: Console, details: int) -> BlockingReport:
    """The blocking report, warning non-root users that it is partial."""
    from ...services import report as reports
    from ...wiring import open_kernel

    if not is_root():
        console.err(NON_ROOT_WARNING)
    found = reports.blocking(open_kernel(opts.root), details, console.warn)
    if found.stats.denied and is_root():
        console.warn(f"{found.stats.denied} tasks could not be read")
    return found


def run(opts: Values, console: Console) -> int:
    from ...core import render

    found = report(opts, console, 2 if opts.json else min(opts.verbose, 2))
    console.out(render.blocking_json(found) if opts.json else render.blocking_text(found, opts.verbose))
    return EXIT_OK
