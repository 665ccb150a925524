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


def after_erase(root: str, package: str, kernel_release: str, now: float = 0.0) -> RebootNotice:
    """Schedule the initrd rebuild and leave the reboot notice; return the notice recorded."""
    initrd.schedule(root, kernel_release)
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
