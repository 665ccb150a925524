"""Linux 6.1's livepatch selftests (tools/testing/selftests/livepatch) told to the simulated kernel.

Each test follows one selftest scenario the simulator can express and asserts its kernel log the
way the selftests' check_result() does: the lines since the test started that mention
``livepatch:`` or ``test_klp``, without the taint notices, and with the ``% command`` lines and
loader errors the selftests' functions.sh writes to /dev/kmsg themselves. The selftest modules' own
``pr_info`` lines (callbacks printing their names, the patched /proc/cmdline) are not the kernel's:
the simulated modules have no code, so those lines are left out of the expected text.
"""

import errno
import os
import stat

import pytest

from zypp_plugin_klp.errors import KernelError
from zypp_plugin_klp.sim.driver import SimulatedKernel
from zypp_plugin_klp.sim.scenario import parse_scenario

from conftest import VERMAGIC, run_klp

LP = "test_klp_livepatch"
REPLACE = "test_klp_atomic_replace"
DEMO = "test_klp_callbacks_demo"
MOD = "test_klp_callbacks_mod"
BUSY = "test_klp_callbacks_busy"
CMDLINE = [(None, [("cmdline_proc_show", "livepatch_cmdline_proc_show", 0)])]
MEMINFO = [(None, [("meminfo_proc_show", "livepatch_meminfo_proc_show", 0)])]
# test_klp_callbacks_demo: callbacks on vmlinux and both target modules, busymod_work_func patched
DEMO_OBJECTS = [(None, []), (MOD, []), (BUSY, [("busymod_work_func", "patched_work_func", 0)])]


class Selftest:
    """functions.sh on the simulated kernel: the same steps, logged to the kernel log alike."""

    def __init__(self, tmp_path, build_ko, scenario_extra: str = "", processes: str = "") -> None:
        text = (f"kernel: {{release: 6.1.0-26-default, vermagic: '{VERMAGIC}', dynamic_debug: true"
                f"{scenario_extra}}}\nprocesses:\n  - {{pid: 1, comm: init, stack: [do_wait]}}\n"
                + processes)
        self.k = SimulatedKernel.create(str(tmp_path / "k"), parse_scenario(text))
        self.build_ko = build_ko
        self.saved = len(self.k.dmesg())

    def ko(self, name: str, objects, replace: bool = False) -> str:
        functions = [new for _obj, funcs in objects for _old, new, _pos in funcs] or ["lp_init"]
        return self.build_ko(name, functions, replace=replace, objects=objects)

    def load_lp(self, name: str, objects=CMDLINE, replace: bool = False, args: str = "") -> None:
        self.k.kmsg(f"% modprobe {name}{' ' + args if args else ''}")
        self.k.load(self.ko(name, objects, replace))
        self.wait()

    def load_failing_mod(self, name: str, objects=CMDLINE, args: str = "") -> int:
        self.k.kmsg(f"% modprobe {name}{' ' + args if args else ''}")
        with pytest.raises(KernelError) as failure:
            self.k.load(self.ko(name, objects))
        self.k.kmsg(f"modprobe: ERROR: could not insert '{name}': "
                    f"{os.strerror(failure.value.errno)}")
        return failure.value.errno

    def load_mod(self, name: str) -> None:
        self.k.kmsg(f"% modprobe {name}")
        self.k.load_target(name)

    def disable_lp(self, name: str) -> None:
        self.k.kmsg(f"% echo 0 > /sys/kernel/livepatch/{name}/enabled")
        self.k.disable(name)
        self.wait()

    def unload(self, name: str) -> None:
        self.k.kmsg(f"% rmmod {name}")
        self.k.unload(name)

    def wait(self) -> None:
        """loop_until: the transition is over (the simulated one settles as it goes)."""

    def check_result(self, expected: str) -> None:
        lines = [line for line in self.k.dmesg()[self.saved:]
                 if ("livepatch:" in line or "test_klp" in line)
                 and "tainting kernel" not in line and "taints kernel" not in line]
        assert "\n".join(lines) == expected.strip("\n")


def _enable(name: str) -> str:
    return f"""livepatch: enabling patch '{name}'
livepatch: '{name}': initializing patching transition
livepatch: '{name}': starting patching transition
livepatch: '{name}': completing patching transition
livepatch: '{name}': patching complete"""


def _disable(name: str) -> str:
    return f"""% echo 0 > /sys/kernel/livepatch/{name}/enabled
livepatch: '{name}': initializing unpatching transition
livepatch: '{name}': starting unpatching transition
livepatch: '{name}': completing unpatching transition
livepatch: '{name}': unpatching complete"""


# -- test-livepatch.sh -----------------------------------------------------------------------------
def test_basic_function_patching(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)
    t.load_lp(LP)
    t.disable_lp(LP)
    t.unload(LP)
    t.check_result(f"% modprobe {LP}\n{_enable(LP)}\n{_disable(LP)}\n% rmmod {LP}")


