"""The kernel driver interface (load, disable, force, unload, wait) and the real Linux driver."""

import errno as E
import os
import time
from dataclasses import dataclass
from typing import Callable, Optional

from ..core import transition as tr
from ..core.elfmod import ModuleFormatError, ModuleInfo, parse_module
from ..core.kerrors import describe
from ..errors import KernelError
from . import procfs, sysfs
from .modfiles import read_fd

Progress = Callable[[str, int, int, float], None]

SIMULATOR_STATE = "sys/kernel/.klp-simulator.json"  # a real sysfs can never contain this file


@dataclass(frozen=True)
class WaitResult:
    """How waiting for a transition ended."""

    completed: bool
    patch: Optional[str]
    elapsed: float


class KernelDriver:
    """What the product needs from a kernel with live patching; subclasses do the I/O."""

    def __init__(self, root: str = "/") -> None:
        self.root = root

    # -- operations ----------------------------------------------------------------------------
    def load(self, path: str) -> str:
        """Load the live patch module file at ``path`` (a host path); return its module name.

        The file must be a live patch (``livepatch=Y``) built for the running kernel release;
        otherwise nothing is loaded and a KernelError says why.
        """
        fd = self._open(path)
        try:
            return self.load_fd(fd, path)
        finally:
            os.close(fd)

    def load_fd(self, fd: int, label: str) -> str:
        """Load the module open as ``fd`` (what was verified is what gets loaded)."""
        info = self.inspect_fd(fd, label)
        self._insert(fd, info, label)
        return info.name or ""

    @staticmethod
    def _open(path: str) -> int:
        try:
            return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise KernelError(f"cannot read {path}: {exc.strerror}", exc.errno or 0) from None

    def inspect_fd(self, fd: int, label: str) -> ModuleInfo:
        """Read and check the module open as ``fd``; KernelError when it must not be loaded."""
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
        release = sysfs.kernel_release(self.root)
        built_for = (info.vermagic or "").split(" ", 1)[0]
        if release and built_for != release:
            raise KernelError(f"{name} was built for kernel {built_for or '(no vermagic)'}, "
                              f"the running kernel is {release}", E.ENOEXEC)
        return info

    def _insert(self, fd: int, info: ModuleInfo, label: str) -> None:
        raise NotImplementedError

    def disable(self, patch: str) -> None:
        """Start unpatching ``patch``, or reverse its transition while it is in progress."""
        raise NotImplementedError

    def force(self, patch: str) -> None:
        """Mark every task switched for the transitioning ``patch`` (irreversible)."""
        raise NotImplementedError

    def unload(self, name: str) -> None:
        """Remove the module ``name`` (its patch must have left sysfs)."""
        raise NotImplementedError

    def signal(self, patch: str) -> bool:
        """Signal tasks blocking ``patch``; False where the kernel does that by itself."""
        raise NotImplementedError

    def pause(self, seconds: float) -> None:
        """Let ``seconds`` pass for the kernel (the real one retries transitions every second)."""
        time.sleep(seconds)

    # -- waiting -------------------------------------------------------------------------------
    def wait_transition(self, timeout: float, interval: float = 1.0,
                        progress: Optional[Progress] = None,
                        clock: Callable[[], float] = time.monotonic) -> WaitResult:
        """Wait until no patch is in transition, at most ``timeout`` seconds.

        ``progress(patch, switched, total, elapsed)`` is called before each pause.
        """
        start = clock()
        last: Optional[str] = None
        while True:
            patch = tr.transitioning_patch(sysfs.read_patches(self.root))
            elapsed = clock() - start
            if patch is None:
                return WaitResult(True, last, elapsed)
            last = patch.name
            if elapsed >= timeout:
                return WaitResult(False, patch.name, elapsed)
            if progress is not None:
                found, total = procfs.scan_blocking(self.root, tr.transition_target(patch),
                                                    procfs.WalkStats())
                progress(patch.name, total - len(found), total, elapsed)
            self.pause(min(interval, max(0.0, timeout - elapsed)) or interval)


_SYSCALLS = {  # (finit_module, delete_module) by machine
    "x86_64": (313, 176), "aarch64": (273, 106), "ppc64le": (353, 129), "ppc64": (353, 129),
    "s390x": (344, 129),
}


class LinuxKernel(KernelDriver):
    """The running Linux kernel: finit_module(2)/delete_module(2) and sysfs writes."""

    def _syscall(self, which: int, *args: object) -> None:
        import ctypes  # lazy: only mutations need it

        numbers = _SYSCALLS.get(os.uname().machine)
        if numbers is None:
            raise KernelError(f"live patching is not supported on {os.uname().machine}", E.ENOSYS)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        if libc.syscall(ctypes.c_long(numbers[which]), *args) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

    def _insert(self, fd: int, info: ModuleInfo, label: str) -> None:
        import ctypes

        name = info.name or os.path.basename(label)
        try:
            self._syscall(0, ctypes.c_int(fd), ctypes.c_char_p(b""), ctypes.c_int(0))
        except OSError as exc:
            raise KernelError(describe("load", exc.errno or 0, name), exc.errno or 0) from None

    def unload(self, name: str) -> None:
        import ctypes

        try:
            self._syscall(1, ctypes.c_char_p(name.encode()), ctypes.c_uint(os.O_NONBLOCK))
        except OSError as exc:
            raise KernelError(describe("unload", exc.errno or 0, name), exc.errno or 0) from None

    def _write(self, patch: str, attribute: str, value: str) -> None:
        path = os.path.join(sysfs.livepatch_dir(self.root), patch, attribute)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise KernelError(describe("sysfs", E.ENOENT, patch), E.ENOENT) from None
        except OSError as exc:
            raise KernelError(describe("sysfs", exc.errno or 0, patch), exc.errno or 0) from None
        try:
            os.write(fd, value.encode())
        except OSError as exc:
            raise KernelError(describe("sysfs", exc.errno or 0, patch), exc.errno or 0) from None
        finally:
            os.close(fd)

    def disable(self, patch: str) -> None:
        self._write(patch, "enabled", "0")

    def force(self, patch: str) -> None:
        self._write(patch, "force", "1")

    def signal(self, patch: str) -> bool:
        if not os.path.exists(os.path.join(sysfs.livepatch_dir(self.root), patch, "signal")):
            return False
        self._write(patch, "signal", "1")
        return True


def open_kernel(root: str = "/") -> KernelDriver:
    """The driver for ``root``: the simulated kernel where its tree is mounted, else Linux."""
    if os.path.isfile(os.path.join(root, SIMULATOR_STATE)):
        from .simkernel import SimulatedKernel

        return SimulatedKernel(root)
    return LinuxKernel(root)
