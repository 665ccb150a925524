"""Which Prometheus series describe live patching, built from one observation of a system.

Pure: an :class:`Observation` (plain values gathered by services/metrics) in, metric families
out; plus the codecs of the two small text state files that keep ``klp metrics`` fast (the
cached rpm/lifecycle facts and the first sighting of a transition). Cheap to import: no ``re``,
``json``, ``typing`` or ``dataclasses`` at run time.

Series (all gauges; names follow the Prometheus naming conventions, times in Unix seconds):

    klp_build_info{version}                          1
    klp_livepatch_supported                          1 when the kernel has /sys/kernel/livepatch
    klp_transition_in_progress                       1 while a patch is in transition
    klp_transition_started_timestamp_seconds{module,direction}
                                                     when we first saw it (see transition_since)
    klp_blocking_tasks                               tasks not yet switched (absent when unknown)
    klp_patch_info{module,package,version,kernel_release}
                                                     1 per enabled live patch
    klp_installed_not_loaded{package,version}        1 when the newest installed version of a
                                                     stream for the running kernel is not enabled
    klp_stream_expiry_timestamp_seconds{package}     end of the running stream's support
    klp_reboot_needed{reason}                        1 per reason: livepatch_removed, zypp
    klp_last_load_success_timestamp_seconds          end of the last successful load
    klp_last_load_failed                             1 when the last load attempt failed
"""

from __future__ import annotations

from .exposition import Family

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

CACHE_SCHEMA = "klp-metrics-cache/1"
SEEN_SCHEMA = "klp-transition-seen/1"
REBOOT_REASONS = ("livepatch_removed", "zypp")
LOAD_SUCCESS = ("active", "loaded", "in_progress")  # the kernel holds the patch afterwards
LOAD_FAILED = "failed"


class InstalledPatch:
    """An installed live patch package for the running kernel and the module it ships."""

    __slots__ = ("name", "edition", "arch", "module")

    def __init__(self, name: str, edition: str, arch: str, module: str) -> None:
        self.name = name
        self.edition = edition  # version-release
        self.arch = arch
        self.module = module

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InstalledPatch) and self._key() == other._key()

    def __repr__(self) -> str:
        return f"InstalledPatch{self._key()!r}"

    def _key(self) -> tuple[str, str, str, str]:
        return (self.name, self.edition, self.arch, self.module)


class Facts:
    """What changes only with the rpm database, lifecycle data or klp's own state files:
    cached between runs (see :func:`encode_facts`)."""

    __slots__ = ("installed", "expiry", "livepatch_removed", "last_load")

    def __init__(self, installed: Sequence[InstalledPatch] = (), expiry: int | None = None,
                 livepatch_removed: bool = False,
                 last_load: tuple[str, str, int] | None = None) -> None:
        self.installed = list(installed)       # oldest first per stream, rpm's order
        self.expiry = expiry                  # end of the newest stream's support (Unix time)
        self.livepatch_removed = livepatch_removed
        self.last_load = last_load            # (result, module, Unix time)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Facts) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__)


class Observation:
    """One look at the system, everything :func:`families` renders."""

    __slots__ = ("version", "supported", "kernel_release", "enabled", "transition",
                 "transition_since", "blocking", "facts", "zypp_reboot")

    def __init__(self, version: str, supported: bool, kernel_release: str,
                 enabled: Sequence[str] = (), transition: tuple[str, int] | None = None,
                 transition_since: int | None = None, blocking: int | None = None,
                 facts: Facts | None = None, zypp_reboot: bool = False) -> None:
        self.version = version
        self.supported = supported
        self.kernel_release = kernel_release
        self.enabled = list(enabled)          # modules whose ``enabled`` reads 1
        self.transition = transition          # (module, target patch_state) or None
        self.transition_since = transition_since
        self.blocking = blocking              # None: unknown (not root)
        self.facts = facts or Facts()
        self.zypp_reboot = zypp_reboot        # libzypp's /run/reboot-needed exists

    def streams(self) -> list[InstalledPatch]:
        """The newest installed version of every live patch stream, by package name."""
        newest: dict[str, InstalledPatch] = {}
        for patch in self.facts.installed:
            newest[patch.name] = patch
        return [newest[name] for name in sorted(newest)]

    def not_loaded(self) -> list[InstalledPatch]:
        """Streams whose newest installed version is not an enabled patch."""
        return [p for p in self.streams() if p.module not in self.enabled]


