"""``klp force``: the emergency switch (marks every task of the transition switched)."""

from __future__ import annotations

from ..options import FLAG, Option
from .common import EXIT_FAIL, EXIT_OK, require_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "force"
SYNOPSIS = "force [-n]"
SUMMARY = "emergency: mark every task of the transition switched (asks first)"
OPTIONS = (Option(("-n",), "yes", FLAG),)
DETAILS = """\
options:
  -n             do not ask for confirmation
Writes 1 to /sys/kernel/livepatch/<patch>/force: every task counts as switched, even tasks still
running the old code. Irreversible; may crash the system; ask your vendor first. With nothing in
transition there is nothing to force (exit 0).
"""


def run(opts: Values, console: Console) -> int:
    from ...services import transition
    from ...wiring import open_kernel

    require_root("force")
    kernel = open_kernel(opts.root)
    patch = transition.transitioning(kernel, console.warn)
    if patch is None:
        console.out("nothing to force: no live patch transition is in progress\n")
        return EXIT_OK
    if not opts.yes:
        console.err(f"Forcing marks every task as switched to {patch.name}, even tasks still running "
                    "the old code. It cannot be undone and may crash the system; ask your vendor.")
        if not console.confirm():
            console.err("not forced")
            return EXIT_FAIL
    warning = transition.force(kernel, patch.name)
    if warning:
        console.warn(warning)
    from ...core.render import printable

    console.out(f"forced {printable(patch.name)}\n")
    return EXIT_OK
