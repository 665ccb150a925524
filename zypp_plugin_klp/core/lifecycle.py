"""Lifecycle data (SUSE's ``<product>.lifecycle`` CSV) and the end-of-support verdicts it gives.

A line is ``name, version, date[, successor]``: ``*`` is a wildcard in name and version, a name
``/re/`` is a regular expression (Ruby syntax, as SUSE's tool reads it; the common Ruby-only
constructs are translated), the date (``YYYY-MM-DD``, UTC) may be empty when a successor is given,
and the successor may use ``<1>``..``<9>`` for what the name's wildcards matched. Later lines
override earlier ones. Pure: text and values in, values out.

Cost is bounded: wildcards are matched without backtracking, exact names through an index, and
every regular expression runs under the caller's time budget (a ``Guard``).
"""

import datetime as dt
import re
from bisect import bisect_left
from contextlib import nullcontext
from functools import lru_cache
from typing import (Callable, ContextManager, Dict, Iterator, List, NamedTuple, Optional, Pattern,
                    Sequence, Tuple)

Newer = Callable[[str, str], bool]
Guard = Callable[[], ContextManager[None]]  # a time budget; raises RegexpTooSlow when spent

# End-of-life sort keys, as SUSE's tool orders them: Now < dates < n/a < never.
NOW = 0
NA = 10 ** 15
NEVER = NA + 1

MAX_REGEXP = 1000  # characters in one /regexp/


class RegexpTooSlow(Exception):
    """A regular expression used up its time budget (raised by a ``Guard``)."""


class Rule(NamedTuple):
    """One lifecycle line."""

    name: str
    name_re: Optional[Pattern[str]]  # a /regexp/ name; None for exact names and wildcards
    version: str
    eol: Optional[int]               # seconds since the epoch (UTC midnight), None when empty
    successor: Optional[str]
    source: str
    line: int


@lru_cache(maxsize=4096)
def _glob_parts(pattern: str) -> Tuple[str, ...]:
    return tuple(pattern.split("*"))


def glob_match(pattern: str, text: str) -> Optional[List[str]]:
    """What each ``*`` of ``pattern`` matched in ``text`` (greedy, as a regexp ``(.*)`` would),
    or None. Linear in the text per part: no backtracking, whatever the pattern."""
    parts = _glob_parts(pattern)
    if len(parts) == 1:
        return [] if pattern == text else None
    head, tail = parts[0], parts[-1]
    if len(text) < len(head) + len(tail) or not text.startswith(head) or not text.endswith(tail):
        return None
    if len(parts) == 2:  # the common "1.2*"
        return [text[len(head):len(text) - len(tail)]]
    # Greedy stars: each middle part sits as far right as the parts after it allow.
    end = len(text) - len(tail)
    starts: List[int] = []
    for part in reversed(parts[1:-1]):
        at = text.rfind(part, len(head), end)
        if at < 0:
            return None
        starts.append(at)
        end = at
    captures: List[str] = []
    position = len(head)
    for part, at in zip(parts[1:-1], reversed(starts)):
        captures.append(text[position:at])
        position = at + len(part)
    captures.append(text[position:len(text) - len(tail)])
    return captures


def version_matches(pattern: str, edition: Optional[str]) -> bool:
    """Whether an edition (``[E:]V-R``, as zypper prints it) matches a version pattern."""
    if edition is None:
        return False
    return pattern == "*" or glob_match(pattern, edition) is not None


# Ruby (Onigmo) regexp constructs that Python's re spells differently.
_POSIX = {"alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
          "space": r"\s", "xdigit": "0-9a-fA-F", "word": r"\w", "punct": r"!-/:-@\[-`{-~",
          "blank": r" \t", "cntrl": r"\x00-\x1f\x7f", "print": r" -~", "graph": r"!-~"}
_UNSUPPORTED = set("GRXKpPg")


