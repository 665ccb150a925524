"""The initrd, erase and transition services on real temp-dir roots with the real drivers."""

import calendar
import os
import re
import stat
import time

import pytest

from zypp_plugin_klp.core.waiting import WaitPolicy
from zypp_plugin_klp.drivers import runner, sysfs
from zypp_plugin_klp.drivers.linux import LinuxKernel
from zypp_plugin_klp.services import initrd, remove, transition
from zypp_plugin_klp.services.records import RebootNotice

KVER = "6.1.0-26-default"
OTHER = "6.12.10-150700.53-default"  # multi-digit parts


@pytest.fixture
def root(tmp_path):
    """A host-like root (not a chroot: /proc shows a kernel) with two installed kernels."""
    r = tmp_path / "root"
    (r / "proc/sys/kernel").mkdir(parents=True)
    (r / "proc/sys/kernel/osrelease").write_text(KVER + "\n")
    for k in (KVER, OTHER):
        (r / "lib/modules" / k).mkdir(parents=True)
        (r / "lib/modules" / k / "modules.dep").write_text("")
    return str(r)


def generator(tmp_path, body="exit 0"):
    """A real initrd generator script recording its arguments, named in /etc/sysconfig/bootloader."""
    log = tmp_path / "gen.log"
    script = tmp_path / "mkinitrd-test"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n{body}\n")
    script.chmod(0o755)
    return str(script), log


def set_generator(root, path):
    os.makedirs(os.path.join(root, "etc/sysconfig"), exist_ok=True)
    with open(os.path.join(root, "etc/sysconfig/bootloader"), "w") as handle:
        handle.write(f'INITRD_GENERATOR="{path}"\n')


def calls(log):
    return log.read_text().splitlines() if log.exists() else []


def flags_dir(root):
    return os.path.join(root, initrd.FLAGS)


def test_schedule_leaves_an_empty_flag_per_kernel_and_pending_lists_them(root):
    assert initrd.pending(root) == []
    initrd.schedule(root, OTHER)
    initrd.schedule(root, KVER)
    initrd.schedule(root, KVER)
    assert sorted(os.listdir(flags_dir(root))) == [KVER, OTHER]
    assert os.path.getsize(os.path.join(flags_dir(root), KVER)) == 0
    open(os.path.join(flags_dir(root), ".hidden"), "w").close()
    assert initrd.pending(root) == sorted([KVER, OTHER])


def test_nothing_flagged_runs_nothing(root, tmp_path):
    gen, log = generator(tmp_path)
    set_generator(root, gen)
    assert initrd.regenerate(root, {}, runner.run) == []
    assert calls(log) == []


def test_each_flagged_installed_kernel_is_rebuilt_and_its_flag_cleared(root, tmp_path):
    gen, log = generator(tmp_path)
    set_generator(root, gen)
    initrd.schedule(root, KVER)
    initrd.schedule(root, OTHER)
    assert initrd.regenerate(root, {}, runner.run) == []
    assert calls(log) == [f"-f --kver {KVER}", f"-f --kver {OTHER}"]
    assert initrd.pending(root) == []


def test_all_flag_regenerates_every_initrd(root, tmp_path):
    gen, log = generator(tmp_path)
    set_generator(root, gen)
    initrd.schedule(root, "all")
    assert initrd.regenerate(root, {}, runner.run) == []
    assert calls(log) == ["-f --regenerate-all"]
    assert initrd.pending(root) == []


def test_a_kernel_not_installed_is_skipped_and_its_flag_cleared(root, tmp_path):
    gen, log = generator(tmp_path)
    set_generator(root, gen)
    initrd.schedule(root, "6.1.0-1-default")  # sorts before the installed one: the rest still runs
    initrd.schedule(root, KVER)
    initrd.schedule(root, "6.1.0-27-default")
    assert initrd.regenerate(root, {}, runner.run) == []
    assert calls(log) == [f"-f --kver {KVER}"]
    assert initrd.pending(root) == []


