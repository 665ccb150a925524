"""The sysfs/proc readers on a hand-laid tree full of garbage and missing files."""

import os

from zypp_plugin_klp.drivers import procfs, sysfs
from zypp_plugin_klp.services import report as inspect
from zypp_plugin_klp.wiring import open_kernel

from conftest import FIXTURES

HOSTILE = os.path.join(FIXTURES, "trees", "hostile")


def test_patches_tolerate_garbage_and_missing_attributes():
    warnings = []
    patches = {p.name: p for p in sysfs.read_patches(HOSTILE, warnings.append)}
    assert patches["livepatch_1"].enabled is None and patches["livepatch_1"].transition is None
    assert patches["livepatch_2"].enabled == 1 and patches["livepatch_2"].transition == 1
    assert patches["livepatch_2"].replace is None and patches["livepatch_2"].stack_order is None
    assert patches["livepatch_2"].objects == (("vmlinux", None),)
    assert any("banana" in w for w in warnings) and any("not-a-number" in w for w in warnings)


def test_loaded_livepatch_modules_come_from_the_taint_flag():
    assert sysfs.loaded_livepatch_modules(HOSTILE) == ["livepatch_0", "livepatch_1", "livepatch_2"]


def test_status_and_release():
    assert sysfs.any_transition(HOSTILE) is True
    assert inspect.status(open_kernel(HOSTILE)) == "in_progress"
    assert sysfs.kernel_release(HOSTILE) == "6.1.0-26-default"


def test_missing_root_reads_as_no_live_patching(tmp_path):
    assert sysfs.read_patches(str(tmp_path)) == []
    assert inspect.status(open_kernel(str(tmp_path))) == "ready"
    assert procfs.scan_blocking(str(tmp_path), 1, procfs.WalkStats()) == ([], 0)
    assert sysfs.kernel_release(str(tmp_path)) == ""


def test_task_walk_skips_garbage_and_missing_files():
    stats = procfs.WalkStats()
    warnings = []
    blockers, total = procfs.scan_blocking(HOSTILE, 1, stats, warnings.append)
    assert sorted(blockers) == [(1, 1), (70, 70)] and total == 4  # 70/72 is -1: not taking part
    assert stats.garbage == 1 and "proc/3/task/3/patch_state" in warnings[0]
    assert stats.vanished >= 3  # pid 4 (no thread dirs), 5 (no task dir), 6 (no patch_state)


def test_blocking_report_on_hostile_tree():
    report = inspect.blocking(open_kernel(HOSTILE), details=2)
    assert report.patch.name == "livepatch_2" and report.target == 1
    assert [(t.pid, t.tid) for t in report.tasks] == [(1, 1), (70, 70)]
    assert report.total == 4 and report.switched == 2
    first, second = report.tasks
    assert first.details.cmdline == ["/usr/lib/systemd/systemd", "--system"]
    assert first.details.stack == ["ep_poll+0x1/0x2"]
    assert second.details.comm is None and second.details.stack is None


def test_task_vanishing_mid_walk(tmp_path, monkeypatch):
    """A thread that exits between listing and reading is skipped, not an error."""
    root = tmp_path
    for tid in (10, 11):
        os.makedirs(root / "proc" / "10" / "task" / str(tid))
        (root / "proc" / "10" / "task" / str(tid) / "patch_state").write_text("0\n")
    real_listdir = os.listdir

    def listdir_then_exit(path):
        names = real_listdir(path)
        if str(path).endswith("/proc/10/task"):
            os.remove(root / "proc" / "10" / "task" / "11" / "patch_state")
        return names

    monkeypatch.setattr(procfs.os, "listdir", listdir_then_exit)
    stats = procfs.WalkStats()
    assert procfs.scan_blocking(str(root), 1, stats) == ([(10, 10)], 1)
    assert stats.vanished == 1
