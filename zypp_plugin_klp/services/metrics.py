"""What ``klp metrics`` and ``check_klp`` observe, and the textfile node_exporter reads.

``klp metrics`` runs every minute on every server, so the common case reads only the kernel's
live patch state and two small text files: what needs the rpm database, the lifecycle data and
klp's JSON state files (installed live patches and their modules, the stream's expiry, reboot
notices, the last load) is cached in ``/run/klp/metrics-facts`` and recomputed when any of
those inputs changes (their directories' and files' mtimes and sizes), or once an hour.

The kernel does not say when a transition started: klp keeps the first time it saw one in
``/run/klp/transition-seen`` (see core.metrics.transition_since for the estimate).
"""

from __future__ import annotations

from .. import paths
from ..core import metrics as m
from ..drivers import host

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..drivers.kernel import KernelDriver
    from ..drivers.rpmdb import RpmDb

CACHE_SECONDS = 3600  # recompute the cached facts at least this often (in-place edits of data)
SYSCONFIG_KEY = "LIVEPATCH_METRICS_DIR"
# rpm database files that change when it is only read: sqlite's shared memory, Berkeley DB's
# environment, lock files (the database proper and sqlite's write-ahead log are what count)
_TOUCHED_BY_READERS = ("-shm", "__db", ".rpm.lock", ".dbenv.lock")


def observe(kernel: KernelDriver, rpmdb: Callable[[], RpmDb], now: int,
            remember: bool = True, erased: str | None = None) -> m.Observation:
    """Look at the system once. ``rpmdb`` is called only when the cached facts are stale;
    ``remember`` lets this call keep its cache and transition sighting (when it may write).
    ``erased`` (name-version-release) is a package rpm is removing: %postun runs before rpm
    drops it from its database, so it is left out (and these facts are not cached)."""
    from .. import __version__

    root = kernel.root
    release = kernel.kernel_release()
    states = kernel.patch_states()
    enabled = [name for name, on, _ in states if on == 1]
    moving = next(((name, 1 if on == 1 else 0) for name, on, tr in states if tr == 1), None)
    facts = _facts(root, release, kernel.boot_id(), rpmdb, now, remember, erased)
    since = None
    blocking: int | None = 0
    if moving is not None:
        seen = m.decode_seen(host.read_file(root, paths.TRANSITION_SEEN))
        record = m.transition_since(moving, seen, facts.last_load, now)
        since = record[2] if record else None
        if remember and record != seen and record is not None:
            _keep(root, paths.TRANSITION_SEEN, m.encode_seen(record))
        blocking = _blocking(kernel, moving[1])
    elif remember and host.exists(root, paths.TRANSITION_SEEN):
        try:  # that transition ended: a later one of the same patch is a new one
            host.remove_file(root, paths.TRANSITION_SEEN)
        except host.HostFileError:
            pass
    return m.Observation(__version__, kernel.livepatch_supported(), release, enabled, moving,
                         since, blocking, facts, host.exists(root, paths.REBOOT_NEEDED))


def _blocking(kernel: KernelDriver, target: int) -> int | None:
    """Tasks not yet switched; None when some could not be read (not root)."""
    from ..core.reports import WalkStats

    stats = WalkStats()
    found, _total = kernel.blocking_tasks(target, stats)
    return None if stats.denied else len(found)


def _keep(root: str, relpath: str, text: str) -> None:
    """Write a cache or sighting file; without the right to (not root), go on without it."""
    try:
        host.write_file(root, relpath, text.encode())
    except host.HostFileError:
        pass


def _signature(root: str, release: str, boot: str | None, now: int) -> str:
    """What the cached facts depend on: kernel and boot, rpm database, klp's state files,
    lifecycle data."""
    stamps = host.fingerprint(root, (paths.LAST_LOAD, paths.NOTICES, paths.REBOOT_NEEDED),
                              paths.RPMDB_DIRS + paths.LIFECYCLE_DIRS + ("etc/products.d",),
                              _TOUCHED_BY_READERS)
    return f"{release} {boot or '-'} {now // CACHE_SECONDS} {stamps}"


def _facts(root: str, release: str, boot: str | None, rpmdb: Callable[[], RpmDb], now: int,
           remember: bool, erased: str | None) -> m.Facts:
    key = _signature(root, release, boot, now)
    facts = None if erased else m.decode_facts(host.read_file(root, paths.METRICS_FACTS), key)
    if facts is None:
        facts = gather_facts(root, release, rpmdb, erased, boot)
        if remember and not erased:
            _keep(root, paths.METRICS_FACTS, m.encode_facts(key, facts))
    return facts


