"""klp-hook through its entry point (``hooks.main``, argv as the macros write it): the exit codes
and messages rpm shows, the ``--kernel`` option, build roots, the lock and the metrics textfile.

Written against the survivors of ``make mutation`` on hooks.py: each test names what a user would
see go wrong."""

import os
import sys
import threading

import pytest

from zypp_plugin_klp import hooks
from zypp_plugin_klp.drivers import sysfs
from zypp_plugin_klp.services import initrd, remove

from conftest import RELEASE
from test_hooks import PKG, initrd_log, install, root  # noqa: F401  (root is a fixture)

pytestmark = pytest.mark.needs("rpmbuild")

OTHER = "6.1.0-27-default"
TEXTFILE_DIR = "var/lib/node_exporter/textfile_collector"


@pytest.fixture
def clean_env(monkeypatch):
    """The hook's process environment as rpm gives it: no build root, no transactional update."""
    for key in ("RPM_BUILD_ROOT", "TRANSACTIONAL_UPDATE", "KLP_WAIT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KLP_WAIT", "0")
    return monkeypatch


def sysconfig(root, text):
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "a") as handle:
        handle.write(text)


@pytest.mark.parametrize("stage, code, level", [
    (["pre", PKG, "2-1.1", "2"], 1, "error"),
    (["postun", PKG, "1-1.1", "0"], 0, "warning"),
    (["posttrans", PKG, "1-1.1"], 0, "warning"),
])
def test_a_kernel_that_cannot_be_read_fails_only_the_gate(root, clean_env, capsys, stage, code, level):
    """The kernel's state cannot be read (here the simulator's, left half-written): the %pre gate
    refuses (exit 1, rpm keeps the installed version); every other scriptlet warns and exits 0."""
    from zypp_plugin_klp.paths import SIMULATOR_STATE
    from zypp_plugin_klp.sim.driver import SYNCING_MARK

    with open(os.path.join(root, SIMULATOR_STATE), "wb") as handle:
        handle.write(b"{half-written" + SYNCING_MARK)
    assert hooks.main([*stage, "--root", root]) == code
    err = capsys.readouterr().err
    assert err.startswith(f"klp: {level}: cannot read the simulated kernel's state in {root}: "), err
    assert err.count("\n") == 1


def test_kernel_option_wins_over_the_package_name(root, tmp_path, build_ko, clean_env, capsys):
    """``%klp_kernel_release`` set: the macros append ``--kernel RELEASE`` after the count. The
    package's name says the running kernel, the option another one: the option decides."""
    install(root, tmp_path, build_ko, "1")
    assert hooks.main(["posttrans", PKG, "1-1.1", "--kernel", OTHER, "--root", root]) == 0
    assert capsys.readouterr().err == (f"klp: {PKG}-1-1.1 is for kernel {OTHER}, which is not "
                                       "running: it will load when that kernel boots\n")
    assert sysfs.read_patches(root) == []
    assert hooks.main(["postun", PKG, "1-1.1", "0", "--kernel", OTHER, "--root", root]) == 0
    assert capsys.readouterr().err == (f"klp: {PKG}-1-1.1 removed; kernel {OTHER} is not running, "
                                       "no reboot needed\n")
    assert not os.path.exists(os.path.join(root, remove.REBOOT_NEEDED))
    # and the other way round: the running kernel named by the option loads the package's patch
    assert hooks.main(["posttrans", PKG, "1-1.1", "--kernel", RELEASE, "--root", root]) == 0
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]


@pytest.mark.parametrize("argv, reason", [
    ([], hooks.USAGE),
    (["posttrans", PKG], hooks.USAGE),
    (["pre", "kernel-livepatch-SLE15-SP6_Update_11", "1-1", "1"],
     "cannot tell the kernel of kernel-livepatch-SLE15-SP6_Update_11; pass --kernel RELEASE"),
    (["pre", PKG, "1-1", "x"], "COUNT must be a number, not 'x'"),
    (["pre", PKG, "1-1", "1", "--kernel"], "--kernel needs a value"),
])
def test_unusable_arguments_say_what_is_wrong(argv, reason, capsys):
    assert hooks.main(argv) == 0
    assert capsys.readouterr().err == f"klp-hook: warning: {reason} (the live patch hooks did nothing)\n"


