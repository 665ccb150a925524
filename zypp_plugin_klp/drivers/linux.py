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

    def _insert(self, fd: int, info: ModuleInfo, label: str, params: str = "") -> None:
        import ctypes

        name = info.name or os.path.basename(label)
        log = _KernelLog(self.root)
        try:
            self._syscall(0, ctypes.c_int(fd), ctypes.c_char_p(params.encode()), ctypes.c_int(0))
        except OSError as exc:
            err = exc.errno or 0
            raise KernelError(self._refusal(err, name, log), err) from None
        finally:
            log.close()

    def _refusal(self, err: int, name: str, log: _KernelLog) -> str:
        """The kernel's real reason for refusing ``name``: ask it, do not guess from errno."""
        from ..core.errno_text import describe_load_refusal
        from ..core.render import printable
        from ..core.transition import transitioning_patch

        if err in (E.EEXIST, E.ENOEXEC, E.EKEYREJECTED, E.EPERM, E.ENOMEM, E.ENOSYS, E.EACCES):
            return describe("load", err, name)
        moving = transitioning_patch(self.patches())
        lines = log.read()
        return describe_load_refusal(err, name, moving.name if moving else None,
                                     self.ftrace_enabled(),
                                     None if lines is None else [printable(line) for line in lines])

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




class _KernelLog:
    """The kernel's log records written from now on (``/dev/kmsg``); unreadable: None."""

    def __init__(self, root: str) -> None:
        try:
            self.fd: int | None = os.open(os.path.join(root, "dev/kmsg"),
                                          os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError:
            self.fd = None

    def read(self, limit: int = 200) -> list[str] | None:
        """The messages logged since this object was made, oldest first."""
        if self.fd is None:
            return None
        lines: list[str] = []
        while len(lines) < limit:
            try:
                record = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == E.EPIPE:  # overwritten while we read: go on with the next one
                    continue
                break
            if not record:
                break
            text = record.decode("utf-8", "replace")
            lines.append(text.split(";", 1)[-1].split("\n", 1)[0])
        return lines

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
