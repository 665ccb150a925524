"""Gather what ``zypper lifecycle`` reports: installed products, their lifecycle data, installed
packages (rpm database) and the updates zypper would install (libsolv); no zypper subprocess."""

import errno
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Protocol, Tuple

from ..core.lifecycle import (Package, Product, RegexpTooSlow, Rule, apply_rules, parse_lifecycle,
                              parse_product)
from ..drivers import lifecycle_files as files

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


def installed_products(root: str, errors: List[str]) -> List[Product]:
    """Products in ``<root>/etc/products.d``, in directory order as zypper lists them (it orders
    products with equal dates and the data files); ``baseproduct`` (a symlink) marks the base."""
    paths, base = files.product_files(root)
    products = []
    for path in paths:
        try:
            products.append(parse_product(files.read_text(path),
                                          isbase=path.rpartition("/")[2] == base))
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
    return products


def lifecycle_rules(root: str, products: List[Product], errors: List[str],
                    verbose: Optional[Callable[[str], None]] = None) -> List[Rule]:
    """Rules of every ``<product>.lifecycle`` file in the three data directories, SUSE's order."""
    rules: List[Rule] = []
    for product in products:
        for path in files.data_files(root, product.name):
            try:
                text = files.read_text(path)
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

    def __init__(self, per_line: float = REGEXP_SECONDS,
                 total: float = REGEXP_TOTAL_SECONDS) -> None:
        self.per_line = per_line
        self.left = total

    @contextmanager
    def __call__(self) -> Iterator[None]:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield  # no budget: signals reach the main thread only (every entry point runs there)
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
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
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
