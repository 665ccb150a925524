"""Boot the distribution's kernel under qemu with the host's files shared read-only over 9p and
run the in-guest checks (guest_checks.py) against the real kernel; results come back over a
writable share. One boot serves the whole batch."""

import glob
import os
import re
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Dict, List, Optional

if TYPE_CHECKING:
    from zypp_plugin_klp.testing.mockroot import MockRoot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KMOD_SOURCES = os.path.join(REPO, "fixtures", "kmod")
NINEP = ["kernel/fs/9p/9p.ko", "kernel/net/9p/9pnet_virtio.ko", "kernel/drivers/virtio/virtio_pci.ko"]
BOOT_TIMEOUT = 300


def installed_kernel() -> Optional[str]:
    """The release of the installed linux-image with headers (not uname -r: that is the host's)."""
    for vmlinuz in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        release = vmlinuz[len("/boot/vmlinuz-"):]
        if os.path.isdir(f"/usr/src/linux-headers-{release}") and \
                os.path.isfile(f"/lib/modules/{release}/modules.dep"):
            return release
    return None


def missing() -> Optional[str]:
    """Why the real-kernel suite cannot run here, or None."""
    if os.geteuid() != 0:
        return "qemu's 9p shares with security_model=none need root"
    for tool in ("qemu-system-x86_64", "make"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make test installs qemu-system-x86)"
    if not os.path.exists("/bin/busybox"):
        return "busybox-static is not installed"
    if installed_kernel() is None:
        return "no linux-image with matching linux-headers is installed"
    return None


def build_modules(release: str, out: str) -> Dict[str, str]:
    """Build the fixture modules against the headers; add one with a wrong vermagic."""
    work = os.path.join(out, "build")
    shutil.copytree(KMOD_SOURCES, work)
    os.makedirs(os.path.join(out, "rpm"))
    subprocess.run(["make", "-s", "-C", f"/usr/src/linux-headers-{release}", f"M={work}", "modules"],
                   check=True, capture_output=True, timeout=300)
    modules = os.path.join(out, "modules")
    os.makedirs(modules)
    for ko in glob.glob(os.path.join(work, "*.ko")):
        shutil.copy(ko, modules)
    data = open(os.path.join(modules, "livepatch_3_1_1.ko"), "rb").read()
    # Another release AND other flags: with modversions the kernel compares only the flags part
    # of vermagic (the symbol CRCs stand in for the release), so both must differ for a refusal.
    wrong = data.replace(f"vermagic={release} SMP preempt mod_unload".encode(),
                         f"vermagic={_other(release)} SMP preempt mod_unlo4d".encode(), 1)
    assert wrong != data, "vermagic not found"
    with open(os.path.join(modules, "wrong_vermagic.ko"), "wb") as handle:
        handle.write(wrong)
    _package(release, os.path.join(modules, "livepatch_1_1_1.ko"), modules, out)
    return {os.path.basename(p)[:-3]: p for p in glob.glob(os.path.join(modules, "*.ko"))}


def _package(release: str, ko: str, modules: str, out: str) -> None:
    """The v1 live patch as a kernel-livepatch RPM, built from our spec template (hooks included)."""
    sys.path.insert(0, REPO)
    from zypp_plugin_klp.testing.packages import build_from_template

    rpm = build_from_template(os.path.join(out, "rpm"), ko, release, "1",
                              "- Fix CVE-2024-1086 in nf_tables (bsc#1219434)",
                              os.path.join(REPO, "specfiles", "kernel-livepatch.spec"),
                              os.path.join(REPO, "rpm-hooks", "macros.klp"))
    shutil.copy(rpm, os.path.join(modules, "livepatch.rpm"))


def _other(release: str) -> str:
    """A release of the same length that is not this one (for a wrong vermagic)."""
    return re.sub(r"-(\d+)-", lambda m: "-" + ("9" * len(m.group(1))) + "-", release, count=1)


def _load_order(release: str) -> List[str]:
    deps: Dict[str, List[str]] = {}
    with open(f"/lib/modules/{release}/modules.dep", encoding="utf-8") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            deps[name] = rest.split()
    order: List[str] = []

    def visit(module: str) -> None:
        for dep in deps.get(module, []):
            visit(dep)
        if module not in order:
            order.append(module)

    for module in NINEP:
        visit(module)
    return order


INIT = """#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /host
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in $($B cat /modules.order); do $B insmod /lib/modules/$m || echo "init: insmod $m failed"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /host || echo "init: no hostroot"
$B mount -t 9p -o trans=virtio,version=9p2000.L results /host/mnt || echo "init: no results share"
$B mount -t proc proc /host/proc
$B mount -t sysfs sys /host/sys
$B mount -o bind /dev /host/dev
$B mount -t tmpfs run /host/run
$B mkdir -p /host/mnt/tmp
# /tmp stays the host's (read-only; the repository may live there): scratch space is the share
$B chroot /host /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/mnt TMPDIR=/mnt/tmp \\
    LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 {python} -m pytest -q -p no:cacheprovider -o addopts= --capture=sys \\
    --junitxml=/mnt/junit.xml --rootdir={repo} {repo}/tests/kernel/guest_sim_twin.py \\
    {repo}/tests/kernel/guest_checks.py \\
    > /host/mnt/guest.log 2>&1
echo $? > /host/mnt/rc
$B sync
$B poweroff -f
"""


