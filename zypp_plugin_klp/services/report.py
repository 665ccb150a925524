"""Read-only use cases: status, the list of patches with their packages, and blocking tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core import transition as tr
from ..core.reports import BlockingReport, BlockingTask, PatchReport, WalkStats
from ..drivers.kernel import KernelDriver

Warn = Callable[[str], None]


def _ignore(_message: str) -> None:
    pass


def status(kernel: KernelDriver) -> str:
    """``ready`` or ``in_progress``."""
    return tr.IN_PROGRESS if kernel.in_transition() else tr.READY


def patches(kernel: KernelDriver, rpmdb: Any = None, warn: Warn = _ignore) -> list[PatchReport]:
    """Every live patch: the ones in sysfs (active while enabled) and replaced ones still loaded.

    With an ``rpmdb`` (an object with ``owner(path)``), each report also names the module file,
    the package owning it, and the CVEs and bugs from that package's changelog.
    """
    in_sysfs = kernel.patches(warn)
    names = {p.name for p in in_sysfs}
    reports = [PatchReport(p.name, p.enabled == 1, p) for p in in_sysfs]
    reports += [PatchReport(n, False) for n in kernel.loaded_livepatch_modules() if n not in names]
    reports.sort(key=lambda r: tr.natural_key(r.name))
    if rpmdb is not None:
        _add_packages(kernel, reports, rpmdb, warn)
    return reports


def _add_packages(kernel: KernelDriver, reports: list[PatchReport], rpmdb: Any, warn: Warn) -> None:
    from ..core.changelog import references  # lazy: only 'patches -v' needs these
    from ..core.klpinfo import parse_info
    from ..drivers.modfiles import module_files, read_info, same_file_paths

    files = module_files(kernel.root, kernel.kernel_release(), warn)
    for report in reports:
        report.module_path = files.get(report.name)
        if report.module_path is None:
            continue
        report.package = next(filter(None, map(rpmdb.owner, same_file_paths(report.module_path))), None)
        info = read_info(kernel.root, report.name, report.module_path)
        if info is not None:  # SUSE's build-time cache from the .changes file wins
            report.cves, report.bugs = parse_info(info)
        elif report.package is not None:
            report.cves, report.bugs = references(report.package.changelog)


def add_updates(reports: list[PatchReport], resolver: Any) -> None:
    """Fill ``update`` of every active patch from a package: the newer version, or ``none``."""
    from ..core.names import release_from_package

    for report in reports:
        name = getattr(report.package, "name", None)
        release = release_from_package(name) if report.active and name else None
        if release:
            newer = resolver.stream(release).update
            report.update = f"{newer.evr} available" if newer else "none (newest installed)"


def add_expiry(reports: list[PatchReport], root: str, now: int) -> None:
    """Fill ``expires`` of every active patch from a package with the lifecycle data."""
    from .lifecycle import expiry_text, package_eol

    for report in reports:
        package = report.package
        if report.active and package is not None:
            edition = f"{package.version}-{package.release}"
            report.expires = expiry_text(package_eol(root, package.name, edition,
                                                     package.arch), now)


def blocking(kernel: KernelDriver, details: int = 0, warn: Warn = _ignore) -> BlockingReport:
    """Walk every task and keep those whose patch_state differs from the transition's target.

    Args:
        details: 0 ids only, 1 with comm and cmdline, 2 with kernel stacks too.
    """
    stats = WalkStats()
    patch = tr.transitioning_patch(kernel.patches(warn))
    if patch is None:
        return BlockingReport(None, None, [], 0, stats)
    target = tr.transition_target(patch)
    found, total = kernel.blocking_tasks(target, stats, warn)
    found.sort()
    tasks = [
        BlockingTask(pid, tid, kernel.task_details(pid, tid, details >= 2) if details else None)
        for pid, tid in found
    ]
    return BlockingReport(patch, target, tasks, total, stats)
