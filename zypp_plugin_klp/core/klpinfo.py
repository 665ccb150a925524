"""Live patch info files (``/usr/share/livepatch/info/<module>-<srcversion>``): CVEs and bugs of a
patch, made at build time from the package's .changes file, read by ``klp -v patches``."""

from typing import Dict, List, Tuple

from .changelog import references

INFO_DIR = "usr/share/livepatch/info"
RPM, CVE, BUGS = "RPM", "CVE", "bug fixes and enhancements"


def info_name(module: str, srcversion: str) -> str:
    """File name of a module's info file: ``<module>-<srcversion>`` (srcversion may be empty)."""
    return f"{module}-{srcversion}"


def render_info(nvra: str, changes: str) -> str:
    """The info file for package ``nvra`` from the text of its .changes file: one ``key: value``
    line each for the RPM, the CVE ids and the other bug references (empty value for none)."""
    cves, bugs = references([changes])
    return f"{RPM}: {nvra}\n{CVE}: {' '.join(cves)}\n{BUGS}: {' '.join(bugs)}\n"


def parse_info(text: str) -> Tuple[List[str], List[str]]:
    """(CVE ids, bug references) of an info file; unknown lines are ignored."""
    fields: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields.get(CVE, "").split(), fields.get(BUGS, "").split()
