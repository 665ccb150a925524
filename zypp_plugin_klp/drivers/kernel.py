"""The kernel interface (reads and writes of live patching) and its reads over a sysfs/proc tree."""

from __future__ import annotations

import abc
import os

from . import sysfs

# ``klp status`` builds a driver: everything beyond sysfs is imported lazily or for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.elfmod import ModuleInfo
    from ..core.transition import Patch
    from ..core.reports import PatchObject, TaskDetails, WalkStats

    Warn = Callable[[str], None]


class KernelDriver(abc.ABC):
    """What the product needs from a kernel with live patching; one subclass per kind of kernel."""

    def __init__(self, root: str = "/") -> None:
        self.root = root

    # -- reads ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def kernel_release(self) -> str:
        """The running kernel's release (``uname -r``), or "" when unknown."""

    @abc.abstractmethod
    def boot_id(self) -> str | None:
        """This boot's identity (a UUID, new at every boot), or None when it cannot be read."""

    @abc.abstractmethod
    def livepatch_supported(self) -> bool:
        """Whether the kernel has live patching (its sysfs directory exists)."""

    @abc.abstractmethod
    def patches(self, warn: Warn = sysfs.ignore) -> list[Patch]:
        """Every live patch the kernel lists, in natural order."""

    @abc.abstractmethod
    def patch(self, name: str, warn: Warn = sysfs.ignore) -> Patch | None:
        """One live patch by name, or None when the kernel does not list it."""

    def patch_states(self) -> list[tuple[str, int | None, int | None]]:
        """``(name, enabled, transition)`` of every patch: :meth:`patches` without the objects,
        for ``klp metrics``, which runs every minute and must stay cheap."""
        return [(p.name, p.enabled, p.transition) for p in self.patches()]

    @abc.abstractmethod
    def patch_objects(self, name: str, warn: Warn = sysfs.ignore) -> list[PatchObject]:
        """The objects and functions patch ``name`` changes, as the kernel lists them."""

    @abc.abstractmethod
    def modules_newest_first(self) -> list[str]:
        """Loaded module names, the most recently loaded first (the order live patches stack)."""

    @abc.abstractmethod
    def ftrace_enabled(self) -> bool | None:
        """Whether ftrace may register handlers (live patches need it); None when unknown."""

    @abc.abstractmethod
    def in_transition(self) -> bool:
        """Whether any patch is in transition (the cheap check behind ``klp status``)."""

    @abc.abstractmethod
    def loaded_livepatch_modules(self) -> list[str]:
        """Loaded live patch modules, including replaced ones that left the patch list."""

    @abc.abstractmethod
    def blocking_tasks(self, target: int, stats: WalkStats,
                       warn: Warn = sysfs.ignore) -> tuple[list[tuple[int, int]], int]:
        """``(pid, tid)`` of the tasks not yet in ``target`` state, and how many tasks there are."""

    @abc.abstractmethod
    def task_details(self, pid: int, tid: int, with_stack: bool = False) -> TaskDetails:
        """Command name, command line and (optionally) kernel stack of one task."""

    # -- writes --------------------------------------------------------------------------------
    def load(self, path: str, params: str = "") -> str:
        """Load the live patch module file at ``path`` (a host path); return its module name.

        ``params`` is the module parameter string (``name=value ...``; the loader passes "").
        The file must be a live patch (``livepatch=Y``) built for the running kernel release;
        otherwise nothing is loaded and a KernelError says why.
        """
        fd = self._open(path)
        try:
            return self.load_fd(fd, path, params)
        finally:
            os.close(fd)

    def load_fd(self, fd: int, label: str, params: str = "") -> str:
        """Load the module open as ``fd`` (what was verified is what gets loaded)."""
        info = self.inspect_fd(fd, label)
        self._insert(fd, info, label, params)
        return info.name or ""

    @staticmethod
    def _open(path: str) -> int:
        from ..errors import KernelError

        try:
            return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise KernelError(f"cannot read {path}: {exc.strerror}", exc.errno or 0) from None

    def inspect_fd(self, fd: int, label: str) -> ModuleInfo:
        """Read and check the module open as ``fd``; KernelError when it must not be loaded."""
        import errno as E

        from ..core.elfmod import ModuleFormatError, parse_module
        from ..errors import KernelError
        from .modfiles import read_fd

        name = os.path.basename(label)
        try:
            data = read_fd(fd)
        except OSError as exc:
            raise KernelError(f"cannot read {label}: {exc.strerror}", exc.errno or 0) from None
        try:
            info = parse_module(data)
        except ModuleFormatError as exc:
            raise KernelError(f"{name} is not a kernel module: {exc}", E.ENOEXEC) from None
        if not info.name:
            raise KernelError(f"{name} has no module name in .modinfo", E.ENOEXEC)
        if not info.is_livepatch:
            raise KernelError(f"{name} is not a live patch module (no livepatch=Y in .modinfo)",
                              E.EINVAL)
        release = self.kernel_release()
        built_for = (info.vermagic or "").split(" ", 1)[0]
        if release and built_for != release:
            raise KernelError(f"{name} was built for kernel {built_for or '(no vermagic)'}, "
                              f"the running kernel is {release}", E.ENOEXEC)
        return info

    @abc.abstractmethod
    def _insert(self, fd: int, info: ModuleInfo, label: str, params: str = "") -> None:
        """Put the checked module open as ``fd`` into the kernel with parameters ``params``."""

    @abc.abstractmethod
    def disable(self, patch: str) -> None:
        """Start unpatching ``patch``, or reverse its transition while it is in progress."""

    @abc.abstractmethod
    def force(self, patch: str) -> None:
        """Mark every task switched for the transitioning ``patch`` (irreversible)."""

    @abc.abstractmethod
    def unload(self, name: str) -> None:
        """Remove the module ``name`` (its patch must have left sysfs)."""

    @abc.abstractmethod
    def signal(self, patch: str) -> bool:
        """Signal tasks blocking ``patch``; False where the kernel does that by itself."""

    def pause(self, seconds: float) -> None:
        """Let ``seconds`` pass for the kernel (the real one retries transitions every second)."""
        import time

        time.sleep(seconds)



