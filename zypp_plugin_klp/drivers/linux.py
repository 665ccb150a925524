"""The running Linux kernel: finit_module(2)/delete_module(2) and sysfs writes."""

from __future__ import annotations

import errno as E
import os

from ..core.errno_text import describe
from ..errors import KernelError
from . import sysfs
from .kernel import TreeKernel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..core.elfmod import ModuleInfo

_SYSCALLS = {  # (finit_module, delete_module) by machine
    "x86_64": (313, 176), "aarch64": (273, 106), "ppc64le": (353, 129), "ppc64": (353, 129),
    "s390x": (344, 129),
}


class LinuxKernel(TreeKernel):
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


