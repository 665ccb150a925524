"""The commit plugin speaking frames over real pipes, against a root with a real rpm database."""

import json
import os
import threading
import time

import pytest

from zypp_plugin_klp import plugin
from zypp_plugin_klp.core.frames import FrameReader
from zypp_plugin_klp.drivers import sysfs
from zypp_plugin_klp.paths import RECORDS
from zypp_plugin_klp.services import journal, remove

from conftest import RELEASE, build_livepatch_rpm, rpm_install, run_klp

pytestmark = pytest.mark.needs("rpmbuild")

PKG = "kernel-livepatch-6_1_0-26-default"


def body(kind, version, stage=None, name=PKG):
    step = {"type": kind, "solvable": {"n": name, "v": version, "r": "1.1", "a": "x86_64"}}
    if stage:
        step["stage"] = stage
    return json.dumps({"TransactionStepList": [step]}, indent=1, sort_keys=True).encode()


def frames(*items):
    out = b""
    for command, payload in items:
        out += command.encode() + b"\n\n" + payload + b"\0"
    return out


def converse(root, data, environ=None, chunk=7):
    """Run serve() over real pipes; return (replies, record written or None, seconds)."""
    decoded, p, elapsed = converse_frames(root, data, environ, chunk)
    return [f.command for f in decoded], p.record if p.written else None, elapsed


def converse_frames(root, data, environ=None, chunk=7, p=None):
    """serve() over real pipes, ``data`` fed ``chunk`` bytes at a time: (every reply frame on the
    wire, the plugin, seconds). ``p``: a plugin started earlier (as when the commit began)."""
    rin, win = os.pipe()
    rout, wout = os.pipe()

    def feed():
        for i in range(0, len(data), chunk):
            os.write(win, data[i:i + chunk])
        os.close(win)

    writer = threading.Thread(target=feed)
    writer.start()
    started = time.monotonic()
    p = p or plugin.CommitPlugin(root, environ or {})
    assert plugin.serve(rin, wout, p) == 0
    elapsed = time.monotonic() - started
    writer.join()
    os.close(wout)
    os.close(rin)
    replies = b""
    while True:
        part = os.read(rout, 65536)
        if not part:
            break
        replies += part
    os.close(rout)
    reader = FrameReader()
    decoded = reader.feed(replies)
    reader.close()
    return decoded, p, elapsed


def conversation(*middle):
    return frames(("PLUGINBEGIN", b""), *middle, ("PLUGINEND", b""), ("_DISCONNECT", b""))


