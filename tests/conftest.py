"""Shared fixtures: capability flags, module builder, simulated kernels, running the CLI."""

import os
import shutil
import subprocess
import sys
from typing import Callable, List, Sequence

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "fixtures")
sys.path.insert(0, FIXTURES)

import kobuild  # noqa: E402

from zypp_plugin_klp.sim.driver import SimulatedKernel  # noqa: E402
from zypp_plugin_klp.testing import packages  # noqa: E402

DEMO_SCENARIO = os.path.join(FIXTURES, "scenarios", "demo.yaml")
RELEASE = "6.1.0-26-default"
VERMAGIC = f"{RELEASE} SMP preempt mod_unload modversions"



@pytest.fixture
def build_ko(tmp_path) -> Callable[..., str]:
    """Write a real ELF live patch module; defaults fit the demo scenario's kernel."""

    def build(name: str, functions: Sequence[str] = ("livepatch_cmdline_proc_show",), **kw) -> str:
        kw.setdefault("vermagic", VERMAGIC)
        path = str(tmp_path / f"{name}.ko")
        return kobuild.write_module(path, name, functions=list(functions), **kw)

    return build


@pytest.fixture
def sim(tmp_path) -> SimulatedKernel:
    """The demo scenario materialised under a temporary root."""
    return SimulatedKernel.from_scenario(str(tmp_path / "root"), DEMO_SCENARIO)


def run_klp(*args: str, prog: str = "klp", stdin: str = "") -> subprocess.CompletedProcess:
    """Run the installed klp/kgr console script for real, as a user would.

    ``make mutation`` sets KLP_TESTS_IN_PROCESS=1: the same entry (``cli.klp.run``) is called in
    this process, so mutmut sees which tests reach which code (it cannot trace a subprocess)."""
    if os.environ.get("KLP_TESTS_IN_PROCESS") == "1":
        return _run_klp_in_process(list(args), prog, stdin)
    exe = os.path.join(os.path.dirname(sys.executable), prog)
    return subprocess.run([exe, *args], capture_output=True, text=True, input=stdin, timeout=60)


def _run_klp_in_process(args: List[str], prog: str, stdin: str) -> subprocess.CompletedProcess:
    import io

    from zypp_plugin_klp.cli import klp

    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), io.StringIO(), io.StringIO()
    try:
        code = klp.run(args, prog)
        out, err = sys.stdout.getvalue(), sys.stderr.getvalue()
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return subprocess.CompletedProcess([prog, *args], code, out, err)


def build_livepatch_rpm(tmp_path, ko_path: str, version: str = "1", release: str = "1.1",
                        changelog: str = "- Initial kernel live patch") -> str:
    """A real kernel-livepatch RPM for the demo kernel, built in ``tmp_path``."""
    return packages.build_livepatch_rpm(str(tmp_path), ko_path, RELEASE, version, release, changelog)


def rpm_install(root: str, package: str) -> None:
    """Install a package into ``root``'s own rpm database (never the host's)."""
    packages.rpm_install(root, package)


HOST_PATHS = (os.path.expanduser("~/.rpmdb"), "/var/lib/rpm", "/usr/lib/sysimage/rpm",
              "/run/reboot-needed", "/run/regenerate-initrd", "/run/klp", "/var/lib/klp",
              "/run/zypp.pid", "/var/log/zypper.log", "/var/cache/zypp",
              "/etc/salt", "/var/cache/salt", "/var/log/salt", "/run/salt",  # tests/fleet
              os.path.expanduser("~/.ansible"))


def _host_state():
    state = {}
    for path in HOST_PATHS:
        try:
            st = os.stat(path)
            state[path] = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            state[path] = None
    return state


@pytest.fixture(scope="session", autouse=True)
def host_untouched():
    """The suite never writes the host's rpm database, /run or zypper's state."""
    before = _host_state()
    yield
    after = _host_state()
    changed = [p for p in HOST_PATHS if before[p] != after[p]]
    assert not changed, f"the tests touched the host: {changed}"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """List at the very end what did not run for a missing capability (CI=true fails those)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: dict = {}
    for report in skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reasons[reason.removeprefix("Skipped: ")] = reasons.get(reason.removeprefix("Skipped: "), 0) + 1
    terminalreporter.section("not run on this machine (under CI=true these fail)", sep="=", yellow=True)
    for reason, count in sorted(reasons.items()):
        terminalreporter.line(f"{count:4d} skipped: {reason}")


@pytest.fixture
def mock(klp_mockroot, repo_rpms):
    """A mock root (zypper chrooted, commit plugin active) with the test module's ``repo_rpms``
    published and short waits, so held transitions end the tests quickly."""
    klp_mockroot.publish(*repo_rpms)
    with open(os.path.join(klp_mockroot.root, "etc/sysconfig/livepatching"), "a") as handle:
        handle.write('LIVEPATCH_WAIT="1"\nLIVEPATCH_PLUGIN_WAIT="2"\n')
    return klp_mockroot