def test_the_console_script_reads_its_arguments_from_argv(monkeypatch, capsys):
    """``klp-hook`` as installed calls main() without arguments: they come from sys.argv."""
    monkeypatch.setattr(sys, "argv", ["klp-hook", "pre", "kernel-livepatch-foo", "1-1"])
    assert hooks.main() == 0
    assert "cannot tell the kernel of kernel-livepatch-foo;" in capsys.readouterr().err


def test_a_build_root_gets_no_messages_about_loading(root, tmp_path, build_ko, clean_env, capsys):
    """Inside a package build (RPM_BUILD_ROOT, or OBS's /.buildenv in the root) the hooks load
    nothing and say nothing about it, for the running kernel's package or another kernel's."""
    install(root, tmp_path, build_ko, "1")
    other = "kernel-livepatch-6_1_0-27-default"
    clean_env.setenv("RPM_BUILD_ROOT", str(tmp_path / "buildroot"))
    assert hooks.main(["posttrans", PKG, "1-1.1", "--root", root]) == 0
    assert capsys.readouterr().err == ""
    clean_env.delenv("RPM_BUILD_ROOT")
    open(os.path.join(root, ".buildenv"), "w").close()
    for package in (PKG, other):
        assert hooks.main(["posttrans", package, "1-1.1", "--root", root]) == 0
        assert capsys.readouterr().err == ""
    assert sysfs.read_patches(root) == []


def test_livepatch_kernel_never_names_the_setting_not_another_kernel(root, tmp_path, build_ko, clean_env,
                                                                     capsys):
    install(root, tmp_path, build_ko, "1")
    sysconfig(root, "LIVEPATCH_KERNEL=never\n")
    assert hooks.main(["posttrans", PKG, "1-1.1", "--root", root]) == 0
    assert capsys.readouterr().err == f"klp: {PKG}-1-1.1 installed but not loaded: LIVEPATCH_KERNEL=never\n"
    assert sysfs.read_patches(root) == []


def test_an_invalid_livepatch_kernel_is_a_warning_and_read_as_auto(root, tmp_path, build_ko, clean_env,
                                                                   capsys):
    install(root, tmp_path, build_ko, "1")
    sysconfig(root, "LIVEPATCH_KERNEL=sometimes\n")
    assert hooks.main(["posttrans", PKG, "1-1.1", "--root", root]) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("klp: warning: LIVEPATCH_KERNEL='sometimes' in /etc/sysconfig/livepatching "
                            "is not always, never or auto"), first
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]


@pytest.mark.parametrize("direction", ["patch", "unpatch"])
def test_two_blocking_processes_are_both_named_by_the_gate(tmp_path, build_ko, clean_env, capsys,
                                                           direction):
    """Two processes (one with a five-digit PID) hold the transition back, while a patch is being
    applied or being removed: the refusal names both, in PID order, and says what to run."""
    from zypp_plugin_klp.sim.driver import SimulatedKernel
    from zypp_plugin_klp.sim.scenario import parse_scenario

    inside = "cmdline_proc_show" if direction == "patch" else "livepatch_cmdline_proc_show"
    patches = "" if direction == "patch" else \
        "patches:\n  - {name: livepatch_9_1_1, functions: [cmdline_proc_show]}\n"
    scenario = parse_scenario(f"""
kernel: {{release: {RELEASE}, vermagic: "{RELEASE} SMP preempt mod_unload modversions"}}
processes:
  - {{pid: 1, comm: systemd, stack: [ep_poll]}}
  - {{pid: 987, comm: pgbench, stack: [{inside}, seq_read_iter]}}
  - {{pid: 10042, comm: memdb, stack: [{inside}, seq_read_iter]}}
{patches}""", f"<two blockers, {direction}>")
    sim = SimulatedKernel.create(str(tmp_path / "root"), scenario)
    os.makedirs(os.path.join(sim.root, "etc/sysconfig"))
    if direction == "patch":
        sim.load(build_ko("livepatch_9_1_1"))
    else:
        sim.disable("livepatch_9_1_1")
    assert hooks.main(["pre", PKG, "10-1.1", "2", "--root", sim.root]) == 1
    assert capsys.readouterr().err == (
        f"klp: cannot install {PKG}-10-1.1: the live patch transition of livepatch_9_1_1 is still in "
        "progress, blocked by PID 987 (pgbench), 10042 (memdb); run 'klp wait' or 'klp blocking -v' "
        "and try again\n")
    sim.release()
    assert hooks.main(["pre", PKG, "10-1.1", "2", "--root", sim.root]) == 0