def ruby_regexp(pattern: str) -> str:
    """Translate a Ruby regexp to Python's syntax (``\\h``, ``\\z``, ``\\Z``, ``(?<name>)``,
    ``\\k<name>``, ``[[:alpha:]]``, ``(?m)``); ValueError for what Python cannot express."""
    out: List[str] = []
    i, in_class, class_start, n = 0, False, False, len(pattern)
    while i < n:
        c = pattern[i]
        first, class_start = class_start, False  # a "]" right after "[" or "[^" is a literal
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            i += 2
            if e in "hH":
                if in_class and e == "H":
                    raise ValueError("Ruby's \\H inside [...] is not supported")
                out.append(("0-9a-fA-F" if e == "h" else "") if in_class else
                           ("[0-9a-fA-F]" if e == "h" else "[^0-9a-fA-F]"))
            elif e == "z" and not in_class:
                out.append(r"\Z")
            elif e == "Z" and not in_class:
                out.append(r"(?=\n?\Z)")
            elif e == "k" and not in_class and i < n and pattern[i] in "<'":
                close = pattern.find(">" if pattern[i] == "<" else "'", i + 1)
                if close < 0:
                    raise ValueError("unterminated \\k<name>")
                out.append(f"(?P={pattern[i + 1:close]})")
                i = close + 1
            elif e in _UNSUPPORTED:
                raise ValueError(f"Ruby's \\{e} is not supported")
            else:
                out.append("\\" + e)
            continue
        if in_class:
            if pattern.startswith("[:", i):
                close = pattern.find(":]", i + 2)
                name = pattern[i + 2:close] if close > 0 else ""
                if name not in _POSIX:
                    raise ValueError(f"unsupported bracket expression {pattern[i:close + 2]!r}")
                out.append(_POSIX[name])
                i = close + 2
                continue
            if c == "[" or pattern.startswith("&&", i):
                raise ValueError("nested character classes are not supported")
            if c == "]" and not first:
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class, class_start = True, True
            out.append(c)
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            continue
        if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        if pattern.startswith("(?'", i):
            close = pattern.find("'", i + 3)
            if close < 0:
                raise ValueError("unterminated (?'name'")
            out.append(f"(?P<{pattern[i + 3:close]}>")
            i = close + 1
            continue
        flags = re.match(r"\(\?([imx]*)(?:-([imx]*))?([:)])", pattern[i:])
        if flags and (flags.group(1) or flags.group(2)):
            on = (flags.group(1) or "").replace("m", "s")
            off = (flags.group(2) or "").replace("m", "s")
            out.append(f"(?{on}{'-' + off if off else ''}{flags.group(3)}")
            i += flags.end()
            continue
        out.append(c)
        i += 1
    if in_class:
        raise ValueError("unterminated character class")
    return "".join(out)


def compile_ruby(pattern: str) -> Pattern[str]:
    """Compile a Ruby regexp (``^``/``$`` match at line ends, as in Ruby); ValueError if invalid."""
    if len(pattern) > MAX_REGEXP:
        raise ValueError(f"regular expression longer than {MAX_REGEXP} characters")
    try:
        return re.compile(ruby_regexp(pattern), re.M)
    except (re.error, ValueError) as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    except RecursionError:
        raise ValueError("regular expression nested too deeply") from None
    except (OverflowError, MemoryError):
        raise ValueError("regular expression too large") from None


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@lru_cache(maxsize=8192)
def parse_date(text: str) -> int:
    """``YYYY-MM-DD`` -> seconds since the epoch at UTC midnight; ValueError otherwise."""
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError(f"invalid date {text!r}")
    day = dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return (day.toordinal() - _EPOCH_ORDINAL) * 86400


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
    """(``unknown`` | ``expired`` | ``soon`` | ``later``, calendar days left in UTC) for an end of
    support: a date 20 days ahead is "in 20 days" at any hour of today."""
    if eol is None:
        return "unknown", 0
    days = eol // 86400 - now // 86400
    if eol <= now:
        return "expired", days
    return ("soon" if days <= soon_days else "later"), days


# The common line, an exact name and a date, parsed without the csv module.
_SIMPLE = re.compile(r'[ \t]*([^,"#/*\s\x00][^,"*\x00]*?)[ \t]*,[ \t]*([^,"\s\x00][^,"\x00]*?)'
                     r'[ \t]*,[ \t]*(\d{4}-\d\d-\d\d)[ \t]*')


