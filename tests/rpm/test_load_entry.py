"""The load service through %posttrans (``klp-hook``) and what ``klp status`` then tells: every
outcome with its module and package, another patch's transition in either direction, and the
kernel refusing the module. Written against the survivors of ``make mutation`` on services/load.py."""

import json
import os

import pytest

from zypp_plugin_klp import hooks
from zypp_plugin_klp.drivers import sysfs
from zypp_plugin_klp.sim.driver import SimulatedKernel

from conftest import RELEASE, run_klp
from test_hooks import PKG, initrd_log, install, root  # noqa: F401  (root is a fixture)

pytestmark = pytest.mark.needs("rpmbuild")


def nvra(version):
    return f"{PKG}-{version}-1.1.x86_64"


def posttrans(root, version, wait, monkeypatch):
    for key in ("RPM_BUILD_ROOT", "TRANSACTIONAL_UPDATE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KLP_WAIT", str(wait))
    return hooks.main(["posttrans", PKG, f"{version}-1.1", "--root", root])


def last_load(root):
    """What ``klp status --json`` says of the last load: (result, module, package, now)."""
    doc = json.loads(run_klp("--root", root, "status", "--json").stdout)["last_load"]
    return doc["result"], doc["module"], doc["package"], doc["now"]


def hold_version_1(root, sim, tmp_path, build_ko, monkeypatch, direction):
    """livepatch_1_1_1 in a transition that a task holds back: being applied (%posttrans of
    version 1, a thread sleeps in the old function) or being reversed (disabled while a thread
    sleeps in its new function)."""
    from zypp_plugin_klp.sim.scenario import parse_scenario

    install(root, tmp_path, build_ko, "1")
    if direction == "patch":
        assert posttrans(root, "1", 0, monkeypatch) == 0
        return
    SimulatedKernel.create(root, parse_scenario(f"""
kernel: {{release: {RELEASE}, vermagic: "{RELEASE} SMP preempt mod_unload modversions"}}
processes:
  - {{pid: 1, comm: systemd, stack: [ep_poll]}}
  - {{pid: 4242, comm: memdb, stack: [livepatch_cmdline_proc_show, seq_read_iter]}}
patches:
  - {{name: livepatch_1_1_1, functions: [cmdline_proc_show]}}
""", "<unpatch held>"))
    sim.disable("livepatch_1_1_1")
    assert [(p.name, p.enabled, p.transition) for p in sysfs.read_patches(root)] == \
        [("livepatch_1_1_1", False, True)]


@pytest.fixture
def at_pause(mocker):
    """Run ``action`` at the ``n``-th pause of a wait (not after a fixed sleep); the list it returns
    collects the seconds of every pause."""
    pauses = []
    real_pause = SimulatedKernel.pause

    def arm(action, n=1):
        def pause(self, seconds):
            pauses.append(seconds)
            if len(pauses) == n:
                action()
            real_pause(self, seconds)

        mocker.patch.object(SimulatedKernel, "pause", pause)
        return pauses

    return arm


@pytest.fixture
def release_at_first_pause(at_pause, sim):
    """The blocking tasks return from the patched functions at the wait's first pause."""
    return at_pause(sim.release)


def looked_often_enough(pauses):
    from zypp_plugin_klp.core.waiting import DEFAULTS

    return pauses and max(pauses) <= DEFAULTS["scriptlet"].interval


def test_nothing_installed_is_recorded_as_nothing_with_the_time_in_utc(root, monkeypatch, capsys):
    import calendar
    import time

    monkeypatch.setenv("TZ", "America/St_Johns")  # 3.5 hours behind UTC
    time.tzset()
    before = int(time.time())
    try:
        assert posttrans(root, "1", 0, monkeypatch) == 0
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    after = time.time()
    assert capsys.readouterr().err == f"klp: no live patch is installed for kernel {RELEASE}\n"
    assert last_load(root)[:3] == ("nothing", None, None)
    when = json.loads(run_klp("--root", root, "status", "--json").stdout)["last_load"]["time"]
    assert before <= calendar.timegm(time.strptime(when, "%Y-%m-%dT%H:%M:%SZ")) <= after, when


