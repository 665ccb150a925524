"""libsolv over a root's rpm database and the repositories zypp has cached there (no network).

Answers for a kernel release: the newest available and newest installed live patch, the previous
version (for a downgrade), whether the stream has an update. Multiversion-aware: every installed
version of the stream counts.
"""

import configparser
import os
import re
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from ..core.names import package_name
from ..errors import KlpError


class SolverError(KlpError):
    """The package pool could not be built."""


@dataclass(frozen=True)
class Candidate:
    """One version of a live patch package, installed or in a repository."""

    name: str
    evr: str
    arch: str
    repo: str
    installed: bool

    @property
    def version_release(self) -> str:
        """``version-release`` without the epoch, as zypper's NAME=VERSION-RELEASE takes it."""
        return self.evr.split(":", 1)[-1]


@dataclass(frozen=True)
class Stream:
    """Every known version of one kernel's live patch package, oldest first."""

    name: str
    candidates: List[Candidate]

    @property
    def newest_installed(self) -> Optional[Candidate]:
        """The newest installed version, or None."""
        installed = [c for c in self.candidates if c.installed]
        return installed[-1] if installed else None

    @property
    def newest(self) -> Optional[Candidate]:
        """The newest version known, installed or available."""
        return self.candidates[-1] if self.candidates else None

    def previous(self) -> Optional[Candidate]:
        """The newest version older than the newest installed one (a downgrade target)."""
        current = self.newest_installed
        if current is None:
            return None
        older = [c for c in self.candidates[:self.candidates.index(current)] if c.evr != current.evr]
        return older[-1] if older else None

    @property
    def update(self) -> Optional[Candidate]:
        """The newest available version when it is newer than everything installed."""
        newest = self.newest
        return newest if newest is not None and not newest.installed else None


def zypp_repos(root: str) -> List[str]:
    """Aliases of the enabled repositories configured in ``root``'s /etc/zypp/repos.d."""
    aliases = []
    directory = os.path.join(root, "etc/zypp/repos.d")
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    for name in names:
        if not name.endswith(".repo"):
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(os.path.join(directory, name))
        except (configparser.Error, UnicodeDecodeError):
            continue
        for alias in parser.sections():
            if parser.get(alias, "enabled", fallback="1").strip() not in ("0", "false", "no"):
                aliases.append(alias)
    return aliases


def _primary(repodata: str) -> Optional[str]:
    try:
        with open(os.path.join(repodata, "repomd.xml"), encoding="utf-8") as handle:
            repomd = handle.read()
    except OSError:
        return None
    match = re.search(r'<data type="primary">.*?<location href="([^"]+)"', repomd, re.S)
    return os.path.join(os.path.dirname(repodata), match.group(1)) if match else None


def _vendor_classes(pool: Any, root: str) -> None:
    """Give every solvable its libzypp vendor class as vendor, so libsolv's plain vendor check
    (equal strings) is libzypp's equivalence: case-insensitive, ``suse*`` one class, and the
    groups of ``/etc/zypp/vendors.d`` (prefixes, except in the ``opensuse`` namespace)."""
    groups = {"suse": "suse"}
    directory = os.path.join(root, "etc/zypp/vendors.d")
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        parser = configparser.RawConfigParser()
        try:
            parser.read(os.path.join(directory, name))
        except (configparser.Error, UnicodeDecodeError):
            continue
        vendors = [v.strip().lower() for v in parser.get("main", "vendors", fallback="").split(",")]
        vendors = [v for v in vendors if v]
        joined = next((groups[v] for v in vendors if v in groups), vendors[0] if vendors else "")
        for vendor in vendors:  # a list naming a known vendor joins that vendor's class
            old = groups.get(vendor)
            for key, value in list(groups.items()):
                if old is not None and value == old:
                    groups[key] = joined
            groups[vendor] = joined
    prefixes = sorted(groups, reverse=True)  # the longest prefix first

    def vendor_class(vendor: str) -> str:
        lower = vendor.lower()
        if lower.startswith("opensuse"):
            return groups.get(lower, lower)
        return next((groups[p] for p in prefixes if lower.startswith(p)), lower)

    import solv

    for s in pool.solvables_iter():
        vendor = s.lookup_id(solv.SOLVABLE_VENDOR)  # 0 (none) is the empty vendor, as for libzypp
        s.vendor = vendor_class(pool.id2str(vendor) if vendor else "")


