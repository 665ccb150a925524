"""The files ``zypper lifecycle`` reads: product files, lifecycle data, saved reports and the
repository list. Regular files only, opened without blocking: a FIFO or device is refused, never
waited on."""

import os
import stat
from typing import List, Optional, Tuple

from ..paths import LIFECYCLE_DIRS

PRODUCTS_DIR = "etc/products.d"
REPOS_DIR = "etc/zypp/repos.d"
MAX_BYTES = 64 << 20  # one data, product or saved report file


def read_text(path: str) -> str:
    """Text of a regular file; OSError with the system's reason, ValueError when it is not a
    UTF-8 regular file (or larger than 64 MiB)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES >> 20} MiB")
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def product_files(root: str) -> Tuple[List[str], Optional[str]]:
    """Paths of ``<root>/etc/products.d/*.prod`` in directory order (as zypper lists products)
    and the file name the ``baseproduct`` symlink points to."""
    directory = os.path.join(root, PRODUCTS_DIR)
    base = os.path.join(directory, "baseproduct")
    base_target = os.path.basename(os.readlink(base)) if os.path.islink(base) else None
    try:
        names = os.listdir(directory)
    except OSError:
        return [], base_target
    return [os.path.join(directory, n) for n in names if n.endswith(".prod")], base_target


def data_files(root: str, product: str) -> List[str]:
    """Where ``<product>.lifecycle`` may be, in the order SUSE's tool reads them."""
    return [os.path.join(root, d, f"{product}.lifecycle") for d in LIFECYCLE_DIRS]


def repository_files(root: str) -> bool:
    """Whether ``root`` has zypper repository files (a cheap test before building a solver)."""
    try:
        return any(name.endswith(".repo") for name in os.listdir(os.path.join(root, REPOS_DIR)))
    except OSError:
        return False
