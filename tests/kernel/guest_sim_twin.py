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

pytestmark = pytest.mark.skipif(not os.path.exists(MODULES), reason="runs only inside the guest")


class Real(sim_twin.Machine):
    """The guest's running kernel, driven by the product's LinuxKernel driver."""

    def __init__(self) -> None:
        from zypp_plugin_klp.drivers.linux import LinuxKernel

        self.kernel = LinuxKernel("/")

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
        for name in ("klp_sim_a", "klp_sim_b", "klp_sim_fail", sim_twin.TARGET):
            subprocess.run(["rmmod", name], capture_output=True)
    with open("/mnt/twin.json", "w") as handle:
        json.dump(records, handle, indent=1)
    assert os.listdir("/sys/kernel/livepatch") == []
