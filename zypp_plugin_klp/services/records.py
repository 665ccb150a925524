"""The state files klp keeps, each owned here as a typed value with load/save and a versioned
schema (``klp-<thing>/1``): the last load's outcome, the reboot notices, the commit records.

Files written before the schema existed are read as version 1; a file with another schema, or
that is not valid JSON, reads as absent (never an error: these files only inform).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ..drivers import host
from ..paths import LAST_LOAD, NOTICES, PATCH_RECORDS

LAST_LOAD_SCHEMA = "klp-last-load/1"
NOTICES_SCHEMA = "klp-reboot-needed/1"
COMMIT_SCHEMA = "klp-commit/1"
PATCH_RECORDS_SCHEMA = "klp-patch-records/1"
KEEP_PATCH_RECORDS = 50


def parse(text: str | None, schema: str) -> dict[str, Any] | None:
    """The JSON object in ``text`` if it has ``schema`` (or none: files from before schemas)."""
    try:
        doc = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("schema", schema) != schema:
        return None
    return doc


def dump(doc: dict[str, Any], schema: str) -> bytes:
    """``doc`` with its schema, as the bytes of the file."""
    return (json.dumps({**doc, "schema": schema}, indent=2, sort_keys=True) + "\n").encode()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class LastLoad:
    """What the last load from a transaction did (``/var/lib/klp/last-load.json``)."""

    result: str | None
    message: str | None
    kernel: str | None = None
    time: str | None = None
    module: str | None = None
    package: str | None = None
    loaded_now: bool = False
    boot: str | None = None  # the boot id it was made in (None: unreadable, or an older klp)

    def in_boot(self, boot: str | None) -> bool | None:
        """Whether the load was made in the boot ``boot``; None when that cannot be told."""
        return None if self.boot is None or boot is None else self.boot == boot

    @classmethod
    def load(cls, root: str) -> LastLoad | None:
        """The recorded last load, or None when there is none (or it is unreadable)."""
        doc = parse(host.read_file(root, LAST_LOAD), LAST_LOAD_SCHEMA)
        if doc is None:
            return None
        return cls(_text(doc.get("result")), _text(doc.get("message")), _text(doc.get("kernel")),
                   _text(doc.get("time")), _text(doc.get("module")), _text(doc.get("package")),
                   bool(doc.get("loaded_now")), _text(doc.get("boot")))

    def save(self, root: str) -> None:
        """Write the record atomically."""
        host.write_file(root, LAST_LOAD, dump(asdict(self), LAST_LOAD_SCHEMA))


@dataclass(frozen=True)
class RebootNotice:
    """Why a reboot is needed: a removed live patch whose code the running kernel keeps."""

    package: str | None
    kernel: str | None
    reason: str | None
    time: str | None
    boot: str | None = None  # the boot id it was written in (None: unreadable, or an older klp)

    def holds(self, boot: str | None, flag: bool) -> bool:
        """Whether the notice still holds in the boot ``boot`` (None: unreadable). A notice
        stamped with a boot holds only in that boot. One that cannot be dated (no stamp, or
        this boot's id unreadable) holds only while libzypp's ``/run/reboot-needed`` (``flag``)
        exists: it is written in the same step onto a tmpfs, so a reboot removes it. Either
        way no reboot is claimed on a notice that may predate the last boot."""
        if self.boot is not None and boot is not None:
            return self.boot == boot
        return flag


def load_notices(root: str) -> list[RebootNotice]:
    """The recorded reboot notices, oldest first; empty when none or unreadable."""
    doc = parse(host.read_file(root, NOTICES), NOTICES_SCHEMA)
    items = doc.get("notices") if doc is not None else None
    if not isinstance(items, list):
        return []
    return [RebootNotice(_text(n.get("package")), _text(n.get("kernel")), _text(n.get("reason")),
                         _text(n.get("time")), _text(n.get("boot")))
            for n in items if isinstance(n, dict)]


def save_notices(root: str, notices: list[RebootNotice]) -> None:
    """Write the reboot notices atomically."""
    host.write_file(root, NOTICES, dump({"notices": [asdict(n) for n in notices]}, NOTICES_SCHEMA))


@dataclass(frozen=True)
class PatchRecord:
    """What klp knows about one live patch module beyond the kernel: its package, and forcing."""

    package: str | None = None
    loaded: str | None = None  # when klp loaded it (UTC)
    forced: str | None = None  # when 'klp force' marked its transition complete (UTC)
    forced_boot: str | None = None  # the boot id then (a reboot loads the module afresh)

    def forced_in(self, boot: str | None) -> str | None:
        """When the module was forced, if that was in the boot ``boot``: a module of the same
        name loaded after a reboot is a new one. Undated (an older klp's record, or a boot id
        unreadable then or now): the record is shown, as it was before records had a boot."""
        if self.forced_boot is not None and boot is not None and self.forced_boot != boot:
            return None
        return self.forced


@dataclass
class PatchRecords:
    """Per module, the package it was loaded from and whether it was forced
    (``/var/lib/klp/patches.json``): the kernel keeps a module after its package is removed."""

    patches: dict[str, PatchRecord]

    @classmethod
    def load(cls, root: str) -> PatchRecords:
        """The records; empty when there are none (or they are unreadable)."""
        doc = parse(host.read_file(root, PATCH_RECORDS), PATCH_RECORDS_SCHEMA)
        items = doc.get("patches") if doc is not None else None
        if not isinstance(items, dict):
            return cls({})
        return cls({str(k): PatchRecord(_text(v.get("package")), _text(v.get("loaded")),
                                        _text(v.get("forced")), _text(v.get("forced_boot")))
                    for k, v in items.items() if isinstance(v, dict)})

    def save(self, root: str) -> None:
        """Write the records atomically (only the newest KEEP_PATCH_RECORDS modules)."""
        keep = dict(list(self.patches.items())[-KEEP_PATCH_RECORDS:])
        host.write_file(root, PATCH_RECORDS, dump(
            {"patches": {k: asdict(v) for k, v in keep.items()}}, PATCH_RECORDS_SCHEMA))


def record_patch(root: str, module: str, **changes: str | None) -> None:
    """Update the record of ``module`` (``package``, ``loaded``, ``forced``, ``forced_boot``)
    atomically."""
    from dataclasses import replace

    records = PatchRecords.load(root)
    entry = records.patches.pop(module, PatchRecord())
    records.patches[module] = replace(entry, **changes)
    records.save(root)
