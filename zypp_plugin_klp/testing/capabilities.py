"""What a test needs from the machine (root, rpmbuild, zypper, qemu...): skipped locally, fatal in CI.

A CI runner that lacks a tool must not report green while the suites that need it never ran, so
under ``CI=true`` a missing capability fails the test with the reason instead of skipping it.
"""

import os
import shutil
from typing import Callable, Dict, NoReturn, Optional

import pytest

#: The command-line tools a capability name stands for (every one must be on PATH).
TOOLS: Dict[str, tuple] = {
    "rpm": ("rpm",),
    "rpmbuild": ("rpm", "rpmbuild"),
    "zypper": ("zypper",),
    "createrepo_c": ("createrepo_c",),
    "unshare": ("unshare",),
    "groff": ("groff",),
    "promtool": ("promtool",),
    "systemd-analyze": ("systemd-analyze",),
}


def _root() -> Optional[str]:
    return None if os.geteuid() == 0 else "it needs root (run the suite as root, as make test does)"


def _mockroot() -> Optional[str]:
    from .mockroot import missing_capabilities  # the mock root knows what it needs
    why = missing_capabilities()
    return f"mock roots unavailable: {why}" if why else None


CHECKS: Dict[str, Callable[[], Optional[str]]] = {"root": _root, "mockroot": _mockroot}


def in_ci() -> bool:
    """True when the suite runs in CI (``CI=true``): nothing may be skipped there."""
    return os.environ.get("CI", "").lower() == "true"


def missing(*names: str) -> Optional[str]:
    """Why the first of ``names`` is unavailable on this machine, or None when all are there."""
    for name in names:
        if name in CHECKS:
            why = CHECKS[name]()
            if why:
                return why
            continue
        for tool in TOOLS.get(name, (name,)):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (make test installs it)"
    return None


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test for ``reason``; under ``CI=true`` fail it instead."""
    if in_ci():
        pytest.fail(f"CI=true and a capability is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def require(*names: str) -> None:
    """Skip (or, under ``CI=true``, fail) the calling test unless every capability is there."""
    why = missing(*names)
    if why:
        unavailable(why)
