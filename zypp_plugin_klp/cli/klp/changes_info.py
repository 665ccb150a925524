"""``klp rpm_changes_to_klp_info CHANGES NAME-VERSION-RELEASE.ARCH OUTFILE``: a live patch info file."""

from __future__ import annotations

from .common import EXIT_FAIL, EXIT_OK, EXIT_USAGE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "rpm_changes_to_klp_info"
SYNOPSIS = "rpm_changes_to_klp_info CHANGES NVRA OUTFILE"
SUMMARY = ("for packagers: write the info file of a live patch (its RPM, CVEs and bugs, for\n"
           "'klp -v patches') from the package's .changes file, as SUSE's build step does")
OPTIONS = ()
ARGUMENTS = True


def run(opts: Values, console: Console) -> int:
    from ...packager import PackagerError, changes_to_info

    if len(opts.arguments) != 3:
        console.err(f"{console.prog}: usage: {console.prog} {SYNOPSIS}")
        return EXIT_USAGE
    try:
        changes_to_info(*opts.arguments)
    except PackagerError as exc:
        console.err(f"{console.prog}: {exc}")
        return EXIT_FAIL
    return EXIT_OK
