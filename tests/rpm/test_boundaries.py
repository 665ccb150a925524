"""Fixtures that cross boundaries, through the entry points users run (klp-hook, the commit plugin,
klp): versions 9 -> 10 and releases 1.9 -> 1.10 side by side, a commit with live patches for two
kernels, a second erase after a first, and ``klp blocking`` while a patch is being removed."""

import json
import os

import pytest

from zypp_plugin_klp import hooks, plugin
from zypp_plugin_klp.drivers import sysfs
from zypp_plugin_klp.testing import packages

from conftest import RELEASE, build_livepatch_rpm, run_klp

pytestmark = pytest.mark.needs("rpmbuild")

PKG = "kernel-livepatch-6_1_0-26-default"
OTHER = "6.1.0-27-default"


@pytest.fixture
def root(sim):
    for rel in ("etc/sysconfig", f"lib/modules/{RELEASE}", f"lib/modules/{OTHER}"):
        os.makedirs(os.path.join(sim.root, rel), exist_ok=True)
    with open(os.path.join(sim.root, "etc/sysconfig/bootloader"), "w") as handle:
        handle.write("INITRD_GENERATOR=/bin/true\n")
    with open(os.path.join(sim.root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write("LIVEPATCH_PLUGIN_WAIT=0\n")  # the held transition: no 20 s wait per test
    return sim.root


def side_by_side(root, tmp_path, build_ko, *editions):
    """Install several editions of the stream at once (rpm -i), as a half-done commit can leave."""
    for version, rel in editions:
        ko = build_ko(f"livepatch_{version}_{rel.replace('.', '_')}")
        rpm = build_livepatch_rpm(tmp_path, ko, version, rel)
        packages.subprocess.run(packages.rpm_command(root, "-i", "--nodeps", "--noscripts", rpm),
                                check=True, capture_output=True)


@pytest.mark.parametrize("editions, newest", [
    ([("9", "1.1"), ("10", "1.1")], "livepatch_10_1_1"),
    ([("10", "1.9"), ("10", "1.10")], "livepatch_10_1_10"),
], ids=["9-to-10", "1.9-to-1.10"])
def test_posttrans_loads_the_newest_across_a_digit_boundary(root, tmp_path, build_ko, sim, editions,
                                                             newest, monkeypatch):
    side_by_side(root, tmp_path, build_ko, *editions)
    monkeypatch.setenv("KLP_WAIT", "0")
    version, rel = editions[0]
    assert hooks.main(["posttrans", PKG, f"{version}-{rel}", "--root", root]) == 0
    assert [p.name for p in sysfs.read_patches(root)] == [newest]
    sim.release()
    out = run_klp("--root", root, "-v", "patches").stdout
    assert f"{newest}\n    active: 1\n    RPM: {PKG}-{editions[1][0]}-{editions[1][1]}.x86_64\n" in out


def _step(kind, release, version, stage):
    from zypp_plugin_klp.core.names import package_name

    name = package_name(release)
    return {"type": kind, "stage": stage,
            "solvable": {"n": name, "v": version, "r": "1.1", "a": "x86_64"}}


def _converse(root, *frames):
    """The plugin's entry (serve) over real pipes; every reply on the wire is returned."""
    from test_plugin import converse_frames

    data = b"".join(command.encode() + b"\n\n" + body + b"\0" for command, body in frames)
    decoded, p, _ = converse_frames(root, data, chunk=len(data))
    return [(f.command, f.body) for f in decoded], p.record


def test_one_commit_with_live_patches_for_two_kernels_loads_only_the_running_ones(root, tmp_path,
                                                                                   build_ko):
    packages.rpm_install(root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1"))
    other = build_ko("livepatch_other_1", vermagic=f"{OTHER} SMP preempt mod_unload modversions")
    packages.rpm_install(root, packages.build_livepatch_rpm(str(tmp_path / "other"), other, OTHER))
    steps = [_step("+", OTHER, "1", "ok"), _step("+", RELEASE, "1", "ok")]
    body = json.dumps({"TransactionStepList": steps}, sort_keys=True).encode()
    replies, record = _converse(root, ("PLUGINBEGIN", b""), ("COMMITBEGIN", body), ("COMMITEND", body),
                                ("PLUGINEND", b""), ("_DISCONNECT", b""))
    assert replies == [("ACK", b"")] * 5  # every reply on the wire, not only the first
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]
    assert sysfs.loaded_livepatch_modules(root) == ["livepatch_1_1_1"]
    assert [a["load"] for a in record["actions"] if "load" in a] == ["in_progress"]


def test_a_second_erase_keeps_the_first_reboot_notice(root, tmp_path):
    """After the running kernel's patch is erased, erasing another kernel's patch (no reboot needed
    for that one) and erasing the first again leave exactly the first notice, and the flag."""
    assert hooks.main(["postun", PKG, "1-1.1", "0", "--root", root]) == 0
    other = "kernel-livepatch-6_1_0-27-default"
    assert hooks.main(["postun", other, "1-1.1", "0", "--root", root]) == 0
    lines = run_klp("--root", root, "-v", "status").stdout.splitlines()
    reboot = [line for line in lines if line.startswith("reboot needed: ")]
    assert len(reboot) == 1 and f"package {PKG}-1-1.1 was removed" in reboot[0], lines
    # erasing the first again (reinstalled meanwhile) leaves one notice for it, not two
    assert hooks.main(["postun", PKG, "1-1.1", "0", "--root", root]) == 0
    lines = run_klp("--root", root, "-v", "status").stdout.splitlines()
    assert sum(line.startswith("reboot needed: ") for line in lines) == 1, lines
    assert os.path.exists(os.path.join(root, "run/reboot-needed"))


def test_blocking_during_an_unpatch_transition(tmp_path):
    """While a patch is being disabled, a task sleeping in the patch's replacement blocks: klp
    names it (the target state is 0, the direction reversed) and the gate refuses."""
    from zypp_plugin_klp.sim.driver import SimulatedKernel
    from zypp_plugin_klp.sim.scenario import parse_scenario

    scenario = parse_scenario(f"""
kernel: {{release: {RELEASE}, vermagic: "{RELEASE} SMP preempt mod_unload modversions"}}
processes:
  - {{pid: 1, comm: systemd, cmdline: [/usr/lib/systemd/systemd], stack: [ep_poll]}}
  - pid: 4242
    comm: memdb
    cmdline: [/opt/memdb/bin/memdb]
    threads:
      - {{tid: 4242, stack: [futex_wait]}}
      - {{tid: 4245, comm: memdb-stats, stack: [livepatch_cmdline_proc_show, seq_read_iter]}}
patches:
  - {{name: livepatch_1_1_1, functions: [cmdline_proc_show]}}
""", "<unpatch>")
    sim = SimulatedKernel.create(str(tmp_path / "root"), scenario)
    assert run_klp("--root", sim.root, "status").stdout == "ready\n"
    assert run_klp("--root", sim.root, "blocking").stdout == ""
    sim.disable("livepatch_1_1_1")
    assert run_klp("--root", sim.root, "status").stdout == "in_progress\n"
    assert run_klp("--root", sim.root, "blocking").stdout == "4242\n"
    vv = run_klp("--root", sim.root, "-vv", "blocking").stdout
    assert "thread 4245 (memdb-stats):" in vv and "livepatch_cmdline_proc_show" in vv
    doc = json.loads(run_klp("--root", sim.root, "blocking", "--json").stdout)
    assert (doc["patch"], doc["target"]) == ("livepatch_1_1_1", "unpatched")
    assert [(t["pid"], t["tid"]) for t in doc["tasks"]] == [(4242, 4245)]
    os.makedirs(os.path.join(sim.root, "etc/sysconfig"), exist_ok=True)
    assert hooks.main(["pre", PKG, "2-1.1", "2", "--root", sim.root]) == 1
    sim.release()
    assert run_klp("--root", sim.root, "status").stdout == "ready\n"
    assert run_klp("--root", sim.root, "blocking").stdout == ""
    assert hooks.main(["pre", PKG, "2-1.1", "2", "--root", sim.root]) == 0
