"""The value types that reports are made of (what klp shows about patches and blocking tasks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .transition import Patch


@dataclass(frozen=True)
class TaskDetails:
    """What ``klp blocking -v/-vv`` shows about a task: None where it could not be read."""

    comm: str | None
    cmdline: list[str] | None
    stack: list[str] | None


@dataclass
class WalkStats:
    """What a walk of /proc met besides readable tasks."""

    vanished: int = 0
    denied: int = 0
    garbage: int = 0


@dataclass
class PatchReport:
    """One live patch module as ``klp patches`` reports it."""

    name: str
    active: bool
    patch: Patch | None = None
    module_path: str | None = None
    package: Any = None  # the owning package (drivers.rpmdb.InstalledPackage), when known
    cves: list[str] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)
    expires: str | None = None
    update: str | None = None


@dataclass(frozen=True)
class BlockingTask:
    """A thread that still runs code the transition must switch away from."""

    pid: int
    tid: int
    details: TaskDetails | None = None


@dataclass
class BlockingReport:
    """Who holds up the current transition, and how many tasks took part."""

    patch: Patch | None
    target: int | None
    tasks: list[BlockingTask]
    total: int
    stats: WalkStats

    @property
    def switched(self) -> int:
        """Tasks that have reached the target state."""
        return self.total - len(self.tasks)
