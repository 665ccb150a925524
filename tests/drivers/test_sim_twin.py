"""The simulated kernel replays tests/kernel/guest_checks.py's story and must observe what the
real 6.1 kernel did under qemu (each assertion mirrors one made in the guest)."""

import errno

import pytest

from zypp_plugin_klp.sim.scenario import parse_scenario
from zypp_plugin_klp.sim.driver import SimulatedKernel
from zypp_plugin_klp.errors import KernelError

from conftest import run_klp

VERMAGIC = "6.1.0-56-amd64 SMP preempt mod_unload modversions"
SCENARIO = f"""
kernel: {{release: 6.1.0-56-amd64, vermagic: "{VERMAGIC}"}}
processes:
  - {{pid: 1, comm: init, cmdline: [/init], stack: [do_wait]}}
  - {{pid: 77, comm: klp_held_worker, stack: [msleep, klp_test_held_func, kthread]}}
"""


def test_same_story_as_the_real_kernel(tmp_path, build_ko):
    root = str(tmp_path / "twin")
    k = SimulatedKernel.create(root, parse_scenario(SCENARIO))
    cmdline_patch = ["livepatch_cmdline_proc_show"]
    # 02/03: v1, then v2 replaces it; v1 stays loaded with active: 0
    k.load(build_ko("livepatch_1_1_1", cmdline_patch, vermagic=VERMAGIC))
    k.load(build_ko("livepatch_2_1_1", cmdline_patch, vermagic=VERMAGIC))
    assert run_klp("--root", root, "-v", "patches").stdout.startswith(
        "livepatch_1_1_1\n    active: 0\n\nlivepatch_2_1_1\n    active: 1\n")
    # 04: a worker sleeping in the patched function holds the transition (a non-replace patch in
    # the real kernel; the simulator builds every patch with replace, see below)
    k.load(build_ko("livepatch_held_1_1", ["livepatch_klp_test_held_func"], vermagic=VERMAGIC))
    assert run_klp("--root", root, "status").stdout == "in_progress\n"
    assert run_klp("--root", root, "check").returncode == 1
    verbose = run_klp("--root", root, "-vv", "blocking").stdout
    assert "[klp_held_worker]" in verbose and "klp_test_held_func" in verbose
    # 05: another load meanwhile is EBUSY
    with pytest.raises(KernelError) as exc:
        k.load(build_ko("livepatch_3_1_1", cmdline_patch, vermagic=VERMAGIC))
    assert exc.value.errno == errno.EBUSY
    # 06: release completes it
    k.release([77])
    assert run_klp("--root", root, "status").stdout == "ready\n"
    # 09: release-only vermagic differences pass the kernel (modversions), flag differences do not
    with pytest.raises(KernelError) as exc:
        k._insert(-1, __import__("zypp_plugin_klp.core.elfmod", fromlist=["parse_module"])
                  .parse_module(open(build_ko("livepatch_9_1_1", vermagic="6.1.0-99-amd64 SMP preempt "
                                              "mod_unlo4d modversions"), "rb").read()), "x.ko")
    assert exc.value.errno == errno.ENOEXEC
