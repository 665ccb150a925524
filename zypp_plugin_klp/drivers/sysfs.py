"""Readers for the live patch state in sysfs and the running kernel's identity, at a root prefix.

The same readers serve the real kernel (root ``/``), a chroot, and the simulated kernel's tree.
Every file is optional and may hold garbage: such values read as None, with a warning.
"""

from __future__ import annotations

import os

from ..core.kernel_text import is_livepatch_taint, parse_int

# ``klp status`` imports this module: core.transition (dataclasses, typing) and collections.abc
# are imported lazily or only for type checkers, since they cost more than the status check.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.reports import PatchObject
    from ..core.transition import Patch

    Warn = Callable[[str], None]


def ignore(_message: str) -> None:
    """Default warning sink: drop the message."""


def livepatch_dir(root: str) -> str:
    """The directory that lists live patches: ``<root>/sys/kernel/livepatch``."""
    return os.path.join(root, "sys/kernel/livepatch")


def read_text(path: str) -> str | None:
    """The text of a small kernel file, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            return handle.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return None


def _attr(path: str, warn: Warn) -> int | None:
    text = read_text(path)
    if text is None:
        return None
    value = parse_int(text)
    if value is None:
        warn(f"ignoring unreadable value {text.strip()[:40]!r} in {path}")
    return value


def _objects(patch_path: str, warn: Warn) -> tuple[tuple[str, int | None], ...]:
    objects = []
    try:
        entries = sorted(os.scandir(patch_path), key=lambda e: e.name)
    except OSError:
        return ()
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            objects.append((entry.name, _attr(os.path.join(entry.path, "patched"), warn)))
    return tuple(objects)


def read_objects(root: str, name: str, warn: Warn = ignore) -> list[PatchObject]:
    """The objects of patch ``name`` with their functions, as the kernel lists them under
    ``<patch>/<object>/<function>,<sympos>``; empty when the patch is gone."""
    from ..core.reports import PatchedFunction, PatchObject

    objects = []
    path = os.path.join(livepatch_dir(root), name)
    for obj in _subdirs(path):
        functions = []
        for entry in _subdirs(os.path.join(path, obj)):
            function, comma, position = entry.rpartition(",")
            sympos = parse_int(position) if comma else None
            if not comma or not function or sympos is None:
                warn(f"ignoring unexpected entry {entry[:60]!r} in {os.path.join(path, obj)}")
                continue
            functions.append(PatchedFunction(function, sympos))
        objects.append(PatchObject(obj, _attr(os.path.join(path, obj, "patched"), warn),
                                   tuple(functions)))
    return objects


def _subdirs(path: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def modules_newest_first(root: str = "/") -> list[str]:
    """Loaded module names in ``<root>/proc/modules`` order (the kernel lists the newest first)."""
    text = read_text(os.path.join(root, "proc/modules")) or ""
    return [line.split(" ", 1)[0] for line in text.splitlines() if line.strip()]


def ftrace_enabled(root: str = "/") -> bool | None:
    """``kernel.ftrace_enabled`` (live patches need it); None when the file is absent."""
    text = read_text(os.path.join(root, "proc/sys/kernel/ftrace_enabled"))
    return None if text is None else parse_int(text) != 0


def read_patch(root: str, name: str, warn: Warn = ignore) -> Patch | None:
    """Read one patch directory; None when it vanished meanwhile."""
    from ..core.transition import Patch

    path = os.path.join(livepatch_dir(root), name)
    if not os.path.isdir(path):
        return None
    return Patch(
        name=name,
        enabled=_attr(os.path.join(path, "enabled"), warn),
        transition=_attr(os.path.join(path, "transition"), warn),
        replace=_attr(os.path.join(path, "replace"), warn),
        stack_order=_attr(os.path.join(path, "stack_order"), warn),
        objects=_objects(path, warn),
    )


def patch_names(root: str) -> list[str]:
    """Names of the patches in sysfs, in natural order; empty without live patching."""
    from ..core.transition import natural_key

    try:
        names = [e.name for e in os.scandir(livepatch_dir(root)) if e.is_dir()]
    except OSError:
        return []
    return sorted(names, key=natural_key)


def read_patches(root: str = "/", warn: Warn = ignore) -> list[Patch]:
    """Every patch in ``<root>/sys/kernel/livepatch``, ordered by stack order where known."""
    patches = [p for p in (read_patch(root, n, warn) for n in patch_names(root)) if p]
    return sorted(patches, key=lambda p: (p.stack_order is None, p.stack_order or 0))


def any_transition(root: str = "/") -> bool:
    """Fast path for ``klp status``: whether any patch's ``transition`` reads 1."""
    base = livepatch_dir(root)
    try:
        names = os.listdir(base)
    except OSError:
        return False
    for name in names:
        try:
            fd = os.open(f"{base}/{name}/transition", os.O_RDONLY)
        except OSError:
            continue
        try:
            if parse_int(os.read(fd, 32)) == 1:
                return True
        except OSError:
            pass
        finally:
            os.close(fd)
    return False


def patch_states(root: str = "/") -> list[tuple[str, int | None, int | None]]:
    """Fast path for ``klp metrics``: ``(name, enabled, transition)`` of every patch, by name
    (no Patch objects: their dataclass costs more than the whole command may take)."""
    base = livepatch_dir(root)
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    states = []
    for name in names:
        values: list[int | None] = []
        for attr in ("enabled", "transition"):
            try:
                fd = os.open(f"{base}/{name}/{attr}", os.O_RDONLY)
            except OSError:
                values.append(None)
                continue
            try:
                values.append(parse_int(os.read(fd, 32)))
            except OSError:
                values.append(None)
            finally:
                os.close(fd)
        if os.path.isdir(f"{base}/{name}"):
            states.append((name, values[0], values[1]))
    return states


def loaded_livepatch_modules(root: str = "/") -> list[str]:
    """Names of loaded modules tainted as live patches (``K``), including replaced ones."""
    base = os.path.join(root, "sys/module")
    try:
        names = os.listdir(base)
    except OSError:
        return []
    from ..core.transition import natural_key

    found = []
    for name in names:
        taint = read_text(os.path.join(base, name, "taint"))
        if taint is not None and is_livepatch_taint(taint):
            found.append(name)
    return sorted(found, key=natural_key)


BOOT_ID = "proc/sys/kernel/random/boot_id"


def boot_id(root: str = "/") -> str | None:
    """This boot's identity (``<root>/proc/sys/kernel/random/boot_id``); None when the file is
    absent or does not hold a UUID."""
    from ..core.kernel_text import parse_boot_id

    text = read_text(os.path.join(root, BOOT_ID))
    return None if text is None else parse_boot_id(text)


def kernel_release(root: str = "/") -> str:
    """The running kernel's release (``uname -r``) as ``<root>/proc/sys/kernel/osrelease`` says."""
    text = read_text(os.path.join(root, "proc/sys/kernel/osrelease"))
    if text and text.strip():
        return text.strip()
    if os.path.realpath(root) == "/":
        return os.uname().release
    return ""
