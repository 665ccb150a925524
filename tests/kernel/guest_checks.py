"""Checks that run INSIDE the qemu guest (tests/kernel/qemu_harness.py boots it), against the real
kernel's livepatch implementation with the real LinuxKernel driver and the real klp CLI. They run
in file order: each step builds on the state the previous one left, as an administrator would."""

import errno
import json
import os
import subprocess
import sys
import time

import pytest

from zypp_plugin_klp.drivers.linux import LinuxKernel
from zypp_plugin_klp.errors import KernelError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sim_twin  # noqa: E402  (the held module's worker, shared with guest_sim_twin.py)

MODULES = "/mnt/modules"
KLP = os.path.join(os.path.dirname(sys.executable), "klp")
HOLD = "/sys/module/klp_test_held/parameters/hold"

pytestmark = pytest.mark.skipif(not os.path.exists(MODULES), reason="runs only inside the guest")


def klp(*args):
    return subprocess.run([KLP, *args], capture_output=True, text=True, timeout=120)


def cmdline():
    with open("/proc/cmdline") as handle:
        return handle.read()


def kernel():
    return LinuxKernel("/")


def hold(value):
    """Set the worker's hold and wait (bounded) until its stack shows it inside, or out of, the
    held function (the original or the live patch's replacement), not for a guessed time."""
    with open(HOLD, "w") as handle:
        handle.write(f"{value}\n")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ("klp_test_held_func" in sim_twin.worker_stack()) == bool(value):
            return
        time.sleep(0.02)  # polling the observable state
    raise AssertionError(f"the worker did not {'enter' if value else 'leave'} the held function: "
                         f"{sim_twin.worker_stack()!r}")


def test_01_ready_without_patches():
    assert klp("status").stdout == "ready\n"
    assert klp("check").returncode == 0
    assert klp("patches").stdout == ""


def test_02_load_v1_patches_proc_cmdline():
    assert kernel().load(f"{MODULES}/livepatch_1_1_1.ko") == "livepatch_1_1_1"
    assert klp("wait", "--timeout", "60").returncode == 0
    assert cmdline() == "klp-test-patched-v1\n"
    assert klp("patches").stdout == "livepatch_1_1_1\n"
    assert klp("-v", "patches").stdout.startswith("livepatch_1_1_1\n    active: 1\n")
    (patch,) = json.loads(klp("--json", "patches").stdout)["patches"]
    assert (patch["enabled"], patch["transition"], list(patch["objects"])) == (1, 0, ["vmlinux"])


def test_03_replace_with_v2_keeps_v1_loaded():
    kernel().load(f"{MODULES}/livepatch_2_1_1.ko")
    assert klp("wait", "--timeout", "60").returncode == 0
    assert cmdline() == "klp-test-patched-v2\n"
    assert os.listdir("/sys/kernel/livepatch") == ["livepatch_2_1_1"]
    assert os.path.isdir("/sys/module/livepatch_1_1_1")
    assert klp("-v", "patches").stdout.startswith("livepatch_1_1_1\n    active: 0\n\nlivepatch_2_1_1\n"
                                                  "    active: 1\n")


def test_04_held_transition_is_in_progress_and_named():
    subprocess.run(["insmod", f"{MODULES}/klp_test_held.ko"], check=True)
    hold(1)
    kernel().load(f"{MODULES}/livepatch_held_1_1.ko")
    assert klp("status").stdout == "in_progress\n"
    assert klp("check").returncode == 1
    verbose = klp("-vv", "blocking").stdout
    assert "[klp_held_worker]" in verbose and "klp_test_held_func" in verbose, verbose
    waited = klp("wait", "--timeout", "2", "--interval", "0.5")
    assert waited.returncode == 1 and "[klp_held_worker]" in waited.stderr


def test_05_another_load_meanwhile_is_ebusy():
    with pytest.raises(KernelError) as exc:
        kernel().load(f"{MODULES}/livepatch_3_1_1.ko")
    assert exc.value.errno == errno.EBUSY
    assert "another live patch transition is in progress" in str(exc.value)
    assert not os.path.exists("/sys/module/livepatch_3_1_1")


