"""What a SLE machine does with live patch packages, with the real zypper chrooted in a mock root
that carries SLE's default zypp.conf (multiversion kernels) and a repository shaped like SUSE's
(pattern package and patterns.xml, the kernel-default-livepatch metapackage, updateinfo): the
documented flow (pattern lp_sles, zypper lp, zypper patch), streams replacing their versions,
``zypper se`` with SUSE's summary, and other kernels' patches needing no reboot."""

import os

import pytest

from conftest import REPO, VERMAGIC

import kobuild
from zypp_plugin_klp.testing import packages
from zypp_plugin_klp.testing.mockroot import SLE_ZYPP_CONF

PKG = "kernel-livepatch-6_1_0-26-default"
OTHER = "kernel-livepatch-6_1_0-27-default"
RELEASE = "6.1.0-26-default"
ZYPPER = ("zypper", "--non-interactive", "--no-gpg-checks")


@pytest.fixture(scope="module")
def repo_rpms(tmp_path_factory):
    from zypp_plugin_klp.testing.plugin import macros_path, template_path

    work = tmp_path_factory.mktemp("sle-rpms")
    rpms = []
    for release, version in ((RELEASE, "1"), (RELEASE, "2"), (RELEASE, "3"), ("6.1.0-27-default", "1")):
        vermagic = VERMAGIC.replace(RELEASE, release)
        ko = kobuild.write_module(work / f"lp-{release}-{version}.ko", f"livepatch_{version}_1_1",
                                  vermagic=vermagic, functions=["livepatch_cmdline_proc_show"])
        rpms.append(packages.build_from_template(str(work), str(ko), release, version,
                                                 f"- Fix CVE-2024-{1000 + int(version)}",
                                                 template_path(), macros_path()))
    for spec, defines in (("patterns-lp.spec", ()), ("kernel-default-livepatch.spec",
                                                     ("--define", f"klp_kernel_release {RELEASE}"))):
        rpms.append(packages.rpmbuild(os.path.join(REPO, "specfiles", spec), str(work / spec), *defines))
    return rpms


def zypper(mock, *args, **kw):
    return mock.chroot(*ZYPPER, *args, **kw)


def klp(mock, *args):
    return mock.chroot("/usr/bin/klp", *args)


def livepatches(mock):
    return [p for p in mock.installed() if p.startswith("kernel-livepatch-")]


def modules(mock, release=RELEASE):
    return mock.run("ls", os.path.join(mock.root, f"lib/modules/{release}/livepatch"),
                    check=True).stdout.split()


def test_mock_roots_carry_sles_zypp_conf(mock):
    with open(os.path.join(mock.root, "etc/zypp/zypp.conf")) as handle:
        assert handle.read() == SLE_ZYPP_CONF
    assert "multiversion = provides:multiversion(kernel)" in SLE_ZYPP_CONF


def test_versions_of_a_stream_replace_each_other_up_and_down(mock):
    zypper(mock, "in", f"{PKG}=2", check=True)
    mock.kernel.release()  # v2's transition completes
    r = zypper(mock, "in", f"{PKG}=3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "is going to be upgraded" in r.stdout  # not "NEW package" beside version 2
    assert livepatches(mock) == [f"{PKG}-3-1.1"]
    assert modules(mock) == ["livepatch-3-1.1.ko"]
    mock.kernel.release()
    r = klp(mock, "downgrade", "-n")
    assert r.returncode == 0 and "Nothing to do" not in r.stdout, r.stdout + r.stderr
    assert livepatches(mock) == [f"{PKG}-2-1.1"]
    assert modules(mock) == ["livepatch-2-1.1.ko"]
    assert "livepatch_2_1_1\n    active: 1" in klp(mock, "-v", "patches").stdout


def test_purge_kernels_leaves_live_patches_alone(mock):
    zypper(mock, "in", f"{PKG}=2", check=True)
    mock.kernel.release()
    zypper(mock, "in", f"{PKG}=3", check=True)
    r = zypper(mock, "purge-kernels")
    assert r.returncode == 0, r.stdout + r.stderr
    assert livepatches(mock) == [f"{PKG}-3-1.1"]
    q = mock.rpm("-q", "--provides", PKG, check=True).stdout
    assert "multiversion(kernel)" not in q


def test_search_shows_suses_summary(mock):
    r = mock.zypper("search", "kernel-livepatch")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line for line in r.stdout.splitlines() if PKG in line and "| package" in line]
    assert rows and all("| Kernel live patch module" in row for row in rows), r.stdout