@pytest.fixture
def root(sim):
    os.makedirs(os.path.join(sim.root, "etc/sysconfig"))
    with open(os.path.join(sim.root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write("LIVEPATCH_PLUGIN_WAIT=1\n")
    with open(os.path.join(sim.root, "etc/sysconfig/bootloader"), "w") as handle:
        handle.write("INITRD_GENERATOR=/bin/true\n")
    os.makedirs(os.path.join(sim.root, "lib/modules", RELEASE), exist_ok=True)
    open(os.path.join(sim.root, "lib/modules", RELEASE, "modules.dep"), "w").close()
    return sim.root


def test_every_frame_gets_exactly_one_ack(root):
    replies, record, _ = converse(root, conversation(("COMMITBEGIN", body("+", "1")),
                                                     ("SOMETHINGNEW", b"")))
    assert replies == ["ACK", "ACK", "_ENOMETHOD", "ACK", "ACK"]
    assert record["steps"] == [{"type": "+", "package": f"{PKG}-1-1.1", "arch": "x86_64",
                                "stage": None}]


def test_commit_end_loads_the_newest_installed_patch(root, sim, build_ko, tmp_path):
    rpm_install(root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1"))
    replies, record, _ = converse(root, conversation(("COMMITBEGIN", body("+", "1")),
                                                     ("COMMITEND", body("+", "1", "ok"))))
    assert replies == ["ACK"] * 5
    assert record["actions"][0]["load"] == "in_progress"
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]
    names = os.listdir(os.path.join(root, RECORDS))
    assert len(names) == 1 and names[0].endswith(".json")
    assert run_klp("--root", root, "log").stdout.startswith(record["started"])


def test_commit_begin_waits_bounded_for_a_held_transition(root, sim, build_ko):
    import re

    sim.load(build_ko("livepatch_1_1_1"))
    replies, record, _ = converse(root, conversation(("COMMITBEGIN", body("+", "2"))))
    assert replies == ["ACK"] * 4
    (decision,) = record["decisions"]
    waited = float(re.match(r"waited (\d+\.\d)s for the transition of livepatch_1_1_1: ", decision)[1])
    assert waited >= 1.0  # the whole LIVEPATCH_PLUGIN_WAIT=1, then it gives up
    assert decision.endswith("still in progress, the %pre gate will refuse the new patch")


def test_commit_begin_wait_stops_at_the_answer_deadline(root, sim, build_ko):
    """LIVEPATCH_PLUGIN_WAIT=25 and a transition that never finishes, with libzypp's limit at 3 s
    (ZYPP_PLUGIN_TIMEOUT): the wait before the commit ends at the 2.5 s answer deadline."""
    import re

    sim.load(build_ko("livepatch_1_1_1"))
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write("LIVEPATCH_PLUGIN_WAIT=25\n")
    replies, record, elapsed = converse(root, conversation(("COMMITBEGIN", body("+", "2"))),
                                        {"ZYPP_PLUGIN_TIMEOUT": "3"})
    assert replies == ["ACK"] * 4 and elapsed < 3
    (decision,) = record["decisions"]
    waited = float(re.match(r"waited (\d+\.\d)s for the transition of livepatch_1_1_1: still in "
                            r"progress", decision)[1])
    assert 2.0 <= waited <= 2.5


def test_commit_begin_wait_ends_when_the_task_is_released(root, sim, build_ko, mocker):
    """The task is released while the plugin is inside its wait (at its first pause, not after a
    fixed sleep): the wait ends with the transition, long before the configured 20 s."""
    from zypp_plugin_klp.sim.driver import SimulatedKernel

    sim.load(build_ko("livepatch_1_1_1"))
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write("LIVEPATCH_PLUGIN_WAIT=20\n")
    pauses = []
    real_pause = SimulatedKernel.pause

    def pause(self, seconds):
        if not pauses:
            sim.release()
        pauses.append(seconds)
        real_pause(self, seconds)

    mocker.patch.object(SimulatedKernel, "pause", pause)
    _, record, _ = converse(root, conversation(("COMMITBEGIN", body("+", "2"))))
    (decision,) = record["decisions"]
    assert "transition of livepatch_1_1_1: completed" in decision, decision
    assert len(pauses) == 1  # the loop looked again right after the pause and saw it done


def test_configured_wait_is_capped_below_libzypps_timeout(root):
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write("LIVEPATCH_PLUGIN_WAIT=3600\n")
    from zypp_plugin_klp.services.transition import policy_for

    assert policy_for("plugin", root, {}).timeout == 25.0  # libzypp drops a plugin after 30 s


def test_odd_steps_are_noted(root):
    other = "kernel-livepatch-5_14_21-150500_55_19-default"
    both = json.dumps({"TransactionStepList": [
        {"type": "+", "solvable": {"n": other, "v": "1", "r": "1", "a": "x86_64"}},
        {"type": "M", "solvable": {"n": PKG, "v": "1", "r": "1.1", "a": "x86_64"}},
        {"type": "M", "solvable": {"n": PKG, "v": "2", "r": "1.1", "a": "x86_64"}}]}).encode()
    _, record, _ = converse(root, conversation(("COMMITBEGIN", both)))
    assert record["decisions"] == [
        f"{other}-1-1 is for kernel 5.14.21-150500.55.19-default, which is neither running nor installed",
        f"several versions of {PKG} in one commit: only the newest matters"]


def test_erase_notice_is_made_once(root):
    _, record, _ = converse(root, conversation(("COMMITEND", body("-", "1", "ok"))))
    assert record["actions"] == [{"erase": f"{PKG}-1-1.1", "initrd": "ok"}]
    assert os.path.exists(os.path.join(root, remove.REBOOT_NEEDED))
    _, record, _ = converse(root, conversation(("COMMITEND", body("-", "1", "ok"))))
    assert record["actions"] == [] and "already recorded" in record["decisions"][0]


def test_an_erase_notice_of_an_earlier_boot_is_not_taken_for_this_ones(root, sim):
    """The same package removed again after a reboot (reinstalled meanwhile): a new notice,
    stamped with this boot, replaces the old boot's one."""
    converse(root, conversation(("COMMITEND", body("-", "1", "ok"))))
    first = sim.boot_id()
    assert [n.boot for n in remove.notices(root, first)] == [first]
    now = sim.reboot()
    assert remove.notices(root, now) == []
    _, record, _ = converse(root, conversation(("COMMITEND", body("-", "1", "ok"))))
    assert record["actions"] == [{"erase": f"{PKG}-1-1.1", "initrd": "ok"}]
    with open(os.path.join(root, remove.NOTICES)) as handle:
        assert [n["boot"] for n in json.load(handle)["notices"]] == [now]


def test_upgrade_is_not_an_erase_and_failed_steps_are_ignored(root):
    _, record, _ = converse(root, conversation(("COMMITEND", body("+", "2", "err"))))
    assert record["actions"] == [] and not os.path.exists(os.path.join(root, remove.REBOOT_NEEDED))


@pytest.mark.parametrize("garbage", [b"\xff\xfe\0", b"NOT A FRAME\n\0", b"COMMITBEGIN\n\nkernel-livepatch-x not json\0"])
def test_garbage_never_breaks_the_plugin(root, garbage):
    replies, record, _ = converse(root, frames(("PLUGINBEGIN", b"")) + garbage)
    assert replies[0] == "ACK"
    assert record is not None and record["errors"]


def test_records_are_pruned(root):
    for _ in range(journal.KEEP_RECORDS + 3):
        converse(root, conversation(("COMMITBEGIN", body("+", "1"))))
    assert len(os.listdir(os.path.join(root, RECORDS))) == journal.KEEP_RECORDS


def test_commits_without_live_patches_cost_nothing(root):
    other = json.dumps({"TransactionStepList": [
        {"type": "+", "solvable": {"n": "vim", "v": "9.0", "r": "1", "a": "x86_64"}}]}).encode()
    replies, record, _ = converse(root, conversation(("COMMITBEGIN", other), ("COMMITEND", other)))
    assert replies == ["ACK"] * 5 and record is None
    assert not os.path.exists(os.path.join(root, RECORDS))


def test_unprivileged_plugin_never_crashes(root):
    """Run as nobody: nothing is writable or readable as root expects, yet every frame gets ACK."""
    import shutil
    import subprocess
    import tempfile

    import zypp_plugin_klp

    # nobody must be able to import the package: a world-readable copy (the checkout may be 0700)
    copy = tempfile.mkdtemp(prefix="klp-nobody.")
    try:
        os.chmod(copy, 0o755)
        shutil.copytree(os.path.dirname(zypp_plugin_klp.__file__), os.path.join(copy, "zypp_plugin_klp"))
        data = conversation(("COMMITBEGIN", body("+", "1")), ("COMMITEND", body("+", "1", "ok")),
                            ("COMMITEND", body("-", "1", "ok")))
        code = ("import sys; from zypp_plugin_klp import plugin; "
                "sys.exit(plugin.serve(0, 1, plugin.CommitPlugin(sys.argv[1], {})))")
        r = subprocess.run(["/usr/bin/python3", "-c", code, root], input=data, capture_output=True,
                           timeout=60, user=65534, group=65534, cwd="/",
                           env={"PYTHONPATH": copy, "PATH": "/usr/bin:/bin"})
    finally:
        shutil.rmtree(copy)
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr
    reader = FrameReader()
    assert [f.command for f in reader.feed(r.stdout)] == ["ACK"] * 6


@pytest.mark.parametrize("length", ["\u00b2", "\u0663", "+3", " 3", "3 ", "1" * 40])
def test_non_ascii_content_length_is_refused_without_a_traceback(root, length):
    """Attack (issue 15.7): ``content-length:²`` passed ``str.isdigit`` and crashed the frame
    reader with ValueError; ``٣`` was read as 3. PLUGINBEGIN, in the same chunk, still gets ACK."""
    data = b"PLUGINBEGIN\n\n\0" + b"COMMITBEGIN\ncontent-length:" + length.encode() + \
        b"\n\n{} \0" + b"_DISCONNECT\n\n\0"  # a 3-byte body
    replies, record, _ = converse(root, data, chunk=len(data))
    assert replies == ["ACK"]
    assert record is not None and any("content-length" in e for e in record["errors"])


@pytest.mark.parametrize("name, release", [(PKG + "\n", "1.1\n2026-01-01T00:00:00Z +forged"),
                                           (PKG, "1.1\n2026-01-01T00:00:00Z +forged")])
def test_a_newline_in_a_step_never_forges_a_log_line(root, name, release):
    """Attack (issue 15.8): ``...-default\\n`` matched the name pattern's ``$``, and a release
    with a newline put a forged line into the commit record and ``klp log``."""
    step = {"type": "+", "solvable": {"n": name, "v": "1", "a": "x86_64", "r": release}}
    forged = json.dumps({"TransactionStepList": [step]}).encode()
    replies, record, _ = converse(root, conversation(("COMMITBEGIN", forged)))
    assert replies == ["ACK"] * 4
    assert record["steps"] == [] and any("invalid transaction step" in e for e in record["errors"])
    log = run_klp("--root", root, "log").stdout.splitlines()
    assert log and all(line.startswith(record["started"]) for line in log), log


def test_commit_end_refreshes_the_metrics_textfile_and_never_fails_over_it(root):
    """Monitoring (tests/monitoring): the plugin rewrites node_exporter's textfile after a change."""
    textfile_dir = os.path.join(root, "var/lib/node_exporter/textfile_collector")
    os.makedirs(textfile_dir)
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "a") as handle:
        handle.write('LIVEPATCH_METRICS_DIR="/var/lib/node_exporter/textfile_collector"\n')
    replies, record, _ = converse(root, conversation(("COMMITEND", body("-", "1", "ok"))))
    assert replies == ["ACK"] * 4 and record["errors"] == []
    text = open(os.path.join(textfile_dir, "klp.prom")).read()
    assert 'klp_reboot_needed{reason="livepatch_removed"} 1\n' in text
    os.unlink(os.path.join(textfile_dir, "klp.prom"))
    os.mkdir(os.path.join(textfile_dir, "klp.prom"))  # the file cannot be replaced now
    replies, record, _ = converse(root, conversation(("COMMITEND", body("-", "2", "ok"))))
    assert replies == ["ACK"] * 4
    assert record["errors"] == []
    assert [d for d in record["decisions"] if d.startswith("metrics not refreshed: ")] != []


HOLD_LOCK = """\
import fcntl, os, select, sys
os.makedirs(sys.argv[1], exist_ok=True)
fd = os.open(sys.argv[1] + "/lock", os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, b"%d\\n" % os.getpid(), 0)
print("held", flush=True)
select.select([sys.stdin], [], [], 45)  # released when the test closes stdin, or after 45 s
"""


def test_commit_end_with_the_lock_held_answers_in_time_and_leaves_the_load(root, sim, build_ko,
                                                                             tmp_path):
    """Issue 15, finding 6: another process holds /run/klp/lock (a hook loading, a stuck klp):
    the plugin answers every frame well within libzypp's 30 s and records 'lock busy'."""
    import subprocess
    import sys

    from zypp_plugin_klp.paths import LOCK_DIR

    rpm_install(root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1"))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, os.path.join(root, LOCK_DIR)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        replies, record, elapsed = converse(root, conversation(
            ("COMMITBEGIN", body("+", "1")), ("COMMITEND", body("+", "1", "ok"))))
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert replies == ["ACK"] * 5 and elapsed < 10
    assert record["actions"] == [{"load": "lock_busy", "message": record["decisions"][-1]}]
    assert f"lock busy: process {holder.pid} holds" in record["decisions"][-1]
    assert sysfs.read_patches(root) == []  # the holder does the load, not the plugin


