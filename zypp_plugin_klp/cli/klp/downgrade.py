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


def run(opts: Values, console: Console) -> int:
    from .update import change

    return change(opts, console, downgrade=True)
