"""The commit plugin through its entry points: ``main()`` on descriptors 0 and 1 as libzypp starts
it, ``serve()`` over real pipes, with what the administrator sees afterwards (``klp log``, the
record, syslog). Written against the survivors of ``make mutation`` on plugin.py."""

import calendar
import json
import os
import sys
import threading
import time

import pytest

from zypp_plugin_klp import hooks, plugin
from zypp_plugin_klp.core.frames import FrameError, FrameReader
from zypp_plugin_klp.drivers import pipe, sysfs
from zypp_plugin_klp.paths import RECORDS

from conftest import RELEASE, build_livepatch_rpm, rpm_install, run_klp
from test_plugin import PKG, body, conversation, converse, converse_frames, frames, root  # noqa: F401

pytestmark = pytest.mark.needs("rpmbuild")


@pytest.fixture
def newfoundland(monkeypatch):
    """Local time 3.5 hours behind UTC (a day boundary apart for half of every day)."""
    monkeypatch.setenv("TZ", "America/St_Johns")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def utc_seconds(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def test_posttrans_of_this_commit_is_not_repeated_and_the_record_tells_when(root, build_ko, tmp_path,
                                                                           monkeypatch, newfoundland):
    """The plugin starts with the commit, rpm's %posttrans loads the patch, then COMMITEND comes:
    the plugin sees that %posttrans did it (it compares UTC times), loads nothing, and its record
    carries the commit's start in UTC, its duration and its process."""
    rpm_install(root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1"))
    before = int(time.time())
    p = plugin.CommitPlugin(root, {})
    monkeypatch.setenv("KLP_WAIT", "0")
    assert hooks.main(["posttrans", PKG, "1-1.1", "--root", root]) == 0
    decoded, p, elapsed = converse_frames(root, conversation(("COMMITBEGIN", body("+", "1")),
                                                             ("COMMITEND", body("+", "1", "ok"))), p=p)
    after = time.time()
    assert [f.command for f in decoded] == ["ACK"] * 5
    record = p.record
    assert record["actions"] == [], record
    assert any(d.startswith(f"%posttrans already handled {PKG}-1-1.1.x86_64: ") for d in record["decisions"])
    assert sysfs.loaded_livepatch_modules(root) == ["livepatch_1_1_1"]
    assert before <= utc_seconds(record["started"]) <= after
    (line,) = run_klp("--root", root, "log").stdout.splitlines()
    assert line.startswith(record["started"] + " +")
    (name,) = os.listdir(os.path.join(root, RECORDS))
    with open(os.path.join(root, RECORDS, name)) as handle:
        saved = json.load(handle)
    assert name.endswith(f"-{os.getpid()}.json") and saved["pid"] == os.getpid()
    assert isinstance(saved["duration"], float) and 0 < saved["duration"] <= elapsed + (after - before)
    assert round(saved["duration"], 3) == saved["duration"]


def test_the_plugin_takes_its_environment_from_the_process(root, build_ko, tmp_path, monkeypatch):
    """libzypp passes the environment of zypper, e.g. inside transactional-update: the plugin
    (started without an explicit environment, as main() starts it) loads nothing there."""
    rpm_install(root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1"))
    monkeypatch.setenv("TRANSACTIONAL_UPDATE", "true")
    decoded, p, _ = converse_frames(root, conversation(("COMMITEND", body("+", "1", "ok"))),
                                    p=plugin.CommitPlugin(root))
    assert [f.command for f in decoded] == ["ACK"] * 4
    assert f"not loading live patches for {RELEASE}: LIVEPATCH_KERNEL=auto inside a transactional " \
        "update" in p.record["decisions"]
    assert sysfs.read_patches(root) == []


def test_a_failing_stage_is_recorded_with_the_kind_of_failure(root):
    replies, record, _ = converse(root, conversation(("COMMITBEGIN", b"kernel-livepatch-x not json")))
    assert replies == ["ACK"] * 4
    (error,) = record["errors"]
    assert error.startswith(f"COMMITBEGIN: {FrameError.__name__}: transaction body is not JSON"), error


def test_syslog_gets_what_klp_log_shows_even_when_the_record_cannot_be_written(root, mocker):
    import syslog

    openlog, log = mocker.spy(syslog, "openlog"), mocker.spy(syslog, "syslog")
    replies, record, _ = converse(root, conversation(("COMMITEND", body("-", "1", "ok"))))
    assert replies == ["ACK"] * 4
    (line,) = run_klp("--root", root, "log").stdout.splitlines()
    opened = dict(zip(("ident", "logoption", "facility"), openlog.call_args.args),
                  **openlog.call_args.kwargs)
    assert (opened["ident"], opened.get("facility")) == ("zypp-plugin-klp", syslog.LOG_DAEMON), opened
    assert log.call_args.args == (syslog.LOG_INFO, line)
    # the journal directory is not a directory: the record is lost, syslog still says why
    records = os.path.join(root, RECORDS)
    for name in os.listdir(records):
        os.unlink(os.path.join(records, name))
    os.rmdir(records)
    open(records, "w").close()
    replies, record, _ = converse(root, conversation(("COMMITEND", body("-", "2", "ok"))))
    assert replies == ["ACK"] * 4
    priority, message = log.call_args.args
    assert priority == syslog.LOG_INFO and f"-{PKG}-2-1.1" in message
    assert "; error: record not saved: " in message, message


def _pipe_pair():
    rin, win = os.pipe()
    rout, wout = os.pipe()
    return rin, win, rout, wout


def test_disconnect_ends_the_plugin_while_libzypp_keeps_the_pipe_open(root):
    """libzypp sends _DISCONNECT and waits for the plugin to exit, its end of stdin still open:
    the plugin answers and returns at once (waiting for end of file would hang the commit)."""
    rin, win, rout, wout = _pipe_pair()
    results = []
    server = threading.Thread(target=lambda: results.append(
        plugin.serve(rin, wout, plugin.CommitPlugin(root, {}))))
    try:
        os.write(win, frames(("PLUGINBEGIN", b""), ("PLUGINEND", b""), ("_DISCONNECT", b"")))
        server.start()
        server.join(timeout=60)
        assert not server.is_alive(), "the plugin still waits for input after _DISCONNECT"
    finally:
        os.close(win)  # lets a plugin stuck in read() end
        server.join(timeout=60)
    os.close(wout)
    reader = FrameReader()
    assert [f.command for f in reader.feed(os.read(rout, 65536))] == ["ACK"] * 3
    assert results == [0]
    os.close(rin)
    os.close(rout)


def test_a_vanished_libzypp_ends_the_plugin_quietly(root):
    """libzypp dropped the plugin (closed its end of the reply pipe): no traceback, exit 0."""
    rin, win, rout, wout = _pipe_pair()
    os.close(rout)
    os.write(win, frames(("PLUGINBEGIN", b""), ("PLUGINEND", b"")))
    os.close(win)
    assert plugin.serve(rin, wout, plugin.CommitPlugin(root, {})) == 0
    os.close(rin)
    os.close(wout)


def test_main_answers_on_its_own_stdout_and_keeps_stray_output_off_it(monkeypatch, mocker, capfd):
    """main() as libzypp starts it: frames on descriptor 0, replies on descriptor 1, anything
    printed meanwhile goes to stderr, then a fast exit with the status. The commit here has no live
    patch (the plugin runs on the root /, which it must leave alone)."""
    vim = json.dumps({"TransactionStepList": [
        {"type": "+", "solvable": {"n": "vim", "v": "9.0", "r": "1", "a": "x86_64"}}]}).encode()
    rin, win = os.pipe()
    os.write(win, conversation(("COMMITBEGIN", vim), ("COMMITEND", vim)))
    os.close(win)
    exits = []

    def exit_now(status):
        exits.append(status)
        print("stray output after the replies")  # must not reach the reply descriptor
        raise SystemExit(status)

    mocker.patch.object(pipe, "exit_now", exit_now)  # os._exit would end pytest itself
    replies = mocker.spy(pipe, "keep_stdout_for_replies")
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # main() points it at stderr: restored after
    saved_in, saved_out = os.dup(0), os.dup(1)
    os.dup2(rin, 0)
    os.close(rin)
    try:
        with pytest.raises(SystemExit):
            plugin.main()
    finally:
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)
        if replies.spy_return is not None:
            os.close(replies.spy_return)
    assert exits == [0]
    out, err = capfd.readouterr()
    reader = FrameReader()
    assert [f.command for f in reader.feed(out.encode())] == ["ACK"] * 5
    assert "stray output after the replies" in err