def gather_facts(root: str, release: str, rpmdb: Callable[[], RpmDb],
                 erased: str | None = None, boot: str | None = None) -> m.Facts:
    """The slow facts, from the rpm database, lifecycle data and klp's state files (the reboot
    notices that hold in the boot ``boot``: see RebootNotice.holds)."""
    from ..core.lifecycle import NA
    from ..core.names import package_name
    from ..drivers.rpmdb import RpmDbError
    from .lifecycle import package_eol
    from .records import LastLoad
    from .remove import notices

    facts = m.Facts()
    try:
        packages = rpmdb().installed(package_name(release)) if release else []
    except (RpmDbError, ValueError):
        packages = []
    packages = [p for p in packages if f"{p.name}-{p.version}-{p.release}" != erased]
    for package in packages:
        edition = f"{package.version}-{package.release}"
        facts.installed.append(m.InstalledPatch(package.name, edition, package.arch,
                                                _module_of(root, package, release)))
    if packages:
        newest = packages[-1]
        eol = package_eol(root, newest.name, f"{newest.version}-{newest.release}", newest.arch)
        facts.expiry = eol if eol is not None and eol < NA else None
    facts.livepatch_removed = any(n.kernel == release for n in notices(root, boot))
    last = LastLoad.load(root)
    when = m.iso_seconds(last.time) if last is not None else None
    # a load made before the last reboot says nothing about this boot's kernel (undated: kept)
    if last is not None and when is not None and last.kernel == release and \
            last.in_boot(boot) is not False:
        facts.last_load = (str(last.result), last.module or "", when)
    return facts


def _module_of(root: str, package: object, release: str) -> str:
    """The module name a package's live patch file carries (its file name when unreadable)."""
    from ..core.elfmod import ModuleFormatError
    from ..drivers.modfiles import read_module
    from .load import module_path

    path = module_path(package, release)
    if path is None:
        return ""
    try:
        name = read_module(root.rstrip("/") + path).name
    except (OSError, ModuleFormatError):
        name = None
    return name or path.rsplit("/", 1)[-1][:-3].replace("-", "_")


def exposition(obs: m.Observation) -> str:
    """The Prometheus text for ``obs``."""
    from ..core.exposition import render

    return render(m.families(obs))


def write_textfile(directory: str, text: str) -> str:
    """Write ``directory/klp.prom`` atomically (temporary file and rename in that directory, as
    node_exporter's textfile collector asks); the directory must exist. Returns the path."""
    if not host.is_dir(".", directory):  # relative to the working directory, as users mean it
        raise host.HostFileError(f"textfile directory {directory}: no such directory")
    path = f"{directory.rstrip('/')}/{paths.METRICS_FILE}"
    host.write_user_file(path, text.encode())
    return path


def configured_dir(root: str) -> str | None:
    """LIVEPATCH_METRICS_DIR from /etc/sysconfig/livepatching (relative to ``root``); None when
    empty or when that directory does not exist (node_exporter's collector is not set up)."""
    value = host.sysconfig(root, "livepatching").get(SYSCONFIG_KEY, "").strip().strip("/")
    return value if value and host.is_dir(root, value) else None


def refresh(kernel: KernelDriver, rpmdb: Callable[[], RpmDb], now: int,
            erased: str | None = None) -> str | None:
    """Rewrite the configured textfile (what the timer, the hooks and the plugin do); returns
    its path inside the root, or None when no textfile directory is configured or present.
    Root writes there as under /var: no symlink is followed on the way (HostFileError)."""
    directory = configured_dir(kernel.root)
    if directory is None:
        return None
    relpath = f"{directory}/{paths.METRICS_FILE}"
    text = exposition(observe(kernel, rpmdb, now, erased=erased))
    host.write_file(kernel.root, relpath, text.encode())
    return "/" + relpath


def refresh_after_change(kernel: KernelDriver, rpmdb: Callable[[], RpmDb],
                         erased: str | None = None) -> str | None:
    """:func:`refresh` for the hooks and the commit plugin after they changed something: never
    raises (a package transaction must not fail over metrics), returns the problem instead.
    Bounded: no waiting, only reads (the blocking-task walk during a transition is the largest)."""
    import time

    from ..errors import KlpError

    try:
        refresh(kernel, rpmdb, int(time.time()), erased)
    except (KlpError, OSError, ValueError) as exc:
        return str(exc)
    return None
