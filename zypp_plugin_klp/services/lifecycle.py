"""Gather what ``zypper lifecycle`` reports: installed products, their lifecycle data, installed
packages (rpm database) and the updates zypper would install (libsolv), with no zypper subprocess."""

import errno
import os
import stat
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Protocol, Tuple

from ..core.lifecycle import (Package, Product, RegexpTooSlow, Rule, apply_rules, parse_lifecycle,
                              parse_product)

from ..paths import LIFECYCLE_DIRS as DATA_DIRS
PRODUCTS_DIR = "etc/products.d"
REPOS_DIR = "etc/zypp/repos.d"
MAX_DATA_BYTES = 64 << 20   # one data or product file
REGEXP_SECONDS = 0.1        # one regular expression line's work
REGEXP_TOTAL_SECONDS = 1.0  # every regular expression of one run


Row = Tuple[str, str, str]  # name, edition ([E:]V-R), arch


class InstalledSource(Protocol):
    """The rpm database (drivers.rpmdb.RpmDb)."""

    def all_packages(self) -> List[Row]: ...


class UpdateSource(Protocol):
    """libsolv over the root (drivers.solver.Resolver)."""

    def has_repositories(self) -> bool: ...

    def installed(self) -> List[Row]: ...

    def available(self) -> List[Row]: ...

    def updates(self) -> List[Row]: ...


class Report(NamedTuple):
    """Everything a report is rendered from; ``errors`` are ``file:line: reason`` lines."""

    products: List[Product]
    packages: Dict[str, List[Package]]
    errors: List[str]
    warnings: List[str]


def repository_files(root: str) -> bool:
    """Whether ``root`` has zypper repository files (a cheap test before building a solver)."""
    try:
        return any(name.endswith(".repo") for name in os.listdir(os.path.join(root, REPOS_DIR)))
    except OSError:
        return False


def read_data_file(path: str) -> str:
    """Text of a regular file, opened without blocking (a FIFO or device is refused, not waited
    on); OSError with the system's reason, ValueError when it is not a UTF-8 regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > MAX_DATA_BYTES:
            raise ValueError(f"larger than {MAX_DATA_BYTES >> 20} MiB")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def installed_products(root: str, errors: List[str]) -> List[Product]:
    """Products in ``<root>/etc/products.d``, in directory order as zypper lists them (it orders
    products with equal dates and the data files); ``baseproduct`` (a symlink) marks the base one."""
    directory = os.path.join(root, PRODUCTS_DIR)
    base = os.path.join(directory, "baseproduct")
    base_target = os.path.basename(os.readlink(base)) if os.path.islink(base) else None
    products = []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        if not name.endswith(".prod") or name == "baseproduct":
            continue
        path = os.path.join(directory, name)
        try:
            products.append(parse_product(read_data_file(path), isbase=(name == base_target)))
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
    return products


def lifecycle_rules(root: str, products: List[Product], errors: List[str],
                    verbose: Optional[Callable[[str], None]] = None) -> List[Rule]:
    """Rules of every ``<product>.lifecycle`` file in the three data directories, in SUSE's order."""
    rules: List[Rule] = []
    for product in products:
        for directory in DATA_DIRS:
            path = os.path.join(root, directory, f"{product.name}.lifecycle")
            try:
                text = read_data_file(path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    errors.append(f"{path}: cannot read: {exc.strerror or exc}")
                if verbose:
                    verbose(f"trying to load {path}... {exc.strerror or exc}")
                continue
            except ValueError as exc:
                errors.append(f"{path}: {exc}, skipped")
                continue
            if verbose:
                verbose(f"trying to load {path}... ok")
            found, bad = parse_lifecycle(text, path)
            rules += found
            errors += bad
    return rules


class RegexpBudget:
    """Time budget for the lifecycle data's regular expressions: each line's work is stopped after
    ``per_line`` seconds, and all of them after ``total`` (SIGALRM; in the main thread only)."""

    def __init__(self, per_line: float = REGEXP_SECONDS, total: float = REGEXP_TOTAL_SECONDS) -> None:
        self.per_line = per_line
        self.left = total

    @contextmanager
    def __call__(self) -> Iterator[None]:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only; callers there are not attackable CLIs
            return
        if self.left <= 0:
            raise RegexpTooSlow()

        def expired(_signum: int, _frame: object) -> None:
            raise RegexpTooSlow()

        previous = signal.signal(signal.SIGALRM, expired)
        started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, min(self.per_line, self.left))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            self.left -= time.monotonic() - started


def _installed(rows: List[Row]) -> Dict[str, List[Package]]:
    """Installed packages in zypper's search order: by name, then edition (newest text first);
    ``gpg-pubkey`` entries are keys, not packages, to zypper."""
    from operator import itemgetter

    rows.sort(key=itemgetter(1), reverse=True)
    rows.sort(key=itemgetter(0))
    installed: Dict[str, List[Package]] = {}
    for name, edition, arch in rows:
        if name != "gpg-pubkey":
            installed.setdefault(name, []).append(Package(name, edition, arch))
    return installed


def gather(root: str, rpmdb: InstalledSource, resolver: Optional[UpdateSource],
           now: Optional[int] = None, verbose: Optional[Callable[[str], None]] = None) -> Report:
    """Build the report data for ``root``; ``resolver`` None skips update lookups.

    Updates are what zypper would install (``zypper lu``: libsolv's update of everything, same
    vendor class, installable), matched to installed packages by name and architecture.
    """
    from ..drivers.rpmdb import newer

    errors: List[str] = []
    products = installed_products(root, errors)
    rules = lifecycle_rules(root, products, errors, verbose)
    rows: Optional[List[Row]] = None
    available: List[Row] = []
    updates: List[Row] = []
    warnings: List[str] = []
    if resolver is not None and resolver.has_repositories():
        from ..drivers.solver import SolverError

        try:  # the rpm database is read once, by libsolv
            rows = resolver.installed()
            available = resolver.available()
            updates = resolver.updates()
        except SolverError as exc:
            warnings.append(f"updates unknown: {exc}")
    installed = _installed(rows if rows is not None else rpmdb.all_packages())
    for name, edition, arch in updates:
        for p in installed.get(name, []):
            if p.arch == arch:
                p.update = edition
    everything = available + [(p.name, p.edition, p.arch) for pl in installed.values() for p in pl]
    errors += apply_rules(rules, installed, everything, int(time.time()) if now is None else now,
                          newer, RegexpBudget())
    return Report(products, installed, errors, warnings)


def package_eol(root: str, name: str, edition: str, arch: str) -> Optional[int]:
    """The end of support the lifecycle data gives one package (a date), or None without data."""
    errors: List[str] = []
    rules = lifecycle_rules(root, installed_products(root, errors), errors)
    package = Package(name, edition, arch)
    apply_rules(rules, {name: [package]}, [], 0, lambda _a, _b: False, RegexpBudget())
    return package.package_eol


def expiry_text(eol: Optional[int], now: int) -> str:
    """``2027-01-15``, ``2027-01-15 (in 12 days)`` when soon, ``... (expired)``, or ``unknown``
    without lifecycle data (what ``klp -vv patches`` prints after ``expires:``)."""
    from ..core.lifecycle import expiry, format_eol

    kind, days = expiry(eol, now)
    if eol is None:
        return "unknown"
    return format_eol(eol) + {"expired": " (expired)", "soon": f" (in {days} days)"}.get(kind, "")
