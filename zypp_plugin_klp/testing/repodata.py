"""rpm-md extras that a SLE repository carries, made from the packages in a test repository:
``patterns.xml`` from pattern packages (the step SUSE's libsolv does itself, "autopattern", and
Debian's lacks) and ``updateinfo.xml`` with one security patch per live patch package, its CVE
and bug references taken from the package changelog (what ``zypper lp`` and ``zypper patch`` read).
"""

import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape, quoteattr

from ..core.changelog import references
from ..core.names import release_from_package
from .packages import force_debian

FIELDS = ("NAME", "VERSION", "RELEASE", "ARCH", "BUILDTIME", "SUMMARY")
SEP = "\x1f"


@dataclass(frozen=True)
class Header:
    """What the repository extras need from one binary RPM."""

    filename: str
    name: str
    version: str
    release: str
    arch: str
    buildtime: int
    summary: str
    provides: Tuple[Tuple[str, str], ...]  # (name, version or "")
    changelog: Tuple[str, ...]


def read_header(path: str) -> Header:
    """Query ``path`` with the real rpm (a private, empty database: never the host's)."""
    with tempfile.TemporaryDirectory(prefix="klp-rpmq.") as db:
        def query(fmt: str) -> str:
            return subprocess.run(["rpm", *force_debian(), "--dbpath", db, "-qp", "--qf", fmt, path],
                                  capture_output=True, text=True, check=True).stdout

        main = query(SEP.join(f"%{{{f}}}" for f in FIELDS)).split(SEP)
        provides = [line.split(SEP) for line in
                    query(f"[%{{PROVIDENAME}}{SEP}%{{PROVIDEVERSION}}\\n]").splitlines() if line]
        changelog = [t for t in query(f"[%{{CHANGELOGTEXT}}{SEP}]").split(SEP) if t.strip()]
    name, version, release, arch, buildtime, summary = main
    return Header(os.path.basename(path), name, version, release, arch, int(buildtime), summary,
                  tuple((p[0], p[1] if len(p) > 1 else "") for p in provides), tuple(changelog))


def _provided(header: Header, capability: str) -> Optional[str]:
    for name, version in header.provides:
        if name == capability:
            return version
    return None


def patterns_xml(headers: Sequence[Header]) -> Optional[str]:
    """One ``<pattern>`` per package providing ``pattern() = NAME`` (requiring that package, as
    libsolv's autopattern does), or None when there is no pattern package."""
    items = []
    for h in headers:
        pattern = _provided(h, "pattern()")
        if not pattern:
            continue
        visible = "    <uservisible/>\n" if _provided(h, "pattern-visible()") is not None else ""
        order = _provided(h, "pattern-order()")
        items.append(
            f"  <pattern>\n    <name>{escape(pattern)}</name>\n"
            f"    <version epoch=\"0\" ver={quoteattr(h.version)} rel={quoteattr(h.release)}/>\n"
            f"    <arch>noarch</arch>\n    <summary>{escape(h.summary)}</summary>\n"
            f"    <description>{escape(h.summary)}</description>\n{visible}"
            + (f"    <order>{escape(order)}</order>\n" if order else "")
            + f"    <rpm:requires>\n      <rpm:entry name={quoteattr(h.name)} flags=\"EQ\" epoch=\"0\" "
              f"ver={quoteattr(h.version)} rel={quoteattr(h.release)}/>\n    </rpm:requires>\n"
              "  </pattern>\n")
    if not items:
        return None
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<patterns xmlns="http://novell.com/package/metadata/suse/pattern" '
            f'xmlns:rpm="http://linux.duke.edu/metadata/rpm" count="{len(items)}">\n'
            + "".join(items) + "</patterns>\n")


def updateinfo_xml(headers: Sequence[Header]) -> Optional[str]:
    """One patch per live patch package: category ``security`` when its changelog names a CVE
    (else ``recommended``), with CVE and bugzilla references; None when there is none."""
    updates = []
    for h in headers:
        kernel = release_from_package(h.name)
        if not h.name.startswith("kernel-livepatch-") or not kernel:
            continue
        cves, bugs = references(h.changelog)
        refs = [f'      <reference href="https://www.suse.com/security/cve/{c}/" id="{c}" '
                f'title="{c}" type="cve"/>\n' for c in cves]
        refs += [f'      <reference href="https://bugzilla.suse.com/show_bug.cgi?id={b.split("#")[1]}" '
                 f'id="{b.split("#")[1]}" title={quoteattr(b)} type="bugzilla"/>\n' for b in bugs]
        kind = "security" if cves else "recommended"
        what = "Security update" if cves else "Update"
        updates.append(
            f'  <update from="klp@example.com" status="stable" type="{kind}" version="1">\n'
            f"    <id>{escape(patch_id(kernel, h.version))}</id>\n"
            f"    <title>{what} for the Linux Kernel (Live Patch {escape(h.version)} for "
            f"{escape(kernel)})</title>\n"
            f"    <severity>{'important' if cves else 'moderate'}</severity>\n"
            f"    <release>SLE Live Patching test repository</release>\n"
            f'    <issued date="{h.buildtime}"/>\n'
            f"    <references>\n{''.join(refs)}    </references>\n"
            f"    <description>{escape(chr(10).join(h.changelog))}</description>\n"
            f"    <pkglist>\n      <collection>\n"
            f'        <package name={quoteattr(h.name)} epoch="0" version={quoteattr(h.version)} '
            f'release={quoteattr(h.release)} arch={quoteattr(h.arch)}>\n'
            f"          <filename>{escape(h.filename)}</filename>\n        </package>\n"
            f"      </collection>\n    </pkglist>\n  </update>\n")
    if not updates:
        return None
    return '<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n' + "".join(updates) + "</updates>\n"


def patch_id(kernel_release: str, version: str) -> str:
    """The patch name ``zypper lp`` shows for live patch ``version`` of ``kernel_release``."""
    return f"lp-{kernel_release}-{version}"


class RepoExtras:
    """Adds patterns.xml and updateinfo.xml to a createrepo_c repository (headers are cached)."""

    def __init__(self) -> None:
        self._headers: Dict[Tuple[str, float], Header] = {}

    def headers(self, repo: str) -> List[Header]:
        found = []
        for name in sorted(os.listdir(repo)):
            path = os.path.join(repo, name)
            if name.endswith(".rpm") and os.path.isfile(path):
                key = (path, os.path.getmtime(path))
                if key not in self._headers:
                    self._headers[key] = read_header(path)
                found.append(self._headers[key])
        return found

    def add(self, repo: str) -> None:
        """Run after createrepo_c: (re)publish both files with modifyrepo_c."""
        headers = self.headers(repo)
        for mdtype, text in (("patterns", patterns_xml(headers)),
                             ("updateinfo", updateinfo_xml(headers))):
            if text is None:
                continue
            with tempfile.TemporaryDirectory(prefix="klp-repomd.") as tmp:
                path = os.path.join(tmp, f"{mdtype}.xml")
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
                subprocess.run(["modifyrepo_c", f"--mdtype={mdtype}", path,
                                os.path.join(repo, "repodata")], check=True, capture_output=True)
