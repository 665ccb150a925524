"""Live patch info files (``/usr/share/livepatch/info/<module>-<srcversion>``): CVEs and bugs of a
patch, made at build time from the package's .changes file, read by ``klp -v patches``.

Path, name and the build step match SUSE's public live patch spec (``klp rpm_changes_to_klp_info
CHANGES NVRA OUTFILE``; name ``<modinfo -F name>-<modinfo -F srcversion>``). The contents are our
own: SUSE's klp script, which writes and reads them, is not public. They are ``key: value`` lines
named like the fields of ``klp -v patches``.
"""

from typing import Dict, List, Optional, Tuple

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


def parse_info(text: str) -> Optional[Tuple[List[str], List[str]]]:
    """(CVE ids, bug references) of an info file; unknown lines are ignored. None when it has
    neither field (not our format: SUSE's klp may write another one), so the caller can fall back
    to the package's changelog."""
    fields: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if CVE not in fields and BUGS not in fields:
        return None
    return fields.get(CVE, "").split(), fields.get(BUGS, "").split()