SERVE = ("import sys; from zypp_plugin_klp import plugin; "
         "sys.exit(plugin.serve(0, 1, plugin.CommitPlugin(sys.argv[1])))")


def _answer(proc, reader, command, payload=b""):
    """Send one frame to the plugin process, read its one reply: (reply command, seconds)."""
    sent = time.monotonic()
    proc.stdin.write(command.encode() + b"\n\n" + payload + b"\0")
    proc.stdin.flush()
    while True:
        data = os.read(proc.stdout.fileno(), 4096)
        assert data, f"the plugin closed its output instead of answering {command}"
        replies = reader.feed(data)
        if replies:
            (reply,) = replies
            return reply.command, time.monotonic() - sent


def _opened(pid, path):
    """Whether process ``pid`` has ``path`` open (it has reached the lock)."""
    fds = f"/proc/{pid}/fd"
    for fd in os.listdir(fds):
        try:
            if os.readlink(os.path.join(fds, fd)) == path:
                return True
        except OSError:
            pass
    return False


def test_one_answer_shares_one_deadline_between_the_lock_and_every_wait(root, sim, build_ko,
                                                                          tmp_path):
    """Issue 15, finding 6 (the worst case): another process holds /run/klp/lock for a while and
    another patch's transition never finishes, with the longest wait the settings allow
    (LIVEPATCH_PLUGIN_WAIT=25, the cap). Lock wait + wait before loading used to add up past
    libzypp's limit (2 + 25 s here; up to 3 + 25 + 25 s with the new patch's own wait). One
    deadline per message: the plugin process answers COMMITEND with ACK inside libzypp's
    limit, set small through libzypp's own variable (ZYPP_PLUGIN_RECEIVE_TIMEOUT=6: a 5 s
    budget), and records that the wait got only what the lock left."""
    import re
    import subprocess
    import sys

    from zypp_plugin_klp.paths import LOCK_DIR

    hold = 2.0  # the holder keeps the lock this long once the plugin waits for it (the attack)
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write("LIVEPATCH_PLUGIN_WAIT=25\n")
    sim.load(build_ko("livepatch_1_1_1"))  # memdb-stats holds this transition for good
    rpm_install(root, build_livepatch_rpm(tmp_path, build_ko("livepatch_2_1_1"), "2"))
    lock = os.path.join(root, LOCK_DIR, "lock")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, os.path.dirname(lock)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    proc = subprocess.Popen([sys.executable, "-c", SERVE, root], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "ZYPP_PLUGIN_RECEIVE_TIMEOUT": "6"})
    try:
        assert holder.stdout.readline() == "held\n"
        reader = FrameReader()
        assert _answer(proc, reader, "PLUGINBEGIN")[0] == "ACK"

        def release_after_hold():
            while not _opened(proc.pid, lock) and proc.poll() is None:
                time.sleep(0.01)
            time.sleep(hold)
            holder.stdin.close()

        releaser = threading.Thread(target=release_after_hold)
        releaser.start()
        reply, seconds = _answer(proc, reader, "COMMITEND", body("+", "2", "ok"))
        releaser.join()
        assert reply == "ACK"
        assert seconds < 6  # libzypp's limit in this test; without the deadline about 27 s
        for command in ("PLUGINEND", "_DISCONNECT"):
            assert _answer(proc, reader, command)[0] == "ACK"
        assert proc.wait(timeout=30) == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=60)
    (entry,) = journal.read(root)
    record = entry.record
    assert f"waiting for process {holder.pid}, which holds {LOCK_DIR}/lock" in record["decisions"]
    (action,) = record["actions"]
    assert action["load"] == "failed", action
    waited = re.fullmatch(r"the transition of livepatch_1_1_1 did not finish within (\d+\.\d)s "
                          r"\(the rest of its deadline\); livepatch_2_1_1 was not loaded "
                          r"\(see 'klp blocking -v'\)", action["message"])
    assert waited, action["message"]
    assert float(waited[1]) <= 5.0 - hold + 0.1  # the budget minus what the lock took
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]


