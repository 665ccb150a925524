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
        parsed = parse_info(info) if info is not None else None
        if parsed is not None:  # the build-time cache from the .changes file wins
            report.cves, report.bugs = parsed
        elif report.package is not None:
            report.cves, report.bugs = references(report.package.changelog)


def add_objects(kernel: KernelDriver, reports: list[PatchReport], warn: Warn = _ignore) -> None:
    """Fill ``objects`` of every patch in sysfs, each function marked with the patch whose code
    runs for it: the newest enabled patch that changes it (stacked patches, or both sides of an
    atomic replace while it is in transition)."""
    from dataclasses import replace

    listed = [r for r in reports if r.patch is not None]
    for report in listed:
        report.objects = kernel.patch_objects(report.name, warn)
    newest = _newest_first(kernel, [r.patch for r in listed if r.patch is not None])
    winner: dict[tuple[str, str, int | None], str] = {}
    for name in reversed(newest):  # oldest first: newer patches overwrite
        report = next(r for r in listed if r.name == name)
        if report.patch is not None and report.patch.enabled == 1:
            for obj in report.objects:
                for fn in obj.functions:
                    winner[(obj.name, fn.name, fn.sympos)] = name
    for report in listed:
        report.objects = [replace(obj, functions=tuple(
            replace(fn, effective=winner.get((obj.name, fn.name, fn.sympos))) for fn in obj.functions))
            for obj in report.objects]


def _newest_first(kernel: KernelDriver, patches: list[tr.Patch]) -> list[str]:
    """Patch names, the most recently applied first: the kernel's stack_order where it has one,
    else the order of the module list (newest first), else the natural order of the names."""
    if patches and all(p.stack_order is not None for p in patches):
        return [p.name for p in sorted(patches, key=lambda p: -(p.stack_order or 0))]
    order = {name: i for i, name in enumerate(kernel.modules_newest_first())}
    natural = sorted((p.name for p in patches), key=tr.natural_key, reverse=True)
    return sorted(natural, key=lambda n: order.get(n, len(order)))


def add_records(reports: list[PatchReport], root: str, rpmdb: Any, boot: str | None) -> None:
    """Fill what klp recorded: the package of a still-loaded patch whose package was removed,
    and whether ``klp force`` was used on a patch in this boot (``boot``: its id)."""
    from .records import PatchRecords

    records = PatchRecords.load(root)
    for report in reports:
        entry = records.patches.get(report.name)
        if entry is None:
            continue
        report.forced = entry.forced_in(boot)
        if report.package is None and entry.package:
            report.package = _Recorded(entry.package)
            report.recorded = True


class _Recorded:
    """A package known only from klp's record (its rpm database entry is gone)."""

    def __init__(self, nvra: str) -> None:
        self.nvra = nvra
        self.name = None


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
        if report.active and package is not None and not report.recorded:
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