def test_multiple_livepatches(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)
    t.load_lp(LP)
    t.load_lp(REPLACE, MEMINFO, args="replace=0")
    t.disable_lp(REPLACE)
    t.disable_lp(LP)
    t.unload(REPLACE)
    t.unload(LP)
    t.check_result(f"""% modprobe {LP}
{_enable(LP)}
% modprobe {REPLACE} replace=0
{_enable(REPLACE)}
{_disable(REPLACE)}
{_disable(LP)}
% rmmod {REPLACE}
% rmmod {LP}""")


def test_atomic_replace_livepatch(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)
    t.load_lp(LP)
    t.load_lp(REPLACE, MEMINFO, replace=True, args="replace=1")
    assert sorted(run_klp("--root", t.k.root, "patches").stdout.split()) == [REPLACE, LP]
    assert os.listdir(os.path.join(t.k.root, "sys/kernel/livepatch")) == [REPLACE]
    t.unload(LP)  # replaced: out of sysfs, so removable
    t.disable_lp(REPLACE)
    t.unload(REPLACE)
    t.check_result(f"""% modprobe {LP}
{_enable(LP)}
% modprobe {REPLACE} replace=1
{_enable(REPLACE)}
% rmmod {LP}
{_disable(REPLACE)}
% rmmod {REPLACE}""")


# -- test-callbacks.sh (the core's lines; the callbacks' own lines are the modules') ---------------
def test_target_module_before_livepatch(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)
    t.load_mod(MOD)
    t.load_lp(DEMO, DEMO_OBJECTS)
    t.disable_lp(DEMO)
    t.unload(DEMO)
    t.unload(MOD)
    t.check_result(f"% modprobe {MOD}\n% modprobe {DEMO}\n{_enable(DEMO)}\n{_disable(DEMO)}\n"
                   f"% rmmod {DEMO}\n% rmmod {MOD}")


def _target_comes_and_goes() -> str:
    """The log of: the demo patch enabled, its target module loaded and removed, the patch
    disabled and removed (test-callbacks' and test-sysfs' scenarios expect the same lines)."""
    return f"""% modprobe {DEMO}
{_enable(DEMO)}
% modprobe {MOD}
livepatch: applying patch '{DEMO}' to loading module '{MOD}'
% rmmod {MOD}
livepatch: reverting patch '{DEMO}' on unloading module '{MOD}'
{_disable(DEMO)}
% rmmod {DEMO}"""


def test_module_coming_and_going_callbacks(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)
    t.load_lp(DEMO, DEMO_OBJECTS)
    t.load_mod(MOD)
    t.unload(MOD)
    t.disable_lp(DEMO)
    t.unload(DEMO)
    t.check_result(_target_comes_and_goes())


def test_pre_patch_callback_enodev(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko,
                 ", load_failures: {test_klp_callbacks_demo: {pre_patch: ENODEV}}")
    assert t.load_failing_mod(DEMO, DEMO_OBJECTS, args="pre_patch_ret=-19") == errno.ENODEV
    assert os.listdir(os.path.join(t.k.root, "sys/kernel/livepatch")) == []
    t.check_result(f"""% modprobe {DEMO} pre_patch_ret=-19
livepatch: enabling patch '{DEMO}'
livepatch: '{DEMO}': initializing patching transition
livepatch: pre-patch callback failed for object 'vmlinux'
livepatch: failed to enable patch '{DEMO}'
livepatch: '{DEMO}': canceling patching transition, going to unpatch
livepatch: '{DEMO}': completing unpatching transition
livepatch: '{DEMO}': unpatching complete
modprobe: ERROR: could not insert '{DEMO}': No such device""")


def test_busy_target_module_holds_the_transition_until_reversed(tmp_path, build_ko):
    worker = "  - {pid: 90, comm: kworker/0:1, stack: [msleep, busymod_work_func, worker_thread]}\n"
    t = Selftest(tmp_path, build_ko, processes=worker)
    t.load_mod(BUSY)
    t.load_lp(DEMO, DEMO_OBJECTS)
    assert run_klp("--root", t.k.root, "status").stdout == "in_progress\n"
    t.load_mod(MOD)
    t.disable_lp(DEMO)
    assert run_klp("--root", t.k.root, "status").stdout == "ready\n"
    t.unload(DEMO)
    t.unload(MOD)
    t.check_result(f"""% modprobe {BUSY}
% modprobe {DEMO}
livepatch: enabling patch '{DEMO}'
livepatch: '{DEMO}': initializing patching transition
livepatch: '{DEMO}': starting patching transition
% modprobe {MOD}
livepatch: applying patch '{DEMO}' to loading module '{MOD}'
% echo 0 > /sys/kernel/livepatch/{DEMO}/enabled
livepatch: '{DEMO}': reversing transition from patching to unpatching
livepatch: '{DEMO}': starting unpatching transition
livepatch: '{DEMO}': completing unpatching transition
livepatch: '{DEMO}': unpatching complete
% rmmod {DEMO}
% rmmod {MOD}""")


