"""Files root writes under /run, /var and /etc: pre-placed symlinks and FIFOs must not redirect,
block or corrupt anything; every write is atomic."""

import os
import stat
import threading

import pytest

from zypp_plugin_klp.drivers import host
from zypp_plugin_klp.services import remove


def test_symlinked_directory_is_refused_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    root = tmp_path / "root"
    (root / "var/lib").mkdir(parents=True)
    os.symlink(victim, root / "var/lib/klp")
    with pytest.raises(host.HostFileError, match="cannot write var/lib/klp/x"):
        host.write_file(str(root), "var/lib/klp/x", b"data")
    assert os.listdir(victim) == []


def test_symlink_at_the_target_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.symlink(victim, tmp_path / "state")
    host.write_file(str(tmp_path), "state", b"new")
    assert victim.read_text() == "precious"
    assert stat.S_ISREG(os.lstat(tmp_path / "state").st_mode) and (tmp_path / "state").read_bytes() == b"new"


def test_fifo_at_the_target_neither_blocks_reads_nor_writes(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    done = threading.Event()

    def read_then_write():
        assert host.read_file(str(tmp_path), "fifo") in (None, "")
        host.write_file(str(tmp_path), "fifo", b"ok")
        done.set()

    worker = threading.Thread(target=read_then_write, daemon=True)
    worker.start()
    worker.join(5)
    assert done.is_set(), "a FIFO blocked klp"
    assert (tmp_path / "fifo").read_bytes() == b"ok"


def test_no_half_written_file_survives_a_failed_write(tmp_path, monkeypatch):
    (tmp_path / "state").write_bytes(b"old")

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(host.os, "fsync", no_space)
    with pytest.raises(host.HostFileError, match="No space left on device"):
        host.write_file(str(tmp_path), "state", b"new" * 1000)
    assert (tmp_path / "state").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["state"]  # the temporary file is gone too


def test_reboot_notice_through_a_hostile_run_directory(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, root / "run")
    with pytest.raises(host.HostFileError):
        remove.after_erase(str(root), "kernel-livepatch-x-1-1", "6.1.0-1-default", "6.1.0-1-default",
                           boot=None)
    assert os.listdir(elsewhere) == []


def test_bytes_on_disk_after_a_writer_is_killed_mid_write(tmp_path):
    """A writer SIGKILLed halfway through its data (a real crash, in a child process): the file
    keeps its old bytes exactly, and the next write replaces the dead writer's temporary file."""
    import subprocess
    import sys

    (tmp_path / "state").write_bytes(b"old state\n")
    code = ("import os, signal, sys\n"
            "from zypp_plugin_klp.drivers import host\n"
            "real = os.write\n"
            "def half(fd, data):\n"
            "    real(fd, bytes(data[:len(data) // 2]))\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "host.os.write = half\n"
            "host.write_file(sys.argv[1], 'state', b'new state ' * 1000)\n")
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True)
    assert child.returncode == -9, child.stderr
    assert (tmp_path / "state").read_bytes() == b"old state\n"
    (leftover,) = [n for n in os.listdir(tmp_path) if n != "state"]
    assert leftover.startswith(".state.klp-") and os.path.getsize(tmp_path / leftover) == 5000
    host.write_file(str(tmp_path), "state", b"next\n")
    assert (tmp_path / "state").read_bytes() == b"next\n"
    assert os.listdir(tmp_path) == ["state"]
