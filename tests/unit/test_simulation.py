"""The pure simulation model behaves like kernel/livepatch: one transition, replace, reverse, force."""

import errno

import pytest

from zypp_plugin_klp.sim.model import SimState, SimThread
from zypp_plugin_klp.errors import KernelError

F = "cmdline_proc_show"


def state(*stacks, wakes=()):
    s = SimState(release="6.1.0-1-default")
    for i, stack in enumerate(stacks, start=1):
        s.threads[i] = SimThread(pid=i, tid=i, comm=f"t{i}", stack=list(stack),
                                 wakes_on_signal=i in wakes)
    return s


def test_unblocked_load_completes_at_once():
    s = state(["ep_poll"], ["n_tty_read"])
    s.load("lp1", [F])
    assert s.transition is None
    assert [p.name for p in s.patches] == ["lp1"]
    assert {t.state for t in s.threads.values()} == {-1}


def test_task_sleeping_in_patched_function_holds_the_transition():
    s = state(["ep_poll"], [f"{F}+0x10/0x40", "vfs_read"])
    s.load("lp1", [F])
    assert s.transition == "lp1"
    assert [t.tid for t in s.blocking()] == [2]
    assert s.threads[1].state == 1 and s.threads[2].state == 0
    assert s.release_tasks([2]) == 1
    assert s.transition is None and s.threads[2].stack == ["vfs_read"]


def test_second_load_during_transition_is_ebusy_and_changes_nothing():
    s = state([F])
    s.load("lp1", [F])
    with pytest.raises(KernelError) as exc:
        s.load("lp2", [F])
    assert exc.value.errno == errno.EBUSY
    assert "lp2" not in s.modules and [p.name for p in s.patches] == ["lp1"]


def test_already_loaded_is_eexist():
    s = state()
    s.load("lp1", [F])
    with pytest.raises(KernelError) as exc:
        s.load("lp1", [F])
    assert exc.value.errno == errno.EEXIST


def test_vermagic_mismatch_is_enoexec_and_non_livepatch_refused():
    s = state()
    with pytest.raises(KernelError) as exc:
        s.load("lp1", [F], vermagic="5.14.21 SMP mod_unload")
    assert exc.value.errno == errno.ENOEXEC
    with pytest.raises(KernelError) as exc:
        s.load("plain", [], livepatch=False, vermagic=s.vermagic)
    assert exc.value.errno == errno.EINVAL
    assert not s.modules and not s.patches


def test_replace_removes_older_patches_from_sysfs_but_not_their_modules():
    s = state(["ep_poll"])
    s.load("lp1", [F])
    s.load("lp2", ["other_func"])
    assert [p.name for p in s.patches] == ["lp2"]
    assert set(s.modules) == {"lp1", "lp2"}
    assert s.patches[0].stack_order == 2


def test_replace_also_waits_for_functions_of_the_older_patch():
    s = state(["ep_poll"])
    s.load("lp1", [F])
    s.threads[1].stack = [f"livepatch_{F}+0x5/0x40"]  # now sleeping in lp1's replacement
    s.load("lp2", ["other_func"])  # lp2 drops lp1's change: F reverts, so the task blocks
    assert s.transition == "lp2" and [t.tid for t in s.blocking()] == [1]


def test_disable_during_own_transition_reverses_it():
    s = state(["ep_poll"], [F])
    s.load("lp1", [F])
    s.disable("lp1")
    assert s.transition is None  # the blocking task never switched, so reversal is instant
    assert s.patches == [] and "lp1" in s.modules


def test_unpatching_waits_only_for_tasks_in_the_replacement():
    s = state()
    s.load("lp1", [F])
    s.threads[8] = SimThread(8, 8, "old", stack=[F])  # the original is safe to return to
    s.threads[9] = SimThread(9, 9, "new", stack=[f"livepatch_{F}+0x4/0x40"])
    s2 = SimState.from_dict(s.to_dict())
    s2.disable("lp1")
    assert s2.transition == "lp1" and [t.tid for t in s2.blocking()] == [9]
    with pytest.raises(KernelError) as exc:
        s2.disable("lp1")
    assert exc.value.errno == errno.EINVAL
    assert s2.patch("lp1").enabled == 0
    other = state()
    other.load("lp2", [F])
    other.threads[7] = SimThread(7, 7, "x", stack=[F])
    other.patches.append(other.patches[0].__class__("lp0", ["g"], stack_order=0))
    other.transition = "lp2"
    with pytest.raises(KernelError) as exc:
        other.disable("lp0")
    assert exc.value.errno == errno.EBUSY


def test_force_completes_and_only_applies_to_the_transitioning_patch():
    s = state([F])
    s.load("lp1", [F])
    with pytest.raises(KernelError):
        s.force("nope")
    s.force("lp1")
    assert s.transition is None and s.patch("lp1").forced


def test_unload_only_after_the_patch_left_sysfs():
    s = state()
    s.load("lp1", [F])
    with pytest.raises(KernelError) as exc:
        s.unload("lp1")
    assert exc.value.errno == errno.EWOULDBLOCK
    s.disable("lp1")
    s.unload("lp1")
    assert "lp1" not in s.modules
    with pytest.raises(KernelError) as exc:
        s.unload("lp1")
    assert exc.value.errno == errno.ENOENT


def test_signal_after_15_seconds_wakes_only_wakeable_tasks():
    s = state([F], [F], wakes={2})
    s.load("lp1", [F])
    s.advance(14)
    assert len(s.blocking()) == 2
    s.advance(1)
    assert [t.tid for t in s.blocking()] == [1]


def test_exiting_task_unblocks_and_is_marked_dirty():
    s = state([F], ["ep_poll"])
    s.load("lp1", [F])
    s.dirty.clear()
    assert s.exit(1) == 1
    assert s.transition is None and 1 in s.dirty and 1 not in s.threads


def test_state_round_trips_through_dict():
    s = state([F], ["ep_poll"])
    s.load("lp1", [F])
    again = SimState.from_dict(s.to_dict())
    assert again.to_dict() == s.to_dict()
    assert again.blocking()[0].tid == 1


def test_release_only_vermagic_difference_passes_like_a_modversions_kernel():
    """Seen under qemu on Debian's 6.1: with modversions the kernel compares only the vermagic
    flags, so the release check is ours (KernelDriver.inspect_fd), not the kernel's."""
    s = state()
    s.load("lp1", [F], vermagic="6.1.0-99-default SMP preempt mod_unload modversions")
    assert "lp1" in s.modules


def test_reboot_forgets_modules_and_transition_but_keeps_the_processes():
    s = state([f"livepatch_{F}", "seq_read_iter"], [F, "vfs_read"])
    s.load_target("busymod")
    s.load("livepatch_1", [F])
    s.set_ftrace(True)
    assert s.transition == "livepatch_1"
    s.reboot("3b0b1f5e-8f6a-4d2c-9e71-5a4c2b1d0f9e")
    assert (s.modules, s.patches, s.targets, s.transition, s.ftrace, s.clock) == ({}, [], [], None,
                                                                                   True, 0.0)
    assert s.boot_id == "3b0b1f5e-8f6a-4d2c-9e71-5a4c2b1d0f9e"
    assert [t.stack for t in s.threads.values()] == [["seq_read_iter"], [F, "vfs_read"]]
    assert {t.state for t in s.threads.values()} == {-1}
    with pytest.raises(KernelError):
        s.reboot("garbage")
