"""Files of an rpmbuild build root and build directory, for the packagers' build-time steps."""

import os
from typing import List, Tuple

from .modfiles import MODULE_DIRS


def livepatch_modules(buildroot: str, release: str) -> Tuple[List[str], List[str]]:
    """(livepatch directories as package paths, module files as build root paths) that %install
    put under ``{,/usr}/lib/modules/<release>/livepatch`` in ``buildroot``; symlinks are ignored."""
    directories: List[str] = []
    modules: List[str] = []
    for base in MODULE_DIRS:
        directory = os.path.join(buildroot, base, release, "livepatch")
        if os.path.isdir(directory) and not os.path.islink(directory):
            directories.append(f"/{base}/{release}/livepatch")
            modules += [os.path.join(directory, f) for f in sorted(os.listdir(directory))
                        if f.endswith(".ko") and os.path.isfile(os.path.join(directory, f))]
    return directories, modules


def package_path(buildroot: str, path: str) -> str:
    """Where a build root file lands when the package is installed."""
    return "/" + os.path.relpath(path, buildroot)


def exists(path: str) -> bool:
    """Whether ``path`` exists."""
    return os.path.exists(path)


def read_text(path: str) -> str:
    """The text of ``path``; OSError passes through."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def write_text(path: str, text: str) -> None:
    """Write ``path`` (its directory created as needed)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