def parse_lifecycle(text: str, source: str) -> Tuple[List[Rule], List[str]]:
    """Rules of one lifecycle file and ``source:line: reason`` for every line skipped."""
    rules: List[Rule] = []
    errors: List[str] = []
    append, simple = rules.append, _SIMPLE.fullmatch
    for number, raw in enumerate(text.splitlines(), start=1):
        match = simple(raw)
        if match:
            name, version, date = match.groups()
            try:
                append(Rule(name, None, version, parse_date(date), None, source, number))
                continue
            except ValueError:
                pass  # the full path below names the reason
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            append(_rule(raw, source, number))
        except ValueError as exc:
            errors.append(f"{source}:{number}: {exc}")
    return rules, errors


def _rule(raw: str, source: str, number: int) -> Rule:
    import csv

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
    name_re = compile_ruby(name[1:-1]) if _is_regexp(name) else None
    if successor and _is_regexp(successor):
        compile_ruby(re.sub(r"<[0-9]>", "", successor[1:-1]))
    return Rule(name, name_re, version, eol, successor, source, number)


def _is_regexp(text: str) -> bool:
    return len(text) > 2 and text.startswith("/") and text.endswith("/")


class Package:
    """An installed package and what the lifecycle data says about it."""

    __slots__ = ("name", "edition", "arch", "update", "package_eol", "update_eol",
                 "version_specified", "successor", "eol")

    def __init__(self, name: str, edition: str, arch: str, update: Optional[str] = None,
                 package_eol: Optional[int] = None, update_eol: Optional[int] = None,
                 version_specified: Optional[str] = None, successor: Optional[str] = None,
                 eol: int = NEVER) -> None:
        self.name = name
        self.edition = edition              # [epoch:]version-release
        self.arch = arch
        self.update = update                # edition of the update zypper would install
        self.package_eol = package_eol
        self.update_eol = update_eol
        self.version_specified = version_specified
        self.successor = successor          # name-edition of a successor package
        self.eol = eol

    def __repr__(self) -> str:
        return f"Package({self.name!r}, {self.edition!r}, {self.arch!r}, eol={self.eol})"

    @property
    def differs(self) -> bool:
        """Whether its end of support differs from the product's (it gets a report line)."""
        return self.package_eol is not None or self.update is not None or self.successor is not None


_LITERAL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _literal_prefix(pattern: str) -> str:
    """Text every name a ``/^.../`` regexp matches starts with ('' when unsure)."""
    if not pattern.startswith("^") or "|" in pattern:
        return ""
    rest = pattern[1:].lstrip(_LITERAL)
    literal = pattern[1:len(pattern) - len(rest)]
    if rest[:1] in ("?", "*", "{") and literal:
        literal = literal[:-1]  # the last character may be optional
    return literal


class _Names:
    """Installed package names, sorted, for prefix lookups."""

    def __init__(self, names: Sequence[str]) -> None:
        self.sorted = sorted(names)

    def starting(self, prefix: str) -> Iterator[str]:
        names = self.sorted
        for i in range(bisect_left(names, prefix), len(names)):
            if not names[i].startswith(prefix):
                return
            yield names[i]


def _matching(rule: Rule, names: _Names) -> List[Tuple[str, List[str]]]:
    """(installed name, captures) of every name a wildcard or /regexp/ matches, in name order."""
    if rule.name_re is not None:
        search = rule.name_re.search  # /re/ is unanchored, like SUSE's
        found = []
        for name in names.starting(_literal_prefix(rule.name_re.pattern)):
            match = search(name)
            if match:
                found.append((name, [g or "" for g in match.groups()]))
        return found
    result = []
    for name in names.starting(_glob_parts(rule.name)[0]):
        captures = glob_match(rule.name, name)
        if captures is not None:
            result.append((name, captures))
    return result


