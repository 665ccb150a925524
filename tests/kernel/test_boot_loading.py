"""Boot-time loading: our dracut module puts the newest live patch into the initrd (built with the
real dracut, a private unpacked copy) and loads it before user space starts (proved under qemu)."""

import os

import pytest

from . import qemu_harness

WHY = qemu_harness.missing() or (
    None if os.path.exists(os.path.join(qemu_harness.PRIVATE_DRACUT, "usr/bin/dracut"))
    else "the private dracut is not unpacked (make setup does it)")


@pytest.mark.skipif(WHY is not None, reason=f"boot-time loading cannot be tested here: {WHY}")
def test_dracut_initrd_loads_the_newest_live_patch_at_boot(tmp_path):
    release = qemu_harness.installed_kernel()
    built = qemu_harness.build_modules(release, str(tmp_path / "built"))
    v1 = tmp_path / "livepatch-1-1.1.ko"
    v2 = tmp_path / "livepatch-2-1.1.ko"
    v1.write_bytes(open(built["livepatch_1_1_1"], "rb").read())
    v2.write_bytes(open(built["livepatch_2_1_1"], "rb").read())
    image = qemu_harness.build_dracut_initrd(release, [str(v1), str(v2)], str(tmp_path / "initrd"))
    console = qemu_harness.boot_console(release, image)
    reports = [line.split("KLP-REPORT: ", 1)[1].strip() for line in console.splitlines()
               if "KLP-REPORT: " in line]
    assert "livepatch_2_1_1 enabled=1 transition=0" in reports, console[-3000:]
    assert "cmdline=klp-test-patched-v2" in reports, console[-3000:]
    assert not any(r.startswith("livepatch_1_1_1") for r in reports)  # only the newest goes in
    assert not os.path.exists(f"/lib/modules/{release}/livepatch")  # the host was not touched
