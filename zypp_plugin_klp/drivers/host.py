"""Files root writes under /run, /var and /etc: created atomically, never through a symlink."""

from __future__ import annotations

import errno
import os
import stat
import time

from ..errors import KlpError
from ..paths import LOCK_DIR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class LockBusyError(KlpError):
    """Another process held /run/klp/lock for longer than the caller may wait."""


class HostFileError(KlpError):
    """A state file could not be written safely."""


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(root: str, parts: list[str], create: bool) -> int:
    """Open ``root/parts...`` one component at a time, refusing symlinks; optionally mkdir."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts:
            if part in ("", ".", ".."):
                raise HostFileError(f"refusing path component {part!r}")
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass  # another writer made it meanwhile (parallel hooks and plugin)
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _split(relpath: str) -> list[str]:
    return [p for p in relpath.strip("/").split("/")]


def write_file(root: str, relpath: str, data: bytes, mode: int = 0o644) -> None:
    """Atomically replace ``root/relpath`` with ``data`` (temp file + fsync + rename).

    No component is followed if it is a symlink; a symlink or FIFO already at the target is
    replaced, not written through.
    """
    *dirs, name = _split(relpath)
    try:
        dfd = _open_dir(root, dirs, create=True)
    except OSError as exc:
        raise HostFileError(f"cannot write {relpath}: {exc.strerror or exc}") from None
    try:
        _write_at(dfd, name, data, mode, relpath)
    finally:
        os.close(dfd)


def _write_at(dfd: int, name: str, data: bytes, mode: int, label: str) -> None:
    _remove_stale_temporaries(dfd, name)
    tmp = f".{name}.klp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode, dir_fd=dfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        os.fsync(dfd)
    except OSError as exc:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise HostFileError(f"cannot write {label}: {exc.strerror or exc}") from None


def _remove_stale_temporaries(dfd: int, name: str) -> None:
    """Temporary files of writers that were killed (their PID is gone) are removed."""
    prefix = f".{name}.klp-"
    for entry in os.listdir(dfd):
        if not entry.startswith(prefix) or not entry[len(prefix):].isdigit():
            continue
        try:
            os.kill(int(entry[len(prefix):]), 0)
            continue  # a live writer
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        try:
            os.unlink(entry, dir_fd=dfd)
        except OSError:
            pass


def write_user_file(path: str, data: bytes) -> None:
    """Atomically write a file the user named. The kernel resolves its directories, one component
    at a time: a symlink is followed only when the caller or root owns it (so root never writes
    through a link another user planted, e.g. in /tmp, whatever fs.protected_symlinks says); a
    symlink at the file itself is replaced, not followed."""
    directory, name = os.path.split(path)
    if not name or name in (".", ".."):
        raise HostFileError(f"cannot write {path}: not a file name")
    parts = [p for p in (directory or ".").split("/") if p not in ("", ".")]
    fd = os.open("/" if directory.startswith("/") else ".", _DIR_FLAGS)
    try:
        for part in parts:
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                link = os.stat(part, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISLNK(link.st_mode):
                    raise
                if link.st_uid not in (os.geteuid(), 0):
                    raise HostFileError(f"cannot write {path}: {part} is a symlink owned by "
                                        f"uid {link.st_uid}, not by you or root") from None
                next_fd = os.open(part, _DIR_FLAGS & ~os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        _write_at(fd, name, data, 0o644, path)
    except OSError as exc:
        raise HostFileError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def remove_file(root: str, relpath: str) -> bool:
    """Remove ``root/relpath`` if present (a symlink itself, never its target); True if removed."""
    *dirs, name = _split(relpath)
    try:
        dfd = _open_dir(root, dirs, create=False)
    except OSError:
        return False
    try:
        os.unlink(name, dir_fd=dfd)
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise HostFileError(f"cannot remove {relpath}: {exc.strerror or exc}") from None
    finally:
        os.close(dfd)


def list_dir(root: str, relpath: str) -> list[str]:
    """Names in ``root/relpath`` (not following symlinks); empty when it does not exist."""
    try:
        dfd = _open_dir(root, _split(relpath), create=False)
    except OSError:
        return []
    try:
        return sorted(os.listdir(dfd))
    finally:
        os.close(dfd)


def read_file(root: str, relpath: str, limit: int = 1 << 20) -> str | None:
    """Text of ``root/relpath`` or None when missing or unreadable (symlinked parents refused)."""
    *dirs, name = _split(relpath)
    try:
        dfd = _open_dir(root, dirs, create=False)
    except OSError:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
    except OSError:
        return None
    finally:
        os.close(dfd)
    try:
        return os.read(fd, limit).decode("utf-8", errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def sysconfig(root: str, name: str) -> dict[str, str]:
    """Values of ``/etc/sysconfig/<name>`` inside ``root`` (empty when missing)."""
    from ..core.sysconfig import parse_sysconfig  # lazy: shlex and re are not needed elsewhere

    text = read_file(root, f"etc/sysconfig/{name}")
    return parse_sysconfig(text) if text else {}


def in_build_root(environ: dict[str, str], root: str = "/") -> bool:
    """Whether scriptlets run inside a package build (nothing of the host may be touched)."""
    return bool(environ.get("RPM_BUILD_ROOT")) or os.path.exists(os.path.join(root, ".buildenv"))


def in_chroot(root: str = "/") -> bool:
    """Whether ``/`` is a chroot of another system (PID 1 sees another root directory)."""
    try:
        outer = os.stat(os.path.join(root, "proc/1/root"))
    except OSError:
        return not os.path.exists(os.path.join(root, "proc/sys/kernel/osrelease"))
    inner = os.stat(root)
    return (outer.st_dev, outer.st_ino) != (inner.st_dev, inner.st_ino)


class Lock:
    """An exclusive lock on ``root/run/klp/lock`` serialising klp's mutations (flock).

    The kernel drops a flock when its holder dies, so a killed process never leaves a stale lock.
    The holder's PID is kept in the file so that a waiter can say whom it waits for.
    """

    RELPATH = LOCK_DIR

    def __init__(self, root: str, on_wait: "Callable[[str], None] | None" = None,
                 deadline: float = float("inf")) -> None:
        self.root = root
        self.fd = -1
        self.on_wait = on_wait
        self.deadline = deadline  # seconds to wait for a holder; then LockBusyError

    def __enter__(self) -> "Lock":
        import fcntl

        try:
            dfd = _open_dir(self.root, _split(self.RELPATH), create=True)
        except OSError as exc:
            raise HostFileError(f"cannot create the lock directory: {exc.strerror or exc}") from None
        try:
            self.fd = os.open("lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                              dir_fd=dfd)
        except OSError as exc:
            raise HostFileError(f"cannot open the lock file: {exc.strerror or exc}") from None
        finally:
            os.close(dfd)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.on_wait is not None:
                self.on_wait(f"waiting for process {self._holder()}, which holds "
                             f"{self.RELPATH}/lock")
            self._take_by(time.monotonic() + self.deadline)
        try:  # who holds it is information for waiters, not a condition for holding it
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        return self

    def _holder(self) -> str:
        return os.pread(self.fd, 32, 0).decode("ascii", "replace").strip()[:16] or "?"

    def _take_by(self, until: float) -> None:
        """Take the lock before the monotonic time ``until``; LockBusyError after it (closed)."""
        import fcntl

        if until == float("inf"):
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            return
        pause = 0.01
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = until - time.monotonic()
                if left <= 0:
                    holder = self._holder()
                    os.close(self.fd)
                    self.fd = -1
                    raise LockBusyError(f"lock busy: process {holder} holds {self.RELPATH}/lock")
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.2)

    def __exit__(self, *_exc: object) -> None:
        try:
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = -1


def is_dir(root: str, relpath: str) -> bool:
    """Whether ``relpath`` inside ``root`` is a directory."""
    return os.path.isdir(os.path.join(root, relpath))


def is_executable(path: str) -> bool:
    """Whether the host path ``path`` can be executed."""
    return os.access(path, os.X_OK)


def open_file(root: str, relpath: str) -> tuple[int, os.stat_result]:
    """Open ``relpath`` inside ``root`` read-only without following a final symlink, with its
    status (of the open file, not the path); OSError when that is not possible."""
    fd = os.open(os.path.join(root, relpath.lstrip("/")), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        return fd, os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise


def open_log(root: str, relpath: str, mode: int = 0o640) -> int:
    """Open the log file ``root/relpath`` for appending (created with ``mode``, its directories
    too), following no symlink in any component; HostFileError if it is not a regular file.
    The descriptor is for another program to write through (close it with :func:`close`)."""
    *dirs, name = _split(relpath)
    try:
        dfd = _open_dir(root, dirs, create=True)
    except OSError as exc:
        raise HostFileError(f"cannot open {relpath}: {exc.strerror or exc}") from None
    try:  # non-blocking: a FIFO at the log's name must not hang us
        fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC, mode, dir_fd=dfd)
    except OSError as exc:
        reason = "it is a symlink" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        raise HostFileError(f"cannot open {relpath}: {reason}") from None
    finally:
        os.close(dfd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise HostFileError(f"cannot open {relpath}: not a regular file")
    os.set_blocking(fd, True)
    return fd


def close(fd: int) -> None:
    """Close a descriptor returned by :func:`open_file` or :func:`open_log`."""
    os.close(fd)


def environment() -> dict[str, str]:
    """A copy of this process's environment."""
    return dict(os.environ)


def is_root() -> bool:
    """Whether this process runs as root."""
    return os.geteuid() == 0


def exists(root: str, relpath: str) -> bool:
    """Whether anything (even a dangling symlink) is at ``relpath`` inside ``root``."""
    return os.path.lexists(os.path.join(root, relpath.lstrip("/")))


def fingerprint(root: str, files: Sequence[str], dirs: Sequence[str],
                skip: tuple[str, ...] = ()) -> str:
    """What ``files`` and every entry of ``dirs`` inside ``root`` look like now (mtime, size,
    not following symlinks): equal text means nothing there was replaced or changed in size.
    Entries whose name ends with or starts with a string in ``skip`` are left out."""
    def stamp(path: str) -> str:
        try:
            st = os.lstat(path)
        except OSError:
            return ":-"
        return f":{st.st_mtime_ns}:{st.st_size}"

    parts = [name + stamp(os.path.join(root, name.lstrip("/"))) for name in files]
    for directory in dirs:
        base = os.path.join(root, directory.lstrip("/"))
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        parts.append(directory + stamp(base))
        parts += [name + stamp(os.path.join(base, name)) for name in names
                  if not name.endswith(skip) and not name.startswith(skip)]
    return " ".join(parts)
