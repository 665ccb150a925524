"""SUSE's naming of live patch packages and modules, and kernel release parts."""

from __future__ import annotations

# No re, no typing: the commit plugin imports this in every zypper commit (about 10 ms saved).
_PREFIX = "kernel-livepatch-"
_DIGITS = frozenset("0123456789")
_FLAVOR = _DIGITS | frozenset("abcdefghijklmnopqrstuvwxyz")
_WORD = _FLAVOR | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")


def package_name(release: str) -> str:
    """``5.3.18-24.34-default`` -> ``kernel-livepatch-5_3_18-24_34-default``."""
    kver, flavor = split_release(release)
    return f"kernel-livepatch-{kver.replace('.', '_')}-{flavor}"


def split_release(release: str) -> tuple[str, str]:
    """``5.3.18-24.34-default`` -> (``5.3.18-24.34``, ``default``)."""
    kver, _, flavor = release.rpartition("-")
    if not kver or not flavor:
        raise ValueError(f"not a kernel release with a flavor: {release!r}")
    return kver, flavor


def release_from_package(name: str) -> str | None:
    """Inverse of :func:`package_name`, or None for other package names:
    ``kernel-livepatch-<digit><word chars>-<word chars>-<flavor: [a-z0-9]+>`` (ASCII only)."""
    if not name.startswith(_PREFIX):
        return None
    parts = name[len(_PREFIX):].split("-")
    if len(parts) != 3:
        return None
    upstream, build, flavor = parts
    if not (upstream[:1] in _DIGITS and _WORD.issuperset(upstream) and build
            and _WORD.issuperset(build) and flavor and _FLAVOR.issuperset(flavor)):
        return None
    return f"{upstream.replace('_', '.')}-{build.replace('_', '.')}-{flavor}"


def module_file(version: str, release: str) -> str:
    """File name of a live patch module: ``livepatch-<ver>-<rel>.ko``."""
    return f"livepatch-{version}-{release}.ko"
