"""SUSE's naming of live patch packages and modules, and kernel release parts."""

import re
from typing import Optional, Tuple

_PACKAGE = re.compile(r"kernel-livepatch-(?P<kver>[0-9][0-9A-Za-z_]*-[0-9A-Za-z_]+)-(?P<flavor>[a-z0-9]+)")


def package_name(release: str) -> str:
    """``5.3.18-24.34-default`` -> ``kernel-livepatch-5_3_18-24_34-default``."""
    kver, flavor = split_release(release)
    return f"kernel-livepatch-{kver.replace('.', '_')}-{flavor}"


def split_release(release: str) -> Tuple[str, str]:
    """``5.3.18-24.34-default`` -> (``5.3.18-24.34``, ``default``)."""
    kver, _, flavor = release.rpartition("-")
    if not kver or not flavor:
        raise ValueError(f"not a kernel release with a flavor: {release!r}")
    return kver, flavor


def release_from_package(name: str) -> Optional[str]:
    """Inverse of :func:`package_name`, or None for other package names."""
    match = _PACKAGE.fullmatch(name)
    if match is None:
        return None
    return f"{match.group('kver').replace('_', '.')}-{match.group('flavor')}"


def module_file(version: str, release: str) -> str:
    """File name of a live patch module: ``livepatch-<ver>-<rel>.ko``."""
    return f"livepatch-{version}-{release}.ko"
