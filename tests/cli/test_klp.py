"""The klp/kgr commands run for real against simulated and hand-laid trees."""

import os
import subprocess
import sys
import threading

import pytest

from zypp_plugin_klp.cli import klp as cli

from conftest import (FIXTURES, build_livepatch_rpm, rpm_install, run_klp)

HOSTILE = os.path.join(FIXTURES, "trees", "hostile")


@pytest.fixture
def held(sim, build_ko):
    """A transition held in progress by memdb's stats thread."""
    sim.load(build_ko("livepatch_1_1_1"))
    return sim


def test_status_and_check_ready(sim):
    r = run_klp("--root", sim.root, "status")
    assert (r.returncode, r.stdout, r.stderr) == (0, "ready\n", "")
    assert run_klp("--root", sim.root, "check").returncode == 0


def test_status_check_in_progress(held):
    r = run_klp("--root", held.root, "status")
    assert (r.returncode, r.stdout) == (0, "in_progress\n")
    r = run_klp("--root", held.root, "check")
    assert (r.returncode, r.stdout) == (1, "")


def test_status_json(held):
    import json

    r = run_klp("--root", held.root, "--json", "status")
    doc = json.loads(r.stdout)
    assert (doc["schema"], doc["status"], doc["livepatch_supported"]) == \
        ("klp-status/1", "in_progress", True)
    assert doc["transition"] == {"patch": "livepatch_1_1_1", "target": "patched", "replacing": []}
    assert (doc["reboot_needed"], doc["not_loaded"], doc["last_load"]) == (False, [], None)


def test_blocking_levels(held):
    assert run_klp("--root", held.root, "blocking").stdout == "4242\n"
    assert run_klp("--root", held.root, "-v", "blocking").stdout == \
        "4242 /opt/memdb/bin/memdb --config /etc/memdb.conf\n"
    out = run_klp("--root", held.root, "blocking", "-vv").stdout
    assert out.splitlines()[:3] == ["4242 /opt/memdb/bin/memdb --config /etc/memdb.conf",
                                    "    thread 4245 (memdb-stats):",
                                    "        cmdline_proc_show+0x0/0x40"]


def test_blocking_json(held):
    import json

    doc = json.loads(run_klp("--root", held.root, "blocking", "--json").stdout)
    assert doc["schema"] == "klp-blocking/1" and doc["patch"] == "livepatch_1_1_1"
    assert (doc["tasks_total"], doc["tasks_switched"]) == (6, 5)
    assert doc["tasks"][0]["tid"] == 4245 and doc["tasks"][0]["stack"][0].startswith("cmdline_proc")


def test_nothing_blocking(sim):
    assert run_klp("--root", sim.root, "blocking").stdout == ""
    assert run_klp("--root", sim.root, "-v", "blocking").stdout == \
        "no threads with klp_in_progress set\n"


def test_kgr_blocking_threads_and_poke(held):
    r = run_klp("--root", held.root, "blocking_threads", prog="kgr")
    assert (r.returncode, r.stdout) == (0, "4245\n")
    r = run_klp("--root", held.root, "poke", prog="kgr")
    assert r.returncode == 0 and "signals blocking tasks by itself" in r.stderr
    assert run_klp("--root", held.root, "poke").returncode == 2  # klp has no poke


def test_patches_replace_shows_old_module_inactive(held, build_ko):
    held.release()
    held.load(build_ko("livepatch_2_1_1"))
    r = run_klp("--root", held.root, "-v", "patches")
    assert r.stdout == ("livepatch_1_1_1\n    active: 0\n\n"
                        "livepatch_2_1_1\n    active: 1\n    RPM: (not installed from a package)\n"
                        "    CVE: unknown\n    bug fixes and enhancements: unknown\n")
    assert run_klp("--root", held.root, "patches").stdout == "livepatch_1_1_1\nlivepatch_2_1_1\n"


