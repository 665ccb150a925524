"""What ``klp -v status`` adds: pending reboots, the last load's outcome, the stream's expiry."""

from __future__ import annotations

import time

from . import remove
from .records import LastLoad

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..drivers.kernel import KernelDriver
    from ..drivers.rpmdb import RpmDb


def details(root: str, kernel: KernelDriver, rpmdb: RpmDb) -> list[str]:
    """The lines to show after the status line."""
    lines = [f"reboot needed: {_known(n.reason)} ({_known(n.time)})" for n in remove.notices(root)]
    last = LastLoad.load(root)
    if last is not None:
        lines.append(f"last load: {_known(last.message)} ({_known(last.time)})")
    notice = stream_expiry(root, kernel, rpmdb, int(time.time()))
    return lines + ([notice] if notice else [])


def _known(value: str | None) -> str:
    return "?" if value is None else value


def stream_expiry(root: str, kernel: KernelDriver, rpmdb: RpmDb, now: int) -> str | None:
    """A notice for an expired or soon-expiring live patch stream of the running kernel."""
    from ..core.lifecycle import expiry, format_eol
    from ..core.names import package_name
    from ..drivers.rpmdb import RpmDbError
    from .lifecycle import package_eol

    release = kernel.kernel_release()
    try:
        installed = rpmdb.installed(package_name(release)) if release else []
    except (RpmDbError, ValueError):
        return None
    if not installed:
        return None
    newest = installed[-1]
    eol = package_eol(root, newest.name, f"{newest.version}-{newest.release}", newest.arch)
    kind, days = expiry(eol, now)
    if eol is not None and kind == "expired":
        return (f"live patch stream {newest.name} expired on {format_eol(eol)}: no more live "
                "patches for this kernel; plan a kernel update and reboot")
    if eol is not None and kind == "soon":
        return (f"live patch stream {newest.name} expires on {format_eol(eol)} (in {days} days): "
                "plan a kernel update and reboot")
    return None
