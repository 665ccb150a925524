"""Live patch module files on disk: ``<root>/lib/modules/<release>/livepatch/*.ko`` (or, on usr-merged
kernels, ``<root>/usr/lib/modules/...``) and their .modinfo."""

import os
import stat
from typing import Callable, Dict, List, Optional, Tuple

from ..core.elfmod import ModuleFormatError, ModuleInfo, parse_module

MODULE_DIRS = ("lib/modules", "usr/lib/modules")
MAX_MODULE_SIZE = 256 << 20


def livepatch_prefixes(release: str) -> Tuple[str, ...]:
    """Where packages put live patches for ``release``: ``/lib/modules/<release>/livepatch/`` and,
    for usr-merged kernels, ``/usr/lib/modules/<release>/livepatch/``."""
    return tuple(f"/{base}/{release}/livepatch/" for base in MODULE_DIRS)


def same_file_paths(path: str) -> List[str]:
    """``path`` and its twin in the other module directory (``/lib/modules/...`` <->
    ``/usr/lib/modules/...``): where /lib is a symlink to usr/lib, a package may own either."""
    for base, twin in (MODULE_DIRS, MODULE_DIRS[::-1]):
        if path.startswith(f"/{base}/"):
            return [path, f"/{twin}/" + path[len(base) + 2:]]
    return [path]


def kernel_installed(root: str, release: str) -> bool:
    """Whether kernel ``release`` is installed in ``root`` (either layout): depmod's modules.dep or
    its image. A live patch package alone creates ``<modules>/<release>/livepatch``, so the module
    directory does not count."""
    return any(os.path.exists(os.path.join(root, base, release, name))
               for base in MODULE_DIRS for name in ("modules.dep", "vmlinuz")) or \
        os.path.exists(os.path.join(root, f"boot/vmlinuz-{release}"))


def read_info(root: str, name: str, module_path: str) -> Optional[str]:
    """The text of module ``name``'s info file (``/usr/share/livepatch/info/<name>-<srcversion>``,
    the srcversion read from the module file ``module_path`` inside ``root``), or None when there is
    none (or it is no regular file: opened without following a symlink, never blocking)."""
    from ..core.klpinfo import INFO_DIR, info_name

    try:
        srcversion = read_module(os.path.join(root, module_path.lstrip("/"))).get("srcversion") or ""
        fd = os.open(os.path.join(root, INFO_DIR, info_name(name, srcversion)),
                     os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ModuleFormatError):
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(1 << 16).decode("utf-8", "replace")


def livepatch_dirs(root: str, release: str) -> list:
    """The directories that hold live patches for ``release`` inside ``root`` (existing ones)."""
    found: list = []
    for base in MODULE_DIRS:
        path = os.path.join(root, base, release, "livepatch")
        if os.path.isdir(path) and os.path.realpath(path) not in [os.path.realpath(p) for p in found]:
            found.append(path)
    return found


def read_fd(fd: int) -> bytes:
    """The whole file open as ``fd`` (from offset 0, whatever the position); OSError passes
    through, ModuleFormatError when it is implausibly large for a kernel module."""
    chunks = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        if offset > MAX_MODULE_SIZE:
            raise ModuleFormatError(f"larger than {MAX_MODULE_SIZE >> 20} MiB")
    return b"".join(chunks)


def read_module(path: str) -> ModuleInfo:
    """Parse the module file at ``path``; OSError and ModuleFormatError pass through."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return parse_module(read_fd(fd))
    finally:
        os.close(fd)


def module_files(root: str, release: str,
                 warn: Callable[[str], None] = lambda _m: None) -> Dict[str, str]:
    """Map module name -> file path (inside ``root``) of every live patch module for ``release``."""
    files: Dict[str, str] = {}
    for directory in livepatch_dirs(root, release):
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if not entry.name.endswith(".ko") or not entry.is_file(follow_symlinks=False):
                continue
            name = _module_name(entry.path, warn)
            if name and name not in files:
                files[name] = "/" + os.path.relpath(entry.path, root)
    return files


def _module_name(path: str, warn: Callable[[str], None]) -> Optional[str]:
    try:
        info = read_module(path)
    except (OSError, ModuleFormatError) as exc:
        warn(f"ignoring {path}: {exc}")
        return None
    return info.name or os.path.basename(path)[:-3].replace("-", "_")