@pytest.mark.parametrize("setup, reason", [
    ("nolivepatch", "this kernel has no live patching support"),
    ("never", "LIVEPATCH_KERNEL=never"),
])
def test_the_plugin_and_klp_log_name_why_nothing_was_loaded(root, build_ko, tmp_path, setup, reason):
    import shutil

    rpm_install(root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1"))
    if setup == "nolivepatch":
        shutil.rmtree(os.path.join(root, "sys/kernel/livepatch"))
    else:
        with open(os.path.join(root, "etc/sysconfig/livepatching"), "a") as handle:
            handle.write("LIVEPATCH_KERNEL=never\n")
    _, record, _ = converse(root, conversation(("COMMITEND", body("+", "1", "ok"))))
    assert f"not loading live patches for {RELEASE}: {reason}" in record["decisions"]
    assert f"not loading live patches for {RELEASE}: {reason}" in run_klp("--root", root, "log").stdout


def test_the_plugin_warns_about_an_invalid_livepatch_kernel(root, build_ko, tmp_path):
    rpm_install(root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1"))
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "a") as handle:
        handle.write("LIVEPATCH_KERNEL=sometimes\n")
    _, record, _ = converse(root, conversation(("COMMITEND", body("+", "1", "ok"))))
    assert record["decisions"][0].startswith("warning: LIVEPATCH_KERNEL='sometimes' in "
                                             "/etc/sysconfig/livepatching is not always, never or auto")
    assert record["actions"][0]["load"] == "in_progress"  # read as auto: loaded
