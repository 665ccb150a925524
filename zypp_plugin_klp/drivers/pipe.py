"""The process side of the commit plugin: its pipe to libzypp, environment, pid and fast exit."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def read(fd: int) -> bytes:
    """What is available on ``fd`` (empty at end of file or on an error)."""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def write(fd: int, data: bytes) -> bool:
    """Write ``data`` to ``fd``; False when the other end is gone."""
    try:
        os.write(fd, data)
    except OSError:
        return False
    return True


def keep_stdout_for_replies() -> int:
    """Send stray output on descriptor 1 to stderr; return a descriptor for the replies."""
    replies = os.dup(1)
    os.dup2(2, 1)
    return replies


def environment() -> dict[str, str]:
    """A copy of this process's environment."""
    return dict(os.environ)


def pid() -> int:
    """This process's id."""
    return os.getpid()


def exit_now(status: int) -> NoReturn:
    """Exit without the interpreter's teardown (everything is written and closed already)."""
    os._exit(status)
