"""The boot path asks the runtime loader's integrity gate (issue 15, finding 2): in a mock root
with the product installed and a live patch installed by the real rpm, the dracut module's
functions run chrooted with dracut's helpers stubbed to record what would go into the initrd, and
the boot script runs with insmod stubbed to record what it would load.
"""

import os
import shutil

import pytest

from conftest import VERMAGIC

import kobuild
from zypp_plugin_klp.testing import packages

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = "6.1.0-26-default"
MODDIR = "/usr/lib/dracut/modules.d/90kernel-livepatch"
LIVEPATCH = f"/lib/modules/{RELEASE}/livepatch"
NINE = f"{LIVEPATCH}/livepatch-9-1.1.ko"

# dracut's helpers, recording; then what dracut does with a module: check, installkernel, install
SETUP = f"""
inst_simple() {{ echo "inst_simple $*"; }}
inst_multiple() {{ :; }}
inst_hook() {{ :; }}
dwarn() {{ echo "dwarn $*" >&2; }}
kernel={RELEASE} initdir=/tmp/initdir moddir={MODDIR} dracutsysrootdir=
rm -rf "$initdir" && mkdir -p "$initdir"
. "$moddir/module-setup.sh"
check || exit 3
installkernel && install
cat "$initdir/etc/kernel-livepatch.module" 2>/dev/null || :
"""
BOOT = f"""
insmod() {{ echo "insmod $*"; }}
info() {{ echo "info $*"; }}
warn() {{ echo "warn $*"; }}
. {MODDIR}/kernel-livepatch.sh
"""


def in_usr(mock, path):
    """The host path of ``path`` under the root's /lib (-> usr/lib: the /usr overlay's upper)."""
    return os.path.join(mock.upper, path.lstrip("/"))


@pytest.fixture
def mock(klp_mockroot, tmp_path):
    """Live patch 9 installed by rpm; the dracut module from this checkout in the root's /usr; a
    livepatch-10 beside it that no package owns, owned by nobody and world-writable."""
    shutil.copytree(os.path.join(REPO, "dracut", "90kernel-livepatch"),
                    os.path.join(klp_mockroot.upper, MODDIR.split("/", 2)[2]), dirs_exist_ok=True)
    ko = kobuild.write_module(tmp_path / "lp9.ko", "livepatch_9_1_1", vermagic=VERMAGIC)
    rpm = packages.build_livepatch_rpm(str(tmp_path), str(ko), RELEASE, "9", "1.1")
    klp_mockroot.rpm("-U", "--nodeps", "--noscripts", rpm, check=True)
    foreign = os.path.join(klp_mockroot.upper, LIVEPATCH.lstrip("/"), "livepatch-10-1.1.ko")
    with open(in_usr(klp_mockroot, NINE), "rb") as src:
        data = src.read()
    with open(foreign, "wb") as dst:
        dst.write(data)
    os.chown(foreign, 65534, 65534)
    os.chmod(foreign, 0o666)
    return klp_mockroot


def test_the_initrd_gets_exactly_the_verified_module_not_the_newest_file(mock):
    r = mock.chroot("/bin/bash", "-c", SETUP)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"inst_simple {NINE}", NINE], r.stdout + r.stderr


def test_the_boot_script_loads_the_recorded_module_only(mock):
    with open(os.path.join(mock.root, "etc/kernel-livepatch.module"), "w") as handle:
        handle.write(NINE + "\n")
    r = mock.chroot("/bin/sh", "-c", BOOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"insmod {NINE}", "info kernel-livepatch: loaded "
                                                       "livepatch-9-1.1.ko"], r.stdout
    os.unlink(os.path.join(mock.root, "etc/kernel-livepatch.module"))
    r = mock.chroot("/bin/sh", "-c", BOOT)  # nothing recorded (none verified): nothing loaded
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr


def test_a_tampered_module_stays_out_of_the_initrd(mock):
    with open(in_usr(mock, NINE), "ab") as handle:
        handle.write(b"\0evil")
    r = mock.chroot("/bin/bash", "-c", SETUP)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", r.stdout  # no inst_simple, no module recorded for the boot script
    assert "klp: refusing to load: " in r.stderr and "differs from what" in r.stderr, r.stderr
