"""``klp check-module FILE.ko...``: the build-time checks of a live patch module (SUSE's lp-mod-checks)."""

from __future__ import annotations

from .common import EXIT_FAIL, EXIT_OK, EXIT_USAGE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "check-module"
SYNOPSIS = "check-module FILE.ko..."
SUMMARY = ("for packagers: a live patch module must depend on no other module and carry no\n"
           ".klp.*__jump_table section (exit 1 with one line per problem)")
OPTIONS = ()
ARGUMENTS = True


def run(opts: Values, console: Console) -> int:
    from ...packager import PackagerError, check_module

    if not opts.arguments:
        console.err(f"{console.prog}: check-module needs at least one FILE.ko")
        return EXIT_USAGE
    problems = []
    for path in opts.arguments:
        try:
            problems += check_module(path)
        except PackagerError as exc:
            problems.append(str(exc))
    for problem in problems:
        console.err(f"{console.prog}: {problem}")
    return EXIT_FAIL if problems else EXIT_OK