# -- test-state.sh ---------------------------------------------------------------------------------
def test_incompatible_klp_state(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko, ", load_failures: {test_klp_state3: klp_state}")
    t.load_lp("test_klp_state2", replace=True)
    assert t.load_failing_mod("test_klp_state3") == errno.EINVAL
    t.disable_lp("test_klp_state2")
    t.unload("test_klp_state2")
    t.check_result(f"""% modprobe test_klp_state2
{_enable("test_klp_state2")}
% modprobe test_klp_state3
livepatch: Livepatch patch (test_klp_state3) is not compatible with the already installed \
livepatches.
modprobe: ERROR: could not insert 'test_klp_state3': Invalid argument
{_disable("test_klp_state2")}
% rmmod test_klp_state2""")


# -- test-ftrace.sh --------------------------------------------------------------------------------
def test_livepatch_interaction_with_ftrace_enabled_sysctl(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)

    def set_ftrace_enabled(value: int, fail: bool = False) -> None:
        try:
            t.k.set_ftrace(bool(value))
            t.k.kmsg(f"livepatch: kernel.ftrace_enabled = {value}")
        except KernelError as exc:
            assert fail and exc.errno == errno.EBUSY
            t.k.kmsg('livepatch: sysctl: setting key "kernel.ftrace_enabled": '
                     'Device or resource busy')

    set_ftrace_enabled(0)
    assert t.load_failing_mod(LP) == errno.EBUSY
    set_ftrace_enabled(1)
    t.load_lp(LP)
    set_ftrace_enabled(0, fail=True)
    t.disable_lp(LP)
    t.unload(LP)
    t.check_result(f"""livepatch: kernel.ftrace_enabled = 0
% modprobe {LP}
livepatch: enabling patch '{LP}'
livepatch: '{LP}': initializing patching transition
livepatch: failed to register ftrace handler for function 'cmdline_proc_show' (-16)
livepatch: failed to patch object 'vmlinux'
livepatch: failed to enable patch '{LP}'
livepatch: '{LP}': canceling patching transition, going to unpatch
livepatch: '{LP}': completing unpatching transition
livepatch: '{LP}': unpatching complete
modprobe: ERROR: could not insert '{LP}': Device or resource busy
livepatch: kernel.ftrace_enabled = 1
% modprobe {LP}
{_enable(LP)}
livepatch: sysctl: setting key "kernel.ftrace_enabled": Device or resource busy
{_disable(LP)}
% rmmod {LP}""")


# -- test-sysfs.sh ---------------------------------------------------------------------------------
def _sysfs(t: Selftest, rel: str):
    path = os.path.join(t.k.root, "sys/kernel/livepatch", rel)
    mode = stat.filemode(os.lstat(path).st_mode)
    if stat.S_ISDIR(os.lstat(path).st_mode) or not os.lstat(path).st_mode & 0o444:
        return mode, None
    with open(path, encoding="utf-8") as handle:
        return mode, handle.read().strip()


def test_sysfs_test(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)
    t.load_lp(LP)
    assert [_sysfs(t, f"{LP}/{rel}") for rel in ("", "enabled", "force", "transition",
                                                  "vmlinux/patched")] == [
        ("drwxr-xr-x", None), ("-rw-r--r--", "1"), ("--w-------", None), ("-r--r--r--", "0"),
        ("-r--r--r--", "1")]
    t.disable_lp(LP)
    t.unload(LP)
    t.check_result(f"% modprobe {LP}\n{_enable(LP)}\n{_disable(LP)}\n% rmmod {LP}")


def test_sysfs_test_object_patched(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)
    t.load_lp(DEMO, DEMO_OBJECTS)
    seen = [_sysfs(t, f"{DEMO}/{MOD}/patched")[1]]
    t.load_mod(MOD)
    seen.append(_sysfs(t, f"{DEMO}/{MOD}/patched")[1])
    t.unload(MOD)
    seen.append(_sysfs(t, f"{DEMO}/{MOD}/patched")[1])
    assert seen == ["0", "1", "0"]
    t.disable_lp(DEMO)
    t.unload(DEMO)
    t.check_result(_target_comes_and_goes())


