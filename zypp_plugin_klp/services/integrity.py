"""Integrity before load: a live patch module is loaded only if it is exactly what an installed
package put into that kernel's livepatch directory (owner, permissions, digest)."""

import hashlib
import stat
import time
from ..core.elfmod import ModuleFormatError
from ..drivers import host
from ..drivers.modfiles import livepatch_prefixes, read_fd
from ..errors import KlpError

AUDIT_LOG = "var/log/klp-audit.log"
# rpm's digest algorithm numbers (PGPHASHALGO_*)
ALGORITHMS = {1: "md5", 2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}


class IntegrityError(KlpError):
    """The module file must not be loaded."""


def verify(root: str, rel_path: str, package: object, release: str) -> int:
    """Check the module file ``rel_path`` (inside ``root``) against ``package``'s rpm record.

    Returns:
        An open descriptor of the verified file: load from it (the caller closes it), so that
        what was checked is what the kernel gets, even if the path changes meanwhile.
    Raises:
        IntegrityError: with one line saying why; an audit line is written too.
    """
    try:
        return _check(root, rel_path, package, release)
    except IntegrityError as exc:
        audit(root, f"refused {rel_path}: {exc}")
        raise


def _check(root: str, rel_path: str, package: object, release: str) -> int:
    nvra = getattr(package, "nvra", "?")
    directories = [d for d in livepatch_prefixes(release) if rel_path.startswith(d)]
    if not directories or "/" in rel_path[len(directories[0]):]:
        raise IntegrityError(f"{rel_path} is not in {' or '.join(livepatch_prefixes(release))}")
    record = package.record(rel_path)  # type: ignore[attr-defined]
    if record is None:
        raise IntegrityError(f"{rel_path} does not belong to {nvra}")
    _path, algorithm, digest, _mode, owner = record
    try:
        fd, info = host.open_file(root, rel_path)
    except OSError as exc:
        raise IntegrityError(f"{rel_path} cannot be opened safely: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(info.st_mode):
            raise IntegrityError(f"{rel_path} is not a regular file")
        if info.st_uid != 0 or owner not in ("root", ""):
            raise IntegrityError(f"{rel_path} is not owned by root")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise IntegrityError(f"{rel_path} is writable by group or others "
                                 f"(mode {stat.S_IMODE(info.st_mode):04o})")
        name = ALGORITHMS.get(algorithm)
        if name is None:
            raise IntegrityError(f"{nvra} records {rel_path} with an unknown digest algorithm {algorithm}")
        try:
            content = read_fd(fd)
        except (OSError, ModuleFormatError) as exc:
            raise IntegrityError(f"{rel_path} cannot be read: {exc}") from None
        if hashlib.new(name, content).hexdigest() != digest:
            raise IntegrityError(f"{rel_path} differs from what {nvra} installed (its {name} digest "
                                 "does not match the rpm database): tampered or replaced")
    except BaseException:
        host.close(fd)
        raise
    return fd


def audit(root: str, line: str) -> None:
    """Append a timestamped line to the audit log and syslog (best effort, never raises)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    previous = host.read_file(root, AUDIT_LOG) or ""
    try:
        host.write_file(root, AUDIT_LOG, (previous + f"{stamp} {line}\n").encode(), 0o600)
    except KlpError:
        pass
    try:
        import syslog

        syslog.openlog("klp", 0, syslog.LOG_AUTHPRIV)
        syslog.syslog(syslog.LOG_WARNING, line)
    except OSError:
        pass
