"""The simulated kernel driver: real .ko files in, a kernel-shaped tree out, kernel-like errors."""

import errno
import json
import os

import pytest

from zypp_plugin_klp.drivers.linux import LinuxKernel
from zypp_plugin_klp.paths import SIMULATOR_STATE
from zypp_plugin_klp.drivers import procfs, sysfs
from zypp_plugin_klp.sim.driver import SimulatedKernel
from zypp_plugin_klp.errors import KernelError, KlpError, ScenarioError
from zypp_plugin_klp.services import report as inspect
from zypp_plugin_klp.core.waiting import WaitPolicy
from zypp_plugin_klp.services import transition
from zypp_plugin_klp.wiring import open_kernel


def read(root, rel):
    with open(os.path.join(root, rel)) as handle:
        return handle.read()


def test_tree_has_the_kernel_layout(sim):
    root = sim.root
    assert read(root, "proc/sys/kernel/osrelease") == "6.1.0-26-default\n"
    assert read(root, "proc/4242/cmdline") == "/opt/memdb/bin/memdb\0--config\0/etc/memdb.conf\0"
    assert read(root, "proc/4242/task/4245/comm") == "memdb-stats\n"
    assert read(root, "proc/4242/task/4245/patch_state") == "-1\n"
    assert read(root, "proc/4242/task/4245/stack").startswith("[<0>] cmdline_proc_show+")
    assert oct(os.stat(os.path.join(root, "proc/4242/task/4245/patch_state")).st_mode & 0o777) == "0o400"
    assert os.listdir(sysfs.livepatch_dir(root)) == []
    assert isinstance(open_kernel(root), SimulatedKernel)


def test_open_kernel_on_a_plain_tree_is_linux(tmp_path):
    assert isinstance(open_kernel(str(tmp_path)), LinuxKernel)
    with pytest.raises(KlpError):
        SimulatedKernel(str(tmp_path))


def test_load_holds_transition_until_release(sim, build_ko):
    assert sim.load(build_ko("livepatch_1_1_1")) == "livepatch_1_1_1"
    root = sim.root
    (patch,) = sysfs.read_patches(root)
    assert (patch.enabled, patch.transition, patch.replace, patch.stack_order) == (1, 1, 1, 1)
    assert patch.objects == (("vmlinux", 1),)
    assert sysfs.loaded_livepatch_modules(root) == ["livepatch_1_1_1"]
    assert [(t.pid, t.tid) for t in inspect.blocking(open_kernel(root)).tasks] == [(4242, 4245)]
    assert read(root, "proc/4242/task/4242/patch_state") == "1\n"
    assert sim.release([4245]) == 1
    assert inspect.status(open_kernel(root)) == "ready"
    assert read(root, "proc/4242/task/4245/patch_state") == "-1\n"
    assert "cmdline_proc_show" not in read(root, "proc/4242/task/4245/stack")