def build_initramfs(release: str, out: str) -> str:
    stage = os.path.join(out, "initramfs")
    os.makedirs(os.path.join(stage, "bin"))
    os.makedirs(os.path.join(stage, "lib/modules"))
    shutil.copy("/bin/busybox", os.path.join(stage, "bin/busybox"))
    order = _load_order(release)
    for module in order:
        shutil.copy(f"/lib/modules/{release}/{module}", os.path.join(stage, "lib/modules"))
    with open(os.path.join(stage, "modules.order"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(os.path.basename(m) for m in order) + "\n")
    with open(os.path.join(stage, "init"), "w", encoding="utf-8") as handle:
        handle.write(INIT.format(python=sys.executable, repo=REPO))
    os.chmod(os.path.join(stage, "init"), 0o755)
    image = os.path.join(out, "initramfs.cpio")
    files = subprocess.run(["/bin/busybox", "find", "."], cwd=stage, capture_output=True, text=True,
                           check=True).stdout
    with open(image, "wb") as handle:
        subprocess.run(["/bin/busybox", "cpio", "-o", "-H", "newc"], cwd=stage, input=files.encode(),
                       stdout=handle, stderr=subprocess.DEVNULL, check=True)
    return image


def boot(out: str) -> Dict[str, object]:
    """Build everything under ``out``, boot, and return {rc, log, console, junit}."""
    release = installed_kernel()
    assert release is not None
    results = os.path.join(out, "results")
    os.makedirs(results)
    build_modules(release, results)
    image = build_initramfs(release, out)
    argv = ["qemu-system-x86_64", "-machine", "q35", "-m", "1536", "-smp", "2", "-nographic",
            "-no-reboot", "-kernel", f"/boot/vmlinuz-{release}", "-initrd", image,
            "-append", "console=ttyS0 panic=-1 loglevel=4",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={results},mount_tag=results,security_model=none,multidevs=remap"]
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=BOOT_TIMEOUT,
                             stdin=subprocess.DEVNULL)
        console = run.stdout + run.stderr
    except subprocess.TimeoutExpired as exc:
        console = (exc.stdout or b"").decode("utf-8", "replace") if isinstance(exc.stdout, bytes) \
            else (exc.stdout or "")
        console += f"\nwatchdog: qemu killed after {BOOT_TIMEOUT}s"

    def read(name: str) -> str:
        path = os.path.join(results, name)
        return open(path, encoding="utf-8", errors="replace").read() if os.path.exists(path) else ""

    return {"release": release, "rc": read("rc").strip(), "log": read("guest.log"),
            "junit": read("junit.xml"), "console": console,
            "twin": read("twin.json"), "modules": os.path.join(results, "modules")}


PRIVATE_DRACUT = os.path.join(REPO, ".cache", "dracut")
REPORT_HOOK = """#!/bin/sh
# test hook (cmdline/05, right after ours at 01): what the kernel says before user space starts
for p in /sys/kernel/livepatch/*; do
    [ -d "$p" ] && echo "KLP-REPORT: ${p##*/} enabled=$(cat $p/enabled) transition=$(cat $p/transition)" > /dev/console
done
echo "KLP-REPORT: cmdline=$(cat /proc/cmdline)" > /dev/console
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger
"""


GENERATOR = """#!/bin/sh
# INITRD_GENERATOR for the test (klp-hook calls it as: -f --kver RELEASE): the machine's dracut with
# the modules the test needs (all the others would only make the initrd slower to build) and the
# report hook, writing /boot/initrd-RELEASE.
exec /usr/bin/dracut --no-hostonly --no-compress --no-early-microcode --conf /dev/null \\
    --confdir /var/empty -m "bash base kernel-livepatch" \\
    --include /opt/klp-test/klp-report.sh /lib/dracut/hooks/cmdline/05-klp-report.sh \\
    "$@" "/boot/initrd-$3"
"""


def use_real_dracut(mock: "MockRoot") -> None:
    """Give a mock root the machine's dracut (the private unpacked copy, into its /usr overlay)
    and make it the root's initrd generator, so that klp-hook's rebuilds are real initrds."""
    shutil.copytree(os.path.join(PRIVATE_DRACUT, "usr"), mock.upper, symlinks=True,
                    dirs_exist_ok=True)
    for sub in ("boot", "var/tmp", "var/empty"):
        os.makedirs(os.path.join(mock.root, sub), exist_ok=True)
    for name, text in (("klp-report.sh", REPORT_HOOK), ("dracut-real", GENERATOR)):
        path = os.path.join(mock.root, "opt/klp-test", name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, 0o755)
    with open(os.path.join(mock.root, "etc/sysconfig/bootloader"), "w", encoding="utf-8") as handle:
        handle.write('INITRD_GENERATOR="/opt/klp-test/dracut-real"\n')


def boot_console(release: str, image: str, timeout: int = 120) -> str:
    """Boot ``image`` and return what the console printed."""
    argv = ["qemu-system-x86_64", "-machine", "q35", "-m", "1024", "-nographic", "-no-reboot",
            "-kernel", f"/boot/vmlinuz-{release}", "-initrd", image,
            "-append", "console=ttyS0 panic=-1 rd.shell=0 rd.emergency=poweroff"]
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        return run.stdout + run.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return out + f"\nwatchdog: qemu killed after {timeout}s"