def test_06_release_completes_the_transition():
    hold(0)
    assert klp("wait", "--timeout", "60").returncode == 0
    assert klp("status").stdout == "ready\n"


def test_07_force_completes_a_held_unpatch():
    hold(1)  # the worker now sleeps in the replacement: unpatching must wait for it
    kernel().disable("livepatch_held_1_1")
    assert klp("status").stdout == "in_progress\n"
    forced = klp("force", "-n")
    assert forced.returncode == 0 and forced.stdout == "forced livepatch_held_1_1\n"
    assert klp("wait", "--timeout", "60").returncode == 0
    hold(0)


def test_08_disable_restores_the_original():
    kernel().disable("livepatch_2_1_1")
    assert klp("wait", "--timeout", "60").returncode == 0
    assert "console=ttyS0" in cmdline()
    assert klp("patches").stdout.splitlines() == ["livepatch_1_1_1", "livepatch_2_1_1",
                                                  "livepatch_held_1_1"]


def test_09_wrong_vermagic_is_refused_by_us_and_by_the_kernel():
    path = f"{MODULES}/wrong_vermagic.ko"
    with pytest.raises(KernelError, match="was built for kernel"):
        kernel().load(path)
    k = kernel()
    info = __import__("zypp_plugin_klp.drivers.modfiles", fromlist=["read_module"]).read_module(path)
    fd = os.open(path, os.O_RDONLY)
    with pytest.raises(KernelError) as exc:
        k._insert(fd, info, path)  # what the kernel itself says without our preflight
    os.close(fd)
    assert exc.value.errno == errno.ENOEXEC and "does not fit the running kernel" in str(exc.value)
    assert not os.path.exists("/sys/module/livepatch_3_1_1")


def test_10_unload_once_patches_left_sysfs():
    for name in ("livepatch_1_1_1", "livepatch_2_1_1"):
        kernel().unload(name)
    with pytest.raises(KernelError) as exc:
        kernel().unload("livepatch_1_1_1")
    assert exc.value.errno == errno.ENOENT
    forced = subprocess.run(["rmmod", "livepatch_held_1_1"], capture_output=True, text=True)
    print(f"rmmod of a forced patch module: exit {forced.returncode} {forced.stderr.strip()}")
    assert klp("status").stdout == "ready\n"


def test_11_packaged_patch_loaded_by_the_posttrans_hook():
    """The v1 patch as an RPM from our template, installed into a root on tmpfs that sees the real
    /sys and /proc; the %posttrans hook loads it with finit_module; klp reads RPM and CVEs."""
    root = "/run/klp-root"
    for sub in ("sys", "proc", "var/lib/rpm"):
        os.makedirs(f"{root}/{sub}", exist_ok=True)
    subprocess.run(["mount", "--bind", "/sys", f"{root}/sys"], check=True)
    subprocess.run(["mount", "--bind", "/proc", f"{root}/proc"], check=True)
    subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts",
                    f"{MODULES}/livepatch.rpm"], check=True, capture_output=True)
    release = os.uname().release
    package = "kernel-livepatch-" + release.rsplit("-", 1)[0].replace(".", "_") + "-" + \
        release.rsplit("-", 1)[1]
    hook = subprocess.run([sys.executable, "-m", "zypp_plugin_klp.hooks", "posttrans", package, "1-1.1",
                           "--root", root], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "KLP_WAIT": "30"})
    assert hook.returncode == 0, hook.stderr
    assert f"klp: livepatch_1_1_1 ({package}-1-1.1.x86_64) is active" in hook.stderr, hook.stderr
    assert cmdline() == "klp-test-patched-v1\n"
    out = klp("--root", root, "-v", "patches").stdout
    assert f"livepatch_1_1_1\n    active: 1\n    RPM: {package}-1-1.1.x86_64\n" \
           "    CVE: CVE-2024-1086\n    bug fixes and enhancements: bsc#1219434\n" in out, out


# -- klp tells the truth (issue 14): fixture modules klp_truth_*, checks test_truth_* ------------

