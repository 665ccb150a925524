"""Runs INSIDE the qemu guest, before guest_checks.py: the simulator twin's story (sim_twin.py)
on the real kernel, recorded to the results share for the host to replay on the simulator.
It leaves the kernel as it found it (every module it loaded removed)."""

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sim_twin  # noqa: E402

MODULES = "/mnt/modules"
FTRACE = "/proc/sys/kernel/ftrace_enabled"
DYNDBG = "/proc/dynamic_debug/control"
# what the kernel's livepatch selftests (functions.sh) write there: the core's pr_debug lines on,
# but not the per-task ones of klp_try_switch_task
SELFTESTS_DYNDBG = ("file kernel/livepatch/* +p", "func klp_try_switch_task -p")

HOLD = f"/sys/module/{sim_twin.HELD}/parameters/hold"


pytestmark = pytest.mark.skipif(not os.path.exists(MODULES), reason="runs only inside the guest")


class Real(sim_twin.Machine):
    """The guest's running kernel, driven by the product's LinuxKernel driver."""

    def __init__(self) -> None:
        from zypp_plugin_klp.drivers.linux import LinuxKernel

        self.kernel = LinuxKernel("/")
        for line in SELFTESTS_DYNDBG:
            with open(DYNDBG, "w") as handle:
                handle.write(line + "\n")
        self.kmsg = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.kmsg, 0, os.SEEK_END)  # only what the story makes the kernel say

    def log(self):
        import errno

        messages = []
        while True:
            try:
                record = os.read(self.kmsg, 8192).decode("utf-8", "replace")
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    return messages
                if exc.errno == errno.EPIPE:  # overwritten records: read on
                    continue
                raise
            head, _, text = record.partition(";")
            if int(head.split(",")[0]) < 8:  # the kernel's own records, not user space's
                messages.append(text.split("\n", 1)[0])

    def rmmod_target(self) -> None:
        subprocess.run(["rmmod", sim_twin.TARGET], check=True)

    def insmod_held(self) -> None:
        subprocess.run(["insmod", f"{MODULES}/{sim_twin.HELD}.ko"], check=True)

    def hold(self, held: bool) -> None:
        """Set the worker's hold and wait until its stack shows it in the replacement, or not."""
        import time

        with open(HOLD, "w") as handle:
            handle.write(f"{int(held)}\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ("held_replacement" in sim_twin.worker_stack()) == held:
                return
            time.sleep(0.02)  # polling the observable state
        raise AssertionError(f"the worker did not {'enter' if held else 'leave'} the replacement")

    def force(self, name: str) -> None:
        self.kernel.force(name)

    def load(self, name: str) -> None:
        self.kernel.load(f"{MODULES}/{name}.ko")

    def insmod_target(self) -> None:
        subprocess.run(["insmod", f"{MODULES}/{sim_twin.TARGET}.ko"], check=True)

    def disable(self, name: str) -> None:
        self.kernel.disable(name)

    def unload(self, name: str) -> None:
        self.kernel.unload(name)

    def ftrace(self, enabled: bool) -> None:
        import errno

        from zypp_plugin_klp.errors import KernelError

        try:
            with open(FTRACE, "w") as handle:
                handle.write(f"{int(enabled)}\n")
        except OSError as exc:
            raise KernelError(str(exc), exc.errno or errno.EIO) from None

    def wait(self) -> None:
        sim_twin.wait_idle("/")


def test_sim_twin_story_on_the_real_kernel():
    try:
        records = sim_twin.tell(Real())
    finally:
        with open(FTRACE, "w") as handle:
            handle.write("1\n")
        with open(DYNDBG, "w") as handle:
            handle.write("file kernel/livepatch/* -p\n")
        if os.path.exists(HOLD):
            with open(HOLD, "w") as handle:
                handle.write("0\n")
        # the forced patch's module is pinned until reboot: remove it by force (the checks that
        # follow in this boot expect no live patch module loaded)
        subprocess.run(["rmmod", "-f", "klp_sim_held"], capture_output=True)
        for name in ("klp_sim_a", "klp_sim_b", "klp_sim_fail", sim_twin.TARGET, sim_twin.HELD):
            subprocess.run(["rmmod", name], capture_output=True)
    with open("/mnt/twin.json", "w") as handle:
        json.dump(records, handle, indent=1)
    assert os.listdir("/sys/kernel/livepatch") == []
    assert not os.path.exists("/sys/module/klp_sim_held"), "the pinned module could not be removed"
