"""Salt for real: a salt-master on 127.0.0.1 and three salt-minions, each driving its own mock root
(real rpm, real zypper run chrooted with our commit plugin, a simulated kernel), through the
synced ``klp`` modules, states, grain, beacon and the rolling orchestration.

The tests run in file order on one fleet: each step starts from the state the previous left."""

import json
import os
import re
import subprocess

import pytest

import kobuild
from conftest import VERMAGIC
from zypp_plugin_klp.testing import packages
from zypp_plugin_klp.testing.mockroot import MockRoot, default_scenario

from . import engines

PKG = "kernel-livepatch-6_1_0-26-default"
MINIONS = ("m1", "m2", "m3")
ROLLOUT = ("state.orchestrate", "orch.klp_rollout",
           'pillar={"target": "m*", "batch": 1, "timeout": 3}')


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, klp_product_rpm):
    engines.require("salt-master", "salt-minion", "salt")
    from zypp_plugin_klp.testing.plugin import macros_path, template_path

    work = tmp_path_factory.mktemp("salt-rpms")
    rpms = []
    for version in ("1", "2"):
        ko = kobuild.write_module(work / f"lp{version}.ko", f"livepatch_{version}_1_1",
                                  vermagic=VERMAGIC, functions=["livepatch_cmdline_proc_show"])
        changelog = "- Initial kernel live patch" if version == "1" else \
            "- Fix CVE-2024-1086 (bsc#1219434)"
        rpms.append(packages.build_from_template(str(work), str(ko), "6.1.0-26-default", version,
                                                 changelog, template_path(), macros_path()))
    base = str(tmp_path_factory.mktemp("salt"))
    mocks = {}
    for minion in MINIONS:
        mock = MockRoot(os.path.join(base, f"root-{minion}")).create(klp_product_rpm,
                                                                       default_scenario())
        mock.publish(*rpms)
        with open(os.path.join(mock.root, "etc/sysconfig/livepatching"), "a") as handle:
            handle.write('LIVEPATCH_WAIT="1"\nLIVEPATCH_PLUGIN_WAIT="1"\n')
        mocks[minion] = mock
    salt = engines.Salt(base)
    try:
        salt.start_master()
        for minion in MINIONS:
            extra = {"beacons": {"klp": [{"interval": 1}]}} if minion == "m1" else {}
            salt.start_minion(minion, {"klp.cmd": engines.chroot_klp(mocks[minion]), **extra})
        salt.wait_for_minions()
        yield salt, mocks
    finally:
        salt.stop()
        for mock in mocks.values():
            subprocess.run(["rm", "-rf", "--one-file-system", mock.base], check=False)


def uyuni_rule(status_text, patches_text):
    """Uyuni's documented parse of klp's text output (written from its contract, not its code)."""
    del status_text  # polled for 'ready' only; the verdict comes from the patches listing
    name = None
    for line in patches_text.strip().splitlines():
        if line.startswith("#"):
            continue
        active = re.match(r"^\s+active:\s*(\d+)$", line)
        if active and int(active.group(1)) > 0:
            return {"mgr_kernel_live_version": name}
        if line.startswith(("livepatch", "kgraft")):
            name = line.strip()
    return None


def test_sync_all_distributes_every_klp_module(fleet):
    salt, _ = fleet
    synced = salt.cli("m*", "saltutil.sync_all")
    for minion in MINIONS:
        for kind in ("modules", "states", "grains", "beacons"):
            assert f"{kind}.klp" in synced[minion][kind], synced[minion]
    assert salt.cli("m*", "klp.status") == {m: "ready" for m in MINIONS}


def test_kernel_live_version_matches_uyunis_rule_in_every_state(fleet):
    salt, mocks = fleet
    mock = mocks["m3"]
    kernel = mock.kernel

    def both():
        ours = salt.cli("m3", "klp.kernel_live_version", "attempts=1")["m3"]
        klp = engines.chroot_klp(mock)
        status = subprocess.run([*klp, "status"], capture_output=True, text=True).stdout
        text = subprocess.run([*klp, "-v", "patches"], capture_output=True, text=True).stdout
        return ours, uyuni_rule(status, text), text

    seen = {}
    ours, theirs, _ = both()
    seen["no patch"] = ours
    assert ours == theirs is None
    kernel.load(kobuild.write_module(os.path.join(mock.base, "c1.ko"), "livepatch_91_1_1",
                                     vermagic=VERMAGIC, functions=["livepatch_cmdline_proc_show"]))
    ours, theirs, text = both()
    seen["initial patch, in progress"] = ours
    assert ours == theirs, text
    kernel.release()
    ours, theirs, text = both()
    seen["initial patch"] = ours
    assert ours == theirs == {"mgr_kernel_live_version": "livepatch_91_1_1"}, text
    kernel.load(kobuild.write_module(os.path.join(mock.base, "c2.ko"), "livepatch_92_1_1",
                                     vermagic=VERMAGIC, functions=["livepatch_cmdline_proc_show"]))
    kernel.release()
    ours, theirs, text = both()
    seen["replaced"] = ours
    assert "    active: 0" in text  # 91 is replaced, still loaded, listed first
    assert ours == theirs == {"mgr_kernel_live_version": "livepatch_92_1_1"}, text
    kernel.disable("livepatch_92_1_1")
    kernel.release()
    for name in ("livepatch_92_1_1", "livepatch_91_1_1"):
        kernel.unload(name)
    ours, theirs, text = both()
    seen["removed"] = ours
    assert ours == theirs is None, text
    print(json.dumps(seen, indent=2))