def test_other_kernels_patch_loads_at_its_boot_and_its_erase_needs_no_reboot(mock):
    r = zypper(mock, "in", OTHER)
    assert r.returncode == 0, r.stdout + r.stderr
    said = [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("klp: ")]
    assert said == [f"klp: {OTHER}-1-1.1 is for kernel 6.1.0-27-default, which is not running: it "
                    "will load when that kernel boots"], r.stdout
    assert mock.initrd_log() == []  # 6.1.0-27 is not installed: no initrd of it to rebuild
    r = zypper(mock, "rm", OTHER)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "keeps" not in r.stdout and "Reboot is required" not in r.stdout, r.stdout
    assert "6.1.0-27-default is not running, no reboot needed" in r.stdout
    assert zypper(mock, "needs-rebooting").returncode == 0
    assert not mock.exists("/run/reboot-needed")
    assert "reboot needed" not in klp(mock, "-v", "status").stdout
    assert "which is not running: no reboot needed" in klp(mock, "log").stdout
    assert mock.initrd_log() == []


def test_an_installed_other_kernel_gets_its_initrd_rebuilt_without_a_reboot(mock):
    os.makedirs(os.path.join(mock.upper, "lib/modules/6.1.0-27-default"))
    open(os.path.join(mock.upper, "lib/modules/6.1.0-27-default/modules.dep"), "w").close()
    zypper(mock, "in", OTHER, check=True)
    assert mock.initrd_log() == ["-f --kver 6.1.0-27-default"]
    zypper(mock, "rm", OTHER, check=True)
    assert mock.initrd_log() == ["-f --kver 6.1.0-27-default"] * 2
    assert zypper(mock, "needs-rebooting").returncode == 0


def test_pattern_lp_sles_installs_the_tools_and_the_running_kernels_newest_live_patch(mock):
    r = mock.zypper("search", "-t", "pattern", "lp_sles")
    assert r.returncode == 0 and "| lp_sles" in r.stdout and "| Live Patching" in r.stdout, r.stdout
    r = zypper(mock, "install", "-t", "pattern", "lp_sles")
    assert r.returncode == 0, r.stdout + r.stderr
    installed = mock.installed()
    assert "patterns-lp-lp_sles-0.1.0-0" in installed
    assert "kernel-default-livepatch-6.1.0-26" in installed  # versioned like the kernel
    assert livepatches(mock) == [f"{PKG}-3-1.1"]
    assert f"klp: livepatch_3_1_1 ({PKG}-3-1.1.x86_64) is loaded" in r.stdout
    assert mock.initrd_log() == [f"-f --kver {RELEASE}"]


def test_zypper_lp_and_patch_install_and_load_the_newest_live_patch(mock):
    zypper(mock, "install", f"{PKG}=1", check=True)
    mock.kernel.release()
    r = zypper(mock, "list-patches")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line for line in r.stdout.splitlines() if f"| lp-{RELEASE}-" in line]
    assert len(rows) == 2 and all("| security" in row and "| needed" in row for row in rows), r.stdout
    assert zypper(mock, "patch-check").returncode == 101  # security patches needed
    # klp offers what zypper lp offers: the newest of them
    assert "update: 3-1.1 available" in klp(mock, "-vv", "patches").stdout
    assert klp(mock, "update", "--dry-run").stdout.startswith(f"update {PKG} from 1-1.1 to 3-1.1:")
    r = zypper(mock, "patch")
    assert r.returncode == 0, r.stdout + r.stderr
    assert livepatches(mock) == [f"{PKG}-3-1.1"]
    assert "livepatch_3_1_1\n    active: 1" in klp(mock, "-v", "patches").stdout
    assert f"+{PKG}-3-1.1" in klp(mock, "log").stdout  # the commit plugin saw the commit
    assert zypper(mock, "patch-check").returncode == 0
    assert "update: none (newest installed)" in klp(mock, "-vv", "patches").stdout


def test_zypper_patch_by_cve_installs_a_live_patch_that_fixes_it(mock):
    zypper(mock, "install", f"{PKG}=1", check=True)
    mock.kernel.release()
    r = zypper(mock, "list-patches", "--cve=CVE-2024-1002")
    rows = [line for line in r.stdout.splitlines() if f"| lp-{RELEASE}-" in line]
    assert [row.split("|")[2].strip() for row in rows] == [f"lp-{RELEASE}-2"], r.stdout
    r = zypper(mock, "patch", "--cve=CVE-2024-1002")
    assert r.returncode == 0, r.stdout + r.stderr
    # the patch needs version 2 or newer; the solver takes the newest (cumulative) one
    assert livepatches(mock) == [f"{PKG}-3-1.1"]
    assert "livepatch_3_1_1\n    active: 1" in klp(mock, "-v", "patches").stdout
