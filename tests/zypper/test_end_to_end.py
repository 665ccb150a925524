"""The whole story with the real zypper/libzypp running chrooted (root ``/``, so our commit plugin
runs), the product installed from its own RPM, live patches v1..v3 for the running kernel and one
for another kernel in a local repository."""

import os
import threading
import time

import pytest

from conftest import VERMAGIC

import kobuild
from zypp_plugin_klp.testing import packages

PKG = "kernel-livepatch-6_1_0-26-default"
RELEASE = "6.1.0-26-default"
ZYPPER = ("zypper", "--non-interactive", "--no-gpg-checks")

pytestmark = pytest.mark.needs("mockroot")


@pytest.fixture(scope="module")
def repo_rpms(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e-rpms")
    rpms = []
    for version in ("1", "2", "3"):
        ko = kobuild.write_module(work / f"lp{version}.ko", f"livepatch_{version}_1_1",
                                  vermagic=VERMAGIC, functions=["livepatch_cmdline_proc_show"])
        rpms.append(_with_hooks(work, ko, RELEASE, version, f"- Fix CVE-2024-{1000 + int(version)}"))
    other = kobuild.write_module(work / "other.ko", "livepatch_1_1_1",
                                 vermagic="6.1.0-27-default SMP preempt mod_unload modversions")
    rpms.append(_with_hooks(work, other, "6.1.0-27-default", "1", "- Initial kernel live patch"))
    return rpms


def _with_hooks(work, ko, release, version, changelog):
    """The spec template, as a packager builds it (macros.klp loaded)."""
    from zypp_plugin_klp.testing.plugin import macros_path, template_path

    return packages.build_from_template(str(work), str(ko), release, version, changelog,
                                        template_path(), macros_path())


def zypper(mock, *args, **kw):
    return mock.chroot(*ZYPPER, *args, **kw)


def klp(mock, *args):
    return mock.chroot("/usr/bin/klp", *args)


def plugin_sleeping() -> bool:
    """Whether a commit plugin process is asleep in clock_nanosleep/nanosleep: the only sleep it
    has is the pause of its bounded wait for a running transition (/proc/PID/syscall, root only)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"plugins/commit/zypp-plugin-klp" not in handle.read():  # not klp-hook
                    continue
            with open(f"/proc/{pid}/syscall", encoding="ascii") as handle:
                number = handle.read().split(" ", 1)[0]
        except OSError:
            continue
        if number in ("230", "35"):  # x86_64 clock_nanosleep, nanosleep
            return True
    return False


def active(mock):
    out = klp(mock, "-v", "patches").stdout
    blocks = [b.splitlines() for b in out.split("\n\n") if b.strip()]
    return [b[0] for b in blocks if "    active: 1" in b]


def test_install_picks_the_newest_and_the_plugin_records_it(mock):
    r = zypper(mock, "in", PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{PKG}-3-1.1" in mock.installed()
    assert active(mock) == ["livepatch_3_1_1"]
    log = klp(mock, "log").stdout
    assert f"+{PKG}-3-1.1" in log and "livepatch_3_1_1" in log
    assert mock.initrd_log() == [f"-f --kver {RELEASE}"]


def test_upgrade_and_update_command(mock):
    r = zypper(mock, "in", f"{PKG}=1")
    assert r.returncode == 0, r.stdout + r.stderr
    mock.kernel.release()
    r = klp(mock, "update", "--dry-run")
    assert r.stdout == f"update {PKG} from 1-1.1 to 3-1.1:\n  zypper install {PKG}=3-1.1\n"
    r = klp(mock, "update", "-n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"update {PKG} from 1-1.1 to 3-1.1:\n")  # the plan before zypper's output
    assert active(mock) == ["livepatch_3_1_1"]
    assert "    active: 0" in klp(mock, "-v", "patches").stdout  # v1 replaced, still loaded
    assert klp(mock, "update", "-n").stdout == f"{PKG}-3-1.1 is the newest live patch for {RELEASE}\n"
    assert "update: none (newest installed)" in klp(mock, "-vv", "patches").stdout


def _host_file(path):
    """What ``path`` on this machine looks like (None: absent)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def test_update_with_root_logs_into_that_root_never_the_hosts_log(mock, tmp_path):
    """``klp --root R update`` runs ``zypper --root R``, which wrote this machine's
    /var/log/zypper.log (and took /run/zypp.pid) unless ZYPP_LOGFILE was set: now its log goes
    to R/var/log/zypper.log (R/var/log made if missing) and its lock into R; a symlink planted
    at R's log is refused, not written through."""
    import shutil
    import sys

    r = zypper(mock, "in", f"{PKG}=1")
    assert r.returncode == 0, r.stdout + r.stderr
    mock.kernel.release()
    shutil.rmtree(os.path.join(mock.root, "var/log"))
    lock = os.path.join(mock.root, "run/zypp.pid")
    if os.path.lexists(lock):
        os.unlink(lock)  # left by the chrooted zypper above
    host = {path: _host_file(path) for path in ("/var/log/zypper.log", "/run/zypp.pid")}
    # klp from outside the root, in an environment without zypper's variables (as an
    # administrator's shell has; the mock root's helper sets them for its own zypper runs)
    bare = ("env", "-u", "ZYPP_LOGFILE", "-u", "ZYPP_LOCKFILE_ROOT", sys.executable, "-m",
            "zypp_plugin_klp.cli.klp", "--root", mock.root)
    r = mock.run(*bare, "update", "-n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{PKG}-3-1.1" in mock.installed()
    log = os.path.join(mock.root, "var/log/zypper.log")
    with open(log, errors="replace") as handle:
        text = handle.read()
    assert f"{PKG}" in text and "3-1.1" in text  # this very install was logged in the root
    assert os.stat(os.path.join(mock.root, "var/log")).st_mode & 0o777 == 0o755
    assert os.path.exists(lock)  # libzypp leaves its (empty) lock file where it locked
    assert {path: _host_file(path) for path in host} == host

    target = tmp_path / "not-a-log"
    target.write_text("untouched\n")
    os.unlink(log)
    os.symlink(str(target), log)
    r = mock.run(*bare, "downgrade", "-n")
    assert (r.returncode, r.stderr.splitlines()[-1]) == \
        (1, "klp: cannot open var/log/zypper.log: it is a symlink"), r.stdout + r.stderr
    assert "Traceback" not in r.stderr and target.read_text() == "untouched\n"
    assert f"{PKG}-3-1.1" in mock.installed() and f"{PKG}-1-1.1" not in mock.installed()
    assert {path: _host_file(path) for path in host} == host


def test_downgrade(mock):
    zypper(mock, "in", PKG, check=True)
    mock.kernel.release()  # memdb-stats leaves cmdline_proc_show: v3's transition completes
    r = klp(mock, "downgrade", "-n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"downgrade {PKG} from 3-1.1 to 2-1.1:\n"
                               f"  zypper --non-interactive install --oldpackage {PKG}=2-1.1\n")
    assert f"{PKG}-2-1.1" in mock.installed() and f"{PKG}-3-1.1" not in mock.installed()
    assert active(mock) == ["livepatch_2_1_1"]
    assert "update: 3-1.1 available" in klp(mock, "-vv", "patches").stdout


def test_held_transition_plugin_waits_then_pre_refuses(mock):
    zypper(mock, "in", f"{PKG}=2", check=True)  # memdb-stats holds v2's transition
    r = zypper(mock, "in", f"{PKG}=3")
    assert r.returncode == 8, r.stdout + r.stderr
    assert "blocked by PID 4242 (memdb-stats)" in r.stderr
    assert f"{PKG}-2-1.1" in mock.installed() and active(mock) == ["livepatch_2_1_1"]
    assert "still in progress, the %pre gate will refuse the new patch" in klp(mock, "log").stdout


def test_plugin_wait_lets_the_install_through_when_the_task_moves_on(mock):
    with open(os.path.join(mock.root, "etc/sysconfig/livepatching"), "a") as handle:
        handle.write('LIVEPATCH_PLUGIN_WAIT="20"\n')
    zypper(mock, "in", f"{PKG}=2", check=True)
    result = {}
    commit = threading.Thread(target=lambda: result.update(r=zypper(mock, "in", f"{PKG}=3")))
    commit.start()
    try:
        # Released once the plugin sleeps inside its wait (the observable state; no guess of how
        # long zypper takes to get there).
        deadline = time.monotonic() + 120
        while not plugin_sleeping() and commit.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the observable state
        assert plugin_sleeping(), "the plugin never waited for the held transition"
        mock.kernel.release()
    finally:
        commit.join()
    r = result["r"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert active(mock) == ["livepatch_3_1_1"]
    assert "for the transition of livepatch_2_1_1: completed" in klp(mock, "log").stdout


def test_erase_needs_reboot(mock):
    zypper(mock, "in", PKG, check=True)
    assert zypper(mock, "needs-rebooting").returncode == 0
    r = zypper(mock, "rm", PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    r = zypper(mock, "needs-rebooting")
    assert r.returncode == 102 and "Reboot is required" in r.stdout
    lines = klp(mock, "-v", "status").stdout.splitlines()
    assert lines[1] == "transition: livepatch_3_1_1 is being applied"  # memdb-stats still holds it
    assert lines[2].startswith("reboot needed: ")
    assert mock.initrd_log() == [f"-f --kver {RELEASE}"] * 2
    assert "reboot notice already recorded by %postun" in klp(mock, "log").stdout


def test_other_kernel_is_installed_not_loaded(mock):
    r = zypper(mock, "in", "kernel-livepatch-6_1_0-27-default")
    assert r.returncode == 0, r.stdout + r.stderr
    assert klp(mock, "patches").stdout == ""
    assert "is for kernel 6.1.0-27-default, which is neither running nor installed" in \
        klp(mock, "log").stdout


@pytest.mark.parametrize("broken", [
    "#!/bin/sh\necho garbage\nexit 3\n",                       # crashes at once
    "#!/bin/sh\ncat > /dev/null & printf 'NOT A FRAME\\n\\0'\nsleep 1\n",  # answers garbage
])
def test_a_broken_plugin_does_not_break_zypper(mock, broken):
    plugin = os.path.join(mock.upper, "lib/zypp/plugins/commit/zypp-plugin-klp")
    with open(plugin, "w") as handle:
        handle.write(broken)
    r = zypper(mock, "in", PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert active(mock) == ["livepatch_3_1_1"]  # %posttrans alone got there
    assert mock.initrd_log() == [f"-f --kver {RELEASE}"]


def test_zypper_lifecycle_and_live_patch_expiry(mock):
    import datetime as dt
    import re
    import shutil

    from conftest import FIXTURES

    products = os.path.join(mock.root, "etc/products.d")
    os.makedirs(products)
    for name in ("SLES.prod", "sle-module-live-patching.prod"):
        shutil.copy(os.path.join(FIXTURES, "lifecycle/products.d", name), products)
    os.symlink("SLES.prod", os.path.join(products, "baseproduct"))
    expires = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=10)).isoformat()
    data = os.path.join(mock.root, "var/lib/lifecycle/data")
    os.makedirs(data)
    with open(os.path.join(data, "sle-module-live-patching.lifecycle"), "w") as handle:
        handle.write(f"{PKG}, *, {expires}\n")
    zypper(mock, "in", PKG, check=True)
    mock.kernel.release()
    r = mock.chroot("zypper", "lifecycle")  # runs /usr/lib/zypper/commands/zypper-lifecycle
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{PKG:<40} {expires:<40} \n" in r.stdout
    assert "SUSE Linux Enterprise Live Patching Module 15 SP6" in r.stdout
    assert re.search(rf"    expires: {expires} \(in \d+ days\)\n", klp(mock, "-vv", "patches").stdout)
    status = klp(mock, "-v", "status").stdout
    assert re.search(rf"live patch stream {PKG} expires on {expires} \(in \d+ days\): plan a kernel "
                     "update and reboot", status), status


EVIL = "import os\nopen(f'/tmp/pwned-{__name__}-{os.getpid()}', 'w').close()\n"


def pwned(mock):
    return [n for n in os.listdir(os.path.join(mock.root, "tmp")) if n.startswith("pwned-")]


def test_roots_environment_does_not_reach_roots_python(mock):
    """Issue 15, finding 5: a PYTHONPATH with a sitecustomize and a HOME with user site-packages
    (usercustomize) in root's environment run no code in the rpm hooks, the commit plugin, klp and
    zypper lifecycle under `zypper in`; the install still does all its work."""
    python = "python{}.{}".format(*__import__("sys").version_info[:2])
    for path in ("tmp/evil/sitecustomize.py",
                 f"tmp/evilhome/.local/lib/{python}/site-packages/usercustomize.py"):
        os.makedirs(os.path.join(mock.root, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(mock.root, path), "w") as handle:
            handle.write(EVIL)
    env = {"PYTHONPATH": "/tmp/evil", "HOME": "/tmp/evilhome", "PYTHONSTARTUP": "/tmp/evil/x.py"}
    probe = mock.chroot("/usr/bin/python3", "-c", "pass", env=env)  # the attack works on plain python
    assert probe.returncode == 0 and len(pwned(mock)) == 2  # sitecustomize and usercustomize
    for name in pwned(mock):
        os.unlink(os.path.join(mock.root, "tmp", name))
    r = zypper(mock, "in", PKG, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    for argv in (("/usr/bin/klp", "status"), ("/usr/bin/kgr", "status"),
                 ("/usr/lib/zypper/commands/zypper-lifecycle",)):
        r = mock.chroot(*argv, env=env)
        assert r.stdout and r.stderr == "", (argv, r.stderr)  # ran, and ran clean
    assert active(mock) == ["livepatch_3_1_1"]
    assert "%posttrans already handled" in klp(mock, "log").stdout  # hook and plugin both ran
    assert pwned(mock) == []
