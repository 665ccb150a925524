"""klp tells the truth (issue 14): unsupported kernels, the present state of the last load,
installed patches that are not loaded, stacked patches per function, and escaped process text."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from zypp_plugin_klp import hooks
from zypp_plugin_klp.sim.driver import SimulatedKernel
from zypp_plugin_klp.testing import packages

from conftest import DEMO_SCENARIO, RELEASE, build_livepatch_rpm, rpm_install, run_klp

PKG = "kernel-livepatch-6_1_0-26-default"
needs_rpm = pytest.mark.needs("rpmbuild")


def write(root, relpath, text):
    path = os.path.join(root, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def stacked_tree(root, transition_of=None):
    """A hand-laid 6.1-style sysfs: two non-replace patches both changing cmdline_proc_show;
    lp_b (loaded last, first in /proc/modules) also changes a function of a module not loaded."""
    for name, functions in (("lp_a", {"vmlinux": ["cmdline_proc_show,1", "meminfo_proc_show,1"]}),
                            ("lp_b", {"vmlinux": ["cmdline_proc_show,1"], "nfsd": ["nfsd_open,0"]})):
        base = f"sys/kernel/livepatch/{name}"
        write(root, f"{base}/enabled", "1\n")
        write(root, f"{base}/transition", "1\n" if name == transition_of else "0\n")
        for obj, fns in functions.items():
            write(root, f"{base}/{obj}/patched", "0\n" if obj == "nfsd" else "1\n")
            for fn in fns:
                os.makedirs(os.path.join(root, base, obj, fn))
        write(root, f"sys/module/{name}/taint", "OEK\n")
    write(root, "proc/modules", "lp_b 16384 1 - Live 0x0 (OEK)\nlp_a 16384 1 - Live 0x0 (OEK)\n")
    write(root, "proc/sys/kernel/osrelease", RELEASE + "\n")
    return root


def test_vv_patches_lists_objects_functions_and_the_effective_patch(tmp_path):
    root = stacked_tree(str(tmp_path))
    out = run_klp("--root", root, "-vv", "patches").stdout
    a, b = (block + "\n" for block in out.split("\n\n"))
    assert "    object vmlinux: patched\n" in a and "    object vmlinux: patched\n" in b
    assert "        function cmdline_proc_show,1: overridden by lp_b\n" in a
    assert "        function meminfo_proc_show,1: effective\n" in a
    assert "        function cmdline_proc_show,1: effective\n" in b
    assert "    object nfsd: not patched (module not loaded)\n        function nfsd_open,0: effective" in b
    doc = json.loads(run_klp("--root", root, "--json", "patches").stdout)
    b_doc = [p for p in doc["patches"] if p["name"] == "lp_b"][0]
    assert b_doc["objects"] == {"nfsd": 0, "vmlinux": 1}  # the klp-patches/1 key, unchanged
    assert b_doc["functions"]["vmlinux"] == [
        {"function": "cmdline_proc_show", "sympos": 1, "effective": "lp_b"}]


def test_vv_patches_order_follows_the_kernel_not_the_names(tmp_path):
    root = stacked_tree(str(tmp_path))
    write(root, "proc/modules", "lp_a 16384 1 - Live 0x0 (OEK)\nlp_b 16384 1 - Live 0x0 (OEK)\n")
    out = run_klp("--root", root, "-vv", "patches").stdout
    assert "function cmdline_proc_show,1: overridden by lp_a" in out.split("\n\n")[1]


def test_vv_patches_skips_garbage_function_entries_with_a_warning(tmp_path):
    root = stacked_tree(str(tmp_path))
    os.makedirs(os.path.join(root, "sys/kernel/livepatch/lp_a/vmlinux/no_sympos"))
    r = run_klp("--root", root, "-vv", "patches")
    assert r.returncode == 0 and "no_sympos" not in r.stdout and "ignoring unexpected entry" in r.stderr


def test_status_names_the_patch_being_replaced(tmp_path):
    root = stacked_tree(str(tmp_path), transition_of="lp_b")
    lines = run_klp("--root", root, "-v", "status").stdout.splitlines()
    assert lines[:2] == ["in_progress", "transition: lp_b is being applied; it replaces lp_a when it "
                         "completes (if it is a cumulative atomic-replace patch; this kernel does not say)"]
    write(root, "sys/kernel/livepatch/lp_b/replace", "1\n")
    assert run_klp("--root", root, "-v", "status").stdout.splitlines()[1] == \
        "transition: lp_b is being applied; it replaces lp_a when it completes"
    doc = json.loads(run_klp("--root", root, "--json", "status").stdout)
    assert doc["transition"] == {"patch": "lp_b", "target": "patched", "replacing": ["lp_a"]}
    write(root, "sys/kernel/livepatch/lp_b/replace", "0\n")  # stacked: nothing replaced
    assert run_klp("--root", root, "-v", "status").stdout.splitlines()[1] == \
        "transition: lp_b is being applied"


def test_no_live_patching_is_said_everywhere_but_plain_status(tmp_path):
    root = str(tmp_path)
    write(root, "proc/sys/kernel/osrelease", RELEASE + "\n")
    assert run_klp("--root", root, "status").stdout == "ready\n"  # SUSE's word, parsers expect it
    lines = run_klp("--root", root, "-v", "status").stdout.splitlines()
    assert lines == ["ready", "live patching: this kernel has no live patching support (no "
                     "/sys/kernel/livepatch); live patches cannot be loaded"]
    doc = json.loads(run_klp("--root", root, "--json", "status").stdout)
    assert (doc["schema"], doc["status"], doc["livepatch_supported"]) == ("klp-status/1", "ready", False)


def test_invalid_livepatch_kernel_warns_and_uses_auto(sim):
    write(sim.root, "etc/sysconfig/livepatching", "LIVEPATCH_KERNEL=sometimes\n")
    r = run_klp("--root", sim.root, "-v", "status")
    assert r.returncode == 0 and r.stderr == (
        "klp: warning: LIVEPATCH_KERNEL='sometimes' in /etc/sysconfig/livepatching is not always, "
        "never or auto; using the default, auto\n")
    assert json.loads(run_klp("--root", sim.root, "--json", "status").stdout)["warnings"] != []


@pytest.fixture
def hostile(tmp_path):
    """A blocking process whose comm and command line carry escape sequences and a forged line."""
    scenario = tmp_path / "hostile.yaml"
    with open(DEMO_SCENARIO) as handle:
        text = handle.read()
    text = text.replace("cmdline: [/opt/memdb/bin/memdb, --config, /etc/memdb.conf]",
                        'cmdline: ["/opt/x\\e[2J", "\\n1 /usr/lib/systemd/systemd"]')
    text = text.replace("comm: memdb-stats", 'comm: "st\\e]0;pwn\\a\\n1 forged"')
    scenario.write_text(text)
    return SimulatedKernel.from_scenario(str(tmp_path / "root"), str(scenario))


def test_blocking_text_escapes_what_processes_wrote(hostile, build_ko):
    """Attack (issue 15, finding 4): escape sequences and a forged line in a blocking process's
    comm and command line never reach root's terminal through ``klp -v blocking``."""
    hostile.load(build_ko("livepatch_1_1_1"))
    for verbosity in ("-v", "-vv"):
        out = run_klp("--root", hostile.root, verbosity, "blocking").stdout
        assert "\x1b" not in out and "\x07" not in out
        assert "/opt/x\\x1b[2J \\x0a1 /usr/lib/systemd/systemd" in out.splitlines()[0]
        assert not any(line.startswith("1 ") for line in out.splitlines())
    assert "thread 4245 (st\\x1b]0;pwn\\x07\\x0a1 forged):" in \
        run_klp("--root", hostile.root, "-vv", "blocking").stdout
    doc = json.loads(run_klp("--root", hostile.root, "--json", "blocking").stdout)
    assert doc["tasks"][0]["comm"] == "st\x1b]0;pwn\x07\n1 forged"  # JSON keeps the bytes, escaped


