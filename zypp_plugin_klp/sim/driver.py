"""The simulated kernel: a SimState kept beside a real sysfs/proc tree under a directory.

The tree has the kernel's layout, so the same readers serve it and the real kernel. Every
operation locks the state, applies the pure model (sim.model), rewrites the files that
changed, and saves the state atomically.
"""

from __future__ import annotations

import os

from ..drivers import sysfs
from ..drivers.kernel import TreeKernel
from ..errors import KlpError
from ..paths import SIMULATOR_STATE

# ``klp status`` on a simulated tree builds this driver: the rest is imported where it is used.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..core.elfmod import ModuleInfo
    from .model import SimState, SimThread

SYNCING_MARK = b', "syncing": true}'  # how a state saved mid-rewrite ends (see _Session.__exit__)

LOCK = SIMULATOR_STATE + ".lock"


def overwrite(path: str, text: str, mode: int = 0o644) -> None:
    """Replace a small file's content in place without an empty moment (readers poll these)."""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _stack_text(stack: Sequence[str]) -> str:
    return "".join(f"[<0>] {f if '+' in f else f + '+0x0/0x40'}\n" for f in stack)


class SimulatedKernel(TreeKernel):
    """A kernel with live patching simulated under ``root`` (which must hold its tree)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        if not os.path.isfile(os.path.join(root, SIMULATOR_STATE)):
            raise KlpError(f"{root} holds no simulated kernel (create one with "
                           f"'klp-simkernel create SCENARIO {root}')")
        if _ends_with(os.path.join(root, SIMULATOR_STATE), SYNCING_MARK):
            with self._state():  # a process died while rewriting the tree: finish that rewrite
                pass

    # -- creation ------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str, state: SimState) -> SimulatedKernel:
        """Materialise ``state`` as a fresh tree under ``root`` (its sys/ and proc/ are replaced)."""
        import json
        import shutil

        from ..drivers import host

        for sub in ("sys", "proc"):
            shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
        os.makedirs(os.path.join(root, "proc/sys/kernel"))
        os.makedirs(sysfs.livepatch_dir(root))
        os.makedirs(os.path.join(root, "sys/module"))
        overwrite(os.path.join(root, "proc/sys/kernel/osrelease"), state.release + "\n")
        overwrite(os.path.join(root, "proc/sys/kernel/arch"), state.arch + "\n")
        for thread in state.threads.values():
            _write_thread(root, thread, full=True)
        state.dirty.clear()
        _sync_sysfs(root, state)
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
    def _insert(self, fd: int, info: ModuleInfo, label: str) -> None:
        from ..core.elfmod import livepatch_functions

        with self._state() as state:
            state.load(info.name or "", livepatch_functions(info), label, info.is_livepatch,
                       info.vermagic)

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

    def pause(self, seconds: float) -> None:
        import time

        time.sleep(seconds)
        self.advance(seconds)

    # -- simulation controls -------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Let simulated time pass (signals stalled tasks after 15 s, retries the transition)."""
        with self._state() as state:
            state.advance(seconds)

    def release(self, ids: Sequence[int] | None = None) -> int:
        """Let the given pids/tids (all when None) return from patched functions."""
        with self._state() as state:
            return state.release_tasks(ids)

    def exit(self, pid: int) -> int:
        """Make a process exit."""
        with self._state() as state:
            return state.exit(pid)


class _Session:
    """The simulated kernel's state under its lock, written back (state first) on leaving."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.lock = -1
        self.state: SimState | None = None

    def __enter__(self) -> SimState:
        import fcntl
        import json

        from .model import SimState

        self.lock = os.open(os.path.join(self.root, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                            0o600)
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX)
            with open(os.path.join(self.root, SIMULATOR_STATE), encoding="utf-8") as handle:
                doc = json.load(handle)
            state = SimState.from_dict({k: v for k, v in doc.items() if k != "syncing"})
        except BaseException:
            os.close(self.lock)
            raise
        if doc.get("syncing"):  # the last writer died mid-rewrite: rewrite everything
            state.dirty.update(state.threads)
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
            _sync(self.root, state)
            host.write_file(self.root, SIMULATOR_STATE, json.dumps(state.to_dict()).encode())
        finally:
            os.close(self.lock)


def _ends_with(path: str, tail: bytes) -> bool:
    """Whether the file at ``path`` ends with ``tail`` (read without parsing the whole state)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        return size >= len(tail) and os.pread(fd, len(tail), size - len(tail)) == tail
    finally:
        os.close(fd)


def _write_thread(root: str, thread: SimThread, full: bool) -> None:
    pdir = os.path.join(root, "proc", str(thread.pid))
    tdir = os.path.join(pdir, "task", str(thread.tid))
    if full:
        os.makedirs(tdir, exist_ok=True)
        overwrite(os.path.join(pdir, "comm"), thread.comm + "\n")
        overwrite(os.path.join(pdir, "cmdline"), "".join(a + "\0" for a in thread.cmdline))
        overwrite(os.path.join(tdir, "comm"), thread.comm + "\n")
    overwrite(os.path.join(tdir, "patch_state"), f"{thread.state}\n", 0o400)
    overwrite(os.path.join(tdir, "stack"), _stack_text(thread.stack), 0o400)


def _sync(root: str, state: SimState) -> None:
    import shutil

    for tid in state.dirty:
        thread = state.threads.get(tid)
        if thread is not None:
            _write_thread(root, thread, full=False)
            continue
        for pid in os.listdir(os.path.join(root, "proc")):
            tdir = os.path.join(root, "proc", pid, "task", str(tid))
            if os.path.isdir(tdir):
                shutil.rmtree(tdir)
                if not os.listdir(os.path.join(root, "proc", pid, "task")):
                    shutil.rmtree(os.path.join(root, "proc", pid))
    state.dirty.clear()
    _sync_sysfs(root, state)


def _sync_sysfs(root: str, state: SimState) -> None:
    import shutil

    base = sysfs.livepatch_dir(root)
    wanted = {p.name: p for p in state.patches}
    for name in os.listdir(base):
        if name not in wanted:
            shutil.rmtree(os.path.join(base, name))
    for patch in state.patches:
        pdir = os.path.join(base, patch.name)
        os.makedirs(os.path.join(pdir, "vmlinux"), exist_ok=True)
        overwrite(os.path.join(pdir, "enabled"), f"{patch.enabled}\n")
        overwrite(os.path.join(pdir, "transition"), f"{int(state.transition == patch.name)}\n")
        overwrite(os.path.join(pdir, "force"), "", 0o200)
        if "replace" in state.features:
            overwrite(os.path.join(pdir, "replace"), f"{int(patch.replace)}\n", 0o444)
        if "stack_order" in state.features:
            overwrite(os.path.join(pdir, "stack_order"), f"{patch.stack_order}\n", 0o444)
        if "patched" in state.features:
            overwrite(os.path.join(pdir, "vmlinux", "patched"), "1\n", 0o444)
    mbase = os.path.join(root, "sys/module")
    for name in os.listdir(mbase):
        if name not in state.modules:
            shutil.rmtree(os.path.join(mbase, name))
    for name in state.modules:
        mdir = os.path.join(mbase, name)
        os.makedirs(mdir, exist_ok=True)
        overwrite(os.path.join(mdir, "taint"), "OEK\n", 0o444)
        overwrite(os.path.join(mdir, "initstate"), "live\n", 0o444)
        overwrite(os.path.join(mdir, "refcnt"), "0\n", 0o444)
