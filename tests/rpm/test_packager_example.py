"""The README's packager example, run as written (a packager's test in its spec directory)."""

import shutil

from conftest import FIXTURES, VERMAGIC

import kobuild


def test_my_live_patch(klp_mockroot, klp_rpmbuild, tmp_path, monkeypatch):
    shutil.copy(f"{FIXTURES}/../specfiles/kernel-livepatch.spec", tmp_path)
    kobuild.write_module(tmp_path / "livepatch.ko", "livepatch_1_1_1", vermagic=VERMAGIC,
                         functions=["livepatch_cmdline_proc_show"])
    klp_mockroot.kernel.exit(4242)  # nothing holds the transition here
    monkeypatch.chdir(tmp_path)
    # -- from README.md --
    (rpm,) = klp_rpmbuild("kernel-livepatch.spec", ".", build_requires=klp_mockroot,
                          klp_kernel_release="6.1.0-26-default")
    klp_mockroot.publish(rpm)
    assert klp_mockroot.zypper("in", "kernel-livepatch-6_1_0-26-default").returncode == 0
    assert "active: 1" in klp_mockroot.klp("-v", "patches").stdout
    assert klp_mockroot.initrd_log() == ["-f --kver 6.1.0-26-default"]
