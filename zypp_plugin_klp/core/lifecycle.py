"""Lifecycle data (SUSE's ``<product>.lifecycle`` CSV) and the end-of-support verdicts it gives.

A line is ``name, version, date[, successor]``: ``*`` is a wildcard in name and version, a name
``/re/`` is a regular expression, the date (``YYYY-MM-DD``, UTC) may be empty when a successor is
given, and the successor may use ``<1>``..``<9>`` for what the name's wildcards matched. Later lines
override earlier ones. Pure: text and values in, values out.
"""

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Pattern, Sequence, Tuple

Newer = Callable[[str, str], bool]

# End-of-life sort keys, as SUSE's tool orders them: Now < dates < n/a < never.
NOW = 0
NA = 10 ** 15
NEVER = NA + 1


@dataclass(frozen=True)
class Rule:
    """One lifecycle line."""

    name: str
    name_re: Optional[Pattern[str]]  # None for an exact name
    version: str
    version_re: Pattern[str]
    eol: Optional[int]               # seconds since the epoch (UTC midnight), None when empty
    successor: Optional[str]
    source: str
    line: int


def _glob(pattern: str, capture: bool) -> str:
    group = "(.*)" if capture else ".*"
    return "^" + group.join(re.escape(part) for part in pattern.split("*")) + "$"


def parse_date(text: str) -> int:
    """``YYYY-MM-DD`` -> seconds since the epoch at UTC midnight; ValueError otherwise."""
    day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    return int(day.timestamp())


def format_eol(eol: int) -> str:
    """``Now``, ``YYYY-MM-DD``, ``n/a`` or ``-`` (never)."""
    if eol == NOW:
        return "Now"
    if eol == NEVER:
        return "-"
    if eol == NA:
        return "n/a"
    return dt.datetime.fromtimestamp(eol, dt.timezone.utc).strftime("%Y-%m-%d")


SOON_DAYS = 30  # how early a live patch stream's end is called out


def expiry(eol: Optional[int], now: int, soon_days: int = SOON_DAYS) -> Tuple[str, int]:
    """(``unknown`` | ``expired`` | ``soon`` | ``later``, whole days left) for an end of support."""
    if eol is None:
        return "unknown", 0
    days = (eol - now) // 86400
    if eol <= now:
        return "expired", days
    return ("soon" if days <= soon_days else "later"), days


