"""Text and JSON renderings of klp's reports, byte-compatible with SUSE's klp where it has a format."""

from typing import Any, Dict, List, Optional, Sequence

from .reports import BlockingReport, PatchReport, TaskDetails
from .transition import PATCHED

INITIAL_PATCH = "(none - this is an initial kernel live patch)"
NO_PACKAGE = "(not installed from a package)"
UNKNOWN = "unknown"
NO_BLOCKING = "no threads with klp_in_progress set"

# Versioned schemas of --json: bump the number on any incompatible change.
SCHEMA_STATUS = "klp-status/1"
SCHEMA_PATCHES = "klp-patches/1"
SCHEMA_BLOCKING = "klp-blocking/1"

UNREAD = TaskDetails(None, None, None)  # a task whose details were not asked for


def _dump(doc: Dict[str, Any]) -> str:
    import json  # lazy: json pulls in re, which plain-text output does not need

    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _command(cmdline: Optional[Sequence[str]], comm: Optional[str]) -> str:
    if cmdline:
        return " ".join(cmdline)
    return f"[{comm if comm is not None else '?'}]"


def patches_text(reports: Sequence[PatchReport], verbosity: int) -> str:
    """``klp patches``: names; with -v a block of indented ``field: value`` lines per module."""
    if verbosity == 0:
        return "".join(f"{r.name}\n" for r in reports)
    blocks = []
    for r in reports:
        lines = [r.name, f"    active: {1 if r.active else 0}"]
        if r.active:
            if r.package is None:
                lines += [f"    RPM: {NO_PACKAGE}", f"    CVE: {UNKNOWN}",
                          f"    bug fixes and enhancements: {UNKNOWN}"]
            else:
                lines += [f"    RPM: {r.package.nvra}",
                          f"    CVE: {' '.join(r.cves) if r.cves else INITIAL_PATCH}",
                          f"    bug fixes and enhancements: {' '.join(r.bugs) if r.bugs else '(none)'}"]
            if verbosity >= 2:
                lines += [f"    expires: {r.expires or UNKNOWN}", f"    update: {r.update or UNKNOWN}"]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def patches_json(reports: Sequence[PatchReport]) -> str:
    """``klp patches --json`` (schema klp-patches/1)."""
    items = []
    for r in reports:
        p = r.patch
        pkg = r.package
        items.append({
            "name": r.name,
            "active": r.active,
            "enabled": p.enabled if p else None,
            "transition": p.transition if p else None,
            "replace": p.replace if p else None,
            "stack_order": p.stack_order if p else None,
            "objects": {o: patched for o, patched in p.objects} if p else {},
            "module": r.module_path,
            "rpm": pkg.nvra if pkg else None,
            "cves": list(r.cves),
            "bugs": list(r.bugs),
            "expires": r.expires,
            "update": r.update,
        })
    return _dump({"schema": SCHEMA_PATCHES, "patches": items})


def status_json(status: str) -> str:
    """``klp status --json`` (schema klp-status/1)."""
    return _dump({"schema": SCHEMA_STATUS, "status": status})


def blocking_text(report: BlockingReport, verbosity: int) -> str:
    """``klp blocking``: PIDs; -v adds command lines; -vv one entry per thread with its stack."""
    if not report.tasks:
        return f"{NO_BLOCKING}\n" if verbosity else ""
    if verbosity == 0:
        return "".join(f"{pid}\n" for pid in sorted({t.pid for t in report.tasks}))
    out: List[str] = []
    seen = set()
    for t in report.tasks:
        d = t.details or UNREAD
        if verbosity == 1:
            if t.pid not in seen:
                seen.add(t.pid)
                out.append(f"{t.pid} {_command(d.cmdline, d.comm)}\n")
            continue
        out.append(f"{t.pid} {_command(d.cmdline, d.comm)}\n")
        out.append(f"    thread {t.tid} ({d.comm if d.comm is not None else '?'}):\n")
        if d.stack is None:
            out.append("        (stack not readable)\n")
        out += [f"        {frame}\n" for frame in d.stack or []]
    return "".join(out)


def threads_text(report: BlockingReport) -> str:
    """``kgr blocking_threads``: one TID per line."""
    return "".join(f"{t.tid}\n" for t in report.tasks)


def blocking_json(report: BlockingReport) -> str:
    """``klp blocking --json`` (schema klp-blocking/1)."""
    tasks = []
    for t in report.tasks:
        d = t.details
        tasks.append({
            "pid": t.pid, "tid": t.tid,
            "comm": d.comm if d else None,
            "cmdline": d.cmdline if d else None,
            "stack": d.stack if d else None,
        })
    patch = report.patch
    return _dump({
        "schema": SCHEMA_BLOCKING,
        "patch": patch.name if patch else None,
        "target": None if patch is None else ("patched" if report.target == PATCHED else "unpatched"),
        "tasks_total": report.total,
        "tasks_switched": report.switched,
        "tasks": tasks,
    })


def progress_line(patch: str, switched: int, total: int, elapsed: float) -> str:
    """One line of ``klp wait`` progress."""
    return f"{patch}: {switched}/{total} tasks switched ({elapsed:.0f}s)"