@pytest.mark.needs("rpmbuild")
def test_patches_verbose_reads_rpm_database(sim, build_ko, tmp_path):
    rpm = build_livepatch_rpm(tmp_path, build_ko("livepatch_3_1_1"), "3", "1.1",
                              "- Fix CVE-2024-1086 (bsc#1219434)\n- References: CVE-2023-52447 bsc#1219435")
    rpm_install(sim.root, rpm)
    ko = os.path.join(sim.root, "lib/modules/6.1.0-26-default/livepatch/livepatch-3-1.1.ko")
    sim.load(ko)
    sim.release()
    uyuni_fields = {}
    out = run_klp("--root", sim.root, "-vv", "patches").stdout
    import re

    for line in out.splitlines()[1:]:
        key, value = re.match(r"^\s+([^:]+):\s*(.*)", line).groups()
        uyuni_fields[key] = value
    assert uyuni_fields == {
        "active": "1",
        "RPM": "kernel-livepatch-6_1_0-26-default-3-1.1.x86_64",
        "CVE": "CVE-2023-52447 CVE-2024-1086",
        "bug fixes and enhancements": "bsc#1219434 bsc#1219435",
        "function cmdline_proc_show,1": "effective",
        "expires": "unknown", "update": "none (newest installed)",
        "object vmlinux": "patched",
    }


@pytest.mark.needs("rpmbuild")
def test_patches_verbose_prefers_the_info_file_in_our_format_only(sim, build_ko, tmp_path):
    """/usr/share/livepatch/info/<module>-<srcversion> wins over the changelog when it has our
    fields; a file in another format (SUSE's klp writes one that is not public) falls back."""
    from zypp_plugin_klp.drivers.modfiles import read_module

    rpm = build_livepatch_rpm(tmp_path, build_ko("livepatch_3_1_1"), "3", "1.1", "- Fix CVE-2024-1086")
    rpm_install(sim.root, rpm)
    ko = os.path.join(sim.root, "lib/modules/6.1.0-26-default/livepatch/livepatch-3-1.1.ko")
    sim.load(ko)
    srcversion = read_module(ko).get("srcversion") or ""
    info = os.path.join(sim.root, "usr/share/livepatch/info", f"livepatch_3_1_1-{srcversion}")
    os.makedirs(os.path.dirname(info))
    for text, cve in (("RPM: x\nCVE: CVE-2099-0001\nbug fixes and enhancements: bsc#1\n", "CVE-2099-0001"),
                      ("fixes\tCVE-2099-0001\n", "CVE-2024-1086")):
        with open(info, "w") as handle:
            handle.write(text)
        out = run_klp("--root", sim.root, "-v", "patches").stdout
        assert f"    CVE: {cve}\n" in out, out