def test_mixed_status_across_minions(fleet):
    salt, mocks = fleet
    r = mocks["m2"].chroot("zypper", "--non-interactive", "--no-gpg-checks", "install", f"{PKG}=1")
    assert r.returncode == 0, r.stdout + r.stderr  # memdb-stats on m2 holds v1's transition
    assert salt.cli("m*", "klp.status") == {"m1": "ready", "m2": "in_progress", "m3": "ready"}
    assert salt.cli("m*", "saltutil.refresh_grains") == {m: True for m in MINIONS}
    grains = salt.cli("m*", "grains.get", "klp")
    assert grains["m2"]["status"] == "in_progress"
    assert grains["m2"]["rpm"] == f"{PKG}-1-1.1.x86_64" and grains["m1"]["rpm"] is None
    assert salt.cli("m2", "klp.blocking")["m2"]["processes"] == ["4242 /opt/memdb/bin/memdb"]


def test_ready_with_test_true_says_what_it_would_wait_for(fleet):
    salt, _ = fleet
    result = salt.cli("m[12]", "state.apply", "klp.ready", "test=True")
    (m1,) = result["m1"].values()
    (m2,) = result["m2"].values()
    assert m1["result"] is True and m1["comment"] == "no live patch transition in progress"
    assert m2["result"] is None
    assert m2["comment"] == ("would wait up to 60s for the transition of livepatch_1_1_1 "
                             "(3/4 tasks switched), blocked by: 4242 /opt/memdb/bin/memdb")


def _ids(states):
    return {state["__id__"]: state for state in states.values()}


def _steps(result):
    return result["data"][next(iter(result["data"]))]


def test_rollout_stops_at_the_blocked_minion_and_completes_after_release(fleet):
    salt, mocks = fleet
    for minion in ("m1", "m3"):
        mocks[minion].kernel.exit(4242)  # no memdb there: nothing will hold their transitions
    first = salt.run(*ROLLOUT)
    steps = _steps(first)
    assert first["retcode"] != 0
    by_id = {step["__id__"]: step for step in steps.values()}
    assert by_id["klp-batch-1"]["result"] is True, json.dumps(by_id["klp-batch-1"], indent=1)
    assert by_id["klp-batch-2"]["result"] is False
    assert by_id["klp-batch-3"]["result"] is False
    assert "requisite" in by_id["klp-batch-3"]["comment"].lower()
    blocked = json.dumps(by_id["klp-batch-2"]["changes"])
    assert ("livepatch_1_1_1 is still in progress after 3s, blocked by: "
            "4242 /opt/memdb/bin/memdb") in blocked
    assert [p for p in mocks["m3"].installed() if p.startswith(PKG)] == []  # never reached
    assert f"{PKG}-2-1.1" in mocks["m1"].installed()

    mocks["m2"].kernel.release()
    second = salt.run(*ROLLOUT)
    assert second["retcode"] == 0, second
    assert all(step["result"] for step in _steps(second).values())
    for minion in MINIONS:
        assert f"{PKG}-2-1.1" in mocks[minion].installed()
    actives = {m: a["rpm"] for m, a in salt.cli("m*", "klp.active").items()}
    assert actives == {m: f"{PKG}-2-1.1.x86_64" for m in MINIONS}


def test_patched_end_to_end_reports_changes_and_is_idempotent(fleet):
    salt, mocks = fleet
    mock = mocks["m3"]
    r = mock.chroot("zypper", "--non-interactive", "--no-gpg-checks", "install", "--oldpackage",
                    f"{PKG}=1")
    assert r.returncode == 0, r.stdout + r.stderr
    mock.kernel.release()
    pinned = _ids(salt.cli("m3", "state.apply", "klp.patched",
                           'pillar={"klp": {"version": "3-1.1"}}')["m3"])["klp-patched"]
    assert pinned["result"] is False and pinned["comment"] == \
        f"pinned 3-1.1, but klp would install {PKG} 2-1.1; not installing"
    dry = _ids(salt.cli("m3", "state.apply", "klp.patched", "test=True")["m3"])["klp-patched"]
    assert dry["result"] is None, dry
    assert dry["changes"] == {"old": f"{PKG}-1-1.1.x86_64", "new": f"{PKG}-2-1.1"}
    states = _ids(salt.cli("m3", "state.apply", "klp.patched")["m3"])
    done = states["klp-patched"]
    assert done["result"] is True and states["klp-ready"]["result"] is True, done
    assert done["changes"] == {"old": f"{PKG}-1-1.1.x86_64", "new": f"{PKG}-2-1.1.x86_64"}
    assert done["comment"] == f"installed {PKG} 2-1.1"
    assert f"{PKG}-2-1.1" in mock.installed()
    again = _ids(salt.cli("m3", "state.apply", "klp.patched")["m3"])["klp-patched"]
    assert again["result"] is True and again["changes"] == {}, again
    assert again["comment"] == f"{PKG}-2-1.1 is the newest live patch for 6.1.0-26-default"
    log = salt.cli("m3", "klp.log", "limit=1")["m3"]
    assert len(log) == 1 and f"+{PKG}-2-1.1" in log[0], log


def test_beacon_fires_after_a_transition_and_refreshes_the_grain(fleet):
    salt, _ = fleet
    downgraded = {}

    def downgrade():
        downgraded.update(salt.cli("m1", "klp.downgrade")["m1"])

    def to_v1(tag, data):
        return data.get("new", {}).get("active") == "livepatch_1_1_1"

    event = salt.wait_event("salt/beacon/m1/klp/*", downgrade, to_v1)
    assert downgraded["result"] is True and downgraded["new"] == f"{PKG}-1-1.1.x86_64", downgraded
    assert event["tag"] == "salt/beacon/m1/klp/active"
    assert event["data"]["old"]["active"] == "livepatch_2_1_1"
    assert salt.cli("m1", "grains.get", "klp:active")["m1"] == "livepatch_1_1_1"