@pytest.mark.parametrize("hidden, blockers", [
    (("proc/4242/comm", "proc/4242/task/4242/comm", "proc/4242/task/4245/comm"), "4242 (?)"),
    (("proc/4242",), "no task found yet"),
], ids=["comm-unreadable", "task-gone"])
def test_the_gate_refuses_even_when_it_cannot_name_the_blocker(sim, build_ko, clean_env, capsys,
                                                               hidden, blockers):
    """/proc is hostile input: the blocking task's name is unreadable, or the task has just gone
    from /proc while the kernel still reports the transition. The gate still refuses."""
    import shutil

    os.makedirs(os.path.join(sim.root, "etc/sysconfig"))
    sim.load(build_ko("livepatch_1_1_1"))
    for relpath in hidden:
        path = os.path.join(sim.root, relpath)
        shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
    assert hooks.main(["pre", PKG, "2-1.1", "2", "--root", sim.root]) == 1
    assert capsys.readouterr().err == (
        f"klp: cannot install {PKG}-2-1.1: the live patch transition of livepatch_1_1_1 is still in "
        f"progress, blocked by PID {blockers}; run 'klp wait' or 'klp blocking -v' and try again\n")


def test_posttrans_flags_the_initrd_itself_when_post_did_not(root, tmp_path, build_ko, clean_env):
    """%post's flag lost (killed, disk full): %posttrans flags the initrd again once it loaded."""
    install(root, tmp_path, build_ko, "1")
    assert initrd.pending(root) == []
    assert hooks.main(["posttrans", PKG, "1-1.1", "--root", root]) == 0
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]
    assert initrd_log(tmp_path) == [f"-f --kver {RELEASE}"] and initrd.pending(root) == []


def test_posttrans_warns_when_it_cannot_flag_the_initrd(root, tmp_path, build_ko, clean_env, capsys):
    install(root, tmp_path, build_ko, "1")
    os.makedirs(os.path.join(root, "run"), exist_ok=True)
    open(os.path.join(root, initrd.FLAGS), "w").close()  # the flag directory is a file
    assert hooks.main(["posttrans", PKG, "1-1.1", "--root", root]) == 0
    err = capsys.readouterr().err.splitlines()
    assert f"klp: warning: cannot write {initrd.FLAGS}/{RELEASE}: Not a directory" in err, err
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]


def test_erase_messages_and_a_failing_generator(root, tmp_path, build_ko, clean_env, capsys):
    """Erasing the running kernel's patch: the reboot notice line, and the generator's failure as a
    warning with the command to re-run (its flag stays for the next transaction)."""
    install(root, tmp_path, build_ko, "1")
    with open(os.path.join(root, "etc/sysconfig/bootloader"), "w") as handle:
        handle.write("INITRD_GENERATOR=/bin/false\n")
    assert hooks.main(["postun", PKG, "1-1.1", "0", "--root", root]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"klp: {PKG}-1-1.1 removed; the running kernel keeps the live patch until a "
                      "reboot ('zypper needs-rebooting' says so)")
    assert len(err) == 2 and err[1].startswith("klp: warning: ") and \
        f"re-run: /bin/false -f --kver {RELEASE}" in err[1], err
    assert initrd.pending(root) == [RELEASE]