def _truth_disable_all():
    """Disable every enabled live patch and wait: a clean slate for the refusal checks."""
    for name in os.listdir("/sys/kernel/livepatch"):
        if open(f"/sys/kernel/livepatch/{name}/enabled").read().strip() == "1":
            kernel().disable(name)
            assert klp("wait", "--timeout", "60").returncode == 0


def test_truth_1_stacked_patches_objects_functions_and_the_effective_one():
    kernel().load(f"{MODULES}/klp_truth_stack_a.ko")
    assert klp("wait", "--timeout", "60").returncode == 0
    kernel().load(f"{MODULES}/klp_truth_stack_b.ko")
    assert klp("wait", "--timeout", "60").returncode == 0
    assert cmdline() == "klp-truth-stack-b\n"  # the kernel runs the newest enabled patch
    listed = sorted(os.listdir("/sys/kernel/livepatch/klp_truth_stack_b"))
    assert "klp_truth_absent" in listed and "vmlinux" in listed, listed
    blocks = {b.split("\n", 1)[0]: b + "\n" for b in klp("-vv", "patches").stdout.split("\n\n")}
    a, b = blocks["klp_truth_stack_a"], blocks["klp_truth_stack_b"]
    assert "    active: 1\n" in a and "    active: 1\n" in b
    assert "    object vmlinux: patched\n        function cmdline_proc_show,1: overridden by " \
           "klp_truth_stack_b\n" in a, a
    assert "        function cmdline_proc_show,1: effective\n" in b, b
    assert "    object klp_truth_absent: not patched (module not loaded)\n" \
           "        function klp_truth_absent_func,1: effective\n" in b, b
    doc = json.loads(klp("--json", "patches").stdout)
    (stack_b,) = [p for p in doc["patches"] if p["name"] == "klp_truth_stack_b"]
    assert stack_b["objects"] == {"klp_truth_absent": 0, "vmlinux": 1}
    for name in ("klp_truth_stack_b", "klp_truth_stack_a"):
        kernel().disable(name)
        assert klp("wait", "--timeout", "60").returncode == 0
        kernel().unload(name)


def test_truth_2_a_refusing_pre_patch_callback_is_named_with_the_kernel_log():
    with pytest.raises(KernelError) as exc:
        kernel().load(f"{MODULES}/klp_truth_callback.ko")
    message = str(exc.value)
    print(f"callback refusal: {message}")
    assert exc.value.errno == errno.ENODEV
    assert "klp_truth_callback's own pre-patch callback refused to patch (ENODEV)" in message
    assert "the kernel log says:" in message and "pre-patch callback failed for object 'vmlinux'" \
        in message, message
    assert not os.path.exists("/sys/module/klp_truth_callback")


def test_truth_3_an_incompatible_klp_state_is_named():
    kernel().load(f"{MODULES}/klp_truth_state_new.ko")
    assert klp("wait", "--timeout", "60").returncode == 0
    with pytest.raises(KernelError) as exc:
        kernel().load(f"{MODULES}/klp_truth_state_old.ko")
    message = str(exc.value)
    print(f"klp_state refusal: {message}")
    assert exc.value.errno == errno.EINVAL
    assert "klp_truth_state_old is incompatible with the system states (klp_state)" in message
    assert "is not compatible with the already installed livepatches" in message, message
    assert cmdline() == "klp-truth-state-v2\n"


def test_truth_4_ftrace_disabled_is_named_not_a_transition():
    _truth_disable_all()  # live patch ftrace ops are permanent: ftrace cannot be disabled under them
    with open("/proc/sys/kernel/ftrace_enabled", "w") as handle:
        handle.write("0\n")
    try:
        with pytest.raises(KernelError) as exc:
            kernel().load(f"{MODULES}/klp_truth_stack_a.ko")
        message = str(exc.value)
        print(f"ftrace refusal: {message}")
        assert exc.value.errno == errno.EBUSY
        assert "ftrace is disabled (sysctl kernel.ftrace_enabled=0)" in message, message
        assert "another live patch transition" not in message
        assert klp("status").stdout == "ready\n"
    finally:
        with open("/proc/sys/kernel/ftrace_enabled", "w") as handle:
            handle.write("1\n")
