"""The composition root: the one place that builds the kernel driver, rpm database, resolver and
runner for a root (entry points ask here; services receive what they need)."""

from __future__ import annotations

import os

from .paths import SIMULATOR_STATE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .drivers.kernel import KernelDriver
    from .drivers.rpmdb import RpmDb
    from .drivers.runner import Result
    from .drivers.solver import Resolver


def open_kernel(root: str = "/") -> KernelDriver:
    """The driver for ``root``: the simulated kernel where its tree is mounted, else Linux."""
    if os.path.isfile(os.path.join(root, SIMULATOR_STATE)):
        from .sim.driver import SimulatedKernel

        return SimulatedKernel(root)
    from .drivers.linux import LinuxKernel

    return LinuxKernel(root)


def open_rpmdb(root: str = "/") -> RpmDb:
    """The rpm database of ``root``."""
    from .drivers.rpmdb import RpmDb

    return RpmDb(root)


def open_resolver(root: str = "/") -> Resolver:
    """The package resolver (repositories and installed packages) of ``root``."""
    from .drivers.solver import Resolver

    return Resolver(root)


def runner() -> Callable[[list[str]], Result]:
    """Runs a command to completion, capturing its output (initrd generators); imported on use."""
    def run(argv: list[str]) -> Result:
        from .drivers.runner import run as real

        return real(argv)

    return run


def interactive_runner() -> Callable[[Sequence[str], bool, dict[str, str] | None, Sequence[int]],
                                      int]:
    """Runs a command attached to the terminal (zypper asking its own questions)."""
    from .drivers.runner import run_interactive

    return run_interactive