def families(obs: Observation) -> list[Family]:
    """The metric families for ``obs``, in a stable order."""
    out = [Family("klp_build_info", "gauge", "Version of zypp-plugin-klp that wrote these series.",
                  [((("version", obs.version),), 1)]),
           Family("klp_livepatch_supported", "gauge",
                  "Whether the running kernel supports live patching (1) or not (0).",
                  [((), int(obs.supported))]),
           Family("klp_transition_in_progress", "gauge",
                  "Whether a live patch transition is in progress (1) or not (0).",
                  [((), int(obs.transition is not None))])]
    started = Family("klp_transition_started_timestamp_seconds", "gauge",
                     "When the transition in progress was first seen (load time or first "
                     "observation, whichever is earlier).")
    if obs.transition is not None and obs.transition_since is not None:
        direction = "patch" if obs.transition[1] == 1 else "unpatch"
        started.add(obs.transition_since, (("module", obs.transition[0]), ("direction", direction)))
    blocking = Family("klp_blocking_tasks", "gauge",
                      "Tasks still running code the transition in progress must switch away from.")
    if obs.blocking is not None:
        blocking.add(obs.blocking)
    out += [started, blocking]

    by_module = {p.module: p for p in obs.facts.installed}
    info = Family("klp_patch_info", "gauge",
                  "Enabled live patches: module, owning package and its version-release.")
    for module in obs.enabled:
        owner = by_module.get(module)
        info.add(1, (("module", module), ("package", owner.name if owner else ""),
                     ("version", owner.edition if owner else ""),
                     ("kernel_release", obs.kernel_release)))
    not_loaded = Family("klp_installed_not_loaded", "gauge",
                        "Whether the newest installed version of a live patch stream for the "
                        "running kernel is not loaded (1) or is (0).")
    missing = obs.not_loaded()
    for stream in obs.streams():
        not_loaded.add(int(stream in missing), (("package", stream.name),
                                                 ("version", stream.edition)))
    expiry = Family("klp_stream_expiry_timestamp_seconds", "gauge",
                    "End of support of the running kernel's live patch stream (lifecycle data).")
    streams = obs.streams()
    if obs.facts.expiry is not None and streams:
        expiry.add(obs.facts.expiry, (("package", streams[-1].name),))
    reboot = Family("klp_reboot_needed", "gauge",
                    "Whether a reboot is needed (1) or not (0), per reason.")
    reboot.add(int(obs.facts.livepatch_removed), (("reason", "livepatch_removed"),))
    reboot.add(int(obs.zypp_reboot), (("reason", "zypp"),))
    out += [info, not_loaded, expiry, reboot]

    success = Family("klp_last_load_success_timestamp_seconds", "gauge",
                     "When the last successful live patch load by a package transaction ended.")
    failed = Family("klp_last_load_failed", "gauge",
                    "Whether the last live patch load by a package transaction failed (1) or not.")
    last = obs.facts.last_load
    if last is not None:
        if last[0] in LOAD_SUCCESS:
            success.add(last[2])
        failed.add(int(last[0] == LOAD_FAILED))
    return out + [success, failed]


def transition_since(current: tuple[str, int] | None, seen: tuple[str, int, int] | None,
                     last_load: tuple[str, str, int] | None,
                     now: int) -> tuple[str, int, int] | None:
    """When the transition ``current`` (module, target) started, as well as we can tell.

    The kernel records no start time. The estimate is the earliest of: the first time klp saw
    this very transition (``seen``: module, target, time; kept by the caller between runs), the
    end of the last load of that module by a package transaction (a patching transition), and
    ``now``. It is late by at most the interval between observations (the timer's minute) or the
    load's own wait. Returns the record to keep, or None when nothing is in transition.
    """
    if current is None:
        return None
    module, target = current
    since = now
    if seen is not None and seen[:2] == (module, target):
        since = min(since, seen[2])
    if last_load is not None and target == 1 and last_load[1] == module and \
            last_load[0] in LOAD_SUCCESS:
        since = min(since, last_load[2])
    return (module, target, since)


def encode_seen(record: tuple[str, int, int]) -> str:
    """The transition-seen file: one line ``schema module target time``."""
    return f"{SEEN_SCHEMA} {record[0]} {record[1]} {record[2]}\n"


def decode_seen(text: str | None) -> tuple[str, int, int] | None:
    """Inverse of :func:`encode_seen`; None for anything else (a hostile or foreign file)."""
    parts = (text or "").split()
    if len(parts) != 4 or parts[0] != SEEN_SCHEMA:
        return None
    try:
        return (parts[1], int(parts[2]), int(parts[3]))
    except ValueError:
        return None


def _clean(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ")


def encode_facts(key: str, facts: Facts) -> str:
    """The facts cache: a schema line, the key of the inputs it was computed from, then one
    tab-separated record per line (text, so the fast path needs no json)."""
    lines = [CACHE_SCHEMA, f"key\t{_clean(key)}"]
    lines += ["\t".join(["installed", *(_clean(v) for v in p._key())]) for p in facts.installed]
    if facts.expiry is not None:
        lines.append(f"expiry\t{facts.expiry}")
    if facts.livepatch_removed:
        lines.append("livepatch_removed")
    if facts.last_load is not None:
        result, module, when = facts.last_load
        lines.append(f"last_load\t{_clean(result)}\t{_clean(module)}\t{when}")
    return "\n".join(lines) + "\n"


def decode_facts(text: str | None, key: str) -> Facts | None:
    """The cached facts when ``text`` is a cache computed for ``key``; else None (recompute)."""
    lines = (text or "").split("\n")
    if len(lines) < 2 or lines[0] != CACHE_SCHEMA or lines[1] != f"key\t{_clean(key)}":
        return None
    facts = Facts()
    try:
        for line in lines[2:]:
            fields = line.split("\t")
            if fields[0] == "installed" and len(fields) == 5:
                facts.installed.append(InstalledPatch(*fields[1:]))
            elif fields[0] == "expiry" and len(fields) == 2:
                facts.expiry = int(fields[1])
            elif fields == ["livepatch_removed"]:
                facts.livepatch_removed = True
            elif fields[0] == "last_load" and len(fields) == 4:
                facts.last_load = (fields[1], fields[2], int(fields[3]))
            elif line:
                return None
    except ValueError:
        return None
    return facts


def iso_seconds(text: object) -> int | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` (klp's state file times, UTC) -> Unix seconds; None otherwise."""
    if not isinstance(text, str) or len(text) != 20 or text[4] + text[7] + text[10] + \
            text[13] + text[16] + text[19] != "--T::Z":
        return None
    try:
        year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
        hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
    except ValueError:
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    # Days from the civil date (proleptic Gregorian), so no calendar/datetime import is needed.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + hour * 3600 + minute * 60 + second
