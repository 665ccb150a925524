"""``klp status``: ready or in_progress (polled by monitoring: keep it cheap)."""

from __future__ import annotations

from .common import EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "status"
SYNOPSIS = NAME
SUMMARY = ("print 'ready' or 'in_progress'; -v adds live patching support, the\n"
           "transition, reboots needed, patches not loaded, the last load, expiry")
OPTIONS = ()


def run(opts: Values, console: Console) -> int:
    from ...wiring import open_kernel

    kernel = open_kernel(opts.root)
    state = "in_progress" if kernel.in_transition() else "ready"
    if not opts.json and not opts.verbose:
        console.out(state + "\n")
        return EXIT_OK
    from ...core import render
    from ...services.status import facts
    from ...wiring import open_rpmdb

    report = facts(opts.root, kernel, open_rpmdb(opts.root))
    for warning in report.warnings:
        console.warn(warning)
    if opts.json:
        console.out(render.status_json(report.state, report))
    else:
        console.out(report.state + "\n" + "".join(f"{line}\n" for line in render.status_details(report)))
    return EXIT_OK
