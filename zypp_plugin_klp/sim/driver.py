"""The simulated kernel: a SimState kept beside a real sysfs/proc tree under a directory.

The tree has the kernel's layout, so the same readers serve it and the real kernel. Every
operation locks the state, applies the pure model (sim.model), rewrites the files that
changed, and saves the state atomically.
"""

from __future__ import annotations

import os

from ..drivers.kernel import TreeKernel
from ..errors import KlpError
from ..paths import SIMULATOR_KMSG, SIMULATOR_STATE

VMLINUX = "vmlinux"

# ``klp status`` on a simulated tree builds this driver: the rest is imported where it is used.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..core.elfmod import ModuleInfo
    from .model import SimState, SimThread

SYNCING_MARK = b', "syncing": true}'  # how a state saved mid-rewrite ends (see _Session.__exit__)

LOCK = SIMULATOR_STATE + ".lock"
KMSG_BYTES = 64 * 1024  # the kernel log is a ring buffer: older records are dropped beyond this
SIGNATURE_MARK = b"~Module signature appended~\n"  # how a signed module file ends

BOOT_ID = "proc/sys/kernel/random/boot_id"


def _new_boot_id() -> str:
    import uuid

    return str(uuid.uuid4())


class _Tree:
    """The simulated tree open as a directory fd; every write walks it component by component.

    No component is followed if it is a symlink (O_NOFOLLOW|O_DIRECTORY at each step), every
    directory walked must belong to the caller and not be writable by group or others, and
    names are single components: root driving a user's tree, or a user's edits to the state
    file, can never make a write land outside the tree.
    """

    def __init__(self, root: str) -> None:
        self.fd = _open_owned(root)
        self.opened: dict[tuple[str, ...], int] = {}  # directories walked in this session

    def close(self) -> None:
        for fd in self.opened.values():
            os.close(fd)
        self.opened.clear()
        os.close(self.fd)

    def _walk(self, parts: Sequence[str], create: bool) -> int:
        try:
            return self._walk_raw(parts, create)
        except (FileNotFoundError, KlpError):
            raise
        except OSError as exc:  # ELOOP/ENOTDIR: a symlink where a directory belongs
            raise KlpError(f"refusing to write the simulated kernel's {'/'.join(parts)}: "
                           f"{exc.strerror}") from None

    def _walk_raw(self, parts: Sequence[str], create: bool) -> int:
        key = tuple(parts)
        start = next((n for n in range(len(key), 0, -1) if key[:n] in self.opened), 0)
        fd = os.dup(self.opened[key[:start]] if start else self.fd)
        try:
            for n, part in enumerate(key[start:], start + 1):
                _check_name(part)
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
                _check_owned(fd, part)
                if len(self.opened) >= MAX_OPEN_DIRS:  # forget the oldest
                    os.close(self.opened.pop(next(iter(self.opened))))
                self.opened[key[:n]] = os.dup(fd)
            return fd
        except BaseException:
            os.close(fd)
            raise

    def mkdirs(self, relpath: str) -> None:
        """Create the directory ``relpath`` and its parents."""
        os.close(self._walk(relpath.split("/"), True))

    def put(self, relpath: str, text: str, mode: int = 0o644) -> None:
        """Replace a small file (temp file + rename: readers polling it never see it empty)."""
        *dirs, name = relpath.split("/")
        _check_name(name)
        dfd = self._walk(dirs, True)
        tmp = f".{name}.sim"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            try:
                fd = os.open(tmp, flags, 0o600, dir_fd=dfd)
            except FileExistsError:  # left by a writer that was killed (the state lock is held)
                os.unlink(tmp, dir_fd=dfd)
                fd = os.open(tmp, flags, 0o600, dir_fd=dfd)
            try:
                os.write(fd, text.encode())
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        finally:
            os.close(dfd)

    def read(self, relpath: str) -> str:
        """The text of the small file ``relpath`` ("" when it is missing)."""
        *dirs, name = relpath.split("/")
        _check_name(name)
        try:
            dfd = self._walk(dirs, False)
        except FileNotFoundError:
            return ""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        except FileNotFoundError:
            return ""
        finally:
            os.close(dfd)
        with open(fd, "rb") as handle:
            return handle.read().decode("utf-8", "replace")

    def remove(self, relpath: str) -> None:
        """Remove the directory tree ``relpath`` (never following a symlink), if present."""
        import shutil

        *dirs, name = relpath.split("/")
        _check_name(name)
        try:
            dfd = self._walk(dirs, False)
        except FileNotFoundError:
            return
        gone = (*dirs, name)
        for key in [k for k in self.opened if k[:len(gone)] == gone]:
            os.close(self.opened.pop(key))
        try:
            shutil.rmtree(name, dir_fd=dfd)
        except FileNotFoundError:
            pass
        finally:
            os.close(dfd)

    def empty(self, relpath: str) -> None:
        """Remove everything inside the directory ``relpath`` (kept itself), if present; refuse
        (KlpError) when a file system is mounted there or below: a bind mount of the host's
        /run must never be emptied as if it were the tree's."""
        try:
            dfd = self._walk(relpath.split("/"), False)
        except FileNotFoundError:
            return
        gone = tuple(relpath.split("/"))
        for key in [k for k in self.opened if k[:len(gone)] == gone and k != gone]:
            os.close(self.opened.pop(key))
        try:
            where = os.path.realpath(f"/proc/self/fd/{dfd}")
            mounted = [m for m in _mount_points() if m == where or m.startswith(where + "/")]
            if mounted or os.fstat(dfd).st_dev != os.fstat(self.fd).st_dev:
                raise KlpError(f"refusing to empty the simulated machine's {relpath}: a file "
                               f"system is mounted at {(mounted or [where])[0]}")
            _clear(dfd, os.fstat(dfd).st_dev)
        except OSError as exc:  # a symlink or file system swapped in meanwhile
            raise KlpError(f"cannot empty the simulated machine's {relpath}: "
                           f"{exc.strerror or exc}") from None
        finally:
            os.close(dfd)

    def listdir(self, relpath: str) -> list[str]:
        """The entries of the directory ``relpath`` ([] when it is missing)."""
        try:
            dfd = self._walk(relpath.split("/"), False)
        except FileNotFoundError:
            return []
        try:
            return os.listdir(dfd)
        finally:
            os.close(dfd)