class Resolver:
    """A libsolv pool for ``root`` (installed packages + zypp's cached repositories)."""

    def __init__(self, root: str = "/", arch: Optional[str] = None) -> None:
        self.root = root
        self.arch = arch or os.uname().machine
        self._pool: Any = None

    def pool(self) -> Any:
        """Build (once) and return the pool."""
        if self._pool is not None:
            return self._pool
        try:
            import solv  # lazy: only update/downgrade and -vv need the resolver
        except ImportError as exc:
            raise SolverError(f"the libsolv Python bindings (python3-solv) are missing: {exc}") from None
        pool = solv.Pool()
        pool.setdisttype(solv.Pool.DISTTYPE_RPM)  # Debian's build defaults to deb: "noarch" unknown
        pool.setarch(self.arch)
        system = pool.add_repo("@System")
        # libsolv reads the database through librpm, which takes its location from the
        # process-wide _dbpath macro (Debian's default is ~/.rpmdb). With a pool rootdir, this
        # libsolv finds no packages in an sqlite database, so give librpm the full path instead.
        import rpm

        from .rpmdb import dbpath, has_database

        database = os.path.join(self.root, dbpath(self.root).lstrip("/"))
        if not os.path.isdir(database):  # librpm would create an empty one
            raise SolverError(f"no rpm database in {self.root}")
        ok = True
        if has_database(self.root):  # an empty directory: nothing installed, and none created
            # zypp's cache of the database, as libzypp itself uses it: unchanged headers are
            # taken from it instead of being parsed again (a third of the time on 3,000 packages)
            cache = os.path.join(self.root, "var/cache/zypp/solv/@System/solv")
            reference = solv.xfopen(cache) if os.path.isfile(cache) else None
            rpm.addMacro("_dbpath", database)
            try:
                ok = system.add_rpmdb_reffp(reference, 0) if reference else system.add_rpmdb(0)
            finally:
                rpm.delMacro("_dbpath")
                if reference:
                    reference.close()
        if not ok:
            raise SolverError(f"cannot read the rpm database in {self.root}: {pool.errstr}")
        pool.installed = system
        for alias in zypp_repos(self.root):
            self._add_repo(solv, pool, alias)
        pool.addfileprovides()
        pool.createwhatprovides()
        self._pool = pool
        return pool

    def _add_repo(self, solv: Any, pool: Any, alias: str) -> None:
        repo = pool.add_repo(alias)
        cache = os.path.join(self.root, "var/cache/zypp")
        solv_file = os.path.join(cache, "solv", alias, "solv")
        if os.path.exists(solv_file):
            handle = solv.xfopen(solv_file)
            ok = handle is not None and repo.add_solv(handle, 0)
            if handle is not None:
                handle.close()
            if ok:
                return
        primary = _primary(os.path.join(cache, "raw", alias, "repodata"))
        if primary:
            handle = solv.xfopen(primary)
            if handle is not None:
                repo.add_rpmmd(handle, None, 0)
                handle.close()

    def has_repositories(self) -> bool:
        """Whether ``root`` has an enabled repository (without one, nothing can be updated)."""
        return bool(zypp_repos(self.root))

    def installed(self) -> List[Tuple[str, str, str]]:
        """(name, edition, arch) of every installed package, as libsolv read the rpm database
        (``gpg-pubkey`` entries are not packages to it, nor to zypper)."""
        pool = self.pool()
        return [(s.name, s.evr, s.arch) for s in pool.installed.solvables]

    def updates(self) -> List[Tuple[str, str, str]]:
        """(name, edition, arch) of what ``zypper update`` would install: libsolv's update of every
        installed package, vendor changes refused by libzypp's vendor classes, only installable
        versions (what ``zypper list-updates`` lists)."""
        import solv

        pool = self.pool()
        _vendor_classes(pool, self.root)
        solver = pool.Solver()
        solver.solve([pool.Job(solv.Job.SOLVER_SOLVABLE_ALL | solv.Job.SOLVER_UPDATE, 0)])
        return [(s.name, s.evr, s.arch) for s in solver.transaction().newsolvables()]

    def available(self) -> List[Tuple[str, str, str]]:
        """(name, edition, arch) of every package in the repositories (not the installed ones)."""
        pool = self.pool()
        return [(s.name, s.evr, s.arch) for repo in pool.repos if repo != pool.installed
                for s in repo.solvables]

    def stream(self, release: str) -> Stream:
        """Every version of ``kernel-livepatch-<release>`` for this architecture, oldest first."""
        import functools

        pool = self.pool()
        name = package_name(release)
        solvables = [s for s in pool.whatprovides(pool.str2id(name))
                     if s.name == name and s.arch in (self.arch, "noarch")]

        def compare(a: Any, b: Any) -> int:
            return a.evrcmp(b) or (int(a.isinstalled()) - int(b.isinstalled()))

        merged: List[Candidate] = []
        for s in sorted(solvables, key=functools.cmp_to_key(compare)):
            candidate = Candidate(name, s.evr, s.arch, s.repo.name, s.isinstalled())
            # one entry per version: an installed copy stands for the same version in a repository
            if merged and merged[-1].evr == candidate.evr:
                merged[-1] = candidate if candidate.installed else merged[-1]
                continue
            merged.append(candidate)
        return Stream(name, merged)
