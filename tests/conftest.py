"""Shared fixtures: capability flags, module builder, simulated kernels, running the CLI."""

import os
import shutil
import subprocess
import sys
from typing import Callable, List

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "fixtures")
sys.path.insert(0, FIXTURES)

import kobuild  # noqa: E402

from zypp_plugin_klp.drivers.simkernel import SimulatedKernel  # noqa: E402

DEMO_SCENARIO = os.path.join(FIXTURES, "scenarios", "demo.yaml")
RELEASE = "6.1.0-26-default"
VERMAGIC = f"{RELEASE} SMP preempt mod_unload modversions"

HAS_RPMBUILD = shutil.which("rpmbuild") is not None and shutil.which("rpm") is not None
IS_ROOT = os.geteuid() == 0


@pytest.fixture
def build_ko(tmp_path) -> Callable[..., str]:
    """Write a real ELF live patch module; defaults fit the demo scenario's kernel."""

    def build(name: str, functions: List[str] = ("livepatch_cmdline_proc_show",), **kw) -> str:
        kw.setdefault("vermagic", VERMAGIC)
        path = str(tmp_path / f"{name}.ko")
        return kobuild.write_module(path, name, functions=list(functions), **kw)

    return build


@pytest.fixture
def sim(tmp_path) -> SimulatedKernel:
    """The demo scenario materialised under a temporary root."""
    return SimulatedKernel.from_scenario(str(tmp_path / "root"), DEMO_SCENARIO)


def run_klp(*args: str, prog: str = "klp", stdin: str = "") -> subprocess.CompletedProcess:
    """Run the installed klp/kgr console script for real, as a user would."""
    exe = os.path.join(os.path.dirname(sys.executable), prog)
    return subprocess.run([exe, *args], capture_output=True, text=True, input=stdin, timeout=60)


def build_livepatch_rpm(tmp_path, ko_path: str, version: str = "1", release: str = "1.1",
                        changelog: str = "- Initial kernel live patch") -> str:
    """Build a kernel-livepatch RPM around ``ko_path`` with the real rpmbuild; return its path."""
    top = tmp_path / f"rpmbuild-{version}-{release}"
    (top / "SOURCES").mkdir(parents=True)
    name = f"livepatch-{version}-{release}.ko"
    shutil.copy(ko_path, top / "SOURCES" / name)
    kdir = f"/lib/modules/{RELEASE}/livepatch"
    spec = top / "lp.spec"
    spec.write_text(f"""Name: kernel-livepatch-{RELEASE.rsplit('-', 1)[0].replace('.', '_')}-default
Version: {version}
Release: {release}
Summary: live patch for tests
License: GPL-2.0-only
Source0: {name}
%description
Live patch for the tests of zypp-plugin-klp.
%install
install -D -m 0644 %{{SOURCE0}} %{{buildroot}}{kdir}/{name}
%files
{kdir}/{name}
%changelog
* Mon Nov 23 2026 Tester <tester@example.com> - {version}-{release}
{changelog}
""")
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define",
                    f"_dbpath {top}/db", "--define", "__os_install_post %{nil}",
                    "--define", "debug_package %{nil}", str(spec)],
                   check=True, capture_output=True)
    (rpm,) = (top / "RPMS").glob("*/*.rpm")
    return str(rpm)


def rpm_install(root: str, package: str) -> None:
    """Install a package into ``root``'s own rpm database (never the host's)."""
    subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps",
                    "--noscripts", package], check=True, capture_output=True)