def _clear(dfd: int, dev: int) -> None:
    """Remove every entry of the directory open as ``dfd``: never following a symlink, never
    leaving the file system ``dev``."""
    import stat

    for name in os.listdir(dfd):
        if not stat.S_ISDIR(os.lstat(name, dir_fd=dfd).st_mode):
            os.unlink(name, dir_fd=dfd)
            continue
        sub = os.open(name, _DIR_FLAGS, dir_fd=dfd)  # a symlink swapped in meanwhile: ELOOP
        try:
            if os.fstat(sub).st_dev != dev:
                raise KlpError(f"refusing to empty {name}: another file system is mounted there")
            _clear(sub, dev)
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=dfd)


def _mount_points() -> list[str]:
    """Every mount point of this mount namespace (``/proc/self/mountinfo``, octal escapes
    decoded); empty when it cannot be read (the device check still applies)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    points = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            points.append(fields[4].encode("utf-8", "surrogateescape")
                          .decode("unicode_escape").encode("latin-1").decode("utf-8", "replace"))
    return points


MAX_OPEN_DIRS = 128  # directories kept open per session (trees with 100,000 tasks: fd limits)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_owned(root: str) -> int:
    try:
        fd = os.open(root, _DIR_FLAGS)
    except OSError as exc:
        raise KlpError(f"cannot drive the simulated kernel in {root}: {exc.strerror}") from None
    try:
        _check_owned(fd, root)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_owned(fd: int, what: str) -> None:
    """The simulated kernel is driven only in directories the caller owns and alone can write."""
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise KlpError(f"refusing to drive the simulated kernel: {what} is not owned by uid "
                       f"{os.geteuid()} or is writable by group or others")


def _check_name(name: str) -> None:
    if not valid_name(name):
        raise KlpError(f"refusing the simulated kernel name {name!r}")


def valid_name(name: str) -> bool:
    """Whether ``name`` is usable as one path component (no '/', '..', control characters)."""
    return name not in ("", ".", "..") and "/" not in name and \
        not any(ord(c) < 32 or ord(c) == 127 for c in name)


def _stack_text(stack: Sequence[str]) -> str:
    return "".join(f"[<0>] {f if '+' in f else f + '+0x0/0x40'}\n" for f in stack)


class SimulatedKernel(TreeKernel):
    """A kernel with live patching simulated under ``root`` (which must hold its tree)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        if not os.path.isfile(os.path.join(root, SIMULATOR_STATE)):
            raise KlpError(f"{root} holds no simulated kernel (create one with "
                           f"'klp-simkernel create SCENARIO {root}')")
        if _ends_with(os.path.join(root, SIMULATOR_STATE), SYNCING_MARK) and _owned(root):
            with self._state():  # a process died while rewriting the tree: finish that rewrite
                pass

    # -- creation ------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str, state: SimState) -> SimulatedKernel:
        """Materialise ``state`` as a fresh tree under ``root`` (its sys/ and proc/ are replaced)."""
        import json

        from ..drivers import host

        os.makedirs(root, 0o755, exist_ok=True)
        if not state.boot_id:
            state.boot_id = _new_boot_id()
        tree = _Tree(root)
        try:
            for sub in ("sys", "proc"):
                tree.remove(sub)
            tree.mkdirs("sys/kernel/livepatch")
            tree.mkdirs("sys/module")
            tree.put("proc/sys/kernel/osrelease", state.release + "\n")
            tree.put("proc/sys/kernel/arch", state.arch + "\n")
            tree.put("proc/sys/kernel/ftrace_enabled", f"{int(state.ftrace)}\n")
            tree.put(BOOT_ID, state.boot_id + "\n", 0o444)
            for thread in state.threads.values():
                _write_thread(tree, thread, full=True)
            state.dirty.clear()
            _sync_sysfs(tree, state)
            tree.put(SIMULATOR_KMSG, "", 0o644)
            _sync_log(tree, state)
        finally:
            tree.close()
        host.write_file(root, SIMULATOR_STATE, json.dumps(state.to_dict()).encode())
        return cls(root)

    @classmethod
    def from_scenario(cls, root: str, scenario: str) -> SimulatedKernel:
        """Create the tree from a scenario YAML file."""
        from ..errors import ScenarioError
        from .scenario import parse_scenario

        try:
            with open(scenario, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{scenario}: cannot read: {exc}") from None
        return cls.create(root, parse_scenario(text, scenario))

    # -- state ---------------------------------------------------------------------------------
    def _state(self) -> _Session:
        return _Session(self.root)

    # -- KernelDriver --------------------------------------------------------------------------
    def _insert(self, fd: int, info: ModuleInfo, label: str, params: str = "") -> None:
        from ..core.elfmod import patch_targets

        replace, objects = patch_targets(info)
        declared = VMLINUX in objects
        vmlinux = objects.pop(VMLINUX, [])
        klp = info.patch.objects if info.patch is not None else ()
        sympos = {obj: [f.sympos for f in funcs] for obj, funcs in klp}
        new = {f.new_func: f.old_name for _obj, funcs in klp for f in funcs if f.new_func}
        with self._state() as state:
            state.load(info.name or "", vmlinux, label, info.is_livepatch, info.vermagic,
                       replace=replace, objects=objects, params=params,
                       intree=info.get("intree") == "Y", signed=_signed(fd), vmlinux=declared,
                       sympos=sympos, new=new)

    def disable(self, patch: str) -> None:
        with self._state() as state:
            state.disable(patch)

    def force(self, patch: str) -> None:
        with self._state() as state:
            state.force(patch)

    def unload(self, name: str) -> None:
        with self._state() as state:
            state.unload(name)

    def signal(self, patch: str) -> bool:
        return False  # like kernels since 5.x: stalled tasks are signalled by the kernel itself

    # pause() only sleeps: waiting is reading, and reading never writes. The simulated clock
    # moves only when the tree's owner says so (advance, 'klp-simkernel advance').

    def dmesg(self) -> list[str]:
        """The kernel log's messages, oldest first (what ``dmesg`` prints, without timestamps)."""
        return [text for _prio, _seq, _usec, text in read_kmsg(self.root)]

    # -- simulation controls -------------------------------------------------------------------
    def kmsg(self, text: str) -> None:
        """Write a line to the kernel log as user space does through /dev/kmsg."""
        with self._state() as state:
            state.user_message(text)

    def set_dynamic_debug(self, enabled: bool) -> None:
        """Turn dynamic debug for kernel/livepatch/* on or off (pr_debug lines in the log)."""
        with self._state() as state:
            state.dyndbg = enabled

    def advance(self, seconds: float) -> None:
        """Let simulated time pass (signals stalled tasks after 15 s, retries the transition)."""
        with self._state() as state:
            state.advance(seconds)

    def set_ftrace(self, enabled: bool) -> None:
        """Write ``kernel.ftrace_enabled`` (off: every live patch load fails with EBUSY)."""
        with self._state() as state:
            state.set_ftrace(enabled)

    def load_target(self, name: str) -> None:
        """Load an ordinary module ``name``: patches of it are applied to it now."""
        _check_name(name)
        with self._state() as state:
            state.load_target(name)

    def release(self, ids: Sequence[int] | None = None) -> int:
        """Let the given pids/tids (all when None) return from patched functions."""
        with self._state() as state:
            return state.release_tasks(ids)

    def call(self, ids: Sequence[int], frames: Sequence[str]) -> int:
        """Make the given pids/tids call into ``frames`` (outermost first) and sleep there."""
        for frame in frames:  # kernel symbols (a newline would forge stack lines)
            if not frame or any(ord(c) < 32 or ord(c) == 127 for c in frame):
                raise KlpError(f"refusing the function name {frame!r}")
        with self._state() as state:
            return state.call(ids, frames)

    def exit(self, pid: int) -> int:
        """Make a process exit."""
        with self._state() as state:
            return state.exit(pid)

    def reboot(self) -> str:
        """Restart the simulated machine (see SimState.reboot) and empty ``<root>/run`` as a
        tmpfs would be (never following a symlink); returns the new boot id."""
        with self._state() as state:
            tree = _Tree(self.root)
            try:  # first: a run/ that must not be emptied (a symlink) leaves the kernel as it was
                tree.empty("run")
                tree.put(SIMULATOR_KMSG, "", 0o644)  # dmesg shows this boot's messages only
            finally:
                tree.close()
            state.reboot(_new_boot_id())
            return state.boot_id


class _Session:
    """The simulated kernel's state under its lock, written back (state first) on leaving."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.lock = -1
        self.state: SimState | None = None
        self.boot = ""

    def __enter__(self) -> SimState:
        import fcntl
        import json

        from .model import SimState

        self.tree = _Tree(self.root)
        try:
            kdir = self.tree._walk(os.path.dirname(LOCK).split("/"), False)
            try:
                self.lock = os.open(os.path.basename(LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                                    | os.O_CLOEXEC, 0o600, dir_fd=kdir)
                fcntl.flock(self.lock, fcntl.LOCK_EX)
                fd = os.open(os.path.basename(SIMULATOR_STATE), os.O_RDONLY | os.O_NOFOLLOW
                             | os.O_CLOEXEC, dir_fd=kdir)
            finally:
                os.close(kdir)
            with open(fd, encoding="utf-8") as handle:
                doc = json.load(handle)
            state = SimState.from_dict({k: v for k, v in doc.items() if k != "syncing"})
        except BaseException as exc:
            if self.lock >= 0:
                os.close(self.lock)
            self.tree.close()
            if isinstance(exc, (OSError, ValueError, TypeError)):
                raise KlpError(f"cannot read the simulated kernel's state in {self.root}: "
                               f"{exc}") from None
            raise
        # the boot id file is written out on leaving when it changed (or was never drawn)
        self.boot = state.boot_id
        if doc.get("syncing"):  # the last writer died mid-rewrite: rewrite everything
            state.dirty.update(state.threads)
            self.boot = ""
        if not state.boot_id:
            state.boot_id = _new_boot_id()
        self.state = state
        return state

    def __exit__(self, *_exc: object) -> None:
        import json

        from ..drivers import host

        assert self.state is not None
        state = self.state
        try:
            # The state is saved first, marked as being written out: a writer killed while
            # rewriting the tree leaves that mark, and the next one completes the rewrite
            # (the real kernel changes its sysfs atomically; the simulator must look so).
            host.write_file(self.root, SIMULATOR_STATE,
                            json.dumps({**state.to_dict(), "syncing": True}).encode())
            _sync(self.tree, state)
            if state.boot_id != self.boot:
                self.tree.put(BOOT_ID, state.boot_id + "\n", 0o444)
            host.write_file(self.root, SIMULATOR_STATE, json.dumps(state.to_dict()).encode())
        finally:
            os.close(self.lock)
            self.tree.close()


def _ends_with(path: str, tail: bytes) -> bool:
    """Whether the file at ``path`` ends with ``tail`` (read without parsing the whole state)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        return size >= len(tail) and os.pread(fd, len(tail), size - len(tail)) == tail
    finally:
        os.close(fd)


def _signed(fd: int) -> bool:
    """Whether the module file open as ``fd`` carries an appended signature."""
    try:
        size = os.fstat(fd).st_size
        return size >= len(SIGNATURE_MARK) and \
            os.pread(fd, len(SIGNATURE_MARK), size - len(SIGNATURE_MARK)) == SIGNATURE_MARK
    except OSError:
        return False


def read_kmsg(root: str) -> list[tuple[int, int, int, str]]:
    """The records of the simulated kernel log under ``root``: (priority, seq, usec, message)."""
    path = os.path.join(root, SIMULATOR_KMSG)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:  # a tree made before the simulator kept a log
        return []
    except OSError as exc:
        raise KlpError(f"cannot read the simulated kernel's log {path}: {exc.strerror}") from None
    with open(fd, "rb") as handle:
        return _parse_kmsg(handle.read().decode("utf-8", "replace"))


def _parse_kmsg(text: str) -> list[tuple[int, int, int, str]]:
    """Parse /dev/kmsg records (``prio,seq,usec,flags;message``); malformed lines are skipped."""
    records = []
    for line in text.splitlines():
        head, sep, message = line.partition(";")
        fields = head.split(",")
        if sep and len(fields) >= 3 and all(f.isdigit() for f in fields[:3]):
            records.append((int(fields[0]), int(fields[1]), int(fields[2]), message))
    return records


def _sync_log(tree: _Tree, state: SimState) -> None:
    """Append the state's new log records to the log file, keeping at most KMSG_BYTES of it.

    Records carry sequence numbers: a rewrite repeated after a writer died appends nothing twice.
    """
    if not state.log:
        return
    old = tree.read(SIMULATOR_KMSG)
    records = _parse_kmsg(old)
    last = records[-1][1] if records else -1
    lines = [f"{prio},{seq},{usec},-;{_escape(text)}\n" for seq, prio, usec, text in state.log
             if seq > last]
    data = (old + "".join(lines)).encode()
    if len(data) > KMSG_BYTES:  # drop the oldest whole records
        data = data[data.index(b"\n", len(data) - KMSG_BYTES - 1) + 1:]
    tree.put(SIMULATOR_KMSG, data.decode(), 0o644)
    state.log.clear()


def _escape(text: str) -> str:
    """/dev/kmsg escapes control characters in messages as \\xNN."""
    return "".join(c if 32 <= ord(c) < 127 or ord(c) > 127 else f"\\x{ord(c):02x}" for c in text)


def _owned(root: str) -> bool:
    try:
        st = os.lstat(root)
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _write_thread(tree: _Tree, thread: SimThread, full: bool) -> None:
    pdir = f"proc/{thread.pid}"
    tdir = f"{pdir}/task/{thread.tid}"
    if full:
        tree.put(f"{pdir}/comm", thread.comm + "\n")
        tree.put(f"{pdir}/cmdline", "".join(a + "\0" for a in thread.cmdline), 0o444)
        tree.put(f"{tdir}/comm", thread.comm + "\n")
    tree.put(f"{tdir}/patch_state", f"{thread.state}\n", 0o400)
    tree.put(f"{tdir}/stack", _stack_text(thread.stack), 0o400)


def _sync(tree: _Tree, state: SimState) -> None:
    for tid in state.dirty:
        thread = state.threads.get(tid)
        if thread is not None:
            _write_thread(tree, thread, full=False)
            continue
        for pid in tree.listdir("proc"):
            if pid.isdigit() and str(tid) in tree.listdir(f"proc/{pid}/task"):
                tree.remove(f"proc/{pid}/task/{tid}")
                if not tree.listdir(f"proc/{pid}/task"):
                    tree.remove(f"proc/{pid}")
    state.dirty.clear()
    tree.put("proc/sys/kernel/ftrace_enabled", f"{int(state.ftrace)}\n")
    _sync_sysfs(tree, state)
    _sync_log(tree, state)


def _sync_sysfs(tree: _Tree, state: SimState) -> None:
    """Write sysfs as 6.1 shows it: modes, one directory per object and per function."""
    base = "sys/kernel/livepatch"
    wanted = {p.name: p for p in state.patches}
    for name in tree.listdir(base):
        if name not in wanted:
            tree.remove(f"{base}/{name}")
    for patch in state.patches:
        pdir = f"{base}/{patch.name}"
        tree.put(f"{pdir}/enabled", f"{patch.enabled}\n", 0o644)
        tree.put(f"{pdir}/transition", f"{int(state.transition == patch.name)}\n", 0o444)
        tree.put(f"{pdir}/force", "", 0o200)
        if "replace" in state.features:
            tree.put(f"{pdir}/replace", f"{int(patch.replace)}\n", 0o444)
        if "stack_order" in state.features:
            tree.put(f"{pdir}/stack_order", f"{patch.stack_order}\n", 0o444)
        if "signal" in state.features:
            tree.put(f"{pdir}/signal", "", 0o200)
        for obj in patch.object_names():
            tree.put(f"{pdir}/{obj}/patched", f"{int(state.object_loaded(obj))}\n", 0o444)
            for function in patch.function_dirs(obj):
                tree.mkdirs(f"{pdir}/{obj}/{function}")
    mbase = "sys/module"
    for name in tree.listdir(mbase):
        if name not in state.modules and name not in state.targets:
            tree.remove(f"{mbase}/{name}")
    for name in state.modules:
        tree.put(f"{mbase}/{name}/taint", "OEK\n", 0o444)
        tree.put(f"{mbase}/{name}/initstate", "live\n", 0o444)
        tree.put(f"{mbase}/{name}/refcnt", "0\n", 0o444)
    for name in state.targets:
        tree.put(f"{mbase}/{name}/initstate", "live\n", 0o444)
        tree.put(f"{mbase}/{name}/refcnt", "0\n", 0o444)
