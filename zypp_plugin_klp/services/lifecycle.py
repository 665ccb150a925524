"""Gather what ``zypper lifecycle`` reports: installed products, their lifecycle data, installed
packages (rpm database) and available updates (the resolver), with no zypper subprocess."""

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ..core.lifecycle import Package, Product, Rule, apply_rules, parse_lifecycle, parse_product

from ..paths import LIFECYCLE_DIRS as DATA_DIRS
PRODUCTS_DIR = "etc/products.d"


@dataclass
class Report:
    """Everything a report is rendered from; ``errors`` are ``file:line: reason`` lines."""

    products: List[Product]
    packages: Dict[str, List[Package]]
    errors: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def installed_products(root: str, errors: List[str]) -> List[Product]:
    """Products in ``<root>/etc/products.d``; ``baseproduct`` (a symlink) marks the base one."""
    directory = os.path.join(root, PRODUCTS_DIR)
    base = os.path.join(directory, "baseproduct")
    base_target = os.path.basename(os.readlink(base)) if os.path.islink(base) else None
    products = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    for name in names:
        if not name.endswith(".prod") or name == "baseproduct":
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as handle:
                products.append(parse_product(handle.read(), isbase=(name == base_target)))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
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
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except FileNotFoundError:
                if verbose:
                    verbose(f"trying to load {path}... not found")
                continue
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(f"{path}: cannot read: {exc}")
                continue
            if verbose:
                verbose(f"trying to load {path}... ok")
            found, bad = parse_lifecycle(text, path)
            rules += found
            errors += bad
    return rules


def gather(root: str, rpmdb: object, resolver: Optional[object],
           now: Optional[int] = None, verbose: Optional[Callable[[str], None]] = None) -> Report:
    """Build the report data for ``root``; ``resolver`` None skips update lookups."""
    from ..drivers.rpmdb import newer

    errors: List[str] = []
    products = installed_products(root, errors)
    rules = lifecycle_rules(root, products, errors, verbose)
    installed: Dict[str, List[Package]] = {}
    for name, edition, arch in rpmdb.all_packages():  # type: ignore[attr-defined]
        installed.setdefault(name, []).append(Package(name, edition, arch))
    available: List[Tuple[str, str, str]] = []
    warnings: List[str] = []
    if resolver is not None:
        from ..drivers.solver import SolverError

        try:
            available = resolver.available()  # type: ignore[attr-defined]
        except SolverError as exc:
            warnings.append(f"updates unknown: {exc}")
        best: Dict[Tuple[str, str], str] = {}
        for name, edition, arch in available:
            key = (name, arch)
            if name in installed and (key not in best or newer(edition, best[key])):
                best[key] = edition
        for plist in installed.values():
            for p in plist:
                candidate = best.get((p.name, p.arch))
                if candidate and newer(candidate, p.edition):
                    p.update = candidate
    everything = available + [(p.name, p.edition, p.arch) for pl in installed.values() for p in pl]
    apply_rules(rules, installed, everything, int(time.time()) if now is None else now, newer)
    return Report(products, installed, errors, warnings)


def package_eol(root: str, name: str, edition: str, arch: str) -> Optional[int]:
    """The end of support the lifecycle data gives one package (a date), or None without data."""
    errors: List[str] = []
    rules = lifecycle_rules(root, installed_products(root, errors), errors)
    package = Package(name, edition, arch)
    apply_rules(rules, {name: [package]}, [], 0, lambda _a, _b: False)
    return package.package_eol


def expiry_text(eol: Optional[int], now: int) -> str:
    """``2027-01-15``, ``2027-01-15 (in 12 days)`` when soon, ``... (expired)``, or ``unknown``
    without lifecycle data (what ``klp -vv patches`` prints after ``expires:``)."""
    from ..core.lifecycle import expiry, format_eol

    kind, days = expiry(eol, now)
    if eol is None:
        return "unknown"
    return format_eol(eol) + {"expired": " (expired)", "soon": f" (in {days} days)"}.get(kind, "")
