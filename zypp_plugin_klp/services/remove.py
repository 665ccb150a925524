"""After a live patch package is erased: initrd rebuild and a reboot notice naming the patch."""

from __future__ import annotations

import time

from ..drivers import host
from . import initrd
from .records import RebootNotice, load_notices, save_notices

from ..paths import NOTICES, REBOOT_NEEDED  # noqa: F401  (re-exported for callers)


def notices(root: str, boot: str | None) -> list[RebootNotice]:
    """The recorded reasons for a reboot that hold in the boot ``boot`` (the kernel's boot id;
    None when unreadable), newest last; empty when none or unreadable. See RebootNotice.holds."""
    flag = host.exists(root, REBOOT_NEEDED)
    return [n for n in load_notices(root) if n.holds(boot, flag)]


def prune(root: str, boot: str | None) -> None:
    """Drop the notices that no longer hold (an earlier boot's) from the file, atomically and
    never through a symlink; a mutating run's chore. Nothing is dropped while ``boot`` is
    unknown (None): a notice of this boot could not be told from an older one."""
    if boot is None:
        return
    recorded = load_notices(root)
    kept = notices(root, boot)
    if len(kept) == len(recorded):
        return
    if kept:
        save_notices(root, kept)
    else:
        host.remove_file(root, NOTICES)


def after_erase(root: str, package: str, kernel_release: str, running: str,
                now: float = 0.0, *, boot: str | None) -> RebootNotice | None:
    """Schedule the initrd rebuild and, when the patch was for the ``running`` kernel, leave the
    reboot notice stamped with ``boot`` (this boot's id, None when unreadable); return the notice
    recorded (None: another kernel's patch, no reboot needed). Earlier boots' notices go."""
    initrd.schedule(root, kernel_release)
    if running != kernel_release:
        return None  # e.g. purge-kernels removing an old kernel's patch: the running one is unchanged
    notice = RebootNotice(
        package=package,
        kernel=kernel_release,
        reason=f"live patch package {package} was removed; the running kernel keeps its code "
               "until a reboot",
        time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now or time.time())),
        boot=boot,
    )
    kept = notices(root, boot) if boot is not None else load_notices(root)
    save_notices(root, [n for n in kept if n.package != package] + [notice])
    host.write_file(root, REBOOT_NEEDED, b"")
    return notice