def test_each_outcome_names_its_module_and_package_as_it_stands_now(root, tmp_path, build_ko, sim,
                                                                    monkeypatch, capsys):
    """in_progress, then active (a second %posttrans), then the patch is disabled by hand: the
    last load tells the present state of the module it loaded, from the package it came from."""
    install(root, tmp_path, build_ko, "1")
    assert posttrans(root, "1", 0, monkeypatch) == 0
    assert last_load(root) == ("in_progress", "livepatch_1_1_1", nvra("1"),
                               f"livepatch_1_1_1 ({nvra('1')}) is loaded; its transition is in progress")
    sim.release()
    flagged = len(initrd_log(tmp_path))
    assert posttrans(root, "1", 0, monkeypatch) == 0
    assert capsys.readouterr().err.splitlines()[-1] == f"klp: livepatch_1_1_1 ({nvra('1')}) is already active"
    assert last_load(root) == ("active", "livepatch_1_1_1", nvra("1"), f"livepatch_1_1_1 ({nvra('1')}) is active")
    assert len(initrd_log(tmp_path)) == flagged  # nothing loaded now: the initrd is not rebuilt again
    sim.disable("livepatch_1_1_1")
    assert last_load(root)[3] == (f"livepatch_1_1_1 ({nvra('1')}) was loaded; it has since been replaced "
                                  "or disabled (its module is still loaded)")


def test_a_second_posttrans_during_its_own_transition_loads_nothing_new(root, tmp_path, build_ko, sim,
                                                                        monkeypatch, release_at_first_pause):
    """Its own patch still in transition: wait for it (it completes during the wait), do not load
    again, and do not rebuild the initrd again."""
    install(root, tmp_path, build_ko, "1")
    assert posttrans(root, "1", 0, monkeypatch) == 0
    flagged = len(initrd_log(tmp_path))
    assert posttrans(root, "1", 30, monkeypatch) == 0
    assert looked_often_enough(release_at_first_pause)  # it did wait, looking every interval
    assert last_load(root)[:3] == ("loaded", "livepatch_1_1_1", nvra("1"))
    assert len(initrd_log(tmp_path)) == flagged
    assert sysfs.loaded_livepatch_modules(root) == ["livepatch_1_1_1"]


@pytest.mark.parametrize("direction", ["patch", "unpatch"])
def test_another_transition_that_does_not_finish_keeps_the_new_patch_out(root, tmp_path, build_ko, sim,
                                                                         monkeypatch, capsys, direction):
    """Version 1's transition is held (being applied, or being reversed after a disable) when
    %posttrans of version 10 runs with no time to wait: 10 is not loaded, the warning says why."""
    hold_version_1(root, sim, tmp_path, build_ko, monkeypatch, direction)
    install(root, tmp_path, build_ko, "10")
    capsys.readouterr()
    assert posttrans(root, "10", 0, monkeypatch) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("klp: warning: the transition of livepatch_1_1_1 did not finish within 0s; "
                      "livepatch_10_1_1 was not loaded (see 'klp blocking -v')"), err
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]
    assert last_load(root)[:3] == ("failed", "livepatch_10_1_1", nvra("10"))


@pytest.mark.parametrize("direction", ["patch", "unpatch"])
def test_another_transition_that_finishes_during_the_wait_lets_the_new_patch_in(
        root, tmp_path, build_ko, sim, monkeypatch, at_pause, direction):
    """Version 1's transition ends only at the wait's second look: %posttrans of version 10 waits
    the whole time (not one interval), then loads 10 and flags its kernel's initrd."""
    hold_version_1(root, sim, tmp_path, build_ko, monkeypatch, direction)
    install(root, tmp_path, build_ko, "10")
    rebuilt = len(initrd_log(tmp_path))
    pauses = at_pause(sim.release, n=2)
    assert posttrans(root, "10", 30, monkeypatch) == 0
    assert len(pauses) >= 2 and looked_often_enough(pauses)
    assert [(p.name, p.enabled) for p in sysfs.read_patches(root)][-1] == ("livepatch_10_1_1", True)
    assert last_load(root)[:3] in {(r, "livepatch_10_1_1", nvra("10")) for r in ("loaded", "in_progress")}
    assert initrd_log(tmp_path)[rebuilt:] == [f"-f --kver {RELEASE}"]


