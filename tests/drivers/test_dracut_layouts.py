"""The dracut module finds live patches in both kernel layouts: /lib/modules and the usr-merged
/usr/lib/modules (its check() and installkernel() run by bash against a sysroot, as dracut does)."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO

SETUP = os.path.join(REPO, "dracut", "90kernel-livepatch", "module-setup.sh")
KERNEL = "6.4.0-150600.23.25-default"


def dracut_module(sysroot) -> subprocess.CompletedProcess:
    """check(), then installkernel() with inst_simple recording what it would put in the initrd."""
    script = (f'source {SETUP}; inst_simple() {{ echo "inst_simple $*"; }}; '
              'check; echo "check $?"; installkernel')
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ["PATH"], "kernel": KERNEL,
                               "dracutsysrootdir": str(sysroot)})


@pytest.mark.parametrize("base", ["lib/modules", "usr/lib/modules"])
def test_newest_live_patch_of_either_layout_goes_into_the_initrd(tmp_path, base):
    directory = tmp_path / base / KERNEL / "livepatch"
    directory.mkdir(parents=True)
    for name in ("livepatch-9-1.ko", "livepatch-10-1.ko"):
        (directory / name).write_bytes(b"ko")
    r = dracut_module(tmp_path)
    assert r.stdout.splitlines() == ["check 0", f"inst_simple /{base}/{KERNEL}/livepatch/livepatch-10-1.ko"]


def test_usr_merged_root_with_lib_symlink_installs_one_file(tmp_path):
    directory = tmp_path / "usr/lib/modules" / KERNEL / "livepatch"
    directory.mkdir(parents=True)
    (directory / "livepatch-3-1.ko").write_bytes(b"ko")
    os.symlink("usr/lib", tmp_path / "lib")
    lines = dracut_module(tmp_path).stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith("inst_simple /") and \
        lines[1].endswith(f"lib/modules/{KERNEL}/livepatch/livepatch-3-1.ko"), lines


def test_no_live_patch_leaves_the_module_out(tmp_path):
    (tmp_path / "usr/lib/modules" / KERNEL).mkdir(parents=True)
    assert dracut_module(tmp_path).stdout.splitlines() == ["check 255"]


BUSYBOX = shutil.which("busybox")


@pytest.mark.needs("root", "busybox")
@pytest.mark.parametrize("merged", [False, True])
def test_boot_script_loads_each_live_patch_once(tmp_path, merged):
    """kernel-livepatch.sh as the initrd runs it, chrooted into a root with a static busybox
    (insmod, uname and dracut's info/warn stood in by shell functions)."""
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
    shutil.copy(os.path.join(REPO, "dracut", "90kernel-livepatch", "kernel-livepatch.sh"), root / "hook.sh")
    prelude = ('uname() { echo 6.1.0-26-default; }; insmod() { echo "insmod $1"; }; '
               'info() { echo "$*"; }; warn() { echo "$*"; }; . /hook.sh')
    r = subprocess.run(["chroot", str(root), "/bin/busybox", "sh", "-c", prelude], capture_output=True,
                       text=True, timeout=30)
    loaded = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("insmod")]
    lib = "/lib/modules/6.1.0-26-default/livepatch"
    if merged:  # one file, seen through /lib and /usr/lib: loaded once
        assert loaded == [f"{lib}/livepatch-2-1.ko"], r.stdout + r.stderr
    else:
        assert loaded == [f"{lib}/livepatch-1-1.ko", f"/usr{lib}/livepatch-2-1.ko"], r.stdout + r.stderr
