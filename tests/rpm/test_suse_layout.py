"""SUSE's live patch spec layout built with our macros through the packager harness.

The fixture in fixtures/suse-layout follows the public layout of SUSE's live patch sources
(source package kernel-livepatch-SLE15-SP6_Update_11, the per-flavor subpackage from
%klp_module_package, the module built by each flavor's kernel build tree into livepatch/, a
separate .changes file); the kernel-syms build trees are stand-ins (fixtures/suse-layout/linux-obj.mk).
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURES

from zypp_plugin_klp.testing.packages import BuildError

SUSE = os.path.join(FIXTURES, "suse-layout")
SPEC = "kernel-livepatch-SLE15-SP6_Update_11.spec"
RELEASE = "6.1.0-26-default"
PKG = "kernel-livepatch-6_1_0-26-default"


def kernel_obj(base, releases=(RELEASE,), **config: str) -> str:
    """Stand-in kernel-syms build trees (one per release's flavor) under ``base``; returns the
    directory %klp_kernel_obj names."""
    obj = os.path.join(str(base), "linux-obj", "x86_64")
    for release in releases:
        tree = os.path.join(obj, release.rpartition("-")[2])
        os.makedirs(os.path.join(tree, "include", "config"))
        with open(os.path.join(tree, "include", "config", "kernel.release"), "w") as handle:
            handle.write(release + "\n")
        shutil.copy(os.path.join(SUSE, "linux-obj.mk"), os.path.join(tree, "Makefile"))
        settings = {"PYTHON": sys.executable, "KOBUILD": os.path.join(FIXTURES, "kobuild.py"), **config}
        with open(os.path.join(tree, "config.mk"), "w") as handle:
            handle.write("".join(f"{key} := {value}\n" for key, value in settings.items()))
    return obj


def sources(tmp_path, version: str = "1", changes: str = "") -> str:
    """A copy of the SUSE-layout sources; ``version`` as the next update of the branch would set
    it, ``changes`` prepended to the .changes file as a new entry."""
    src = tmp_path / f"src-{version}"
    shutil.copytree(SUSE, src)
    spec = src / SPEC
    spec.write_text(re.sub(r"(?m)^Version:( +)1$", rf"Version:\g<1>{version}", spec.read_text()))
    if changes:
        log = src / SPEC.replace(".spec", ".changes")
        log.write_text(changes + log.read_text())
    return str(src)


def query(rpm: str, fmt: str) -> str:
    # --dbpath: Debian's rpm would otherwise create ~/.rpmdb to answer a package-file query
    empty = os.path.join(os.path.dirname(rpm), ".query-db")
    return subprocess.run(["rpm", "--dbpath", empty, "-qp", "--qf", fmt, rpm], capture_output=True,
                          text=True, check=True).stdout


def build(klp_rpmbuild, tmp_path, version: str = "1", changes: str = "", **defines: str) -> str:
    src = sources(tmp_path, version, changes)
    defines.setdefault("klp_kernel_obj", kernel_obj(tmp_path / f"obj-{version}"))
    (rpm,) = klp_rpmbuild(f"{src}/{SPEC}", src, build_requires="skip", **defines)
    return rpm


def test_suse_spec_builds_the_flavor_subpackage(klp_rpmbuild, tmp_path):
    rpm = build(klp_rpmbuild, tmp_path)
    assert os.path.basename(rpm) == f"{PKG}-1-1.x86_64.rpm"
    files = query(rpm, "[%{FILENAMES}\n]").split()
    assert f"/lib/modules/{RELEASE}/livepatch/livepatch-1-1.ko" in files
    info = [f for f in files if f.startswith("/usr/share/livepatch/info/livepatch_1_1-")]
    assert len(info) == 1 and re.fullmatch(r".*-[0-9A-F]{23}", info[0]), files
    requires = query(rpm, "[%{REQUIREFLAGS:deptype} %{REQUIRENAME}\n]")
    for stage in ("pre", "post", "postun", "posttrans"):
        assert f"{stage} zypp-plugin-klp" in requires
    scripts = query(rpm, "%{PREIN}\n%{POSTTRANS}")
    assert f"klp-hook pre {PKG} 1-1 " in scripts and f"klp-hook posttrans {PKG} 1-1" in scripts
    assert "--kernel" not in scripts  # the hook derives the kernel from the subpackage's name
    assert query(rpm, "%{SUMMARY}") == "Kernel live patch module"  # what 'zypper se' shows, as SUSE's


@pytest.mark.needs("modinfo", "rpm2cpio", "cpio")
def test_info_file_is_named_and_laid_out_as_suses_spec_does(klp_rpmbuild, tmp_path):
    """SUSE's spec names the info file '$(modinfo -F name)-$(modinfo -F srcversion)' of the built
    module and installs it 0644 under %{_datadir}/livepatch/info: ours, made by our macros, must
    be the same file for the same module, checked with the real modinfo (kmod)."""
    rpm = build(klp_rpmbuild, tmp_path)
    tree = tmp_path / "unpacked"
    tree.mkdir()
    cpio = subprocess.run(["rpm2cpio", rpm], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=tree, check=True)
    ko = str(tree / "lib" / "modules" / RELEASE / "livepatch" / "livepatch-1-1.ko")
    name, srcversion = (subprocess.run(["modinfo", "-F", field, ko], capture_output=True, text=True,
                                       check=True).stdout.strip() for field in ("name", "srcversion"))
    modes = dict(line.split() for line in query(rpm, "[%{FILENAMES} %{FILEMODES:octal}\n]").splitlines())
    assert modes[f"/usr/share/livepatch/info/{name}-{srcversion}"] == "100644", modes


def test_suse_package_behaves_like_suses(klp_mockroot, klp_rpmbuild, tmp_path):
    v1 = build(klp_rpmbuild, tmp_path)
    v2 = build(klp_rpmbuild, tmp_path, "2", changes=(
        "-------------------------------------------------------------------\n"
        "Wed Nov 25 08:00:00 UTC 2026 - Live Patching Team <klp@example.com>\n\n"
        "- Fix an out-of-bounds read in tls_decrypt_done (CVE-2024-26585, bsc#1220211)\n\n"))
    klp_mockroot.publish(v1, v2)
    r = klp_mockroot.zypper("in", f"{PKG}=1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"livepatch_1_1 ({PKG}-1-1.x86_64) is loaded" in r.stdout
    assert klp_mockroot.klp("-v", "patches").stdout == (
        "livepatch_1_1\n    active: 1\n"
        f"    RPM: {PKG}-1-1.x86_64\n"
        "    CVE: CVE-2024-1086\n"
        "    bug fixes and enhancements: bsc#1219434 bsc#1220187\n")
    # memdb-stats sleeps in the patched function: the %pre gate refuses version 2
    assert klp_mockroot.klp("status").stdout == "in_progress\n"
    r = klp_mockroot.zypper("in", f"{PKG}=2")
    assert r.returncode == 8, r.stdout + r.stderr
    assert f"cannot install {PKG}-2-1: the live patch transition of livepatch_1_1 is still in " \
           "progress, blocked by PID 4242 (memdb-stats)" in r.stderr
    klp_mockroot.kernel.release()
    r = klp_mockroot.zypper("in", f"{PKG}=2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CVE: CVE-2024-1086 CVE-2024-26585" in klp_mockroot.klp("-v", "patches").stdout
    r = klp_mockroot.zypper("rm", PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"klp: {PKG}-2-1 removed; the running kernel keeps the live patch until a reboot" in r.stdout


def standin_kernel_syms(tmp_path) -> str:
    """A stand-in kernel-syms RPM: the build tree of kernel 6.1.0-26-default under
    /usr/src/linux-obj/x86_64/default, as kernel-syms installs it on SUSE's build hosts."""
    tree = tmp_path / "kernel-syms-tree"
    obj = kernel_obj(tree / "usr/src", KOBUILD="/usr/src/linux-obj/x86_64/default/kobuild.py",
                     PYTHON="/usr/bin/python3")
    os.rename(os.path.dirname(obj), tree / "usr/src/linux-obj")
    shutil.copy(os.path.join(FIXTURES, "kobuild.py"), tree / "usr/src/linux-obj/x86_64/default")
    spec = tmp_path / "kernel-syms.spec"
    spec.write_text(f"""Name: kernel-syms
Version: 6.1.0
Release: 26
Summary: Stand-in for SUSE's kernel-syms (build trees of the kernel flavors)
License: GPL-2.0-only
%description
Stand-in for tests.
%install
cp -a {tree}/. %{{buildroot}}/
%files
/usr/src/linux-obj
""")
    top = tmp_path / "kernel-syms-top"
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", f"_dbpath {top}/db",
                    "--define", "__os_install_post %{nil}", "--define", "debug_package %{nil}",
                    str(spec)], check=True, capture_output=True)
    (rpm,) = (top / "RPMS").glob("*/*.rpm")
    return str(rpm)


