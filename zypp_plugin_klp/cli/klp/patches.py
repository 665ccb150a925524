"""``klp patches``: the live patch modules, with their packages, fixes, expiry and updates."""

from __future__ import annotations

from .common import EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "patches"
SYNOPSIS = NAME
SUMMARY = "list live patch modules; -v adds RPM, CVE and bug fixes, -vv expiry/update"
OPTIONS = ()


def run(opts: Values, console: Console) -> int:
    from ...core import render
    from ...services import report
    from ...wiring import open_kernel, open_rpmdb

    rpmdb = open_rpmdb(opts.root) if opts.verbose or opts.json else None
    kernel = open_kernel(opts.root)
    reports = report.patches(kernel, rpmdb, console.warn)
    if rpmdb is not None:
        report.add_records(reports, opts.root, rpmdb, kernel.boot_id())
    if opts.verbose >= 2 or opts.json:
        import time

        from ...drivers.solver import SolverError
        from ...wiring import open_resolver

        report.add_objects(kernel, reports, console.warn)
        report.add_expiry(reports, opts.root, int(time.time()))
        try:
            report.add_updates(reports, open_resolver(opts.root))
        except SolverError as exc:
            console.warn(f"update status unknown: {exc}")
    console.out(render.patches_json(reports) if opts.json else render.patches_text(reports, opts.verbose))
    return EXIT_OK
