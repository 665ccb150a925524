"""Benchmark the Salt rollout against the minions' own ``klp update`` times."""

# Usage: .venv/bin/python bench/fleet_bench.py   (make bench runs it; needs .cache/fleet-venv)
#
# Six identical mock roots (real zypper chrooted, our plugin and hooks, live patches 1 and 2 in a
# local repository, v1 installed, nothing holding transitions). Three get `klp update -n` run
# directly, one after the other: the baseline. The other three are salt-minions of a salt-master
# on 127.0.0.1 and get `salt-run state.orchestrate orch.klp_rollout` with batch size 1 (per
# minion: klp.patched = update + wait, then klp.ready). Reported: the rollout's wall time over
# the sum of the three direct updates (ratio), the engine's overhead per host, and the master's
# memory (RSS and PSS over all its processes) after the rollout. For the breakdown: the same
# rollout again once every minion is patched (nothing to install: the engine's own cost) and one
# `salt m0 state.apply klp.ready` from the command line.
# stdout: one "BENCH {json}" line; progress on stderr. Exit 0 when measured, 1 on errors.

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(PROJECT, "fixtures"))
sys.path.insert(0, os.path.join(PROJECT, "tests"))
sys.dont_write_bytecode = True

import kobuild  # noqa: E402

from fleet import engines  # noqa: E402
from zypp_plugin_klp.testing import packages  # noqa: E402
from zypp_plugin_klp.testing.mockroot import (  # noqa: E402
    MockRoot, default_scenario, missing_capabilities)

RELEASE = "6.1.0-26-default"
PKG = "kernel-livepatch-6_1_0-26-default"
VERMAGIC = f"{RELEASE} SMP preempt mod_unload modversions"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def prepare(work: str, product: str, rpms: list, name: str) -> MockRoot:
    mock = MockRoot(os.path.join(work, name)).create(product, default_scenario())
    mock.publish(*rpms)
    mock.kernel.exit(4242)  # nothing holds the transitions: measure the install, not a wait
    mock.chroot("zypper", "--non-interactive", "--no-gpg-checks", "install", f"{PKG}=1", check=True)
    return mock


def main() -> int:
    why = missing_capabilities()
    if why or not os.access(os.path.join(engines.FLEET_BIN, "salt-master"), os.X_OK):
        log(f"skipped: {why or 'no salt in .cache/fleet-venv (make setup)'}")
        return 0
    from zypp_plugin_klp.testing.plugin import macros_path, template_path

    work = tempfile.mkdtemp(prefix="klp-fleet-bench.")
    salt = None
    try:
        log("building the product and live patches 1, 2")
        subprocess.run(["make", "--no-print-directory", "-C", PROJECT, "rpm",
                        f"RPMTOP={work}/product"], check=True, capture_output=True)
        product = next(os.path.join(d, f) for d, _, fs in os.walk(f"{work}/product/RPMS")
                       for f in fs if f[len("zypp-plugin-klp-"):][:1].isdigit())
        rpms = []
        for version in ("1", "2"):
            ko = kobuild.write_module(os.path.join(work, f"lp{version}.ko"),
                                      f"livepatch_{version}_1_1", vermagic=VERMAGIC,
                                      functions=["livepatch_cmdline_proc_show"])
            rpms.append(packages.build_from_template(work, ko, RELEASE, version,
                                                     "- Fix CVE-2024-1086", template_path(),
                                                     macros_path()))
        log("six mock roots with live patch 1")
        direct = [prepare(work, product, rpms, f"direct{i}") for i in range(3)]
        fleet = [prepare(work, product, rpms, f"minion{i}") for i in range(3)]
        own = []
        for mock in direct:
            start = time.perf_counter()
            r = subprocess.run([*engines.chroot_klp(mock), "update", "-n"], capture_output=True,
                               text=True)
            own.append(time.perf_counter() - start)
            if r.returncode != 0 or f"{PKG}-2-1.1" not in mock.installed():
                raise RuntimeError(f"klp update failed: {r.stdout}{r.stderr}")
        log(f"direct klp update: {', '.join(f'{s:.2f}s' for s in own)}")
        salt = engines.Salt(os.path.join(work, "salt"))
        os.makedirs(salt.base)
        salt.start_master()
        for i, mock in enumerate(fleet):
            salt.start_minion(f"m{i}", {"klp.cmd": engines.chroot_klp(mock)})
        up = salt.wait_for_minions()
        salt.cli("*", "saltutil.sync_all")
        log(f"master and 3 minions up in {up:.1f}s; rolling out")
        start = time.perf_counter()
        result = salt.run("state.orchestrate", "orch.klp_rollout", 'pillar={"batch": 1}')
        rollout = time.perf_counter() - start
        if result.get("retcode") != 0 or not all(f"{PKG}-2-1.1" in m.installed() for m in fleet):
            raise RuntimeError(f"rollout failed: {json.dumps(result)[:2000]}")
        memory = salt.master_memory_kib()
        start = time.perf_counter()
        again = salt.run("state.orchestrate", "orch.klp_rollout", 'pillar={"batch": 1}')
        noop = time.perf_counter() - start
        if again.get("retcode") != 0:
            raise RuntimeError(f"second rollout failed: {json.dumps(again)[:2000]}")
        start = time.perf_counter()
        salt.cli("m0", "state.apply", "klp.ready")
        one_state = time.perf_counter() - start
        print("BENCH " + json.dumps({
            "name": "salt_rollout_vs_own_updates", "ratio": round(rollout / sum(own), 2),
            "seconds": round(rollout, 2), "baseline_seconds": round(sum(own), 2), "hosts": 3,
            "batch": 1, "overhead_per_host_seconds": round((rollout - sum(own)) / 3, 2),
            "noop_rollout_seconds": round(noop, 2), "one_state_apply_seconds": round(one_state, 2),
            "master_rss_mib": round(memory["Rss"] / 1024, 1),
            "master_pss_mib": round(memory["Pss"] / 1024, 1),
            "minions_up_seconds": round(up, 1)}), flush=True)
        return 0
    finally:
        if salt is not None:
            salt.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", work], check=False)


if __name__ == "__main__":
    sys.exit(main())