def test_replace_keeps_the_old_module_loaded(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    sim.release()
    sim.load(build_ko("livepatch_2_1_1"))
    assert [p.name for p in sysfs.read_patches(sim.root)] == ["livepatch_2_1_1"]
    reports = {r.name: r.active for r in inspect.patches(open_kernel(sim.root))}
    assert reports == {"livepatch_1_1_1": False, "livepatch_2_1_1": True}
    sim.unload("livepatch_1_1_1")
    assert sysfs.loaded_livepatch_modules(sim.root) == ["livepatch_2_1_1"]


@pytest.mark.parametrize("kwargs, code, words", [
    ({"vermagic": "5.14.21-150500.55.19-default SMP mod_unload modversions"}, errno.ENOEXEC,
     "built for kernel 5.14.21-150500.55.19-default"),
    ({"livepatch": False}, errno.EINVAL, "not a live patch module"),
    ({"vermagic": "6.1.0-26-default SMP mod_unload"}, errno.ENOEXEC, "does not fit the running kernel"),
])
def test_bad_modules_are_refused_and_nothing_is_loaded(sim, build_ko, kwargs, code, words):
    with pytest.raises(KernelError) as exc:
        sim.load(build_ko("livepatch_bad", **kwargs))
    assert exc.value.errno == code and words in str(exc.value)
    assert sysfs.read_patches(sim.root) == [] and sysfs.loaded_livepatch_modules(sim.root) == []


def test_not_an_elf_file_is_refused(sim, tmp_path):
    bogus = tmp_path / "bogus.ko"
    bogus.write_bytes(b"#!/bin/sh\necho pwned\n")
    with pytest.raises(KernelError, match="bogus.ko is not a kernel module: not an ELF file"):
        sim.load(str(bogus))
    assert sysfs.loaded_livepatch_modules(sim.root) == []


def test_busy_and_exists(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    with pytest.raises(KernelError) as exc:
        sim.load(build_ko("livepatch_2_1_1"))
    assert exc.value.errno == errno.EBUSY and "another live patch transition" in str(exc.value)
    sim.release()
    with pytest.raises(KernelError) as exc:
        sim.load(build_ko("livepatch_1_1_1"))
    assert exc.value.errno == errno.EEXIST


def test_disable_force_and_unload(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    sim.force("livepatch_1_1_1")
    assert inspect.status(open_kernel(sim.root)) == "ready"
    sim.disable("livepatch_1_1_1")
    assert sysfs.read_patches(sim.root) == []
    sim.unload("livepatch_1_1_1")
    assert sysfs.loaded_livepatch_modules(sim.root) == []


def test_wait_transition_times_out_then_completes(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    seen = []
    result = transition.wait(sim, WaitPolicy(0.3, 0.1), lambda *a: seen.append(a))
    assert not result.completed and result.patch == "livepatch_1_1_1"
    assert seen and seen[0][:3] == ("livepatch_1_1_1", 5, 6)
    sim.release()
    assert transition.wait(sim, WaitPolicy(1, 0.1)).completed


def test_signal_after_15_simulated_seconds_wakes_the_shell(tmp_path, build_ko):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("kernel: {release: 6.1.0-26-default, vermagic: "
                        "'6.1.0-26-default SMP preempt mod_unload modversions'}\n"
                        "processes:\n  - {pid: 9, comm: bash, stack: [cmdline_proc_show], "
                        "wakes_on_signal: true}\n")
    k = SimulatedKernel.from_scenario(str(tmp_path / "r"), str(scenario))
    k.load(build_ko("livepatch_1_1_1"))
    k.advance(10)
    assert inspect.status(open_kernel(k.root)) == "in_progress"
    k.advance(5)
    assert inspect.status(open_kernel(k.root)) == "ready"


def test_exit_removes_proc_entries(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    assert sim.exit(4242) == 2
    assert not os.path.exists(os.path.join(sim.root, "proc/4242"))
    assert inspect.status(open_kernel(sim.root)) == "ready"


def test_state_file_is_valid_json_after_every_operation(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    with open(os.path.join(sim.root, SIMULATOR_STATE)) as handle:
        doc = json.load(handle)
    assert doc["transition"] == "livepatch_1_1_1"
    assert not [n for n in os.listdir(os.path.join(sim.root, "sys/kernel")) if ".tmp" in n]


def test_unreadable_scenario_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        SimulatedKernel.from_scenario(str(tmp_path / "r"), str(tmp_path / "missing.yaml"))


def test_tasks_are_counted_like_the_kernel(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    assert procfs.scan_blocking(sim.root, 1, procfs.WalkStats()) == ([(4242, 4245)], 6)
    blockers, total = procfs.scan_blocking(sim.root, 0, procfs.WalkStats())
    assert (sorted(blockers), total) == ([(1, 1), (2, 2), (812, 812), (4242, 4242), (5001, 5001)], 6)


BOOT_ID = "proc/sys/kernel/random/boot_id"


def test_reboot_gives_a_new_boot_and_an_empty_kernel_and_run(sim, build_ko, tmp_path):
    root = sim.root
    first = sim.boot_id()
    assert first is not None and read(root, BOOT_ID) == first + "\n"
    sim.load_target("busymod")
    sim.load(build_ko("livepatch_1_1_1"))  # memdb-stats holds its transition
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep")
    os.makedirs(os.path.join(root, "run/klp"))
    for name in ("run/reboot-needed", "run/klp/transition-seen"):
        open(os.path.join(root, name), "w").close()
    os.symlink(victim, os.path.join(root, "run/link"))
    os.symlink(victim / "precious", os.path.join(root, "run/file-link"))

    assert any("enabling patch 'livepatch_1_1_1'" in line for line in sim.dmesg())
    new = sim.reboot()
    assert new != first and sim.boot_id() == new and read(root, BOOT_ID) == new + "\n"
    assert sim.dmesg() == []  # dmesg shows the new boot only
    assert os.listdir(os.path.join(root, "run")) == []
    assert (victim / "precious").read_text() == "keep"  # symlinks removed, never followed
    assert sysfs.read_patches(root) == [] and sysfs.loaded_livepatch_modules(root) == []
    assert os.listdir(os.path.join(root, "sys/module")) == []
    assert inspect.status(open_kernel(root)) == "ready"
    assert read(root, "proc/4242/task/4245/patch_state") == "-1\n"
    assert read(root, "proc/4242/task/4245/stack").startswith("[<0>] cmdline_proc_show+")
    # the same system runs on: the patch loads again (its transition held as before)
    assert sim.load(build_ko("livepatch_1_1_1")) == "livepatch_1_1_1"
    assert sim.boot_id() == new
    log = sim.dmesg()  # the module taints this boot afresh, then the patch is enabled
    assert any("taints kernel" in line for line in log) and log[-1].endswith("starting patching transition")


def test_reboot_never_empties_a_run_that_is_a_symlink(sim, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "file").write_text("x")
    os.symlink(elsewhere, os.path.join(sim.root, "run"))
    before = sim.boot_id()
    with pytest.raises(KlpError, match="refusing"):
        sim.reboot()
    assert os.listdir(elsewhere) == ["file"] and sim.boot_id() == before


@pytest.mark.parametrize("bad", ["not-a-uuid", "3B0B1F5E-8F6A-4D2C-9E71-5A4C2B1D0F9E",
                                 "3b0b1f5e-8f6a-4d2c-9e71-5a4c2b1d0f9e\n[<0>] forged", 42])
def test_a_state_file_with_a_bad_boot_id_is_refused(sim, bad):
    path = os.path.join(sim.root, SIMULATOR_STATE)
    with open(path) as handle:
        doc = json.load(handle)
    doc["boot_id"] = bad
    with open(path, "w") as handle:
        json.dump(doc, handle)
    with pytest.raises(KlpError, match="invalid name"):
        sim.advance(1)


def test_a_tree_from_before_boot_ids_gets_one_on_its_next_change(sim):
    path = os.path.join(sim.root, SIMULATOR_STATE)
    with open(path) as handle:
        doc = json.load(handle)
    del doc["boot_id"]
    with open(path, "w") as handle:
        json.dump(doc, handle)
    os.unlink(os.path.join(sim.root, BOOT_ID))
    assert sim.boot_id() is None
    sim.advance(1)
    drawn = sim.boot_id()
    assert drawn is not None
    sim.advance(1)
    assert sim.boot_id() == drawn


@pytest.mark.parametrize("mount", [["-t", "tmpfs", "tmpfs"], ["--bind", "{outside}"]])
def test_reboot_never_empties_a_file_system_mounted_in_run(sim, tmp_path, mount):
    """ROOT/run with the host's /run (or any file system) mounted in it is refused untouched,
    in a private mount namespace so the host never sees the mount."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to mount in a private namespace")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    target = os.path.join(sim.root, "run/mnt")
    os.makedirs(target)
    (tmp_path / "mine").write_text("y")
    os.symlink(tmp_path / "mine", os.path.join(sim.root, "run/link"))
    before = sim.boot_id()
    script = (
        "import subprocess, sys\n"
        "from zypp_plugin_klp.sim.driver import SimulatedKernel\n"
        "from zypp_plugin_klp.errors import KlpError\n"
        f"subprocess.run(['mount', *{[a.format(outside=outside) for a in mount]!r}, {target!r}],"
        " check=True)\n"
        f"open({target!r} + '/inside', 'w').close()\n"
        "try:\n"
        f"    SimulatedKernel({sim.root!r}).reboot()\n"
        "except KlpError as exc:\n"
        "    print(exc)\n"
        f"print(sorted(__import__('os').listdir({target!r})))\n")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", sys.executable,
                        "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("refusing to empty the simulated machine's run: a file system is "
                               f"mounted at {os.path.realpath(target)}")
    assert lines[1] in ("['inside']", "['inside', 'keep']")  # nothing inside the mount removed
    assert sim.boot_id() == before and os.path.islink(os.path.join(sim.root, "run/link"))
    assert sorted(os.listdir(outside)) == sorted(["keep"] + (["inside"] if "--bind" in mount
                                                             else []))
