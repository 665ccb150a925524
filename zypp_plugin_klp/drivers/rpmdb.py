"""The rpm database of a root through the rpm Python bindings: who owns a file, and its changelog."""

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from ..errors import KlpError


class RpmDbError(KlpError):
    """The rpm database could not be opened or read."""


@dataclass(frozen=True)
class InstalledPackage:
    """An installed package as the live patch tools need it."""

    name: str
    epoch: Optional[int]
    version: str
    release: str
    arch: str
    changelog: Tuple[str, ...] = ()
    files: Tuple[str, ...] = ()
    # per file, as the package recorded it: (path, digest algorithm, hex digest, mode, owner)
    file_records: Tuple[Tuple[str, int, str, int, str], ...] = ()

    def record(self, path: str) -> Optional[Tuple[str, int, str, int, str]]:
        """What the rpm database says about one of this package's files, or None."""
        return next((r for r in self.file_records if r[0] == path), None)

    @property
    def nvra(self) -> str:
        """``name-version-release.arch``, the form SUSE's ``klp -v patches`` prints after ``RPM:``."""
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"


def dbpath(root: str) -> str:
    """The rpm database directory inside ``root`` (SUSE's sysimage location, else /var/lib/rpm)."""
    from ..paths import RPMDB_DIRS

    for candidate in RPMDB_DIRS:
        if os.path.isdir(os.path.join(root, candidate)):
            return "/" + candidate
    return "/var/lib/rpm"


_DATABASE_FILES = ("rpmdb.sqlite", "Packages.db", "Packages")  # sqlite, ndb, bdb


def has_database(root: str) -> bool:
    """Whether ``root`` holds an rpm database. rpm creates an empty one when asked to read a
    missing one (as root): a reading command must never do that, least of all to the host."""
    directory = os.path.join(root, dbpath(root).lstrip("/"))
    return any(os.path.isfile(os.path.join(directory, name)) for name in _DATABASE_FILES)


class RpmDb:
    """Read-only view of the rpm database in ``root``."""

    def __init__(self, root: str = "/") -> None:
        self.root = os.path.abspath(root)  # rpm takes a relative root as nothing found

    def owner(self, path: str) -> Optional[InstalledPackage]:
        """The installed package that owns ``path`` (a path inside the root), or None."""
        found = self._match("basenames", path)
        return found[0] if found else None

    def installed(self, name: str) -> List[InstalledPackage]:
        """Every installed version of package ``name``, oldest first (multiversion aware)."""
        return self._match("name", name)

    def all_packages(self) -> List[Tuple[str, str, str]]:
        """(name, edition, arch) of every installed package; edition is ``[epoch:]version-release``."""
        if not os.path.isdir(os.path.join(self.root, dbpath(self.root).lstrip("/"))):
            raise RpmDbError(f"no rpm database in {self.root}")  # and do not let rpm create one
        if not has_database(self.root):
            return []
        rpm = _bindings()
        rpm.addMacro("_dbpath", dbpath(self.root))
        try:
            ts = rpm.TransactionSet(self.root)
            ts.setVSFlags(rpm._RPMVSF_NOSIGNATURES | rpm._RPMVSF_NODIGESTS)
            found = []
            for hdr in ts.dbMatch():
                epoch = hdr[rpm.RPMTAG_EPOCH]
                edition = f"{_text(hdr[rpm.RPMTAG_VERSION])}-{_text(hdr[rpm.RPMTAG_RELEASE])}"
                found.append((_text(hdr[rpm.RPMTAG_NAME]), f"{epoch}:{edition}" if epoch else edition,
                              _text(hdr[rpm.RPMTAG_ARCH]) or "noarch"))
        except rpm.error as exc:
            raise RpmDbError(f"cannot read the rpm database in {self.root}: {exc}") from exc
        finally:
            rpm.delMacro("_dbpath")
        return found

    def _match(self, tag: str, value: str) -> List[InstalledPackage]:
        if not has_database(self.root):
            return []
        rpm = _bindings()
        rpm.addMacro("_dbpath", dbpath(self.root))
        try:
            ts = rpm.TransactionSet(self.root)
            ts.setVSFlags(rpm._RPMVSF_NOSIGNATURES | rpm._RPMVSF_NODIGESTS)
            headers = list(ts.dbMatch(tag, value))
        except rpm.error as exc:
            raise RpmDbError(f"cannot read the rpm database in {self.root}: {exc}") from exc
        finally:
            rpm.delMacro("_dbpath")
        headers.sort(key=lambda h: _EvrKey(rpm, h))
        return [_package(rpm, h) for h in headers]


def _bindings() -> Any:
    try:
        import rpm  # lazy: the bindings cost milliseconds to import
    except ImportError as exc:
        raise RpmDbError(f"the rpm Python bindings are not installed ({exc})") from exc
    return rpm


def _evr(edition: str) -> Tuple[str, str, str]:
    epoch, _, rest = edition.rpartition(":")
    version, _, release = rest.partition("-")
    return (epoch or "0", version, release)


def newer(a: str, b: str) -> bool:
    """Whether edition ``a`` (``[epoch:]version-release``) is newer than ``b``, by rpm's rules."""
    return bool(_bindings().labelCompare(_evr(a), _evr(b)) > 0)


class _EvrKey:
    """Orders headers by rpm's own epoch:version-release comparison."""

    def __init__(self, rpm: Any, hdr: Any) -> None:
        self.rpm = rpm
        epoch = hdr[rpm.RPMTAG_EPOCH]
        self.evr = (str(epoch) if epoch is not None else "0", _text(hdr[rpm.RPMTAG_VERSION]),
                    _text(hdr[rpm.RPMTAG_RELEASE]))

    def __lt__(self, other: "_EvrKey") -> bool:
        return bool(self.rpm.labelCompare(self.evr, other.evr) < 0)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def _package(rpm: Any, hdr: Any) -> InstalledPackage:
    epoch = hdr[rpm.RPMTAG_EPOCH]
    return InstalledPackage(
        name=_text(hdr[rpm.RPMTAG_NAME]),
        epoch=int(epoch) if epoch is not None else None,
        version=_text(hdr[rpm.RPMTAG_VERSION]),
        release=_text(hdr[rpm.RPMTAG_RELEASE]),
        arch=_text(hdr[rpm.RPMTAG_ARCH]) or "noarch",
        changelog=tuple(_text(e) for e in (hdr[rpm.RPMTAG_CHANGELOGTEXT] or [])),
        files=tuple(_text(f) for f in (hdr[rpm.RPMTAG_FILENAMES] or [])),
        file_records=tuple(zip(
            (_text(f) for f in (hdr[rpm.RPMTAG_FILENAMES] or [])),
            [int(hdr[rpm.RPMTAG_FILEDIGESTALGO] or 1)] * len(hdr[rpm.RPMTAG_FILENAMES] or []),
            (_text(d) for d in (hdr[rpm.RPMTAG_FILEDIGESTS] or [])),
            (int(m) & 0o177777 for m in (hdr[rpm.RPMTAG_FILEMODES] or [])),
            (_text(u) for u in (hdr[rpm.RPMTAG_FILEUSERNAME] or [])))),
    )
