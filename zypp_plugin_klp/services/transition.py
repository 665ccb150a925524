"""Waiting for a live patch transition, and the emergency levers: revert, force and signal."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..core import transition as tr
from ..core.reports import WalkStats
from ..core.waiting import DONE, GIVE_UP, SIGNAL, WaitPolicy, WaitResult, policy, step, within
from ..drivers import host
from ..drivers.kernel import KernelDriver

Progress = Callable[[str, int, int, float], None]
Warn = Callable[[str], None]


def policy_for(waiter: str, root: str, environ: dict[str, str]) -> WaitPolicy:
    """The wait policy of ``waiter`` with /etc/sysconfig/livepatching and the environment."""
    return policy(waiter, host.sysconfig(root, "livepatching"), environ)


def wait(kernel: KernelDriver, policy: WaitPolicy, progress: Progress | None = None,
         clock: Callable[[], float] = time.monotonic, until: float = float("inf")) -> WaitResult:
    """Wait until no patch is in transition, as ``policy`` says, and never past ``until`` (a
    ``clock`` time: the deadline this wait shares with others, e.g. one plugin answer's).

    ``progress(patch, switched, total, elapsed)`` is called before each pause.
    """
    start = clock()
    policy = within(policy, until - start)
    last: str | None = None
    signalled = False
    while True:
        patch = tr.transitioning_patch(kernel.patches())
        elapsed = clock() - start
        move, pause = step(policy, elapsed, patch is not None, signalled)
        if move == DONE:
            return WaitResult(True, last, elapsed)
        assert patch is not None
        last = patch.name
        if move == GIVE_UP:
            return WaitResult(False, patch.name, elapsed)
        if move == SIGNAL:
            signalled = True
            kernel.signal(patch.name)
            continue
        if progress is not None:
            found, total = kernel.blocking_tasks(tr.transition_target(patch), WalkStats())
            progress(patch.name, total - len(found), total, elapsed)
        kernel.pause(pause)


def transitioning(kernel: KernelDriver, warn: Warn) -> tr.Patch | None:
    """The patch in transition, if any."""
    return tr.transitioning_patch(kernel.patches(warn))


def revert(kernel: KernelDriver, patch: str, policy: WaitPolicy,
           progress: Progress | None = None) -> WaitResult:
    """Reverse the transition of ``patch`` and wait for the reversal."""
    kernel.disable(patch)
    return wait(kernel, policy, progress)


def force(kernel: KernelDriver, patch: str) -> str | None:
    """Mark every task switched for ``patch`` (irreversible; the caller asked the administrator),
    and record it, so ``klp -v patches`` marks the patch as forced; returns a warning when the
    record could not be written (the kernel has forced the transition anyway)."""
    from ..errors import KlpError
    from .records import record_patch

    kernel.force(patch)
    try:
        record_patch(kernel.root, patch, forced=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     forced_boot=kernel.boot_id())
    except KlpError as exc:
        return f"forced, but not recorded: {exc}"
    return None


def signal(kernel: KernelDriver, patch: str) -> bool:
    """Signal the tasks blocking ``patch``; False where the kernel does that by itself."""
    return kernel.signal(patch)