def test_build_requires_unchecked_by_default_say_which_policies(klp_rpmbuild, tmp_path):
    src = sources(tmp_path)
    with pytest.raises(BuildError, match="build_requires='skip' or build_requires=klp_mockroot"):
        klp_rpmbuild(f"{src}/{SPEC}", src, klp_kernel_obj=kernel_obj(tmp_path))


def test_build_requires_resolved_from_the_mock_roots_repositories(klp_mockroot, klp_rpmbuild, tmp_path):
    from zypp_plugin_klp.testing.packages import build_plain_rpm

    src = sources(tmp_path)
    with pytest.raises(BuildError, match="cannot be resolved from the mock root's repositories"):
        klp_rpmbuild(f"{src}/{SPEC}", src, build_requires=klp_mockroot)
    klp_mockroot.publish(standin_kernel_syms(tmp_path),
                         *(build_plain_rpm(str(tmp_path), name) for name in
                           ("kernel-livepatch-tools-devel", "libelf-devel")))
    (rpm,) = klp_rpmbuild(f"{src}/{SPEC}", src, build_requires=klp_mockroot)
    assert {"kernel-syms-6.1.0-26", "libelf-devel-1-1"} <= set(klp_mockroot.installed())
    assert os.path.basename(rpm) == f"{PKG}-1-1.x86_64.rpm"
    klp_mockroot.publish(rpm)
    assert klp_mockroot.zypper("in", PKG).returncode == 0
    assert "CVE: CVE-2024-1086" in klp_mockroot.klp("-v", "patches").stdout


