"""What ``klp -v status`` and ``klp status --json`` add: live patching support, the transition and
what it replaces, pending reboots, installed patches that are not loaded, the last load as it
stands now, and the running stream's expiry."""

from __future__ import annotations

import time

from ..core import transition as tr
from ..core.reports import StatusReport
from ..drivers import host
from . import remove
from .records import LastLoad

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..drivers.kernel import KernelDriver
    from ..drivers.rpmdb import RpmDb


def facts(root: str, kernel: KernelDriver, rpmdb: RpmDb, now: int | None = None) -> StatusReport:
    """Everything ``klp -v status`` and ``klp status --json`` report, read now."""
    from ..core.sysconfig import livepatch_mode, mode_warning

    now = int(time.time()) if now is None else now
    patches = kernel.patches()
    moving = tr.transitioning_patch(patches)
    config = host.sysconfig(root, "livepatching")
    report = StatusReport(
        state=tr.IN_PROGRESS if moving is not None else tr.READY,
        supported=kernel.livepatch_supported(),
        kernel=kernel.kernel_release(),
        transition=moving,
        replacing=[p.name for p in patches
                   if moving is not None and moving.enabled == 1 and p.name != moving.name
                   and p.enabled == 1 and moving.replace != 0],
        replace_known=moving is not None and moving.replace is not None,
        reboot_reasons=[(n.package, n.reason, n.time) for n in remove.notices(root, kernel.boot_id())],
        reboot_flag=host.read_file(root, remove.REBOOT_NEEDED) is not None,
        mode=livepatch_mode(config),
        warnings=[w for w in [mode_warning(config)] if w],
    )
    _add_not_loaded(report, kernel, rpmdb, patches)
    _add_last_load(report, root, kernel, patches)
    _add_expiry(report, root, rpmdb, now)
    return report


def _newest_installed(rpmdb: RpmDb, release: str) -> object | None:
    from ..core.names import package_name
    from ..drivers.rpmdb import RpmDbError

    try:
        installed = rpmdb.installed(package_name(release)) if release else []
    except (RpmDbError, ValueError):
        return None
    return installed[-1] if installed else None


def _add_not_loaded(report: StatusReport, kernel: KernelDriver, rpmdb: RpmDb,
                    patches: list[tr.Patch]) -> None:
    """The newest installed live patch for the running kernel, when its module is not active."""
    from ..drivers.modfiles import module_files

    package = _newest_installed(rpmdb, report.kernel)
    if package is None:
        return
    prefix = f"/lib/modules/{report.kernel}/livepatch/"
    mine = [p for p in getattr(package, "files", ()) if p.startswith(prefix) and p.endswith(".ko")]
    names = {path: name for name, path in module_files(kernel.root, report.kernel).items()}
    module = next((names[p] for p in mine if p in names), None)
    if module is None:
        return
    patch = next((p for p in patches if p.name == module), None)
    if patch is not None and patch.enabled == 1:
        return
    if not report.supported:
        why = "this kernel has no live patching support"
    elif patch is not None:
        why = "disabled (being unpatched)" if patch.transition == 1 else "disabled"
    elif module in kernel.loaded_livepatch_modules():
        why = "its module is loaded but was disabled or replaced"
    elif report.mode == "never":
        why = "LIVEPATCH_KERNEL=never"
    else:
        why = "never loaded, or reverted and unloaded"
    report.not_loaded.append((getattr(package, "nvra", "?"), module, why))


def _add_last_load(report: StatusReport, root: str, kernel: KernelDriver,
                   patches: list[tr.Patch]) -> None:
    """The last load's outcome, told as it stands now (history is in ``klp log``)."""
    last = LastLoad.load(root)
    if last is None:
        return
    this_boot = last.in_boot(kernel.boot_id())
    now = last.message
    if last.module and last.result != "failed":
        patch = next((p for p in patches if p.name == last.module), None)
        who = f"{last.module} ({last.package})" if last.package else last.module
        if patch is None:
            now = f"{who} was loaded; " + (
                "it has since been replaced or disabled (its module is still loaded)"
                if last.module in kernel.loaded_livepatch_modules() else "it is no longer loaded")
        elif patch.transition == 1:
            now = f"{who} is loaded; its transition is in progress" if patch.enabled == 1 \
                else f"{who} is being disabled (its transition is being reversed)"
        elif patch.enabled == 1:
            now = f"{who} is active"
        else:
            now = f"{who} was loaded; it is now disabled"
    elif this_boot is False:  # the kernel that refused it is gone: what it said is history
        now = f"before the last reboot: {now}"
    report.last_load = (last.result, now, last.time, last.module, last.package, this_boot)


def _add_expiry(report: StatusReport, root: str, rpmdb: RpmDb, now: int) -> None:
    from ..core.lifecycle import expiry, format_eol
    from .lifecycle import package_eol

    package = _newest_installed(rpmdb, report.kernel)
    if package is None:
        return
    name = getattr(package, "name", "")
    eol = package_eol(root, name, f"{getattr(package, 'version', '')}-"
                                  f"{getattr(package, 'release', '')}", getattr(package, "arch", ""))
    kind, days = expiry(eol, now)
    report.expiry = (name, format_eol(eol) if eol is not None else None, kind, days)