class TreeKernel(KernelDriver):
    """Reads from a kernel's sysfs and procfs under ``root`` (the real ones, or a simulated tree)."""

    def kernel_release(self) -> str:
        return sysfs.kernel_release(self.root)

    def boot_id(self) -> str | None:
        return sysfs.boot_id(self.root)

    def livepatch_supported(self) -> bool:
        return os.path.isdir(sysfs.livepatch_dir(self.root))

    def patches(self, warn: Warn = sysfs.ignore) -> list[Patch]:
        return sysfs.read_patches(self.root, warn)

    def patch(self, name: str, warn: Warn = sysfs.ignore) -> Patch | None:
        return sysfs.read_patch(self.root, name, warn)

    def patch_objects(self, name: str, warn: Warn = sysfs.ignore) -> list[PatchObject]:
        return sysfs.read_objects(self.root, name, warn)

    def modules_newest_first(self) -> list[str]:
        return sysfs.modules_newest_first(self.root)

    def ftrace_enabled(self) -> bool | None:
        return sysfs.ftrace_enabled(self.root)

    def in_transition(self) -> bool:
        return sysfs.any_transition(self.root)

    def patch_states(self) -> list[tuple[str, int | None, int | None]]:
        return sysfs.patch_states(self.root)

    def loaded_livepatch_modules(self) -> list[str]:
        return sysfs.loaded_livepatch_modules(self.root)

    def blocking_tasks(self, target: int, stats: WalkStats,
                       warn: Warn = sysfs.ignore) -> tuple[list[tuple[int, int]], int]:
        from . import procfs

        return procfs.scan_blocking(self.root, target, stats, warn)

    def task_details(self, pid: int, tid: int, with_stack: bool = False) -> TaskDetails:
        from . import procfs

        return procfs.task_details(self.root, pid, tid, with_stack)

