"""Boot-time loading on an installed system: in a mock root, zypper installs zypp-plugin-klp's RPM
(which ships the dracut module) and live patch RPMs built from the template for the machine's real
kernel; the hooks' initrd rebuild runs the real dracut with the installed module; that initrd,
booted under qemu, loads the newest live patch before user space starts."""

import os

from zypp_plugin_klp.core.names import package_name
from zypp_plugin_klp.testing import capabilities
from zypp_plugin_klp.testing.mockroot import MockRoot
from zypp_plugin_klp.testing.packages import build_from_template
from zypp_plugin_klp.testing.plugin import macros_path, template_path

from . import qemu_harness

WHY = qemu_harness.missing() or (
    None if os.path.exists(os.path.join(qemu_harness.PRIVATE_DRACUT, "usr/bin/dracut"))
    else "the private dracut is not unpacked (make setup does it)")
MODULE_DIR = "/usr/lib/dracut/modules.d/90kernel-livepatch"


def test_installed_packages_load_the_newest_live_patch_at_boot(tmp_path, klp_product_rpm):
    if WHY:
        capabilities.unavailable(f"boot-time loading cannot be tested here: {WHY}")
    release = qemu_harness.installed_kernel()
    built = qemu_harness.build_modules(release, str(tmp_path / "built"))
    rpms = [build_from_template(str(tmp_path), built[f"livepatch_{v}_1_1"], release, v,
                                f"- live patch {v}", template_path(), macros_path()) for v in "12"]
    mock = MockRoot(str(tmp_path / "server")).create(klp_product_rpm)
    owned = mock.rpm("-ql", "zypp-plugin-klp", check=True).stdout.splitlines()
    assert f"{MODULE_DIR}/module-setup.sh" in owned and f"{MODULE_DIR}/kernel-livepatch.sh" in owned
    qemu_harness.use_real_dracut(mock)
    mock.publish(*rpms)
    pkg = package_name(release)
    zypper = ("zypper", "--non-interactive", "--no-gpg-checks", "install")
    mock.chroot(*zypper, f"{pkg}=1", check=True)
    # issue 15, finding 2: a file no package owns, world-writable, owned by nobody, holding the old
    # v1 code, named to sort after livepatch-2 (the ungated module took the newest file name)
    foreign = os.path.join(mock.upper, f"lib/modules/{release}/livepatch/livepatch-10-1.1.ko")
    with open(built["livepatch_1_1_1"], "rb") as src, open(foreign, "wb") as dst:
        dst.write(src.read())
    os.chown(foreign, 65534, 65534)
    os.chmod(foreign, 0o666)
    r = mock.chroot(*zypper, pkg, check=True)  # 2 replaces 1; %posttrans rebuilds the initrd
    assert "it will load when that kernel boots" in r.stdout, r.stdout
    assert [p for p in mock.installed() if p.startswith(pkg)] == [f"{pkg}-2-1.1"]
    image = os.path.join(mock.root, f"boot/initrd-{release}")
    assert os.path.exists(image), r.stdout + r.stderr
    console = qemu_harness.boot_console(release, image)
    reports = [line.split("KLP-REPORT: ", 1)[1].strip() for line in console.splitlines()
               if "KLP-REPORT: " in line]
    assert "livepatch_2_1_1 enabled=1 transition=0" in reports, console[-3000:]
    assert "cmdline=klp-test-patched-v2" in reports, console[-3000:]
    assert not any(r.startswith("livepatch_1_1_1") for r in reports)  # 2 only, verified
    assert not os.path.exists(f"/lib/modules/{release}/livepatch")  # the host was not touched
