"""Readers for per-task live patch state under ``<root>/proc``; tasks vanish mid-walk and that is fine."""

import os
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Tuple

from ..core.kvalues import parse_cmdline, parse_stack
from ..core.transition import Task

Warn = Callable[[str], None]


@dataclass(frozen=True)
class TaskDetails:
    """What ``klp blocking -v/-vv`` shows about a task: None where it could not be read."""

    comm: Optional[str]
    cmdline: Optional[List[str]]
    stack: Optional[List[str]]


@dataclass
class WalkStats:
    """What a walk of /proc met besides readable tasks."""

    vanished: int = 0
    denied: int = 0
    garbage: int = 0


def iter_tasks(root: str = "/", stats: Optional[WalkStats] = None,
               warn: Callable[[str], None] = lambda _m: None) -> Iterator[Task]:
    """Yield every thread with a readable ``patch_state``.

    This is the hot loop of ``klp blocking``: raw ``os`` calls, no per-task objects but the result.
    Threads that exit mid-walk are counted in ``stats.vanished``; unreadable (non-root) ones in
    ``stats.denied``; garbage values in ``stats.garbage`` with a warning.
    """
    stats = stats if stats is not None else WalkStats()
    proc = os.path.join(root, "proc")
    try:
        pids = os.listdir(proc)
    except OSError:
        return
    o_rdonly = os.O_RDONLY
    for pid in pids:
        if not pid.isdigit():
            continue
        task_dir = f"{proc}/{pid}/task"
        try:
            tids = os.listdir(task_dir)
        except FileNotFoundError:
            stats.vanished += 1
            continue
        except OSError:
            stats.denied += 1
            continue
        for tid in tids:
            path = f"{task_dir}/{tid}/patch_state"
            try:
                fd = os.open(path, o_rdonly)
            except (FileNotFoundError, ProcessLookupError):
                stats.vanished += 1
                continue
            except PermissionError:
                stats.denied += 1
                continue
            except OSError:
                stats.vanished += 1
                continue
            try:
                raw = os.read(fd, 32)
            except OSError:
                stats.vanished += 1
                continue
            finally:
                os.close(fd)
            try:
                yield Task(int(pid), int(tid), int(raw))
            except ValueError:
                stats.garbage += 1
                warn(f"ignoring unreadable patch_state {raw[:20]!r} in {path}")


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read(1 << 20)
    except OSError:
        return None


def task_details(root: str, pid: int, tid: int, with_stack: bool = False) -> TaskDetails:
    """comm, cmdline (of the process) and optionally the kernel stack of one thread."""
    task = os.path.join(root, "proc", str(pid), "task", str(tid))
    comm = _read(f"{task}/comm")
    cmdline = _read(os.path.join(root, "proc", str(pid), "cmdline"))
    stack = _read(f"{task}/stack") if with_stack else None
    return TaskDetails(
        comm=comm.decode("utf-8", errors="replace").strip() if comm is not None else None,
        cmdline=parse_cmdline(cmdline) if cmdline is not None else None,
        stack=parse_stack(stack.decode("utf-8", errors="replace")) if stack is not None else None,
    )


def task_ids(root: str = "/") -> Iterator[Tuple[int, int]]:
    """(pid, tid) of every thread, whether or not its patch_state is readable."""
    proc = os.path.join(root, "proc")
    try:
        pids = os.listdir(proc)
    except OSError:
        return
    for pid in pids:
        if pid.isdigit():
            try:
                tids = os.listdir(f"{proc}/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                if tid.isdigit():
                    yield int(pid), int(tid)
