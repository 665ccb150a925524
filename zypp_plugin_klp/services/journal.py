"""The commit-record journal: one JSON record per zypper commit that touched live patches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from ..drivers import host
from ..paths import RECORDS
from .records import COMMIT_SCHEMA, dump, parse

KEEP_RECORDS = 20


class Entry(NamedTuple):
    """One file of the journal: its name and its record (None when unreadable)."""

    name: str
    record: dict[str, Any] | None


def save(root: str, record: dict[str, Any], pid: int) -> None:
    """Write ``record`` atomically under a fresh name and keep only the newest KEEP_RECORDS.

    Raises:
        HostFileError: the record could not be written (unprivileged, full disk...).
    """
    name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{time.time_ns() % 10**9:09d}-" \
           f"{pid}.json"
    host.write_file(root, f"{RECORDS}/{name}", dump(record, COMMIT_SCHEMA))
    for old in [n for n in host.list_dir(root, RECORDS) if n.endswith(".json")][:-KEEP_RECORDS]:
        host.remove_file(root, f"{RECORDS}/{old}")


def read(root: str) -> Iterator[Entry]:
    """The journal's records, oldest first (files that are not records are skipped)."""
    for name in host.list_dir(root, RECORDS):
        text = host.read_file(root, f"{RECORDS}/{name}") if name.endswith(".json") else None
        if text is not None:
            yield Entry(name, parse(text, COMMIT_SCHEMA))


def summary(record: dict[str, Any]) -> str:
    """One line describing a recorded commit (what ``klp log`` prints and syslog gets)."""
    steps = ", ".join(f"{s['type']}{s['package']}" for s in record.get("steps", [])) or "no live patches"
    parts = [f"{record.get('started', '?')} {steps}"]
    parts += [a.get("message") or f"erase {a.get('erase')}: initrd {a.get('initrd')}"
              for a in record.get("actions", []) if isinstance(a, dict)]
    parts += record.get("decisions", []) + [f"error: {e}" for e in record.get("errors", [])]
    return "; ".join(str(p) for p in parts)
