"""Text and JSON renderings of klp's reports, byte-compatible with SUSE's klp where it has a format."""

from typing import Any, Dict, List, Optional, Sequence

from .reports import BlockingReport, PatchReport, StatusReport, TaskDetails
from .transition import PATCHED
from .waiting import WaitResult

INITIAL_PATCH = "(none - this is an initial kernel live patch)"
NO_PACKAGE = "(not installed from a package)"
UNKNOWN = "unknown"
NO_BLOCKING = "no threads with klp_in_progress set"
NO_LIVEPATCH = "this kernel has no live patching support"

# Versioned schemas of --json: bump the number on any incompatible change.
SCHEMA_STATUS = "klp-status/1"
SCHEMA_PATCHES = "klp-patches/1"
SCHEMA_BLOCKING = "klp-blocking/1"
SCHEMA_WAIT = "klp-wait/1"
SCHEMA_CHANGE = "klp-change/1"

UNREAD = TaskDetails(None, None, None)  # a task whose details were not asked for


def printable(text: str) -> str:
    """``text`` with every non-printable character (controls, escape sequences, newlines, bidi
    overrides) written as a Python-style escape, so a process cannot forge terminal output."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def _dump(doc: Dict[str, Any]) -> str:
    import json  # lazy: json pulls in re, which plain-text output does not need

    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _command(cmdline: Optional[Sequence[str]], comm: Optional[str]) -> str:
    if cmdline:
        return " ".join(printable(word) for word in cmdline)
    return f"[{printable(comm) if comm is not None else '?'}]"


def patches_text(reports: Sequence[PatchReport], verbosity: int) -> str:
    """``klp patches``: names; with -v a block of indented ``field: value`` lines per module;
    -vv adds expiry, update, and the objects and functions as the kernel lists them."""
    if verbosity == 0:
        return "".join(f"{printable(r.name)}\n" for r in reports)
    blocks = []
    for r in reports:
        lines = [printable(r.name), f"    active: {1 if r.active else 0}"]
        if r.active:
            if r.package is None:
                lines += [f"    RPM: {NO_PACKAGE}", f"    CVE: {UNKNOWN}",
                          f"    bug fixes and enhancements: {UNKNOWN}"]
            elif r.recorded:
                lines += [f"    RPM: {printable(r.package.nvra)} {REMOVED_PACKAGE}",
                          f"    CVE: {UNKNOWN}", f"    bug fixes and enhancements: {UNKNOWN}"]
            else:
                lines += [f"    RPM: {printable(r.package.nvra)}",
                          f"    CVE: {' '.join(map(printable, r.cves)) if r.cves else INITIAL_PATCH}",
                          "    bug fixes and enhancements: "
                          f"{' '.join(map(printable, r.bugs)) if r.bugs else '(none)'}"]
        if r.forced:
            lines.append(f"    forced: {printable(r.forced)} (klp force: tasks were marked switched "
                         "without leaving the old code)")
        if r.active and verbosity >= 2:
            lines += [f"    expires: {r.expires or UNKNOWN}", f"    update: {r.update or UNKNOWN}"]
        if verbosity >= 2:
            lines += _objects_text(r)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


REMOVED_PACKAGE = "(package removed; recorded when klp loaded it)"
_PATCHED = {1: "patched", 0: "not patched (module not loaded)", None: "patched state unknown"}


def _objects_text(r: PatchReport) -> List[str]:
    lines = []
    for obj in r.objects:
        lines.append(f"    object {printable(obj.name)}: {_PATCHED.get(obj.patched, '?')}")
        for fn in obj.functions:
            if fn.effective is None:
                state = "not in effect (patch not enabled)"
            elif fn.effective == r.name:
                state = "effective" + (" (in transition)" if r.patch and r.patch.transition == 1
                                       else "")
            else:
                state = f"overridden by {printable(fn.effective)}"
            lines.append(f"        function {printable(fn.name)},{fn.sympos}: {state}")
    return lines


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
            "functions": {o.name: [{"function": f.name, "sympos": f.sympos, "effective": f.effective}
                                   for f in o.functions] for o in r.objects},
            "module": r.module_path,
            "rpm": pkg.nvra if pkg else None,
            "rpm_removed": r.recorded,
            "forced": r.forced,
            "cves": list(r.cves),
            "bugs": list(r.bugs),
            "expires": r.expires,
            "update": r.update,
        })
    return _dump({"schema": SCHEMA_PATCHES, "patches": items})


def status_json(status: str, report: Optional[StatusReport] = None) -> str:
    """``klp status --json`` (schema klp-status/1; keys beyond ``status`` when ``report`` is given)."""
    doc: Dict[str, Any] = {"schema": SCHEMA_STATUS, "status": status}
    if report is not None:
        moving = report.transition
        last = report.last_load
        doc.update({
            "livepatch_supported": report.supported,
            "kernel": report.kernel or None,
            "transition": None if moving is None else {
                "patch": moving.name,
                "target": "patched" if moving.enabled == 1 else "unpatched",
                "replacing": report.replacing,
            },
            "reboot_needed": report.reboot_needed,
            "reboot_reasons": [{"package": p, "reason": r, "time": t}
                               for p, r, t in report.reboot_reasons]
            + ([] if report.reboot_reasons or not report.reboot_flag else
               [{"package": None, "reason": "/run/reboot-needed exists", "time": None}]),
            "not_loaded": [{"package": p, "module": m, "reason": w} for p, m, w in report.not_loaded],
            "last_load": None if last is None else {
                "result": last[0], "now": last[1], "time": last[2], "module": last[3],
                "package": last[4], "this_boot": last[5]},
            "expiry": None if report.expiry is None else {
                "package": report.expiry[0], "date": report.expiry[1], "state": report.expiry[2],
                "days": report.expiry[3] if report.expiry[1] else None},
            "warnings": report.warnings,
        })
    return _dump(doc)


def status_details(report: StatusReport) -> List[str]:
    """The lines ``klp -v status`` prints after ``ready``/``in_progress``."""
    lines = []
    if not report.supported:
        lines.append(f"live patching: {NO_LIVEPATCH} (no /sys/kernel/livepatch); "
                     "live patches cannot be loaded")
    moving = report.transition
    if moving is not None:
        name = printable(moving.name)
        if moving.enabled == 1:
            line = f"transition: {name} is being applied"
            if report.replacing:
                assumed = "" if report.replace_known else \
                    " (if it is a cumulative atomic-replace patch; this kernel does not say)"
                line += f"; it replaces {', '.join(map(printable, report.replacing))} when it " \
                        f"completes{assumed}"
        else:
            line = f"transition: {name} is being removed (unpatching)"
        lines.append(line)
    lines += [f"reboot needed: {printable(r or '?')} ({t or '?'})" for _p, r, t in report.reboot_reasons]
    if report.reboot_flag and not report.reboot_reasons:
        lines.append("reboot needed: /run/reboot-needed exists (another package asked for it)")
    lines += [f"not loaded: {printable(p)} is installed for the running kernel, but its live patch "
              f"{printable(m)} is not active ({w})" for p, m, w in report.not_loaded]
    if report.last_load is not None:
        _result, now, when, _module, _package, _this_boot = report.last_load
        lines.append(f"last load: {printable(now or '?')} ({when or '?'})")
    notice = expiry_notice(report)
    return lines + ([notice] if notice else [])


def expiry_notice(report: StatusReport) -> Optional[str]:
    """The notice for an expired or soon-expiring live patch stream of the running kernel."""
    if report.expiry is None or report.expiry[1] is None:
        return None
    name, date, kind, days = report.expiry
    if kind == "expired":
        return (f"live patch stream {name} expired on {date}: no more live patches for this "
                "kernel; plan a kernel update and reboot")
    if kind == "soon":
        return (f"live patch stream {name} expires on {date} (in {days} "
                f"day{'' if days == 1 else 's'}): plan a kernel update and reboot")
    return None


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
        out.append(f"    thread {t.tid} ({printable(d.comm) if d.comm is not None else '?'}):\n")
        if d.stack is None:
            out.append("        (stack not readable)\n")
        out += [f"        {printable(frame)}\n" for frame in d.stack or []]
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


def wait_json(result: WaitResult, switched: Optional[int], total: Optional[int],
              blockers: Optional[BlockingReport], reverted: Optional[bool]) -> str:
    """``klp wait --json`` (schema klp-wait/1)."""
    return _dump({
        "schema": SCHEMA_WAIT,
        "ready": result.completed,
        "elapsed": round(result.elapsed, 3),
        "patch": result.patch,
        "tasks_switched": switched,
        "tasks_total": total,
        "blocking": [] if blockers is None else [
            {"pid": t.pid, "tid": t.tid, "comm": t.details.comm if t.details else None,
             "cmdline": t.details.cmdline if t.details else None} for t in blockers.tasks],
        "reverted": reverted,
    })


def change_json(action: str, package: Optional[str], current: Optional[str], target: Optional[str],
                argv: Optional[Sequence[str]], result: str, message: str,
                exit_status: Optional[int]) -> str:
    """``klp update --json`` / ``klp downgrade --json`` (schema klp-change/1)."""
    return _dump({
        "schema": SCHEMA_CHANGE,
        "action": action,
        "package": package,
        "from": current,
        "to": target,
        "command": list(argv) if argv is not None else None,
        "result": result,
        "message": message,
        "exit_status": exit_status,
    })


def progress_line(patch: str, switched: int, total: int, elapsed: float) -> str:
    """One line of ``klp wait`` progress."""
    return f"{printable(patch)}: {switched}/{total} tasks switched ({elapsed:.0f}s)"