def test_a_failed_rebuild_keeps_its_flag_and_names_the_last_output_line(root, tmp_path):
    gen, log = generator(tmp_path, "echo first; echo second; echo 'dracut: cannot write image'; exit 1")
    set_generator(root, gen)
    initrd.schedule(root, KVER)
    (message,) = initrd.regenerate(root, {}, runner.run)
    assert message == (f"initrd regeneration for {KVER} failed (dracut: cannot write image); "
                       f"re-run: {gen} -f --kver {KVER}")
    assert initrd.pending(root) == [KVER]


def test_a_silent_failure_says_no_output_and_others_still_run(root, tmp_path):
    gen, log = generator(tmp_path, f'[ "$3" = "{KVER}" ] && exit 3; exit 0')
    set_generator(root, gen)
    initrd.schedule(root, KVER)
    initrd.schedule(root, OTHER)
    assert initrd.regenerate(root, {}, runner.run) == [
        f"initrd regeneration for {KVER} failed (no output); re-run: {gen} -f --kver {KVER}"]
    assert calls(log) == [f"-f --kver {KVER}", f"-f --kver {OTHER}"]
    assert initrd.pending(root) == [KVER]


def test_another_root_never_runs_the_hosts_posttrans_helper(root, tmp_path, monkeypatch):
    gen, log = generator(tmp_path)
    set_generator(root, gen)
    (tmp_path / "host").mkdir()
    helper, helper_log = generator(tmp_path / "host")  # an installed host helper
    monkeypatch.setattr(initrd, "POSTTRANS_HELPER", helper)
    initrd.schedule(root, KVER)
    assert initrd.regenerate(root, {}, runner.run) == []
    assert calls(log) == [f"-f --kver {KVER}"] and calls(helper_log) == []


def test_a_generator_missing_from_the_system_directories_keeps_the_flags(root):
    initrd.schedule(root, KVER)
    seen = []

    def run(argv):
        seen.append(list(argv))
        return runner.Result(argv, 0, "")

    initrd.schedule(root, OTHER)
    set_generator(root, "no-such-generator-klp")
    assert initrd.regenerate(root, {}, run) == [
        f"INITRD_GENERATOR is not an executable in /usr/bin:/usr/sbin:/bin:/sbin; the initrd of {KVER}, "
        f"{OTHER} was not regenerated"]
    assert seen == [] and initrd.pending(root) == [KVER, OTHER]


def test_generator_names_are_looked_up_in_the_system_directories_only():
    assert initrd.generator_path("/opt/x/mkinitrd") == "/opt/x/mkinitrd"
    assert initrd.generator_path("../bin/sh") is None  # a relative path is never resolved
    assert initrd.generator_path("sh") in ("/usr/bin/sh", "/bin/sh")
    assert initrd.generator_path("no-such-generator-klp") is None


@pytest.mark.parametrize("where", ["env", "buildenv", "chroot"])
def test_build_roots_and_chroots_clear_flags_without_rebuilding(root, tmp_path, where):
    gen, log = generator(tmp_path)
    set_generator(root, gen)
    environ = {}
    if where == "env":
        environ = {"RPM_BUILD_ROOT": "/home/abuild/rpmbuild/BUILDROOT/x"}
    elif where == "buildenv":
        open(os.path.join(root, ".buildenv"), "w").close()
    else:
        os.unlink(os.path.join(root, "proc/sys/kernel/osrelease"))
    initrd.schedule(root, KVER)
    initrd.schedule(root, "all")
    assert initrd.regenerate(root, environ, runner.run) == [
        f"not regenerating the initrd for {KVER}, all in a chroot or build root"]
    assert calls(log) == [] and initrd.pending(root) == []


def test_an_empty_build_root_variable_is_not_a_build_root(root, tmp_path):
    gen, log = generator(tmp_path)
    set_generator(root, gen)
    initrd.schedule(root, KVER)
    assert initrd.regenerate(root, {"RPM_BUILD_ROOT": ""}, runner.run) == []
    assert calls(log) == [f"-f --kver {KVER}"]


