"""Extract CVE ids and bug references from RPM changelog entries of a live patch package."""

import re
from typing import Iterable, List, Tuple

_CVE = re.compile(r"\bCVE-(\d{4})-(\d{4,})\b", re.IGNORECASE)
_BUG = re.compile(r"\b(bsc|boo|bnc|jsc|bug)#([A-Za-z0-9-]*\d)\b", re.IGNORECASE)


def _cve_key(cve: str) -> Tuple[int, int]:
    _, year, number = cve.split("-")
    return int(year), int(number)


def references(entries: Iterable[str]) -> Tuple[List[str], List[str]]:
    """(CVE ids, bug references) mentioned anywhere in the changelog texts, unique and sorted.

    CVEs are normalised to upper case (``CVE-2024-1086``); bugs keep their tracker prefix in lower
    case (``bsc#1219434``).
    """
    cves = set()
    bugs = set()
    for text in entries:
        for year, number in _CVE.findall(text):
            cves.add(f"CVE-{year}-{number}")
        for tracker, ident in _BUG.findall(text):
            bugs.add(f"{tracker.lower()}#{ident}")
    bug_list = sorted(bugs, key=lambda b: (b.split("#")[0], len(b), b))
    return sorted(cves, key=_cve_key), bug_list