def test_the_metrics_textfile_follows_install_and_erase(root, tmp_path, build_ko, clean_env, capsys):
    """LIVEPATCH_METRICS_DIR set: %posttrans and %postun rewrite node_exporter's textfile. %postun
    runs while rpm still lists the package being erased: it must not count as installed."""
    install(root, tmp_path, build_ko, "1")
    os.makedirs(os.path.join(root, TEXTFILE_DIR))
    sysconfig(root, f'LIVEPATCH_KERNEL=never\nLIVEPATCH_METRICS_DIR="/{TEXTFILE_DIR}"\n')
    textfile = os.path.join(root, TEXTFILE_DIR, "klp.prom")
    not_loaded = f'klp_installed_not_loaded{{package="{PKG}",version="1-1.1"}} 1\n'
    assert hooks.main(["posttrans", PKG, "1-1.1", "--root", root]) == 0
    assert not_loaded in open(textfile).read()
    assert hooks.main(["postun", PKG, "1-1.1", "0", "--root", root]) == 0
    text = open(textfile).read()
    assert not_loaded not in text and 'klp_reboot_needed{reason="livepatch_removed"} 1\n' in text
    # in a build root the host's textfile is not the package's business
    os.unlink(textfile)
    open(os.path.join(root, ".buildenv"), "w").close()
    assert hooks.main(["postun", PKG, "1-1.1", "0", "--root", root]) == 0
    assert not os.path.exists(textfile)
    os.unlink(os.path.join(root, ".buildenv"))
    os.mkdir(textfile)  # cannot be replaced: a warning, the scriptlet still succeeds
    capsys.readouterr()
    assert hooks.main(["postun", PKG, "1-1.1", "0", "--root", root]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("klp: warning: live patching metrics not refreshed: "), err


HOLD_LOCK = """\
import sys
from zypp_plugin_klp.drivers import host
with host.Lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin
"""


class _Lines:
    """A stderr that hands each complete line to a waiting test (no polling, no sleeps)."""

    def __init__(self):
        self.lines, self.cond, self.part = [], threading.Condition(), ""

    def write(self, text):
        with self.cond:
            self.part += text
            *done, self.part = self.part.split("\n")
            self.lines += done
            self.cond.notify_all()
        return len(text)

    def flush(self):
        pass

    def wait_for(self, text, seconds=60.0):
        with self.cond:
            assert self.cond.wait_for(lambda: any(text in line for line in self.lines), seconds), \
                self.lines
            return [line for line in self.lines if text in line]


def test_posttrans_waits_for_the_lock_says_for_whom_then_loads(root, tmp_path, build_ko, clean_env,
                                                              monkeypatch):
    """In-process %posttrans while another process holds /run/klp/lock: it says whom it waits for,
    loads nothing meanwhile, and loads exactly once when the lock is free."""
    import subprocess

    install(root, tmp_path, build_ko, "1")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, root], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    stderr = _Lines()
    monkeypatch.setattr(sys, "stderr", stderr)
    codes = []
    hook = threading.Thread(target=lambda: codes.append(
        hooks.main(["posttrans", PKG, "1-1.1", "--root", root])))
    try:
        assert holder.stdout.readline() == "held\n"
        hook.start()
        (line,) = stderr.wait_for("waiting for process ")
        assert f"waiting for process {holder.pid}" in line
        assert sysfs.read_patches(root) == [] and hook.is_alive()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
        hook.join(timeout=120)
    assert codes == [0], stderr.lines
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]
    assert sysfs.loaded_livepatch_modules(root) == ["livepatch_1_1_1"]


@pytest.mark.parametrize("argv", [["../../etc"], ["-x"], ["a/b"], []])
def test_initrd_module_refuses_a_release_that_is_a_path_or_an_option(root, argv, capsys):
    assert hooks.main(["initrd-module", *argv, "--root", root]) == 2
    assert capsys.readouterr().err == "usage: klp-hook initrd-module RELEASE [--root DIR]\n"


def test_initrd_module_reports_an_unreadable_rpm_database(root, capsys):
    """The dracut module asks while the rpm database is damaged: one ``klp:`` line, exit 1."""
    os.makedirs(os.path.join(root, "var/lib/rpm"), exist_ok=True)
    with open(os.path.join(root, "var/lib/rpm/rpmdb.sqlite"), "wb") as handle:
        handle.write(b"not a database" * 100)
    assert hooks.main(["initrd-module", RELEASE, "--root", root]) == 1
    err = capsys.readouterr().err
    assert err.startswith("klp: ") and err.count("\n") == 1 and "rpm database" in err, err
