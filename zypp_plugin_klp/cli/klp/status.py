"""``klp status``: ready or in_progress (polled by monitoring: keep it cheap)."""

from __future__ import annotations

from .common import EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "status"
SYNOPSIS = NAME
SUMMARY = "print 'ready' or 'in_progress'; -v adds pending reboots, last load"
OPTIONS = ()


def run(opts: Values, console: Console) -> int:
    from ...wiring import open_kernel

    kernel = open_kernel(opts.root)
    state = "in_progress" if kernel.in_transition() else "ready"
    if opts.json:
        from ...core.render import status_json

        console.out(status_json(state))
    else:
        console.out(state + "\n")
    if opts.verbose and not opts.json:
        from ...services.status import details
        from ...wiring import open_rpmdb

        for line in details(opts.root, kernel, open_rpmdb(opts.root)):
            console.out(line + "\n")
    return EXIT_OK
