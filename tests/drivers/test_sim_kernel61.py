"""The simulated kernel behaves like Linux 6.1 (issue 17): what the module declares, stacking,
objects and functions in sysfs, file modes, force pinning, and the load failures scenarios declare."""

import errno
import json
import os
import stat

import pytest

from zypp_plugin_klp.errors import KernelError
from zypp_plugin_klp.sim.driver import SimulatedKernel
from zypp_plugin_klp.sim.scenario import parse_scenario

from conftest import VERMAGIC, run_klp

LP = "sys/kernel/livepatch"


def _kernel(tmp_path, extra="", processes=None):
    text = (f"kernel: {{release: 6.1.0-26-default, vermagic: '{VERMAGIC}'{extra}}}\n"
            "processes:\n" + (processes or
                              "  - {pid: 1, comm: init, stack: [do_wait]}\n"
                              "  - {pid: 50, comm: busy, stack: [msleep, busymod_work_func]}\n"
                              "  - {pid: 60, comm: reader, stack: [cmdline_proc_show]}\n"))
    return SimulatedKernel.create(str(tmp_path / "k"), parse_scenario(text))


def _read(k, rel):
    with open(os.path.join(k.root, LP, rel)) as handle:
        return handle.read()


def _mode(k, rel):
    return stat.S_IMODE(os.stat(os.path.join(k.root, LP, rel)).st_mode)


def test_sysfs_files_modes_objects_and_functions_as_6_1(tmp_path, build_ko):
    k = _kernel(tmp_path)
    k.load(build_ko("lp_mod", ["patched_work_func", "lp_init"], replace=False,
                    objects=[("busymod", [("busymod_work_func", "patched_work_func", 0)])]))
    assert sorted(os.listdir(os.path.join(k.root, LP, "lp_mod"))) == \
        ["busymod", "enabled", "force", "transition"]  # no replace/stack_order/signal in 6.1
    assert (_mode(k, "lp_mod/enabled"), _mode(k, "lp_mod/transition"), _mode(k, "lp_mod/force"),
            _mode(k, "lp_mod/busymod/patched")) == (0o644, 0o444, 0o200, 0o444)
    assert sorted(os.listdir(os.path.join(k.root, LP, "lp_mod/busymod"))) == \
        ["busymod_work_func,1", "patched"]
    # the module is not loaded: its object is not patched and a task in it does not block
    assert _read(k, "lp_mod/busymod/patched") == "0\n"
    assert run_klp("--root", k.root, "status").stdout == "ready\n"


def test_module_object_is_patched_when_its_module_loads(tmp_path, build_ko):
    k = _kernel(tmp_path)
    k.load(build_ko("lp_mod", ["patched_work_func"], replace=False,
                    objects=[("busymod", [("busymod_work_func", "patched_work_func", 0)])]))
    k.load_target("busymod")
    assert _read(k, "lp_mod/busymod/patched") == "1\n"
    assert os.path.isfile(os.path.join(k.root, "sys/module/busymod/initstate"))
    # a later patch of the loaded module waits for the task sleeping in its function
    k.load(build_ko("lp_mod2", ["patched_work_func"], replace=False,
                    objects=[("busymod", [("busymod_work_func", "patched_work_func", 0)])]))
    assert run_klp("--root", k.root, "blocking").stdout == "50\n"


def test_functions_come_from_klp_func_not_symbol_names(tmp_path, build_ko):
    """A replacement not named livepatch_<f> still patches <f>; the module's own init does not."""
    k = _kernel(tmp_path)
    k.load(build_ko("lp_named", ["new_cmdline_show", "livepatch_init"],
                    objects=[(None, [("cmdline_proc_show", "new_cmdline_show", 0)])]))
    assert run_klp("--root", k.root, "blocking").stdout == "60\n"  # not pid 1 in 'init'
    assert os.path.isdir(os.path.join(k.root, LP, "lp_named/vmlinux/cmdline_proc_show,1"))


def test_non_replace_patches_stack_and_the_bottom_one_can_be_disabled(tmp_path, build_ko):
    k = _kernel(tmp_path, processes="  - {pid: 1, comm: init, stack: [do_wait]}\n")
    k.load(build_ko("lp_a", replace=False))
    k.load(build_ko("lp_b", replace=False))
    out = run_klp("--root", k.root, "patches").stdout
    assert out == "lp_a\nlp_b\n"
    assert _read(k, "lp_a/enabled") == _read(k, "lp_b/enabled") == "1\n"
    k.disable("lp_a")  # 6.1 enforces no order
    assert os.listdir(os.path.join(k.root, LP)) == ["lp_b"]
    k.unload("lp_a")
    assert run_klp("--root", k.root, "patches").stdout == "lp_b\n"


def test_replace_patch_still_replaces(tmp_path, build_ko):
    k = _kernel(tmp_path, processes="  - {pid: 1, comm: init, stack: [do_wait]}\n")
    k.load(build_ko("lp_a", replace=False))
    k.load(build_ko("lp_c", replace=True))
    assert os.listdir(os.path.join(k.root, LP)) == ["lp_c"]


