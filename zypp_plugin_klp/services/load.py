"""Make the newest installed live patch for the running kernel active, exactly once."""

import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from ..core import names
from ..core import transition as tr
from ..core.waiting import DEFAULTS, WaitPolicy
from ..drivers import host
from ..drivers.kernel import KernelDriver
from ..errors import KlpError
from . import transition
from .records import LastLoad

from ..paths import FAILED, LAST_LOAD  # noqa: F401  (re-exported for callers)

# Outcomes
ACTIVE = "active"            # the newest patch was already active: nothing done
LOADED = "loaded"            # loaded and its transition completed
IN_PROGRESS = "in_progress"  # loaded, transition still running at the end of the wait
NOTHING = "nothing"          # no live patch package installed for the kernel
BUSY = "lock_busy"           # another process held the lock past the deadline: it does the load
# FAILED (state.FAILED): the kernel refused, or another transition never finished


NOT_RUNNING = "not the running kernel"


def why_not_load(kernel: KernelDriver, environ: Dict[str, str], kernel_release: str) -> Optional[str]:
    """Why a live patch for ``kernel_release`` is not loaded now, or None when it may be."""
    from ..core.render import NO_LIVEPATCH
    from ..core.sysconfig import livepatch_mode, may_load

    root = kernel.root
    if host.in_build_root(environ, root):
        return "in a build root"
    mode = livepatch_mode(host.sysconfig(root, "livepatching"))
    if not may_load(mode, environ.get("TRANSACTIONAL_UPDATE")):
        return "LIVEPATCH_KERNEL=never" if mode == "never" else \
            "LIVEPATCH_KERNEL=auto inside a transactional update"
    if kernel.kernel_release() != kernel_release:
        return NOT_RUNNING
    if not kernel.livepatch_supported():
        return NO_LIVEPATCH
    return None


@dataclass(frozen=True)
class Outcome:
    """What :func:`load_newest` did, in one line for the administrator."""

    result: str
    message: str
    module: Optional[str] = None
    package: Optional[str] = None
    loaded_now: bool = False  # this call put the module into the kernel
    refused: bool = False     # the integrity gate refused the module file


class Unavailable(KlpError):
    """No module to load: none installed (NOTHING) or not one that may be loaded (FAILED)."""

    def __init__(self, result: str, message: str, package: Optional[str] = None,
                 refused: bool = False) -> None:
        super().__init__(message)
        self.result, self.package, self.refused = result, package, refused


@dataclass(frozen=True)
class Verified:
    """The newest installed module file of a kernel, checked by the integrity gate."""

    package: object
    rel_path: str  # inside the root, e.g. /lib/modules/<release>/livepatch/livepatch-3-1.ko
    fd: int        # open on the checked file: read from it, not from the path (caller closes)


def newest_verified(root: str, rpmdb: object, release: str) -> Verified:
    """The module of the newest installed ``kernel-livepatch-<release>`` package, verified (the
    one file the loader and the initrd may use); Unavailable when there is none or it is refused."""
    installed = rpmdb.installed(names.package_name(release))  # type: ignore[attr-defined]
    if not installed:
        raise Unavailable(NOTHING, f"no live patch is installed for kernel {release}")
    package = installed[-1]
    rel_path = module_path(package, release)
    if rel_path is None:
        raise Unavailable(FAILED, f"{package.nvra} has no module under "
                                  f"/lib/modules/{release}/livepatch (nor /usr/lib/modules)",
                          package.nvra)
    from .integrity import IntegrityError, verify

    try:
        return Verified(package, rel_path, verify(root, rel_path, package, release))
    except IntegrityError as exc:
        raise Unavailable(FAILED, f"refusing to load: {exc}", package.nvra, refused=True) from None


def module_path(package: object, release: str) -> Optional[str]:
    """The live patch module file a kernel-livepatch package installs for ``release`` (under
    /lib/modules or, for usr-merged kernels, /usr/lib/modules)."""
    from ..drivers.modfiles import livepatch_prefixes

    prefixes = livepatch_prefixes(release)
    for path in getattr(package, "files", ()):
        if path.startswith(prefixes) and path.endswith(".ko"):
            return path
    return None


