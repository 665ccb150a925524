"""After a live patch package is erased: initrd rebuild and a reboot notice naming the patch."""

from __future__ import annotations

import time

from ..drivers import host
from . import initrd
from .records import RebootNotice, load_notices, save_notices

from ..paths import NOTICES, REBOOT_NEEDED  # noqa: F401  (re-exported for callers)


def notices(root: str) -> list[RebootNotice]:
    """The recorded reasons for a reboot (newest last); empty when none or unreadable."""
    return load_notices(root)


def after_erase(root: str, package: str, kernel_release: str, running: str,
                now: float = 0.0) -> RebootNotice | None:
    """Schedule the initrd rebuild and, when the patch was for the ``running`` kernel, leave the
    reboot notice; return the notice recorded (None: another kernel's patch, no reboot needed)."""
    initrd.schedule(root, kernel_release)
    if running != kernel_release:
        return None  # e.g. purge-kernels removing an old kernel's patch: the running one is unchanged
    notice = RebootNotice(
        package=package,
        kernel=kernel_release,
        reason=f"live patch package {package} was removed; the running kernel keeps its code "
               "until a reboot",
        time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now or time.time())),
    )
    save_notices(root, [n for n in notices(root) if n.package != package] + [notice])
    host.write_file(root, REBOOT_NEEDED, b"")
    return notice