# -- after an erase -------------------------------------------------------------------------------

PKG = "kernel-livepatch-6_1_0-26-default"
BOOT = "0b5e4f1c-9a2d-4c61-8e3f-2a7b9c1d0e42"


def test_erasing_the_running_kernels_patch_leaves_a_notice_and_the_reboot_flag(root):
    end_of_day = calendar.timegm((2026, 12, 31, 23, 59, 59))
    notice = remove.after_erase(root, f"{PKG}-12-10.1", KVER, KVER, now=end_of_day, boot=BOOT)
    assert notice == RebootNotice(
        package=f"{PKG}-12-10.1", kernel=KVER,
        reason=f"live patch package {PKG}-12-10.1 was removed; the running kernel keeps its code "
               "until a reboot",
        time="2026-12-31T23:59:59Z", boot=BOOT)
    assert remove.notices(root, BOOT) == [notice]
    flag = os.path.join(root, remove.REBOOT_NEEDED)
    assert stat.S_ISREG(os.lstat(flag).st_mode) and os.path.getsize(flag) == 0
    assert initrd.pending(root) == [KVER]


def test_a_second_erase_replaces_its_own_notice_and_keeps_the_others(root):
    first = remove.after_erase(root, "kernel-livepatch-a-1-1", KVER, KVER, now=100.0, boot=BOOT)
    remove.after_erase(root, "kernel-livepatch-b-1-1", KVER, KVER, now=200.0, boot=BOOT)
    again = remove.after_erase(root, "kernel-livepatch-a-1-1", KVER, KVER, now=300.0, boot=BOOT)
    assert [(n.package, n.time) for n in remove.notices(root, BOOT)] == [
        ("kernel-livepatch-b-1-1", "1970-01-01T00:03:20Z"),
        ("kernel-livepatch-a-1-1", "1970-01-01T00:05:00Z")]
    assert first != again and remove.notices(root, BOOT)[-1] == again


def test_without_a_time_the_notice_carries_the_current_time(root):
    before = int(time.time())
    notice = remove.after_erase(root, PKG, KVER, KVER, boot=BOOT)
    after = int(time.time())
    stamp = calendar.timegm(time.strptime(notice.time, "%Y-%m-%dT%H:%M:%SZ"))
    assert before <= stamp <= after


def test_erasing_another_kernels_patch_schedules_only_its_initrd(root):
    assert remove.after_erase(root, PKG, OTHER, KVER, now=100.0, boot=BOOT) is None
    assert remove.notices(root, BOOT) == []
    assert not os.path.lexists(os.path.join(root, remove.REBOOT_NEEDED))
    assert initrd.pending(root) == [OTHER]


# -- transitions ----------------------------------------------------------------------------------


