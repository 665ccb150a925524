"""The dracut module finds live patches in both kernel layouts: /lib/modules and the usr-merged
/usr/lib/modules (its check() and installkernel() run by bash against a sysroot, as dracut does).
Which file goes into the initrd is the product's verdict (klp-hook initrd-module, verified like a
runtime load; tests/rpm/test_dracut_gate.py runs the real one): here a stand-in names it."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO

SETUP = os.path.join(REPO, "dracut", "90kernel-livepatch", "module-setup.sh")
KERNEL = "6.4.0-150600.23.25-default"


def dracut_module(sysroot, verdict: str = "") -> subprocess.CompletedProcess:
    """check(), then installkernel() with inst_simple recording what it would put in the initrd;
    the product's verdict (the verified module's path, or a refusal when empty) from a stand-in."""
    hook = os.path.join(str(sysroot), "klp-hook-standin")
    with open(hook, "w", encoding="utf-8") as handle:
        handle.write(f"#!/bin/sh\n[ -n '{verdict}' ] || exit 1\necho '{verdict}'\n")
    os.chmod(hook, 0o755)
    script = (f'source {SETUP}; inst_simple() {{ echo "inst_simple $*"; }}; '
              'check; echo "check $?"; installkernel')
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ["PATH"], "kernel": KERNEL, "klp_hook": hook,
                               "initdir": str(sysroot / "initdir"),
                               "dracutsysrootdir": str(sysroot)})


@pytest.mark.parametrize("base", ["lib/modules", "usr/lib/modules"])
def test_the_verified_live_patch_of_either_layout_goes_into_the_initrd(tmp_path, base):
    directory = tmp_path / base / KERNEL / "livepatch"
    directory.mkdir(parents=True)
    for name in ("livepatch-9-1.ko", "livepatch-10-1.ko"):
        (directory / name).write_bytes(b"ko")
    verified = f"/{base}/{KERNEL}/livepatch/livepatch-9-1.ko"  # not the newest file name
    r = dracut_module(tmp_path, verified)
    assert r.stdout.splitlines() == ["check 0", f"inst_simple {verified}"], r.stdout + r.stderr
    assert (tmp_path / "initdir/etc/kernel-livepatch.module").read_text() == verified + "\n"
    r = dracut_module(tmp_path, "")  # refused (or none installed): nothing goes in
    assert r.stdout.splitlines() == ["check 0"], r.stdout + r.stderr


def test_usr_merged_root_with_lib_symlink_installs_one_file(tmp_path):
    directory = tmp_path / "usr/lib/modules" / KERNEL / "livepatch"
    directory.mkdir(parents=True)
    (directory / "livepatch-3-1.ko").write_bytes(b"ko")
    os.symlink("usr/lib", tmp_path / "lib")
    lines = dracut_module(tmp_path, f"/usr/lib/modules/{KERNEL}/livepatch/livepatch-3-1.ko")\
        .stdout.splitlines()
    assert lines == ["check 0", f"inst_simple /usr/lib/modules/{KERNEL}/livepatch/livepatch-3-1.ko"]


def test_no_live_patch_leaves_the_module_out(tmp_path):
    (tmp_path / "usr/lib/modules" / KERNEL).mkdir(parents=True)
    assert dracut_module(tmp_path).stdout.splitlines() == ["check 255"]


BUSYBOX = shutil.which("busybox")


@pytest.mark.needs("root", "busybox")
@pytest.mark.parametrize("merged", [False, True])
def test_boot_script_loads_the_recorded_live_patch_once(tmp_path, merged):
    """kernel-livepatch.sh as the initrd runs it, chrooted into a root with a static busybox
    (insmod, uname and dracut's info/warn stood in by shell functions): only the file
    module-setup.sh recorded is loaded, whatever else lies in either layout."""
    root = tmp_path
    (root / "bin").mkdir()
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    (root / "usr/lib/modules/6.1.0-26-default/livepatch").mkdir(parents=True)
    (root / "usr/lib/modules/6.1.0-26-default/livepatch/livepatch-2-1.ko").write_bytes(b"ko")
    if merged:
        os.symlink("usr/lib", root / "lib")
    else:
        (root / "lib/modules/6.1.0-26-default/livepatch").mkdir(parents=True)
        (root / "lib/modules/6.1.0-26-default/livepatch/livepatch-1-1.ko").write_bytes(b"ko")
    recorded = "/usr/lib/modules/6.1.0-26-default/livepatch/livepatch-2-1.ko"
    (root / "etc").mkdir()
    (root / "etc/kernel-livepatch.module").write_text(recorded + "\n")
    shutil.copy(os.path.join(REPO, "dracut", "90kernel-livepatch", "kernel-livepatch.sh"), root / "hook.sh")
    prelude = ('uname() { echo 6.1.0-26-default; }; insmod() { echo "insmod $1"; }; '
               'info() { echo "$*"; }; warn() { echo "$*"; }; . /hook.sh')
    r = subprocess.run(["chroot", str(root), "/bin/busybox", "sh", "-c", prelude], capture_output=True,
                       text=True, timeout=30)
    loaded = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("insmod")]
    assert loaded == [recorded], r.stdout + r.stderr
