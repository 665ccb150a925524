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


@dataclass(frozen=True)
class PatchedFunction:
    """One function a patch replaces, as ``<object>/<function>,<sympos>`` in sysfs."""

    name: str
    sympos: int | None
    effective: str | None = None  # the patch whose code runs for it (newest enabled), if known


@dataclass(frozen=True)
class PatchObject:
    """One object a patch changes (``vmlinux`` or a module) and the functions in it."""

    name: str
    patched: int | None  # 1 while the object is loaded and patched; None where the kernel lacks it
    functions: tuple[PatchedFunction, ...] = ()


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
    recorded: bool = False  # the package comes from klp's record (its rpm entry is gone)
    forced: str | None = None  # when klp force was used on this patch (UTC), if it was
    objects: list[PatchObject] = field(default_factory=list)


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


@dataclass
class StatusReport:
    """What ``klp -v status`` and ``klp status --json`` tell beyond ready/in_progress."""

    state: str
    supported: bool
    kernel: str
    transition: Patch | None = None
    replacing: list[str] = field(default_factory=list)  # enabled patches the transition replaces
    replace_known: bool = False  # the kernel shows ``replace`` (6.11+); else replacing is assumed
    reboot_reasons: list[tuple[str | None, str | None, str | None]] = field(default_factory=list)
    reboot_flag: bool = False  # /run/reboot-needed exists
    mode: str = "auto"  # LIVEPATCH_KERNEL as used
    warnings: list[str] = field(default_factory=list)
    # (package nvra, module, why) of the running kernel's newest installed patch when not active
    not_loaded: list[tuple[str, str, str]] = field(default_factory=list)
    # (result, what it is now, time, module, package) of the last load
    # (result, now, time, module, package, made in this boot: None when that cannot be told)
    last_load: tuple[str | None, str | None, str | None, str | None, str | None,
                     bool | None] | None = None
    # (package, end of support YYYY-MM-DD or None, unknown|expired|soon|later, calendar days)
    expiry: tuple[str, str | None, str, int] | None = None

    @property
    def reboot_needed(self) -> bool:
        """Whether a reboot is needed (a removed live patch, or another package's flag)."""
        return self.reboot_flag or bool(self.reboot_reasons)
