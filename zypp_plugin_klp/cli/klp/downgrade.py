"""``klp downgrade``: go back to the previous live patch version (zypper in --oldpackage)."""

from __future__ import annotations

from ..options import FLAG, Option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "downgrade"
SYNOPSIS = "downgrade [-n] [--dry-run]"
SUMMARY = "go back to the previous live patch version (zypper in --oldpackage)"
OPTIONS = (Option(("-n",), "yes", FLAG), Option(("--dry-run",), "dry_run", FLAG))
DETAILS = """\
options:
  -n             do not ask for confirmation (zypper --non-interactive)
  --dry-run      only print the zypper command
Exit 1 when there is no older version, while a transition is in progress (naming the blocking
tasks), and when zypper did not change the installed version ("Nothing to do"); errors go to
stderr. With --json: one klp-change/1 document; zypper's own output then goes to stderr.
"""


def run(opts: Values, console: Console) -> int:
    from .update import change

    return change(opts, console, downgrade=True)