def apply_rules(rules: Sequence[Rule], installed: Dict[str, List[Package]],
                available: Sequence[Tuple[str, str, str]], now: int,
                newer: Newer, guard: Optional[Guard] = None) -> List[str]:
    """Fill every package's verdict from the rules (later rules win, as SUSE's tool: the version
    suffix comes from the last line whose name matches), then its ``eol``.

    Args:
        available: (name, edition, arch) of every package known (installed or in repositories),
            for successors.
        newer: ``newer(a, b)`` -> whether edition a is newer than edition b (rpm's comparison).
        guard: a time budget around each regular expression's work (none without it).

    Returns:
        ``file:line: reason`` of every line skipped because its regular expression was too slow.
    """
    by_name: Dict[str, List[Tuple[str, str]]] = {}
    for name, edition, arch in available:
        by_name.setdefault(name, []).append((edition, arch))
    names = _Names(list(installed))
    budget = guard or nullcontext
    errors: List[str] = []
    for rule in rules:
        if rule.name_re is None and "*" not in rule.name:
            if rule.name not in installed:
                continue
            matches: List[Tuple[str, List[str]]] = [(rule.name, [])]
        else:
            try:
                with budget() if rule.name_re is not None else nullcontext():
                    matches = _matching(rule, names)
            except RegexpTooSlow:
                errors.append(f"{rule.source}:{rule.line}: regular expression too slow, "
                              "line skipped")
                continue
        version, any_version = rule.version, rule.version == "*"
        for name, captures in matches:
            for package in installed[name]:
                if any_version or version_matches(version, package.edition):
                    package.package_eol = rule.eol
                if package.update is not None and (any_version or
                                                   version_matches(version, package.update)):
                    package.update_eol = rule.eol
                package.version_specified = version
                if rule.successor:
                    try:
                        with budget() if _is_regexp(rule.successor) else nullcontext():
                            _successor(package, rule.successor, [package.name] + captures, by_name,
                                       newer)
                    except RegexpTooSlow:
                        errors.append(f"{rule.source}:{rule.line}: regular expression too slow, "
                                      "successor skipped")
    for plist in installed.values():
        for p in plist:
            p.eol = NEVER
            if p.package_eol is not None:
                p.eol = NOW if p.package_eol <= now else p.package_eol
            elif p.update is not None:
                p.eol = NOW  # an update exists: this version is no longer supported
            if p.successor:
                p.eol = NOW
    return errors


def _successor(package: Package, successor: str, matches: List[str],
               by_name: Dict[str, List[Tuple[str, str]]], newer: Newer) -> None:
    def fill(text: str, quote: Callable[[str], str]) -> str:
        for i in range(10):
            text = text.replace(f"<{i}>", quote(matches[i]) if i < len(matches) else "")
        return text

    matches_name: Callable[[str], bool]
    if _is_regexp(successor):
        try:
            regex = compile_ruby(fill(successor[1:-1], re.escape))
        except ValueError:
            return
        matches_name = lambda name: regex.search(name) is not None  # noqa: E731
    else:
        pattern = fill(successor, lambda s: s.replace("*", "\x00"))  # a capture is no wildcard

        def matches_name(name: str) -> bool:
            if "\x00" not in pattern:
                return glob_match(pattern, name) is not None
            return glob_match(pattern, name.replace("*", "\x00")) is not None
    best_edition = package.edition
    best = None
    for name, editions in by_name.items():
        if name == package.name or not matches_name(name):
            continue
        for edition, arch in editions:
            if arch == package.arch and newer(edition, best_edition):
                best, best_edition = f"{name}-{edition}", edition
    if best:
        package.successor = best


class Product(NamedTuple):
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
    """Parse a ``.prod`` file; ValueError with the reason when it is not one.

    ``<codestream>`` is a top-level element of the file (zypper forwards it with ``--xmlfwd``).
    """
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

    def date_or(value: str, missing: int) -> int:
        if not value:
            return missing
        try:
            return parse_date(value)
        except ValueError:
            return NA

    # zypper reports an empty <endoflife> as time_t 0 (n/a) and none at all as no date (never);
    # SUSE's tool takes a codestream end only when it has text.
    eol = NEVER if root.find("endoflife") is None else date_or(text_of("endoflife"), NA)
    return Product(
        name=name, summary=text_of("summary"), vendor=text_of("vendor"), eol=eol,
        flavor=text_of("register/flavor"), isbase=isbase, codestream=text_of("codestream/name"),
        codestream_eol=date_or(text_of("codestream/endoflife"), NEVER))