def load_newest(root: str, kernel: KernelDriver, rpmdb: object, release: str,
                wait: float = DEFAULTS["scriptlet"].timeout,
                interval: float = DEFAULTS["scriptlet"].interval,
                on_wait: Optional[Callable[[str], None]] = None,
                lock: float = DEFAULTS["scriptlet"].lock, until: float = float("inf")) -> Outcome:
    """Load the newest installed ``kernel-livepatch-<release>`` patch unless it is active.

    Waits up to ``wait`` seconds for a running transition before loading and for the new one
    after. The outcome is recorded atomically in ``/var/lib/klp/last-load.json``, except BUSY:
    when another process holds the lock for ``lock`` seconds, nothing is done or recorded (the
    holder is loading and records its own outcome). ``until`` (a ``time.monotonic()`` time) is
    a deadline shared by the lock and both waits: each takes only what is left of it.
    """
    try:
        with host.Lock(root, on_wait, deadline=min(lock, until - time.monotonic())):
            outcome = _load_newest(root, kernel, rpmdb, release, wait, interval, until)
    except host.LockBusyError as exc:
        return Outcome(BUSY, f"{exc}; leaving the load to it")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    LastLoad(outcome.result, outcome.message, release, now, outcome.module, outcome.package,
             outcome.loaded_now, kernel.boot_id()).save(root)
    if outcome.module and outcome.package and outcome.result != FAILED:
        from .records import record_patch

        fresh: dict[str, str | None] = {"forced": None, "forced_boot": None} \
            if outcome.loaded_now else {}  # a module loaded now was never forced
        record_patch(root, outcome.module, package=outcome.package, loaded=now, **fresh)
    from . import remove

    try:  # a chore of every mutating run: the notices of earlier boots no longer hold
        remove.prune(root, kernel.boot_id())
    except host.HostFileError:
        pass
    return outcome


def _load_newest(root: str, kernel: KernelDriver, rpmdb: object, release: str,
                 wait: float, interval: float, until: float) -> Outcome:
    try:
        module = newest_verified(root, rpmdb, release)
    except Unavailable as exc:
        return Outcome(exc.result, str(exc), package=exc.package, refused=exc.refused)
    try:
        return _load_verified(root, kernel, module.fd, module.rel_path, module.package, wait,
                              interval, until)
    finally:
        host.close(module.fd)


def _load_verified(root: str, kernel: KernelDriver, fd: int, rel_path: str, package: object,
                   wait: float, interval: float, until: float) -> Outcome:
    """The rest of :func:`load_newest`, loading from the verified descriptor."""
    nvra = package.nvra  # type: ignore[attr-defined]
    try:
        module = kernel.inspect_fd(fd, rel_path).name or ""
    except KlpError as exc:
        return Outcome(FAILED, str(exc), package=nvra)
    current = {p.name: p for p in kernel.patches()}
    mine = current.get(module)
    if mine is not None and mine.enabled == 1 and mine.transition != 1:
        return Outcome(ACTIVE, f"{module} ({nvra}) is already active", module, nvra)
    if mine is not None and mine.enabled == 1:  # ours, still in transition: wait, do not reload
        return _settle(kernel, wait, interval, until, module, nvra)
    if tr.transitioning_patch(current.values()) is not None:
        done = transition.wait(kernel, WaitPolicy(wait, interval), until=until)
        if not done.completed:
            return Outcome(FAILED, f"the transition of {done.patch} did not finish within "
                                   f"{_seconds(done.elapsed, wait)}; {module} was not loaded "
                                   "(see 'klp blocking -v')", module, nvra)
        mine = kernel.patch(module)
        if mine is not None and mine.enabled == 1:
            return Outcome(ACTIVE, f"{module} ({nvra}) is active", module, nvra)
    try:
        if module in kernel.loaded_livepatch_modules():
            kernel.unload(module)  # replaced earlier but still loaded: reload it (a downgrade)
        kernel.load_fd(fd, rel_path)
    except KlpError as exc:
        return Outcome(FAILED, f"cannot load {module} ({nvra}): {exc}", module, nvra)
    return _settle(kernel, wait, interval, until, module, nvra, loaded_now=True)


def _settle(kernel: KernelDriver, wait: float, interval: float, until: float, module: str,
            nvra: str, loaded_now: bool = False) -> Outcome:
    """Wait for ``module``'s own transition: LOADED once it completes, else IN_PROGRESS."""
    done = transition.wait(kernel, WaitPolicy(wait, interval), until=until)
    if done.completed:
        return Outcome(LOADED, f"{module} ({nvra}) is active", module, nvra, loaded_now)
    return Outcome(IN_PROGRESS, f"{module} ({nvra}) is loaded; its transition is still in progress "
                                f"after {_seconds(done.elapsed, wait)} (see 'klp blocking -v')",
                   module, nvra, loaded_now)


def _seconds(elapsed: float, wait: float) -> str:
    """How long a wait that gave up lasted: its configured length, unless a shared deadline cut
    it short (then what it really got)."""
    return f"{wait:g}s" if elapsed >= wait else f"{elapsed:.1f}s (the rest of its deadline)"