def test_a_patch_loaded_by_hand_during_the_wait_is_not_loaded_again(root, tmp_path, build_ko, sim,
                                                                    monkeypatch, at_pause, capsys):
    """While %posttrans of version 10 waits for version 1's transition, the administrator loads
    version 10's module by hand (insmod) as soon as the tasks move on: %posttrans finds it active
    and neither unloads nor loads it again."""
    hold_version_1(root, sim, tmp_path, build_ko, monkeypatch, "patch")
    install(root, tmp_path, build_ko, "10")
    by_hand = os.path.join(root, "lib/modules", RELEASE, "livepatch/livepatch-10-1.1.ko")

    def insmod():  # once version 1's transition is done (the kernel refuses a load before)
        sim.release()
        sim.load(by_hand)

    at_pause(insmod)
    capsys.readouterr()
    assert posttrans(root, "10", 30, monkeypatch) == 0
    assert f"klp: livepatch_10_1_1 ({nvra('10')}) is active" in capsys.readouterr().err.splitlines()
    assert last_load(root) == ("active", "livepatch_10_1_1", nvra("10"),
                               f"livepatch_10_1_1 ({nvra('10')}) is active")
    assert [(p.name, p.enabled) for p in sysfs.read_patches(root)] == [("livepatch_10_1_1", True)]


def test_its_own_patch_being_disabled_is_waited_for_then_loaded_again(root, tmp_path, build_ko, sim,
                                                                      monkeypatch, release_at_first_pause):
    """The unpatch direction of its own patch: version 1 is being disabled (a task holds the
    reversal back; the module stays loaded) when its %posttrans runs again; once the reversal
    completes during the wait, the module is unloaded and loaded again."""
    hold_version_1(root, sim, tmp_path, build_ko, monkeypatch, "unpatch")
    assert posttrans(root, "1", 30, monkeypatch) == 0
    assert looked_often_enough(release_at_first_pause)
    assert [(p.name, p.enabled) for p in sysfs.read_patches(root)] == [("livepatch_1_1_1", True)]
    assert sysfs.loaded_livepatch_modules(root) == ["livepatch_1_1_1"]
    assert last_load(root)[:3] == ("loaded", "livepatch_1_1_1", nvra("1"))


def test_the_kernel_refusing_the_module_is_recorded_with_module_and_package(root, tmp_path, build_ko, sim,
                                                                            monkeypatch, capsys):
    """kernel.ftrace_enabled=0: every live patch load fails (EBUSY)."""
    install(root, tmp_path, build_ko, "1")
    sim.set_ftrace(False)
    assert posttrans(root, "1", 0, monkeypatch) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"klp: warning: cannot load livepatch_1_1_1 ({nvra('1')}): "), first
    result, module, package, now = last_load(root)
    assert (result, module, package) == ("failed", "livepatch_1_1_1", nvra("1")) and now == first[14:]
    assert sysfs.read_patches(root) == []


@pytest.mark.parametrize("damage", ["vermagic", "tampered"])
def test_a_module_that_may_not_be_loaded_is_recorded_with_its_package(root, tmp_path, build_ko,
                                                                      monkeypatch, capsys, damage):
    from zypp_plugin_klp.testing import packages

    from conftest import build_livepatch_rpm

    vermagic = "6.1.0-25-default SMP preempt mod_unload modversions" if damage == "vermagic" else None
    ko = build_ko("livepatch_1_1_1", **({"vermagic": vermagic} if vermagic else {}))
    packages.rpm_install(root, build_livepatch_rpm(tmp_path, ko, "1", "1.1"))
    if damage == "tampered":
        os.chmod(os.path.join(root, "lib/modules", RELEASE, "livepatch/livepatch-1-1.1.ko"), 0o666)
    assert posttrans(root, "1", 0, monkeypatch) == 0
    result, module, package, now = last_load(root)
    assert (result, module, package) == ("failed", None, nvra("1")), now
    assert sysfs.loaded_livepatch_modules(root) == []
    if damage == "tampered":  # the refused file must not go into the initrd either
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"klp: warning: not regenerating the initrd of {RELEASE}: its live patch module was refused")
