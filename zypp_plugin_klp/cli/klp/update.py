"""``klp update``: install the newest live patch for the running kernel with zypper."""

from __future__ import annotations

from ..options import FLAG, Option
from .common import EXIT_FAIL, EXIT_OK, require_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...drivers.kernel import KernelDriver
    from ..options import Values
    from .common import Console

NAME = "update"
SYNOPSIS = "update [-n] [--dry-run]"
SUMMARY = "install the newest live patch for the running kernel with zypper"
OPTIONS = (Option(("-n",), "yes", FLAG), Option(("--dry-run",), "dry_run", FLAG))
DETAILS = """\
options:
  -n             do not ask for confirmation (zypper --non-interactive)
  --dry-run      only print the zypper command
Refused at once while a transition is in progress (the %pre gate would refuse the package). After
zypper, the installed version is checked: if it did not change, exit 1. With --json: one
klp-change/1 document; zypper's own output then goes to stderr.
"""


def change(opts: Values, console: Console, downgrade: bool) -> int:
    """``klp update`` / ``klp downgrade``: print the zypper command, ask unless -n, run it, and
    check that the installed version changed (zypper says "Nothing to do" with exit 0)."""
    import shlex

    from ...core.render import change_json
    from ...drivers import host
    from ...services.update import installed_now, plan_downgrade, plan_update, zypper_environment
    from ...wiring import interactive_runner, open_kernel, open_resolver

    what = "downgrade" if downgrade else "update"
    dry_run = getattr(opts, "dry_run", False)
    if not dry_run:
        require_root(what)
    kernel = open_kernel(opts.root)
    release = kernel.kernel_release()
    plan = (plan_downgrade if downgrade else plan_update)(open_resolver(opts.root), release, opts.root,
                                                         opts.yes)

    def answer(result: str, message: str, status: int, exit_status: int | None = None) -> int:
        if opts.json:
            console.out(change_json(what, plan.package, plan.current, plan.target, plan.argv, result,
                                    message, exit_status))
        elif status == EXIT_OK:
            console.out(message + "\n")
        else:
            console.err(f"{console.prog}: {message}")
        return status

    if plan.argv is None:
        return answer("nothing", plan.message, EXIT_FAIL if downgrade else EXIT_OK)
    blocked = None if dry_run else _transition_blockers(opts, console, kernel)
    if blocked:
        return answer("refused", f"cannot {what} now: {blocked}", EXIT_FAIL)
    command = " ".join(shlex.quote(a) for a in plan.argv)
    if dry_run:
        return answer("planned", f"{plan.message}:\n  {command}", EXIT_OK)
    if not opts.json:
        console.out(f"{plan.message}:\n  {command}\n")
    if not opts.yes and not console.confirm():
        return answer("cancelled", f"{what} cancelled", EXIT_FAIL)
    env, log = zypper_environment(opts.root, host.environment())
    try:
        status = interactive_runner()(plan.argv, bool(opts.json), env, () if log is None else (log,))
    finally:
        if log is not None:
            host.close(log)
    if status != 0:
        return answer("failed", f"zypper exited {status}; the {what} did not happen", status, status)
    now = installed_now(open_resolver(opts.root), release)
    if now != plan.target:
        return answer("not-done", f"the {what} did not happen: zypper changed nothing (Nothing to "
                                  f"do?); {plan.package} is at {now or 'no version'}, not {plan.target}",
                      EXIT_FAIL, status)
    return answer("done", f"{plan.package} is now at {now}", EXIT_OK, status)


def _transition_blockers(opts: Values, console: Console, kernel: KernelDriver) -> str | None:
    """Why zypper would be refused by the %pre gate right now (a running transition), or None."""
    if not kernel.in_transition():
        return None
    from ...core.render import printable
    from ...services import report

    found = report.blocking(kernel, 1, console.warn)
    if found.patch is None:
        return None
    who = ", ".join(sorted({f"{t.pid} ({printable((t.details.comm if t.details else None) or '?')})"
                            for t in found.tasks})) or "no task found yet"
    return (f"the live patch transition of {printable(found.patch.name)} is still in progress, "
            f"blocked by PID {who}; run 'klp wait' or 'klp blocking -v' and try again")


def run(opts: Values, console: Console) -> int:
    return change(opts, console, downgrade=False)