def test_pre_refusal_escapes_the_blocker_name(hostile, build_ko, capsys):
    """Attack (issue 15, finding 4): the %pre refusal names the blocker escaped, on one line."""
    os.makedirs(os.path.join(hostile.root, "lib/modules", RELEASE))
    hostile.load(build_ko("livepatch_1_1_1"))
    h = hooks.parse(["pre", PKG, "2-1.1", "2", "--root", hostile.root], {})
    assert h.pre() == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "PID 4242 (st\\x1b]0;pwn\\x07\\x0a1 forged)" in err


def test_klp_log_escapes_recorded_text(sim):
    """Attack (issue 15, finding 4): control characters in a commit record stay escaped in
    ``klp log`` (one line, no escape sequence)."""
    from zypp_plugin_klp.services import journal

    journal.save(sim.root, {"started": "2026-11-25T10:00:00Z", "steps": [
        {"type": "+", "package": f"{PKG}-1-1.1\n2026-11-25T10:00:01Z +forged\x1b[31m"}],
        "decisions": [], "actions": [], "errors": []}, 1)
    out = run_klp("--root", sim.root, "log").stdout
    assert out.count("\n") == 1 and "\x1b" not in out and "1.1\\x0a2026-11-25T10:00:01Z +forged" in out


@needs_rpm
def test_not_loaded_recorded_package_and_forced(sim, build_ko, tmp_path):
    os.makedirs(os.path.join(sim.root, "lib/modules", RELEASE))
    write(sim.root, "etc/sysconfig/livepatching", "LIVEPATCH_KERNEL=never\n")
    rpm_install(sim.root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1", "1.1"))
    hooks.parse(["posttrans", PKG, "1-1.1", "--root", sim.root], {"KLP_WAIT": "0"}).posttrans()
    lines = run_klp("--root", sim.root, "-v", "status").stdout.splitlines()
    assert lines == ["ready", f"not loaded: {PKG}-1-1.1.x86_64 is installed for the running kernel, but "
                     "its live patch livepatch_1_1_1 is not active (LIVEPATCH_KERNEL=never)"]
    doc = json.loads(run_klp("--root", sim.root, "--json", "status").stdout)
    assert doc["not_loaded"] == [{"package": f"{PKG}-1-1.1.x86_64", "module": "livepatch_1_1_1",
                                  "reason": "LIVEPATCH_KERNEL=never"}]
    assert run_klp("--root", sim.root, "check").returncode == 0  # check stays SUSE's 0/1

    write(sim.root, "etc/sysconfig/livepatching", "LIVEPATCH_KERNEL=always\n")
    hooks.parse(["posttrans", PKG, "1-1.1", "--root", sim.root], {"KLP_WAIT": "0"}).posttrans()
    assert "not loaded" not in run_klp("--root", sim.root, "-v", "status").stdout
    r = run_klp("--root", sim.root, "force", "-n")
    assert r.stdout == "forced livepatch_1_1_1\n"
    subprocess.run(packages.rpm_command(sim.root, "-e", "--nodeps", "--noscripts", PKG),
                   check=True, capture_output=True)
    out = run_klp("--root", sim.root, "-v", "patches").stdout
    assert f"    RPM: {PKG}-1-1.1.x86_64 (package removed; recorded when klp loaded it)\n" in out
    assert "    forced: " in out and "(klp force: tasks were marked switched" in out


@needs_rpm
def test_unsupported_kernel_in_hook_output(sim, build_ko, tmp_path, capsys):
    os.makedirs(os.path.join(sim.root, "lib/modules", RELEASE))
    rpm_install(sim.root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1", "1.1"))
    shutil.rmtree(os.path.join(sim.root, "sys/kernel/livepatch"))
    os.makedirs(os.path.join(sim.root, "sys/kernel"), exist_ok=True)
    hooks.parse(["posttrans", PKG, "1-1.1", "--root", sim.root], {"KLP_WAIT": "0"}).posttrans()
    assert f"klp: {PKG}-1-1.1 installed but not loaded: this kernel has no live patching support\n" \
        in capsys.readouterr().err
    doc = json.loads(run_klp("--root", sim.root, "--json", "status").stdout)
    assert doc["not_loaded"][0]["reason"] == "this kernel has no live patching support"


def test_force_with_nothing_in_transition_says_so(sim):
    r = run_klp("--root", sim.root, "force", "-n")
    assert (r.returncode, r.stdout) == (0, "nothing to force: no live patch transition is in progress\n")


@pytest.fixture
def two_versions(sim, build_ko, tmp_path):
    """Versions 1 and 2 of the running kernel's live patch both installed (rpm -i, multiversion)."""
    os.makedirs(os.path.join(sim.root, "lib/modules", RELEASE))
    for version in ("1", "2"):
        rpm = build_livepatch_rpm(tmp_path / f"v{version}", build_ko(f"livepatch_{version}_1_1"),
                                  version, "1.1")
        subprocess.run(packages.rpm_command(sim.root, "-i", "--nodeps", "--noscripts", rpm),
                       check=True, capture_output=True)
    return sim


@needs_rpm
def test_downgrade_refuses_at_once_during_a_transition(two_versions, build_ko):
    two_versions.load(build_ko("livepatch_2_1_1"))  # memdb-stats holds its transition
    r = run_klp("--root", two_versions.root, "downgrade", "-n")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == ("klp: cannot downgrade now: the live patch transition of livepatch_2_1_1 is "
                        "still in progress, blocked by PID 4242 (memdb-stats); run 'klp wait' or "
                        "'klp blocking -v' and try again\n")
    doc = json.loads(run_klp("--root", two_versions.root, "--json", "downgrade", "-n").stdout)
    assert (doc["schema"], doc["result"], doc["from"], doc["to"]) == \
        ("klp-change/1", "refused", "2-1.1", "1-1.1")
    r = run_klp("--root", two_versions.root, "--json", "downgrade", "--dry-run")
    doc = json.loads(r.stdout)
    assert (r.returncode, doc["result"], doc["package"]) == (0, "planned", PKG)
    assert doc["command"] == ["zypper", "--root", two_versions.root, "install", "--oldpackage",
                              f"{PKG}=1-1.1"]


@needs_rpm
@pytest.mark.needs("zypper")
def test_downgrade_that_zypper_does_not_do_exits_non_zero(two_versions, tmp_path, monkeypatch):
    """Version 1 is already installed beside 2: the real zypper says "Nothing to do" and exits 0."""
    monkeypatch.setenv("ZYPP_LOGFILE", str(tmp_path / "zypper.log"))  # not the host's log
    r = run_klp("--root", two_versions.root, "downgrade", "-n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "klp: the downgrade did not happen: zypper changed nothing (Nothing to do?); " \
           f"{PKG} is at 2-1.1, not 1-1.1\n" in r.stderr


@needs_rpm
def test_downgrade_without_an_older_version_errs_on_stderr(sim, build_ko, tmp_path):
    os.makedirs(os.path.join(sim.root, "lib/modules", RELEASE))
    rpm_install(sim.root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1", "1.1"))
    r = run_klp("--root", sim.root, "downgrade", "-n")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"klp: no version of {PKG} older than 1-1.1 is available\n"
    doc = json.loads(run_klp("--root", sim.root, "--json", "update", "--dry-run").stdout)
    assert (doc["schema"], doc["action"], doc["result"], doc["from"], doc["to"], doc["command"]) == \
        ("klp-change/1", "update", "nothing", "1-1.1", "1-1.1", None)


def test_wait_json(sim, build_ko):
    r = run_klp("--root", sim.root, "--json", "wait", "--timeout", "0")
    doc = json.loads(r.stdout)
    assert (r.returncode, doc["schema"], doc["ready"], doc["blocking"]) == (0, "klp-wait/1", True, [])
    sim.load(build_ko("livepatch_1_1_1"))
    r = run_klp("--root", sim.root, "--json", "wait", "--timeout", "0.2", "--interval", "0.05")
    doc = json.loads(r.stdout)
    assert (r.returncode, doc["ready"], doc["patch"], doc["reverted"]) == (1, False, "livepatch_1_1_1", None)
    assert (doc["tasks_switched"], doc["tasks_total"]) == (5, 6)
    assert doc["blocking"] == [{"pid": 4242, "tid": 4245, "comm": "memdb-stats",
                                "cmdline": ["/opt/memdb/bin/memdb", "--config", "/etc/memdb.conf"]}]
    r = run_klp("--root", sim.root, "--json", "wait", "--timeout", "0.2", "--interval", "0.05", "--revert")
    assert json.loads(r.stdout)["reverted"] is True


@needs_rpm
def test_forcing_is_told_only_in_the_boot_it_happened_in(sim, build_ko, tmp_path):
    os.makedirs(os.path.join(sim.root, "lib/modules", RELEASE))
    ko = build_ko("livepatch_1_1_1")
    rpm_install(sim.root, build_livepatch_rpm(tmp_path, ko, "1", "1.1"))
    posttrans = hooks.parse(["posttrans", PKG, "1-1.1", "--root", sim.root], {"KLP_WAIT": "0"})
    posttrans.posttrans()  # memdb-stats holds the transition
    assert run_klp("--root", sim.root, "force", "-n").stdout == "forced livepatch_1_1_1\n"

    def forced():
        out = run_klp("--root", sim.root, "-v", "patches").stdout
        (doc,) = json.loads(run_klp("--root", sim.root, "--json", "patches").stdout)["patches"]
        assert ("    forced: " in out) is (doc["forced"] is not None)
        return "    forced: " in out

    assert forced()
    posttrans.posttrans()  # the patch is active already: nothing loaded, the forcing stays told
    assert forced()
    simkernel = os.path.join(os.path.dirname(sys.executable), "klp-simkernel")
    subprocess.run([simkernel, "reboot", sim.root], check=True, capture_output=True)
    sim.load(ko)  # as the initrd does at boot: a module of the same name, never forced
    sim.release()
    assert run_klp("--root", sim.root, "patches").stdout == "livepatch_1_1_1\n"
    assert not forced()