class Clock:
    """A clock advanced only by the kernel's pauses (deterministic elapsed times)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def loaded(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    return LinuxKernel(sim.root)


def test_wait_reports_progress_then_gives_up_at_the_timeout(sim, build_ko):
    kernel = loaded(sim, build_ko)
    hostile = os.path.join(sim.root, "proc/7777/task/7777")
    os.makedirs(hostile)
    with open(os.path.join(hostile, "patch_state"), "w") as handle:
        handle.write("zz\n")  # garbage: counted in the walk's stats, not as a task
    clock = Clock()
    seen = []

    def progress(*args):
        seen.append(args)
        clock.now += 0.4

    result = transition.wait(kernel, WaitPolicy(1.0, 0.01), progress, clock)
    assert (result.completed, result.patch) == (False, "livepatch_1_1_1")
    assert result.elapsed == pytest.approx(1.2)
    assert [a[:3] for a in seen] == [("livepatch_1_1_1", 5, 6)] * 3
    assert [a[3] for a in seen] == pytest.approx([0.0, 0.4, 0.8])


def test_wait_completes_with_the_last_patch_seen(sim, build_ko):
    kernel = loaded(sim, build_ko)
    clock = Clock()

    def progress(*args):
        clock.now += 0.5
        sim.release()

    result = transition.wait(kernel, WaitPolicy(5.0, 0.01), progress, clock)
    assert (result.completed, result.patch, result.elapsed) == (True, "livepatch_1_1_1", 0.5)
    idle = transition.wait(kernel, WaitPolicy(5.0, 0.01), None, clock)
    assert (idle.completed, idle.patch, idle.elapsed) == (True, None, 0.0)


def test_wait_signals_the_blocking_tasks_once_at_signal_after(sim, build_ko):
    kernel = loaded(sim, build_ko)
    signal = os.path.join(sysfs.livepatch_dir(sim.root), "livepatch_1_1_1", "signal")
    open(signal, "w").close()  # the kernel's (write-only) signal attribute; the simulator has none
    clock = Clock()
    writes = []

    def progress(*args):
        with open(signal) as handle:
            writes.append(handle.read().strip())
        open(signal, "w").close()
        clock.now += 0.5

    result = transition.wait(kernel, WaitPolicy(2.0, 0.01, signal_after=0.9), progress, clock)
    assert not result.completed and result.elapsed == 2.0
    assert writes == ["", "", "1", ""]  # signalled once, at 1.0 s, not before
    assert transition.signal(kernel, "livepatch_1_1_1") is True
    with open(signal) as handle:
        assert handle.read().strip() == "1"


def test_transitioning_revert_and_force_drive_the_kernel(sim, build_ko):
    kernel = loaded(sim, build_ko)
    warnings = []
    patch = transition.transitioning(kernel, warnings.append)
    assert patch is not None and patch.name == "livepatch_1_1_1" and warnings == []
    assert transition.force(sim, "livepatch_1_1_1") is None
    assert transition.transitioning(kernel, warnings.append) is None
    from zypp_plugin_klp.services.records import PatchRecords
    forced = PatchRecords.load(sim.root).patches["livepatch_1_1_1"].forced
    assert forced is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", forced), forced
    assert transition.signal(kernel, "no_such_patch") is False
    assert transition.signal(sim, "livepatch_1_1_1") is False  # the kernel signals by itself


def test_transitioning_warns_about_unreadable_sysfs_values(sim, build_ko):
    kernel = loaded(sim, build_ko)
    with open(os.path.join(sysfs.livepatch_dir(sim.root), "livepatch_1_1_1", "stack_order"), "w") as h:
        h.write("garbage\n")
    warnings = []
    assert transition.transitioning(kernel, warnings.append).name == "livepatch_1_1_1"
    assert len(warnings) == 1 and "garbage" in warnings[0]


def test_revert_reports_progress_while_the_reversal_runs(sim, build_ko):
    kernel = loaded(sim, build_ko)  # the real sysfs driver: the simulator does not react to writes
    seen = []
    result = transition.revert(kernel, "livepatch_1_1_1", WaitPolicy(0.05, 0.01), lambda *a: seen.append(a))
    with open(os.path.join(sysfs.livepatch_dir(sim.root), "livepatch_1_1_1", "enabled")) as handle:
        assert handle.read().strip() == "0"
    assert not result.completed and seen and seen[0][0] == "livepatch_1_1_1"


def test_revert_disables_the_patch_and_waits(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    result = transition.revert(sim, "livepatch_1_1_1", WaitPolicy(0.3, 0.05))
    assert [p.enabled for p in sysfs.read_patches(sim.root)] in ([], [0])
    assert result.completed  # the reversal finished (unreverted, it would still be in transition)


@pytest.mark.parametrize("text,env,timeout", [
    ("", {}, 15.0),
    ('LIVEPATCH_WAIT="42"\n', {}, 42.0),
    ('LIVEPATCH_WAIT="42"\n', {"KLP_WAIT": "7"}, 7.0),
])
def test_policy_for_reads_sysconfig_inside_the_root(root, text, env, timeout):
    os.makedirs(os.path.join(root, "etc/sysconfig"), exist_ok=True)
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write(text)
    assert transition.policy_for("scriptlet", root, env).timeout == timeout
