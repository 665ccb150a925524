"""The rpm database of a root through the rpm Python bindings: who owns a file, and its changelog."""

import os
from dataclasses import dataclass
from typing import Optional, Tuple

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

    @property
    def nvra(self) -> str:
        """``name-version-release.arch``, the form SUSE's ``klp -v patches`` prints after ``RPM:``."""
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"


def dbpath(root: str) -> str:
    """The rpm database directory inside ``root`` (SUSE's sysimage location, else /var/lib/rpm)."""
    for candidate in ("usr/lib/sysimage/rpm", "var/lib/rpm"):
        if os.path.isdir(os.path.join(root, candidate)):
            return "/" + candidate
    return "/var/lib/rpm"


class RpmDb:
    """Read-only view of the rpm database in ``root``."""

    def __init__(self, root: str = "/") -> None:
        self.root = root

    def owner(self, path: str) -> Optional[InstalledPackage]:
        """The installed package that owns ``path`` (a path inside the root), or None."""
        try:
            import rpm  # lazy: the bindings cost tens of milliseconds to import
        except ImportError as exc:
            raise RpmDbError(f"the rpm Python bindings are not installed ({exc})") from exc
        rpm.addMacro("_dbpath", dbpath(self.root))
        try:
            ts = rpm.TransactionSet(self.root)
            ts.setVSFlags(rpm._RPMVSF_NOSIGNATURES | rpm._RPMVSF_NODIGESTS)
            headers = list(ts.dbMatch("basenames", path))
        except rpm.error as exc:
            raise RpmDbError(f"cannot read the rpm database in {self.root}: {exc}") from exc
        finally:
            rpm.delMacro("_dbpath")
        if not headers:
            return None
        hdr = headers[0]

        def text(tag: int) -> str:
            value = hdr[tag]
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")

        changelog = tuple(
            e.decode("utf-8", "replace") if isinstance(e, bytes) else str(e)
            for e in (hdr[rpm.RPMTAG_CHANGELOGTEXT] or [])
        )
        epoch = hdr[rpm.RPMTAG_EPOCH]
        return InstalledPackage(
            name=text(rpm.RPMTAG_NAME),
            epoch=int(epoch) if epoch is not None else None,
            version=text(rpm.RPMTAG_VERSION),
            release=text(rpm.RPMTAG_RELEASE),
            arch=text(rpm.RPMTAG_ARCH) or "noarch",
            changelog=changelog,
        )
