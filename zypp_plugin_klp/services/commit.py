"""The commit plugin's use cases: before a commit (odd steps, a bounded wait for a running
transition) and after it (the newest patch loaded exactly once, erase notices)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..core.transaction import ERASE, INSTALL, MULTIVERSION, Step
from ..drivers.modfiles import kernel_installed
from ..drivers.kernel import KernelDriver
from . import transition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..drivers.runner import Result

Decide = Callable[[str], None]
Runner = Callable[[list[str]], "Result"]


def before(root: str, kernel: KernelDriver, steps: Sequence[Step], decide: Decide,
           until: float = float("inf")) -> None:
    """Note odd steps; wait (bounded, never past ``until``: a ``time.monotonic()`` time) for a
    running transition before rpm's %pre gate."""
    running = kernel.kernel_release()
    installs = [s for s in steps if s.type in (INSTALL, MULTIVERSION)]
    for step in installs:
        if step.kernel != running and not kernel_installed(root, step.kernel or ""):
            decide(f"{step.nvr} is for kernel {step.kernel}, which is neither running nor installed")
    names = [s.name for s in installs]
    for name in sorted({n for n in names if names.count(n) > 1}):
        decide(f"several versions of {name} in one commit: only the newest matters")
    if not any(s.kernel == running for s in installs) or not kernel.in_transition():
        return
    result = transition.wait(kernel, transition.policy_for("plugin", root, {}), until=until)
    decide(f"waited {result.elapsed:.1f}s for the transition of {result.patch}: " +
           ("completed" if result.completed else
            "still in progress, the %pre gate will refuse the new patch"))


def after(root: str, environ: dict[str, str], steps: Sequence[Step], started: str,
          kernel: KernelDriver, rpmdb: Any, run: Runner, decide: Decide,
          until: float = float("inf")) -> list[dict[str, Any]]:
    """Make the outcome right whatever the scriptlets managed; return the actions taken. The lock
    and every wait share the deadline ``until`` (a ``time.monotonic()`` time)."""
    actions: list[dict[str, Any]] = []
    running = kernel.kernel_release()
    installed_names = {s.name for s in steps if s.type in (INSTALL, MULTIVERSION)}
    ours = [s for s in steps if s.type in (INSTALL, MULTIVERSION) and s.kernel == running]
    if ours and not _posttrans_did_it(root, ours, started, decide):
        actions += _ensure_loaded(root, environ, kernel, rpmdb, running, decide, until)
    for step in steps:
        if step.type == ERASE and step.name not in installed_names:
            if step.kernel == running:
                actions += _ensure_erase_notice(root, environ, step, running, kernel.boot_id(),
                                                run, decide)
            else:
                decide(f"{step.nvr} was for kernel {step.kernel}, which is not running: "
                       "no reboot needed")
    from .metrics import refresh_after_change

    problem = refresh_after_change(kernel, lambda: rpmdb)  # node_exporter's textfile, if set up
    if problem:
        decide(f"metrics not refreshed: {problem}")
    return actions


def _posttrans_did_it(root: str, steps: list[Step], started: str, decide: Decide) -> bool:
    """Whether %posttrans of this very commit already handled one of ``steps`` (then the rpm
    database need not even be opened: this keeps the plugin cheap in the common case)."""
    from ..paths import FAILED
    from .records import LastLoad

    last = LastLoad.load(root)
    if last is None or last.result == FAILED or (last.time or "") < started:
        return False
    if last.package in {f"{s.nvr}.{s.arch}" for s in steps}:
        decide(f"%posttrans already handled {last.package}: {last.message}")
        return True
    return False


def _ensure_loaded(root: str, environ: dict[str, str], kernel: KernelDriver, rpmdb: Any,
                   release: str, decide: Decide, until: float) -> list[dict[str, Any]]:
    from ..core.sysconfig import mode_warning
    from ..drivers import host
    from .load import BUSY, load_newest, why_not_load

    warning = mode_warning(host.sysconfig(root, "livepatching"))
    if warning:
        decide(f"warning: {warning}")
    why = why_not_load(kernel, environ, release)
    if why is not None:
        decide(f"not loading live patches for {release}: {why}")
        return []
    wait = transition.policy_for("plugin", root, {})
    outcome = load_newest(root, kernel, rpmdb, release, wait.timeout, wait.interval, on_wait=decide,
                          lock=wait.lock, until=until)
    if outcome.result == BUSY:
        decide(outcome.message)
    return [{"load": outcome.result, "message": outcome.message}]


def _ensure_erase_notice(root: str, environ: dict[str, str], step: Step, running: str,
                         boot: str | None, run: Runner, decide: Decide) -> list[dict[str, Any]]:
    from . import initrd, remove

    if any(n.package == step.nvr for n in remove.notices(root, boot)):
        decide(f"{step.nvr}: reboot notice already recorded by %postun")
        return []
    remove.after_erase(root, step.nvr, step.kernel or "", running, boot=boot)
    messages = initrd.regenerate(root, environ, run)
    return [{"erase": step.nvr, "initrd": messages or "ok"}]
