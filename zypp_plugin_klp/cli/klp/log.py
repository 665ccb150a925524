"""``klp log``: what the zypper commit plugin saw, decided and did, one line per commit."""

from __future__ import annotations

from .common import EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "log"
SYNOPSIS = NAME
SUMMARY = "what the zypper commit plugin saw, decided and did, one line per commit"
OPTIONS = ()


def run(opts: Values, console: Console) -> int:
    from ...core.render import printable
    from ...services import journal

    for entry in journal.read(opts.root):
        if entry.record is not None:
            console.out(printable(journal.summary(entry.record)) + "\n")
        else:
            console.warn(f"ignoring unreadable record {printable(entry.name)}")
    return EXIT_OK
