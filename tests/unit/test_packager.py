"""klp-packager: the build-time checks (SUSE's lp-mod-checks) and the info files from .changes."""

import subprocess
import sys

import pytest

from conftest import VERMAGIC

import kobuild

from zypp_plugin_klp.core.klpinfo import parse_info, render_info

JUMP = ".klp.rela.vmlinux.__jump_table"


def packager(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zypp_plugin_klp.packager", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("kw, problem", [
    ({}, None),
    ({"fields": [("depends", "ext4,jbd2")]},
     "a live patch must not depend on other modules (depends: ext4,jbd2)"),
    ({"sections": [JUMP]}, f"a live patch must not carry {JUMP}"),
    ({"sections": [".klp.rela.vmlinux.text", "__jump_table"]}, None),  # neither is a klp jump table
    ({"livepatch": False, "fields": [("depends", "ext4")], "sections": [JUMP]}, None),  # not a live patch
])
def test_check_module(tmp_path, kw, problem):
    ko = kobuild.write_module(tmp_path / "livepatch-1-1.ko", "livepatch_1_1", vermagic=VERMAGIC, **kw)
    r = packager("check-module", ko)
    if problem is None:
        assert (r.returncode, r.stderr) == (0, "")
    else:
        assert r.returncode == 1
        assert r.stderr.startswith(f"klp-packager: error: {ko}: {problem}") and r.stderr.count("\n") == 1


def test_check_module_refuses_what_is_no_module(tmp_path):
    bad = tmp_path / "x.ko"
    bad.write_bytes(b"\x7fELF garbage")
    r = packager("check-module", str(bad))
    assert r.returncode == 1 and r.stderr.startswith(f"klp-packager: error: {bad}: not a kernel module")
    assert packager("check-module").returncode == 2  # usage


def test_changes_to_info_round_trip(tmp_path):
    changes = tmp_path / "kernel-livepatch-SLE15-SP6_Update_11.changes"
    changes.write_text("-------------------------------------------------------------------\n"
                       "Tue Nov 24 09:12:41 UTC 2026 - klp@example.com\n\n"
                       "- Fix nft_verdict_init (CVE-2024-1086, bsc#1219434)\n"
                       "- Fix tls (cve-2024-26585 boo#1220211)\n")
    out = tmp_path / "info" / "livepatch_1_1-ABC"
    r = packager("changes-to-info", str(changes), "kernel-livepatch-6_1_0-26-default-1-1.x86_64", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text == render_info("kernel-livepatch-6_1_0-26-default-1-1.x86_64", changes.read_text())
    assert text.splitlines()[0] == "RPM: kernel-livepatch-6_1_0-26-default-1-1.x86_64"
    assert parse_info(text) == (["CVE-2024-1086", "CVE-2024-26585"], ["boo#1220211", "bsc#1219434"])
    assert parse_info("garbage\n\x00:\nCVE:\n") == ([], [])
    assert parse_info("garbage\nRPM: x-1-1.noarch\n") is None  # no field of ours: not our format
    r = packager("changes-to-info", str(tmp_path / "missing.changes"), "x-1-1.noarch", str(out))
    assert r.returncode == 1 and "cannot read" in r.stderr


def test_info_file_is_read_only_when_regular_and_matching(tmp_path):
    import os

    from zypp_plugin_klp.drivers.modfiles import read_info, same_file_paths

    assert same_file_paths("/lib/modules/r/livepatch/a.ko") == [
        "/lib/modules/r/livepatch/a.ko", "/usr/lib/modules/r/livepatch/a.ko"]
    assert same_file_paths("/usr/lib/modules/r/livepatch/a.ko")[1] == "/lib/modules/r/livepatch/a.ko"
    assert same_file_paths("/opt/a.ko") == ["/opt/a.ko"]
    ko = tmp_path / "lib/modules/r/livepatch/livepatch-1-1.ko"
    ko.parent.mkdir(parents=True)
    kobuild.write_module(ko, "livepatch_1_1", vermagic=VERMAGIC, fields=[("srcversion", "0123ABC")])
    info = tmp_path / "usr/share/livepatch/info"
    info.mkdir(parents=True)
    path = "/lib/modules/r/livepatch/livepatch-1-1.ko"
    assert read_info(str(tmp_path), "livepatch_1_1", path) is None
    (info / "livepatch_1_1-OTHER").write_text("CVE: CVE-2020-0001\n")  # another build's info
    assert read_info(str(tmp_path), "livepatch_1_1", path) is None
    os.mkfifo(info / "livepatch_1_1-0123ABC")
    assert read_info(str(tmp_path), "livepatch_1_1", path) is None  # never blocks on a FIFO
    os.unlink(info / "livepatch_1_1-0123ABC")
    os.symlink("livepatch_1_1-OTHER", info / "livepatch_1_1-0123ABC")
    assert read_info(str(tmp_path), "livepatch_1_1", path) is None  # no symlink followed
    os.unlink(info / "livepatch_1_1-0123ABC")
    (info / "livepatch_1_1-0123ABC").write_text("RPM: x\nCVE: CVE-2024-1086\n")
    assert parse_info(read_info(str(tmp_path), "livepatch_1_1", path) or "") == (["CVE-2024-1086"], [])


def test_klp_check_module_and_rpm_changes_to_klp_info(tmp_path):
    """The same steps as klp commands (SUSE's newer specs call 'klp rpm_changes_to_klp_info')."""
    from conftest import run_klp

    good = kobuild.write_module(tmp_path / "good.ko", "livepatch_1_1", vermagic=VERMAGIC)
    bad = kobuild.write_module(tmp_path / "bad.ko", "livepatch_1_2", vermagic=VERMAGIC, sections=[JUMP])
    assert run_klp("check-module", good).returncode == 0
    r = run_klp("check-module", good, bad)
    assert r.returncode == 1 and r.stderr == f"klp: {bad}: a live patch must not carry {JUMP} " \
        "(jump table relocations into patched objects)\n"
    assert run_klp("check-module").returncode == 2
    assert run_klp("status", "extra").returncode == 2  # operands only where a command takes them
    changes = tmp_path / "p.changes"
    changes.write_text("- Fix CVE-2024-1086 (bsc#1219434)\n")
    out = tmp_path / "livepatch_1_1-ABC"
    r = run_klp("rpm_changes_to_klp_info", str(changes), "kernel-livepatch-6_1_0-26-default-1-1.x86_64", str(out))
    assert r.returncode == 0, r.stderr
    assert parse_info(out.read_text()) == (["CVE-2024-1086"], ["bsc#1219434"])
    assert run_klp("rpm_changes_to_klp_info", str(changes)).returncode == 2