@pytest.mark.parametrize("extra, message", [
    ("--field depends=ext4", "a live patch must not depend on other modules (depends: ext4)"),
    ("--section .klp.rela.vmlinux.__jump_table", "a live patch must not carry .klp.rela.vmlinux.__jump_table"),
])
def test_build_refuses_a_module_that_fails_suses_checks(klp_rpmbuild, tmp_path, extra, message):
    with pytest.raises(BuildError) as failed:
        build(klp_rpmbuild, tmp_path, klp_kernel_obj=kernel_obj(tmp_path, EXTRA=extra))
    assert f"klp-packager: error: " in str(failed.value) and message in str(failed.value)
    assert "livepatch-1-1.ko: " in str(failed.value)


def test_build_without_a_kernel_says_so(klp_rpmbuild, tmp_path):
    with pytest.raises(BuildError, match="klp_module_package: no kernel to build for: define "
                                         "klp_kernel_release"):
        build(klp_rpmbuild, tmp_path, klp_kernel_obj=str(tmp_path / "no-kernel-syms"))


def test_one_subpackage_per_flavor(klp_rpmbuild, tmp_path):
    src = sources(tmp_path)
    obj = kernel_obj(tmp_path, (RELEASE, "6.1.0-26-rt"))
    rpms = klp_rpmbuild(f"{src}/{SPEC}", src, build_requires="skip", klp_kernel_obj=obj)
    assert [os.path.basename(r) for r in rpms] == [f"{PKG}-1-1.x86_64.rpm",
                                                    "kernel-livepatch-6_1_0-26-rt-1-1.x86_64.rpm"]
    assert query(rpms[1], "[%{FILENAMES}\\n]").split()[:2] == [
        "/lib/modules/6.1.0-26-rt/livepatch", "/lib/modules/6.1.0-26-rt/livepatch/livepatch-1-1.ko"]


HAND_WRITTEN = """Name: {name}
Version: 1
Release: 1
Summary: Live patches, hand-written subpackage
License: GPL-2.0-only
Source0: livepatch.ko
%klp_requires
%description
Hand-written.
%package -n {sub}
Summary: Kernel live patch module
%klp_requires
%description -n {sub}
Hand-written subpackage.
%install
install -D -m 0644 %{{SOURCE0}} %{{buildroot}}/lib/modules/{release}/livepatch/livepatch-1-1.ko
install -D -m 0644 %{{SOURCE0}} %{{buildroot}}/opt/{name}/unused.ko
%pre
%klp_pre
%pre -n {sub}
%klp_pre -n {sub}
%post -n {sub}
%klp_post -n {sub}
%postun -n {sub}
%klp_postun -n {sub}
%posttrans -n {sub}
%klp_posttrans -n {sub}
%files
/opt/{name}
%files -n {sub}
/lib/modules/{release}/livepatch
"""


