"""What every ``klp`` command shares: exit codes, the console, the root check, the question."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2

NON_ROOT_WARNING = "Warning: running as non-root user, display will be limited"


class Console:
    """Where output goes; warnings are printed once each, as ``klp: warning: ...``."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.seen: set[str] = set()

    def out(self, text: str) -> None:
        sys.stdout.write(text)

    def err(self, line: str) -> None:
        sys.stderr.write(line + "\n")

    def warn(self, message: str) -> None:
        if message not in self.seen:
            self.seen.add(message)
            self.err(f"{self.prog}: warning: {message}")

    def confirm(self) -> bool:
        """Ask ``Continue? [y/N]`` on the terminal; True for y/yes."""
        sys.stderr.write("Continue? [y/N] ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")


def is_root() -> bool:
    """Whether klp runs as root (mutations need it; reads are limited without it)."""
    from ...drivers.host import is_root as root

    return root()


def require_root(what: str) -> None:
    """Refuse a mutating command for non-root users, with a clear message."""
    from ...errors import PermissionDeniedError

    if not is_root():
        raise PermissionDeniedError(f"{what} changes the kernel's state and must be run as root")
