"""``klp wait``: wait for the transition with progress; at the timeout name the blockers, maybe revert."""

from __future__ import annotations

from ..options import FLAG, VALUE, Option, seconds
from .common import EXIT_FAIL, EXIT_OK, require_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..options import Values
    from .common import Console

NAME = "wait"
SYNOPSIS = "wait [--timeout S] [--interval S] [--revert]"
SUMMARY = ("wait for the transition, showing progress; at the timeout name the\n"
           "blocking tasks, optionally reverse the transition, and exit 1")
OPTIONS = (
    Option(("--timeout",), "timeout", VALUE, convert=seconds),  # default: the wait policy's
    Option(("--interval",), "interval", VALUE, convert=lambda v, o: max(seconds(v, o), 0.01)),
    Option(("--revert",), "revert", FLAG),
)
DETAILS = """\
options:
  --timeout S    give up after S seconds (default: the wait policy's, see klp(8))
  --interval S   seconds between checks
  --revert       at the timeout, reverse the transition and wait for the reversal
With --json: one klp-wait/1 document (ready, elapsed, switched/total tasks, blocking tasks,
reverted). Exit 0 when no transition is in progress, 1 at the timeout.
"""


def run(opts: Values, console: Console) -> int:
    import sys

    from ...core import render
    from ...core.waiting import DEFAULTS, WaitPolicy
    from ...services import transition
    from ...wiring import open_kernel
    from .blocking import report

    if opts.revert:
        require_root("wait --revert")
    kernel = open_kernel(opts.root)
    default = DEFAULTS["cli"]
    policy = WaitPolicy(default.timeout if opts.timeout is None else opts.timeout,
                        default.interval if opts.interval is None else opts.interval)
    tty = sys.stderr.isatty() and not opts.json
    seen = {"switched": 0, "total": 0}

    def progress(patch: str, switched: int, total: int, elapsed: float) -> None:
        seen.update(switched=switched, total=total)
        line = render.progress_line(patch, switched, total, elapsed)
        sys.stderr.write(f"\r{line}\033[K" if tty else line + "\n")
        sys.stderr.flush()

    result = transition.wait(kernel, policy, progress)
    if tty:
        sys.stderr.write("\n")
    if result.completed:
        if opts.json:
            console.out(render.wait_json(result, seen["switched"] if seen["total"] else None,
                                         seen["total"] or None, None, None))
        else:
            console.out("ready\n")
        return EXIT_OK
    blockers = report(opts, console, 1)
    if not opts.json:
        console.err(f"{console.prog}: transition of {render.printable(result.patch or '?')} still in "
                    f"progress after {policy.timeout:g}s; blocking tasks:")
        console.err(render.blocking_text(blockers, 1).rstrip("\n"))
    reverted = None
    if opts.revert and result.patch:
        if not opts.json:
            console.err(f"{console.prog}: reversing the transition of {render.printable(result.patch)}")
        again = transition.revert(kernel, result.patch, policy, progress)
        reverted = again.completed
        if not opts.json:
            console.err(f"{console.prog}: transition reversed" if again.completed
                        else f"{console.prog}: the reversal is still in progress too")
    if opts.json:
        console.out(render.wait_json(result, blockers.switched, blockers.total, blockers, reverted))
    return EXIT_FAIL