def test_hand_written_subpackage_and_unusable_main_package(klp_mockroot, klp_rpmbuild, tmp_path, build_ko):
    """-n NAME names the subpackage (its kernel derived from that name); the main package's
    %klp_pre gets a name that names no kernel: a warning, never a refused install."""
    src = tmp_path / "hand"
    src.mkdir()
    shutil.copy(build_ko("livepatch_1_1"), src / "livepatch.ko")
    main = "kernel-livepatch-SLE15-SP6_Update_11"
    spec = src / "hand.spec"
    spec.write_text(HAND_WRITTEN.format(name=main, sub=PKG, release=RELEASE))
    rpms = klp_rpmbuild(str(spec), str(src), build_requires="skip")
    assert sorted(os.path.basename(r) for r in rpms) == [f"{PKG}-1-1.x86_64.rpm", f"{main}-1-1.x86_64.rpm"]
    klp_mockroot.kernel.exit(4242)
    klp_mockroot.publish(*rpms)
    r = klp_mockroot.zypper("in", main, PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"klp-hook: warning: cannot tell the kernel of {main}" in r.stdout + r.stderr
    assert f"klp: livepatch_1_1 ({PKG}-1-1.x86_64) is active" in r.stdout
    assert {f"{main}-1-1", f"{PKG}-1-1"} <= set(klp_mockroot.installed())


def test_usr_merged_kernel_layout(klp_mockroot, klp_rpmbuild, tmp_path):
    """A kernel that installs modules under /usr/lib/modules (Tumbleweed, SLE 16): the package
    owns /usr/lib/modules/<release>/livepatch/..., and the loader, its integrity check and
    'klp -v patches' find it there."""
    rpm = build(klp_rpmbuild, tmp_path, klp_kernel_obj=kernel_obj(
        tmp_path, KERNEL_MODULE_DIRECTORY="/usr/lib/modules"))
    files = query(rpm, "[%{FILENAMES}\\n]").split()
    assert f"/usr/lib/modules/{RELEASE}/livepatch/livepatch-1-1.ko" in files
    assert not any(f.startswith("/lib/") for f in files)
    klp_mockroot.kernel.exit(4242)
    klp_mockroot.publish(rpm)
    r = klp_mockroot.zypper("in", PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"klp: livepatch_1_1 ({PKG}-1-1.x86_64) is active" in r.stdout
    patches = klp_mockroot.klp("-v", "patches").stdout
    assert f"RPM: {PKG}-1-1.x86_64" in patches and "CVE: CVE-2024-1086" in patches
    assert klp_mockroot.initrd_log() == [f"-f --kver {RELEASE}"]


def test_newer_suse_spec_makes_its_own_info_file(klp_rpmbuild, tmp_path, monkeypatch):
    """SUSE's newer layout: one flavor (%flavor), and the spec runs 'klp rpm_changes_to_klp_info'
    itself when %klp_package_name is defined; the info file it installs is the one packaged."""
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")  # our klp
    src = sources(tmp_path)
    spec = "kernel-livepatch-SLE15-SP7_Update_5.spec"
    (rpm,) = klp_rpmbuild(f"{src}/{spec}", src, build_requires="skip",
                          klp_kernel_obj=kernel_obj(tmp_path / "obj"))
    assert os.path.basename(rpm) == f"{PKG}-1-1.x86_64.rpm"
    (info,) = [f for f in query(rpm, "[%{FILENAMES}\\n]").split() if "/livepatch/info/" in f]
    assert re.fullmatch(r"/usr/share/livepatch/info/livepatch_1_1-[0-9A-F]{23}", info)
    content = subprocess.run(["rpm2cpio", rpm], capture_output=True, check=True).stdout
    assert b"RPM: kernel-livepatch-6_1_0-26-default-1-1.x86_64\nCVE: CVE-2024-1086\n" in content