def parse_lifecycle(text: str, source: str) -> Tuple[List[Rule], List[str]]:
    """Rules of one lifecycle file and ``source:line: reason`` for every line skipped."""
    rules: List[Rule] = []
    errors: List[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            rules.append(_rule(raw, source, number))
        except ValueError as exc:
            errors.append(f"{source}:{number}: {exc}")
    return rules, errors


def _rule(raw: str, source: str, number: int) -> Rule:
    try:
        (fields,) = list(csv.reader([raw], skipinitialspace=True, strict=True))
    except (csv.Error, ValueError) as exc:
        raise ValueError(f"not a CSV line ({exc})") from None
    fields = [f.strip() for f in fields]
    if len(fields) < 3 or len(fields) > 4:
        raise ValueError(f"expected 'name, version, date[, successor]', got {len(fields)} fields")
    name, version, date = fields[:3]
    successor = fields[3] if len(fields) == 4 and fields[3] else None
    if not name or not version:
        raise ValueError("empty name or version")
    if not date and not successor:
        raise ValueError("a date is required unless a successor is given")
    try:
        eol = parse_date(date) if date else None
    except ValueError:
        raise ValueError(f"invalid date {date!r} (expected YYYY-MM-DD)") from None
    name_re: Optional[Pattern[str]] = None
    try:
        if len(name) > 2 and name.startswith("/") and name.endswith("/"):
            name_re = re.compile(name[1:-1])
        elif "*" in name:
            name_re = re.compile(_glob(name, capture=True))
        if successor and len(successor) > 2 and successor.startswith("/") and successor.endswith("/"):
            re.compile(successor[1:-1].replace("<", "").replace(">", ""))
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return Rule(name, name_re, version, re.compile(_glob(version, capture=False)), eol, successor,
                source, number)


@dataclass
class Package:
    """An installed package and what the lifecycle data says about it."""

    name: str
    edition: str                      # [epoch:]version-release
    arch: str
    update: Optional[str] = None      # edition of an available update
    package_eol: Optional[int] = None
    update_eol: Optional[int] = None
    version_specified: Optional[str] = None
    successor: Optional[str] = None   # name-edition of a successor package
    eol: int = NEVER
    matched: bool = field(default=False)

    @property
    def differs(self) -> bool:
        """Whether its end of support differs from the product's (it gets a report line)."""
        return self.package_eol is not None or self.update is not None or self.successor is not None


def _matching(rule: Rule, packages: Dict[str, List[Package]]) -> Iterable[Tuple[Package, List[str]]]:
    if rule.name_re is None:
        for p in packages.get(rule.name, []):
            yield p, []
        return
    for name, plist in packages.items():
        match = rule.name_re.search(name)  # /re/ is unanchored, like SUSE's; globs carry ^...$
        if match:
            for p in plist:
                yield p, [g or "" for g in match.groups()]


def apply_rules(rules: Sequence[Rule], installed: Dict[str, List[Package]],
                available: Sequence[Tuple[str, str, str]], now: int,
                newer: Newer) -> None:
    """Fill every package's verdict from the rules (later rules win), then its ``eol``.

    Args:
        available: (name, edition, arch) of every package known (installed or in repositories),
            for successors.
        newer: ``newer(a, b)`` -> whether edition a is newer than edition b (rpm's comparison).
    """
    by_name: Dict[str, List[Tuple[str, str]]] = {}
    for name, edition, arch in available:
        by_name.setdefault(name, []).append((edition, arch))
    for rule in rules:
        for package, captures in _matching(rule, installed):
            if rule.version_re.match(package.edition) or rule.version_re.match(package.edition.split(":")[-1]):
                package.package_eol = rule.eol
                package.version_specified = rule.version
            if package.update and rule.version_re.match(package.update.split(":")[-1]):
                package.update_eol = rule.eol
            if rule.successor:
                _successor(package, rule.successor, [package.name] + captures, by_name, newer)
    for plist in installed.values():
        for p in plist:
            p.eol = NEVER
            if p.package_eol is not None:
                p.eol = NOW if p.package_eol <= now else p.package_eol
            elif p.update is not None:
                p.eol = NOW  # an update exists: this version is no longer supported
            if p.successor:
                p.eol = NOW


def _successor(package: Package, successor: str, matches: List[str],
               by_name: Dict[str, List[Tuple[str, str]]], newer: Newer) -> None:
    if len(successor) > 2 and successor.startswith("/") and successor.endswith("/"):
        pattern = successor[1:-1]
        for i in range(10):
            pattern = pattern.replace(f"<{i}>", re.escape(matches[i] if i < len(matches) else ""))
    else:
        for i in range(10):
            successor = successor.replace(f"<{i}>", matches[i] if i < len(matches) else "")
        pattern = _glob(successor, capture=False)
    try:
        regex = re.compile(pattern)
    except re.error:
        return
    best_edition = package.edition
    best = None
    for name, editions in by_name.items():
        if name == package.name or not regex.match(name):
            continue
        for edition, arch in editions:
            if arch == package.arch and newer(edition, best_edition):
                best, best_edition = f"{name}-{edition}", edition
    if best:
        package.successor = best


@dataclass(frozen=True)
class Product:
    """An installed product (``/etc/products.d/<name>.prod``)."""

    name: str
    summary: str
    vendor: str
    eol: int                 # NEVER when the product states none, NA when it is empty
    flavor: str = ""         # "module", "extension" or "" (base products and others)
    isbase: bool = False
    codestream: str = ""
    codestream_eol: int = NEVER


def parse_product(text: str, isbase: bool = False) -> Product:
    """Parse a ``.prod`` file; ValueError with the reason when it is not one."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not a product file ({exc})") from None
    if root.tag != "product":
        raise ValueError("not a product file (no <product> element)")

    def text_of(path: str) -> str:
        node = root.find(path)
        return (node.text or "").strip() if node is not None else ""

    name = text_of("name")
    if not name:
        raise ValueError("product without a <name>")

    def eol_of(path: str) -> int:
        if root.find(path) is None:
            return NEVER
        value = text_of(path)
        try:
            return parse_date(value) if value else NA
        except ValueError:
            return NA

    return Product(
        name=name, summary=text_of("summary") or name, vendor=text_of("vendor"),
        eol=eol_of("endoflife"), flavor=text_of("register/flavor"), isbase=isbase,
        codestream=text_of("xmlfwd/codestream/name"),
        codestream_eol=eol_of("xmlfwd/codestream/endoflife"))
