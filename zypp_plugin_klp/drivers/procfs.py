"""Readers for per-task live patch state under ``<root>/proc``; tasks vanish mid-walk and that is fine."""

import os
from typing import Callable, List, Optional, Tuple

from ..core.kernel_text import parse_cmdline, parse_stack
from ..core.reports import TaskDetails, WalkStats  # noqa: F401  (what the readers fill in)
from ..core.transition import is_blocking

Warn = Callable[[str], None]


def scan_blocking(root: str, target: int, stats: WalkStats,
                  warn: Callable[[str], None] = lambda _m: None) -> Tuple[List[Tuple[int, int]], int]:
    """(pid, tid) of every thread whose patch_state is >= 0 and not ``target``, and how many
    threads take part in the transition.

    ``klp blocking`` walks 100,000 tasks on big machines: this loop compares the raw bytes and
    parses (and asks :func:`is_blocking`) only for tasks not already at the target, which keeps
    it within a few percent of merely reading every patch_state file.
    """
    done = b"%d" % target
    blockers: List[Tuple[int, int]] = []
    total = 0
    proc = os.path.join(root, "proc")
    try:
        pids = os.listdir(proc)
    except OSError:
        return blockers, total
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
            try:
                fd = os.open(f"{task_dir}/{tid}/patch_state", o_rdonly)
            except PermissionError:
                stats.denied += 1
                continue
            except OSError:
                stats.vanished += 1
                continue
            try:
                raw = os.read(fd, 32).strip()
            except OSError:
                stats.vanished += 1
                continue
            finally:
                os.close(fd)
            if raw == done:
                total += 1
            elif raw != b"-1":
                try:
                    state = int(raw)
                    ids = (int(pid), int(tid))
                except ValueError:
                    stats.garbage += 1
                    warn(f"ignoring unreadable patch_state {raw[:20]!r} in {task_dir}/{tid}/patch_state")
                    continue
                if state >= 0:
                    total += 1
                if is_blocking(state, target):
                    blockers.append(ids)
    return blockers, total


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
