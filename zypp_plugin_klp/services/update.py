"""Plan ``klp update`` and ``klp downgrade``: the zypper command that moves a kernel's live patch."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..drivers import host
from ..drivers.solver import Resolver, Stream


@dataclass(frozen=True)
class Plan:
    """What to run (None: nothing to do) and a one-line explanation."""

    argv: Optional[List[str]]
    message: str
    package: Optional[str] = None  # the stream's package name
    current: Optional[str] = None  # the newest installed version-release
    target: Optional[str] = None   # the version-release zypper is asked for


def _zypper(root: str, yes: bool, *args: str) -> List[str]:
    argv = ["zypper"]
    if root != "/":
        argv += ["--root", root]
    if yes:
        argv.append("--non-interactive")
    return argv + list(args)


def plan_update(resolver: Resolver, release: str, root: str = "/", yes: bool = False) -> Plan:
    """Install the newest live patch for ``release`` when it is newer than what is installed."""
    stream = resolver.stream(release)
    target = stream.update
    if target is None:
        current = stream.newest_installed
        if current is None:
            return Plan(None, f"no live patch for kernel {release} is available ({stream.name})",
                        stream.name)
        return Plan(None, f"{stream.name}-{current.evr} is the newest live patch for {release}",
                    stream.name, current.version_release, current.version_release)
    installed = stream.newest_installed
    return Plan(_zypper(root, yes, "install", f"{stream.name}={target.version_release}"),
                f"update {_installed_text(stream)} to {target.evr}", stream.name,
                installed.version_release if installed else None, target.version_release)


def plan_downgrade(resolver: Resolver, release: str, root: str = "/", yes: bool = False) -> Plan:
    """Go back to the version before the newest installed one (``zypper in --oldpackage``)."""
    stream = resolver.stream(release)
    current = stream.newest_installed
    if current is None:
        return Plan(None, f"no live patch is installed for kernel {release}", stream.name)
    previous = stream.previous()
    if previous is None:
        return Plan(None, f"no version of {stream.name} older than {current.evr} is available",
                    stream.name, current.version_release)
    return Plan(_zypper(root, yes, "install", "--oldpackage",
                        f"{stream.name}={previous.version_release}"),
                f"downgrade {stream.name} from {current.evr} to {previous.evr}", stream.name,
                current.version_release, previous.version_release)


ZYPPER_LOG = "var/log/zypper.log"


def zypper_environment(root: str, environ: Dict[str, str]) -> Tuple[Optional[Dict[str, str]],
                                                                    Optional[int]]:
    """The environment for ``zypper --root ROOT`` and the descriptor it must inherit: zypper's
    log goes to ROOT/var/log/zypper.log, not the host's /var/log/zypper.log (opened here without
    following a symlink, handed over as /proc/self/fd/N so zypper cannot be redirected either),
    and its lock to ROOT/run/zypp.pid, not the host's (as zypper's own shell does for --root).
    A ZYPP_LOGFILE or ZYPP_LOCKFILE_ROOT the caller set wins. (None, None) for the root /.

    Raises:
        HostFileError: the log file cannot be opened safely (a symlink, not a regular file...).
    """
    if root == "/":
        return None, None
    env = dict(environ)
    env.setdefault("ZYPP_LOCKFILE_ROOT", root)
    if "ZYPP_LOGFILE" in env:
        return env, None
    log = host.open_log(root, ZYPPER_LOG)
    env["ZYPP_LOGFILE"] = f"/proc/self/fd/{log}"
    return env, log


def installed_now(resolver: Resolver, release: str) -> Optional[str]:
    """The newest installed version-release of ``release``'s live patch (after zypper ran)."""
    current = resolver.stream(release).newest_installed
    return current.version_release if current else None


def _installed_text(stream: Stream) -> str:
    current = stream.newest_installed
    return f"{stream.name} from {current.evr}" if current else f"{stream.name} (not installed)"