@pytest.mark.needs("rpmbuild")
def test_patches_initial_patch_wording(sim, build_ko, tmp_path):
    rpm_install(sim.root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1", "1.1"))
    sim.load(os.path.join(sim.root, "lib/modules/6.1.0-26-default/livepatch/livepatch-1-1.1.ko"))
    out = run_klp("--root", sim.root, "-v", "patches").stdout
    assert "    CVE: (none - this is an initial kernel live patch)\n" in out
    assert "    bug fixes and enhancements: (none)\n" in out


def test_hostile_tree_warns_but_answers():
    r = run_klp("--root", HOSTILE, "-v", "blocking")
    assert r.returncode == 0
    assert r.stdout == "1 /usr/lib/systemd/systemd --system\n70 [?]\n"
    assert "klp: warning: ignoring unreadable patch_state" in r.stderr
    assert "Traceback" not in r.stderr


def test_wait_times_out_names_blockers_and_exits_1(held):
    r = run_klp("--root", held.root, "wait", "--timeout", "0.5", "--interval", "0.1")
    assert r.returncode == 1
    assert "transition of livepatch_1_1_1 still in progress after 0.5s" in r.stderr
    assert "4242 /opt/memdb/bin/memdb" in r.stderr
    assert "livepatch_1_1_1: 5/6 tasks switched" in r.stderr


def test_wait_completes_when_the_task_is_released(held):
    timer = threading.Timer(0.5, held.release)
    timer.start()
    try:
        r = run_klp("--root", held.root, "wait", "--timeout", "20", "--interval", "0.1")
    finally:
        timer.join()
    assert (r.returncode, r.stdout) == (0, "ready\n")


def test_wait_revert_reverses_the_transition(held):
    r = run_klp("--root", held.root, "wait", "--timeout", "0.3", "--interval", "0.1", "--revert")
    assert r.returncode == 1 and "transition reversed" in r.stderr
    assert run_klp("--root", held.root, "patches").stdout == "livepatch_1_1_1\n"
    assert run_klp("--root", held.root, "-v", "patches").stdout == "livepatch_1_1_1\n    active: 0\n"


def test_force_asks_first(held):
    r = run_klp("--root", held.root, "force", stdin="n\n")
    assert r.returncode == 1 and "cannot be undone" in r.stderr
    assert run_klp("--root", held.root, "status").stdout == "in_progress\n"
    r = run_klp("--root", held.root, "force", stdin="y\n")
    assert (r.returncode, r.stdout) == (0, "forced livepatch_1_1_1\n")
    assert run_klp("--root", held.root, "status").stdout == "ready\n"


@pytest.mark.parametrize("args, words", [
    (["frobnicate"], "unknown command 'frobnicate'"),
    ([], "no command given"),
    (["--root"], "--root needs a value"),
    (["-x", "status"], "unknown option -x"),
    (["wait", "--timeout", "soon"], "--timeout needs a number of seconds"),
    (["wait", "--timeout", "nan"], "--timeout needs a number of seconds"),
    (["status", "extra"], "unexpected argument 'extra'"),
    (["--json=1", "status"], "option --json takes no value"),
    (["status", "--revert"], "option --revert does not apply to 'status'"),
    (["status", "--revert", "--dry-run"], "option --revert does not apply to 'status'"),
    (["blocking", "-n"], "option -n does not apply to 'blocking'"),
    (["status", "--dry-run"], "option --dry-run does not apply to 'status'"),
    (["-n", "update"], "option -n must follow its command"),
])
def test_usage_errors_exit_2(args, words):
    r = run_klp(*args)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_missing_root_is_an_error():
    r = run_klp("--root", "/nonexistent/klp-root", "status")
    assert (r.returncode, r.stderr) == (1, "klp: --root /nonexistent/klp-root: no such directory\n")


def test_help_and_version():
    r = run_klp("--help")
    assert r.returncode == 0 and "usage: klp" in r.stdout and "blocking_threads" not in r.stdout
    assert "blocking_threads" in run_klp("-h", prog="kgr").stdout
    from zypp_plugin_klp import __version__

    assert run_klp("--version").stdout == f"klp (zypp-plugin-klp) {__version__}\n"


def test_non_root_warns_and_refuses_mutations(held, mocker, capsys):
    mocker.patch("os.geteuid", return_value=1000)
    assert cli.run(["--root", held.root, "blocking"]) == 0
    out, err = capsys.readouterr()
    assert out == "4242\n" and err == cli.NON_ROOT_WARNING + "\n"
    assert cli.run(["--root", held.root, "force", "-n"]) == 1
    assert "must be run as root" in capsys.readouterr().err
    assert cli.run(["--root", held.root, "status"]) == 0


def test_module_runs_as_script(sim):
    r = subprocess.run([sys.executable, "-m", "zypp_plugin_klp.cli.klp", "--root", sim.root, "status"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "ready\n"


def test_status_does_not_import_heavy_modules(sim):
    code = ("import sys; from zypp_plugin_klp.cli import klp; klp.run(['--root', sys.argv[1], 'status']);"
            "bad = {'dataclasses', 'typing', 'json', 'rpm', 'yaml', 'argparse'} & set(sys.modules);"
            "print(sorted(bad))")
    r = subprocess.run([sys.executable, "-c", code, sim.root], capture_output=True, text=True)
    assert r.stdout.endswith("[]\n"), r.stdout


def test_reading_commands_never_create_an_rpm_database(sim):
    """rpm creates an empty database when root asks it to read a missing one; klp must not (on
    the host that would put a database into /var/lib/rpm)."""
    commands = [("-v", "status"), ("--json", "status"), ("-vv", "patches"), ("--json", "patches"),
                ("metrics",)]
    for args in commands:
        result = run_klp("--root", sim.root, *args)
        assert result.returncode == 0, (args, result.stderr)
    created = [d for d in ("var/lib/rpm", "usr/lib/sysimage/rpm")
               if os.path.exists(os.path.join(sim.root, d))]
    assert created == []
