"""``klp update``: install the newest live patch for the running kernel with zypper."""

from __future__ import annotations

from ..options import FLAG, Option
from .common import EXIT_FAIL, EXIT_OK, require_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "update"
SYNOPSIS = "update [-n] [--dry-run]"
SUMMARY = "install the newest live patch for the running kernel with zypper"
OPTIONS = (Option(("-n",), "yes", FLAG), Option(("--dry-run",), "dry_run", FLAG))


def change(opts: Values, console: Console, downgrade: bool) -> int:
    """``klp update`` / ``klp downgrade``: print the zypper command, ask unless -n, run it."""
    import shlex

    from ...services.update import plan_downgrade, plan_update
    from ...wiring import interactive_runner, open_kernel, open_resolver

    what = "downgrade" if downgrade else "update"
    dry_run = getattr(opts, "dry_run", False)
    if not dry_run:
        require_root(what)
    release = open_kernel(opts.root).kernel_release()
    plan = (plan_downgrade if downgrade else plan_update)(open_resolver(opts.root), release, opts.root,
                                                         opts.yes)
    if plan.argv is None:
        console.out(plan.message + "\n")
        return EXIT_FAIL if downgrade else EXIT_OK
    command = " ".join(shlex.quote(a) for a in plan.argv)
    console.out(f"{plan.message}:\n  {command}\n")
    if dry_run:
        return EXIT_OK
    if not opts.yes and not console.confirm():
        console.err(f"{console.prog}: {what} cancelled")
        return EXIT_FAIL
    return interactive_runner()(plan.argv)


def run(opts: Values, console: Console) -> int:
    return change(opts, console, downgrade=False)
