"""Live patch packages through the real zypper and rpm in mock roots, scriptlets and all.

Each test gets a fresh root (zypp_plugin_klp.testing.plugin's klp_mockroot): zypp-plugin-klp
installed from its own RPM, a simulated system on kernel 6.1.0-26-default whose memdb-stats thread
sleeps in cmdline_proc_show, and a recording stand-in for dracut.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import VERMAGIC

import kobuild

PKG = "kernel-livepatch-6_1_0-26-default"
CHANGELOG = {
    "1": "- Initial kernel live patch",
    "3": "- Fix CVE-2024-1086 in nf_tables (bsc#1219434)\n- Fix CVE-2024-26585 in tls (bsc#1220187)",
    "4": "- Fix CVE-2024-36971 (bsc#1226145)",
}


@pytest.fixture(scope="module")
def livepatches(tmp_path_factory):
    """Build v1, v3, v4 for the running kernel, a v1 for 6.1.0-27 and a v2 built for 6.1.0-25."""
    from zypp_plugin_klp.testing.packages import build_from_template
    from zypp_plugin_klp.testing.plugin import macros_path, template_path

    work = tmp_path_factory.mktemp("livepatches")
    built = {}
    for key, version, release, vermagic in (
            ("1", "1", "6.1.0-26-default", VERMAGIC), ("3", "3", "6.1.0-26-default", VERMAGIC),
            ("4", "4", "6.1.0-26-default", VERMAGIC),
            ("other", "1", "6.1.0-27-default", "6.1.0-27-default SMP preempt mod_unload modversions"),
            ("bad", "2", "6.1.0-26-default", "6.1.0-25-default SMP preempt mod_unload modversions")):
        ko = kobuild.write_module(work / f"{key}.ko", f"livepatch_{version}_1_1", vermagic=vermagic,
                                  functions=["livepatch_cmdline_proc_show"])
        built[key] = build_from_template(str(work), str(ko), release, version,
                                         CHANGELOG.get(key, CHANGELOG["1"]), template_path(),
                                         macros_path())
    return built


@pytest.fixture
def mock(klp_mockroot, livepatches):
    klp_mockroot.publish(*livepatches.values())
    with open(os.path.join(klp_mockroot.root, "etc/sysconfig/livepatching"), "a") as handle:
        handle.write('LIVEPATCH_WAIT="1"\n')
    return klp_mockroot


def patches(mock):
    return mock.klp("-v", "patches", check=True).stdout


def test_install_loads_and_rebuilds_initrd(mock):
    r = mock.zypper("in", f"{PKG}=1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "klp: livepatch_1_1_1 (kernel-livepatch-6_1_0-26-default-1-1.1.x86_64) is loaded" in r.stdout
    assert f"{PKG}-1-1.1" in mock.installed()
    assert patches(mock).startswith("livepatch_1_1_1\n    active: 1\n")
    assert mock.initrd_log() == ["-f --kver 6.1.0-26-default"]
    assert not os.listdir(os.path.join(mock.root, "run/regenerate-initrd"))


def test_upgrade_replaces_and_shows_new_cves(mock):
    mock.zypper("in", f"{PKG}=1", check=True)
    mock.kernel.release()
    r = mock.zypper("in", f"{PKG}=3")
    assert r.returncode == 0, r.stdout + r.stderr
    out = patches(mock)
    assert out == ("livepatch_1_1_1\n    active: 0\n\n"
                   "livepatch_3_1_1\n    active: 1\n"
                   "    RPM: kernel-livepatch-6_1_0-26-default-3-1.1.x86_64\n"
                   "    CVE: CVE-2024-1086 CVE-2024-26585\n"
                   "    bug fixes and enhancements: bsc#1219434 bsc#1220187\n")
    assert mock.klp("status").stdout == "ready\n"
    assert mock.initrd_log() == ["-f --kver 6.1.0-26-default"] * 2


def test_held_transition_refuses_the_next_install(mock):
    mock.zypper("in", f"{PKG}=3", check=True)  # memdb-stats holds v3's transition
    assert mock.klp("status").stdout == "in_progress\n"
    r = mock.zypper("in", f"{PKG}=4")
    assert r.returncode == 8, r.stdout + r.stderr
    assert "klp: cannot install kernel-livepatch-6_1_0-26-default-4-1.1: the live patch transition of " \
           "livepatch_3_1_1 is still in progress, blocked by PID 4242 (memdb-stats)" in r.stderr
    assert f"{PKG}-3-1.1" in mock.installed() and f"{PKG}-4-1.1" not in mock.installed()
    assert patches(mock).startswith("livepatch_3_1_1\n    active: 1\n")
    mock.kernel.release()
    r = mock.zypper("in", f"{PKG}=4")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "livepatch_4_1_1\n    active: 1\n" in patches(mock)


def test_erase_leaves_reboot_notice(mock):
    mock.zypper("in", f"{PKG}=1", check=True)
    assert mock.zypper("needs-rebooting").returncode == 0
    r = mock.zypper("rm", PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "kernel-livepatch-6_1_0-26-default-1-1.1 removed; the running kernel keeps the live patch " \
           "until a reboot" in r.stdout
    r = mock.zypper("needs-rebooting")
    assert r.returncode == 102 and "Reboot is required" in r.stdout
    lines = mock.klp("-v", "status").stdout.splitlines()
    assert lines[1] == "transition: livepatch_1_1_1 is being applied"  # memdb-stats still holds it
    assert lines[2].startswith(f"reboot needed: live patch package {PKG}-1-1.1 was removed")
    assert mock.initrd_log() == ["-f --kver 6.1.0-26-default"] * 2
    assert mock.klp("patches").stdout == "livepatch_1_1_1\n"  # still loaded until the reboot


REMOVED = 'klp_reboot_needed{reason="livepatch_removed"}'
ZYPP = 'klp_reboot_needed{reason="zypp"}'


def reboot_claims(mock):
    """What each reader says about a pending reboot: ``klp -v status`` lines, the JSON verdict
    and reasons, the two metric series, check_klp's line, ``zypper needs-rebooting``'s exit."""
    lines = [line for line in mock.klp("-v", "status", check=True).stdout.splitlines()
             if line.startswith("reboot needed:")]
    doc = json.loads(mock.klp("--json", "status", check=True).stdout)
    series = dict(line.rsplit(" ", 1) for line in mock.klp("metrics", check=True).stdout.splitlines()
                  if line.startswith("klp_reboot_needed{"))
    check = mock.run(os.path.join(os.path.dirname(sys.executable), "check_klp"),
                     "--root", mock.root).stdout
    return (lines, doc["reboot_needed"], [r["package"] for r in doc["reboot_reasons"]],
            (series[REMOVED], series[ZYPP]), "reboot needed" in check,
            mock.zypper("needs-rebooting").returncode)


def simkernel(*args):
    exe = os.path.join(os.path.dirname(sys.executable), "klp-simkernel")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=True)


def notices_file(mock):
    path = os.path.join(mock.root, "var/lib/klp/reboot-needed.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["notices"]


def test_a_reboot_ends_the_removal_notice_and_nothing_else_does(mock):
    mock.zypper("in", f"{PKG}=1", check=True)
    mock.zypper("rm", PKG, check=True)
    boot = open(os.path.join(mock.root, "proc/sys/kernel/random/boot_id")).read().strip()
    (notice,) = notices_file(mock)
    assert notice["package"] == f"{PKG}-1-1.1" and notice["boot"] == boot
    removed = f"reboot needed: live patch package {PKG}-1-1.1 was removed; the running kernel " \
              "keeps its code until a reboot"
    claims = reboot_claims(mock)
    assert claims[0][0].startswith(removed) and claims[1:] == (True, [f"{PKG}-1-1.1"], ("1", "1"),
                                                               True, 102)

    # Without a reboot nothing ends it: time passing, the patch's transition completing, klp
    # running again as root (metrics keeps its cache), a mutating run (another kernel's patch).
    mock.kernel.advance(86400)
    mock.kernel.release()
    mock.zypper("in", "kernel-livepatch-6_1_0-27-default", check=True)
    assert reboot_claims(mock) == claims

    # The machine reboots: /run is a fresh tmpfs, the boot id is new, the patch module is gone.
    out = simkernel("reboot", mock.root).stdout
    assert out.startswith("rebooted: boot id ") and boot not in out
    assert not os.listdir(os.path.join(mock.root, "run"))
    assert mock.klp("-v", "patches", check=True).stdout == ""
    assert reboot_claims(mock) == ([], False, [], ("0", "0"), False, 0)
    assert notices_file(mock) == [notice]  # only read so far: readers never write

    # The next mutating run cleans the earlier boot's notice out of /var.
    r = mock.zypper("in", f"{PKG}=3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert notices_file(mock) is None
    assert reboot_claims(mock) == ([], False, [], ("0", "0"), False, 0)
    # and a removal in this boot is claimed again, stamped with this boot
    mock.kernel.release()
    mock.zypper("rm", PKG, check=True)
    (again,) = notices_file(mock)
    assert again["package"] == f"{PKG}-3-1.1" and again["boot"] != boot
    assert reboot_claims(mock)[1:] == (True, [f"{PKG}-3-1.1"], ("1", "1"), True, 102)


def test_never_mode_installs_without_loading(mock):
    with open(os.path.join(mock.root, "etc/sysconfig/livepatching"), "a") as handle:
        handle.write('LIVEPATCH_KERNEL="never"\n')
    r = mock.zypper("in", f"{PKG}=1")
    assert r.returncode == 0 and f"{PKG}-1-1.1" in mock.installed()
    assert mock.klp("patches").stdout == ""
    assert mock.initrd_log() == ["-f --kver 6.1.0-26-default"]


def test_other_kernel_installs_without_loading(mock):
    os.makedirs(os.path.join(mock.upper, "lib/modules/6.1.0-27-default"))
    open(os.path.join(mock.upper, "lib/modules/6.1.0-27-default/modules.dep"), "w").close()
    r = mock.zypper("in", "kernel-livepatch-6_1_0-27-default")
    assert r.returncode == 0, r.stdout + r.stderr
    assert mock.klp("patches").stdout == ""
    assert mock.initrd_log() == ["-f --kver 6.1.0-27-default"]


def test_plain_rpm_does_the_same_as_zypper(mock, livepatches):
    r = mock.rpm("-U", livepatches["1"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "livepatch_1_1_1 (kernel-livepatch-6_1_0-26-default-1-1.1.x86_64) is loaded" in r.stderr
    assert patches(mock).startswith("livepatch_1_1_1\n    active: 1\n")
    assert mock.initrd_log() == ["-f --kver 6.1.0-26-default"]


def test_failing_initrd_generator_warns_and_keeps_the_flag(mock):
    with open(os.path.join(mock.root, "etc/sysconfig/bootloader"), "w") as handle:
        handle.write('INITRD_GENERATOR="/bin/false"\n')
    r = mock.zypper("in", f"{PKG}=1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "re-run: /bin/false -f --kver 6.1.0-26-default" in r.stdout
    assert os.listdir(os.path.join(mock.root, "run/regenerate-initrd")) == ["6.1.0-26-default"]
    assert f"{PKG}-1-1.1" in mock.installed()


def test_load_failure_is_reported_recorded_and_truthful(mock):
    r = mock.zypper("in", f"{PKG}=2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "klp: warning: livepatch-2-1.1.ko was built for kernel 6.1.0-25-default, the running " \
           "kernel is 6.1.0-26-default" in r.stdout
    assert f"{PKG}-2-1.1" in mock.installed()
    assert mock.klp("status").stdout == "ready\n" and mock.klp("patches").stdout == ""
    assert "last load: livepatch-2-1.1.ko was built for kernel 6.1.0-25-default" in \
        mock.klp("-v", "status").stdout


def test_interrupted_before_posttrans_converges(mock, livepatches):
    """rpm --noposttrans leaves the state of a transaction killed between %post and %posttrans."""
    r = mock.rpm("-U", "--noposttrans", livepatches["1"])
    assert r.returncode == 0, r.stderr
    assert mock.klp("patches").stdout == ""
    assert os.listdir(os.path.join(mock.root, "run/regenerate-initrd")) == ["6.1.0-26-default"]
    hook = ["chroot", mock.root, "/usr/lib/zypp-plugin-klp/klp-hook", "posttrans", PKG, "1-1.1"]
    r = mock.run(*hook)
    assert r.returncode == 0, r.stderr
    assert patches(mock).startswith("livepatch_1_1_1\n    active: 1\n")
    assert mock.initrd_log() == ["-f --kver 6.1.0-26-default"]
    assert mock.run(*hook).returncode == 0  # again: a no-op
    assert mock.initrd_log() == ["-f --kver 6.1.0-26-default"]
