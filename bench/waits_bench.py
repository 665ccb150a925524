"""Bounded waits, timed (moved here from the tests, which assert effects, never wall-clock):
the commit plugin's COMMITBEGIN wait for a held transition against the wait it is configured for
(target <= 1.2x), and taking klp's lock after its holder was killed against an uncontended lock
(target: the kernel drops the flock at once, <= 2x). Prints one ``BENCH {json}`` line each."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "fixtures"))

import kobuild  # noqa: E402

from zypp_plugin_klp import plugin  # noqa: E402
from zypp_plugin_klp.drivers import host  # noqa: E402
from zypp_plugin_klp.sim.driver import SimulatedKernel  # noqa: E402

SCENARIO = os.path.join(REPO, "fixtures", "scenarios", "demo.yaml")
VERMAGIC = "6.1.0-26-default SMP preempt mod_unload modversions"
PKG = "kernel-livepatch-6_1_0-26-default"
WAIT = 1.0


def plugin_wait(work: str) -> dict:
    sim = SimulatedKernel.from_scenario(os.path.join(work, "root"), SCENARIO)
    os.makedirs(os.path.join(sim.root, "etc/sysconfig"))
    with open(os.path.join(sim.root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write(f"LIVEPATCH_PLUGIN_WAIT={WAIT:g}\n")
    sim.load(kobuild.write_module(os.path.join(work, "lp1.ko"), "livepatch_1_1_1", vermagic=VERMAGIC,
                                  functions=["livepatch_cmdline_proc_show"]))
    step = {"type": "+", "solvable": {"n": PKG, "v": "2", "r": "1.1", "a": "x86_64"}}
    body = json.dumps({"TransactionStepList": [step]}).encode()
    data = b"PLUGINBEGIN\n\n\0COMMITBEGIN\n\n" + body + b"\0PLUGINEND\n\n\0_DISCONNECT\n\n\0"
    rin, win = os.pipe()
    rout, wout = os.pipe()
    os.write(win, data)
    os.close(win)
    started = time.monotonic()
    plugin.serve(rin, wout, plugin.CommitPlugin(sim.root, {}))
    elapsed = time.monotonic() - started
    for fd in (rin, wout, rout):
        os.close(fd)
    return {"name": "plugin_commitbegin_wait", "configured_s": WAIT, "elapsed_s": round(elapsed, 3),
            "ratio": round(elapsed / WAIT, 2), "target": "<= 1.2"}


def lock_after_killed_holder(work: str) -> dict:
    root = os.path.join(work, "lockroot")
    os.makedirs(root)
    started = time.monotonic()
    with host.Lock(root):
        pass
    free = time.monotonic() - started
    code = ("import sys, time; from zypp_plugin_klp.drivers import host; "
            "host.Lock(sys.argv[1]).__enter__(); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, root], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with host.Lock(root):
        pass
    after_kill = time.monotonic() - started
    return {"name": "lock_after_killed_holder", "uncontended_s": round(free, 6),
            "after_kill_s": round(after_kill, 6), "ratio": round(after_kill / max(free, 1e-6), 2),
            "target": "<= 2"}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="klp-waits-bench.") as work:
        for record in (plugin_wait(work), lock_after_killed_holder(work)):
            sys.stdout.write("BENCH " + json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