def test_non_replace_transition_covers_only_its_own_functions(tmp_path, build_ko):
    k = _kernel(tmp_path)
    k.load(build_ko("lp_a", replace=False))  # cmdline_proc_show: held by pid 60
    k.release([60])
    k.load(build_ko("lp_other", ["livepatch_other_func"], replace=False))
    assert run_klp("--root", k.root, "status").stdout == "ready\n"


def test_forced_unpatch_pins_its_module(tmp_path, build_ko):
    k = _kernel(tmp_path)
    k.load(build_ko("lp_a", replace=False))  # held by pid 60 in cmdline_proc_show
    k.force("lp_a")  # forcing a non-replace patch in leaves its module removable
    k.disable("lp_a")
    k.unload("lp_a")
    k3 = _kernel(tmp_path / "3",
                 processes="  - {pid: 70, comm: held, stack: [livepatch_cmdline_proc_show]}\n")
    k3.load(build_ko("lp_d", replace=False))  # a task in its own new code does not hold it
    assert run_klp("--root", k3.root, "status").stdout == "ready\n"
    k3.disable("lp_d")  # unpatching waits for the task in the replacement
    assert run_klp("--root", k3.root, "status").stdout == "in_progress\n"
    k3.force("lp_d")
    assert os.listdir(os.path.join(k3.root, LP)) == []
    with pytest.raises(KernelError) as exc:
        k3.unload("lp_d")
    assert exc.value.errno == errno.EWOULDBLOCK


def test_forcing_a_replace_patch_pins_the_replaced_modules(tmp_path, build_ko):
    k = _kernel(tmp_path)
    k.load(build_ko("lp_a", replace=False))
    k.force("lp_a")
    k.load(build_ko("lp_r", replace=True))
    k.force("lp_r")
    assert os.listdir(os.path.join(k.root, LP)) == ["lp_r"]
    with pytest.raises(KernelError) as exc:
        k.unload("lp_a")
    assert exc.value.errno == errno.EWOULDBLOCK


@pytest.mark.parametrize("declared, code", [
    ("load_failures: {lp_x: {pre_patch: ENODEV}}", errno.ENODEV),
    ("load_failures: {lp_x: klp_state}", errno.EINVAL),
    ("ftrace: false", errno.EBUSY),
])
def test_declared_load_failures_leave_nothing_loaded(tmp_path, build_ko, declared, code):
    k = _kernel(tmp_path, extra=", " + declared)
    with pytest.raises(KernelError) as exc:
        k.load(build_ko("lp_x"))
    assert exc.value.errno == code
    assert os.listdir(os.path.join(k.root, LP)) == []
    assert not os.path.exists(os.path.join(k.root, "sys/module/lp_x"))
    assert run_klp("--root", k.root, "status").stdout == "ready\n"  # no transition running


def test_module_parameters_reach_the_kernel(tmp_path, build_ko):
    k = _kernel(tmp_path)
    k.load(build_ko("lp_p"), params="debug=1")
    with open(os.path.join(k.root, "sys/kernel/.klp-simulator.json")) as handle:
        modules = json.load(handle)["modules"]
    assert [m["params"] for m in modules if m["name"] == "lp_p"] == ["debug=1"]


def test_scenario_rejects_an_unknown_errno(tmp_path):
    from zypp_plugin_klp.errors import ScenarioError

    with pytest.raises(ScenarioError, match="errno name"):
        parse_scenario("kernel: {release: r, load_failures: {m: {pre_patch: ENOPE}}}\n", "s.yaml")


def test_function_directories_carry_old_sympos(tmp_path, build_ko):
    k = _kernel(tmp_path)
    k.load(build_ko("lp_pos", ["patched_show", "patched_read"], replace=False,
                    objects=[(None, [("cmdline_proc_show", "patched_show", 0),
                                     ("seq_read", "patched_read", 2)])]))
    assert sorted(os.listdir(os.path.join(k.root, LP, "lp_pos/vmlinux"))) == \
        ["cmdline_proc_show,1", "patched", "seq_read,2"]  # sympos 0 (unique) is shown as 1


def test_a_task_in_a_replacement_named_only_by_klp_func_blocks_unpatching_and_stacking(
        tmp_path, build_ko):
    procs = ("  - {pid: 1, comm: init, stack: [do_wait]}\n"
             "  - {pid: 70, comm: user, stack: [msleep, patched_show, seq_read_iter]}\n")
    k = _kernel(tmp_path, processes=procs)
    k.load(build_ko("lp_a", ["patched_show"], replace=False,
                    objects=[(None, [("cmdline_proc_show", "patched_show", 0)])]))
    assert run_klp("--root", k.root, "status").stdout == "ready\n"  # not in the original
    # a second patch of the same function waits for the task in the first one's replacement
    k.load(build_ko("lp_b", ["other_show"], replace=False,
                    objects=[(None, [("cmdline_proc_show", "other_show", 0)])]))
    assert run_klp("--root", k.root, "status").stdout == "in_progress\n"
    assert k.release([70]) == 1  # it returns from the replacement
    assert run_klp("--root", k.root, "status").stdout == "ready\n"