# -- what the selftests leave to dynamic debug, signals and force ----------------------------------
def test_without_dynamic_debug_only_the_notices_are_logged(tmp_path, build_ko):
    k = SimulatedKernel.create(str(tmp_path / "k"), parse_scenario(
        f"kernel: {{release: 6.1.0-26-default, vermagic: '{VERMAGIC}'}}\n"))
    k.load(build_ko(LP, ["livepatch_cmdline_proc_show"], objects=CMDLINE, replace=False))
    # out of tree, unsigned: the loader's once-per-boot notices come before the patch's
    assert k.dmesg() == [
        f"{LP}: loading out-of-tree module taints kernel.",
        f"{LP}: tainting kernel with TAINT_LIVEPATCH",
        f"{LP}: module verification failed: signature and/or required key missing - tainting "
        "kernel",
        f"livepatch: enabling patch '{LP}'",
        f"livepatch: '{LP}': starting patching transition",
        f"livepatch: '{LP}': patching complete"]
    k.load(build_ko("second", ["livepatch_cmdline_proc_show"], objects=CMDLINE, replace=False))
    assert k.dmesg()[6:] == ["livepatch: enabling patch 'second'",
                             "livepatch: 'second': starting patching transition",
                             "livepatch: 'second': patching complete"]


def test_signal_and_force_are_logged(tmp_path, build_ko):
    held = ("  - {pid: 77, comm: worker, wakes_on_signal: true, stack: [cmdline_proc_show]}\n"
            "  - {pid: 78, comm: stuck, stack: [cmdline_proc_show]}\n")
    t = Selftest(tmp_path, build_ko, processes=held)
    t.k.load(t.ko(LP, CMDLINE))
    t.k.advance(15)
    t.k.force(LP)
    t.check_result(f"""livepatch: enabling patch '{LP}'
livepatch: '{LP}': initializing patching transition
livepatch: '{LP}': starting patching transition
livepatch: signaling remaining tasks
livepatch: forcing remaining tasks to the patched state
livepatch: '{LP}': completing patching transition
livepatch: '{LP}': patching complete""")


def test_log_is_bounded_like_a_ring_buffer_and_survives_in_kmsg_format(tmp_path, build_ko):
    t = Selftest(tmp_path, build_ko)
    for n in range(700):
        t.k.kmsg(f"line {n:04d} " + "x" * 80)
    path = os.path.join(t.k.root, "sys/kernel/.klp-simulator.kmsg")
    assert os.path.getsize(path) <= 64 * 1024
    lines = t.k.dmesg()
    assert lines[-1].startswith("line 0699 ") and not lines[0].startswith("line 0000 ")
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    assert first.startswith("12,") and ";line " in first  # prio,seq,usec,flags;message
    out = run_klp("dmesg", t.k.root, prog="klp-simkernel")  # what a user runs
    assert (out.returncode, out.stdout.splitlines()) == (0, lines)


def test_a_hostile_log_in_the_state_file_is_one_line_error(tmp_path, build_ko):
    import json

    t = Selftest(tmp_path, build_ko)
    state = os.path.join(t.k.root, "sys/kernel/.klp-simulator.json")
    with open(state, encoding="utf-8") as handle:
        doc = json.load(handle)
    doc["log"] = [["x", 1, 2, "forged"]]
    with open(state, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    out = run_klp("kmsg", t.k.root, "hello", prog="klp-simkernel")
    assert out.returncode == 1 and out.stderr.startswith("klp-simkernel: ") and \
        "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1
    os.unlink(os.path.join(t.k.root, "sys/kernel/.klp-simulator.kmsg"))
    assert run_klp("dmesg", t.k.root, prog="klp-simkernel").stdout == ""  # an older tree


def test_klp_simkernel_dynamic_debug_and_call(tmp_path, build_ko):
    root = str(tmp_path / "k")
    SimulatedKernel.create(root, parse_scenario(
        f"kernel: {{release: 6.1.0-26-default, vermagic: '{VERMAGIC}'}}\n"
        "processes:\n  - {pid: 40, comm: reader, stack: [do_wait]}\n"))

    def simkernel(*args: str):
        return run_klp(*args, prog="klp-simkernel")

    assert simkernel("dynamic-debug", root, "on").returncode == 0
    assert simkernel("call", root, "40", "vfs_read", "cmdline_proc_show").stdout == \
        "1 threads called in\n"
    assert simkernel("load", root, build_ko(LP, ["livepatch_cmdline_proc_show"], objects=CMDLINE,
                                            replace=False)).returncode == 0
    assert run_klp("--root", root, "status").stdout == "in_progress\n"  # 40 sleeps in it
    assert simkernel("dmesg", root).stdout.splitlines()[-2:] == [
        f"livepatch: '{LP}': initializing patching transition",
        f"livepatch: '{LP}': starting patching transition"]
    assert simkernel("dynamic-debug", root, "off").returncode == 0
    assert simkernel("release", root, "40").returncode == 0
    assert simkernel("dmesg", root).stdout.splitlines()[-1] == f"livepatch: '{LP}': patching complete"
    bad = simkernel("call", root, "40", "evil\nframe")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
