"""The scriptlet hooks against a root with a real rpm database and the simulated kernel.

Here the hooks get ``--root``; tests/rpm/test_mockroot.py runs the same hooks from real rpm and
zypper transactions inside a chroot.
"""

import json
import os
import stat

import pytest

from zypp_plugin_klp import hooks
from zypp_plugin_klp.drivers import sysfs
from zypp_plugin_klp.services import initrd, remove
from zypp_plugin_klp.services import load as apply
from zypp_plugin_klp.sim.driver import SimulatedKernel

from conftest import RELEASE, build_livepatch_rpm

pytestmark = pytest.mark.needs("rpmbuild")

PKG = "kernel-livepatch-6_1_0-26-default"


@pytest.fixture
def root(sim, tmp_path):
    """The simulated kernel's root with a recording initrd generator configured."""
    r = sim.root
    os.makedirs(os.path.join(r, "etc/sysconfig"))
    recorder = tmp_path / "dracut-recorder"
    recorder.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/initrd.log\n")
    recorder.chmod(0o755)
    with open(os.path.join(r, "etc/sysconfig/bootloader"), "w") as handle:
        handle.write(f'INITRD_GENERATOR="{recorder}"\n')
    os.makedirs(os.path.join(r, "lib/modules", RELEASE))
    open(os.path.join(r, "lib/modules", RELEASE, "modules.dep"), "w").close()  # installed
    return r


def hook(root, *args, env=None):
    h = hooks.parse([*args, "--root", root], env or {})
    return getattr(h, h.stage)()


def install(root, tmp_path, build_ko, version, upgrade=True):
    from zypp_plugin_klp.testing import packages

    ko = build_ko(f"livepatch_{version}_1_1")
    rpm = build_livepatch_rpm(tmp_path, ko, version, "1.1", f"- Fix CVE-2024-{1000 + int(version)}")
    packages.rpm_install(root, rpm)
    return rpm


def initrd_log(tmp_path):
    path = tmp_path / "initrd.log"
    return path.read_text().splitlines() if path.exists() else []


def test_parse_derives_kernel_and_rejects_bad_usage():
    h = hooks.parse(["post", PKG, "1-1.1", "1"], {})
    assert (h.kernel, h.count, h.root) == (RELEASE, 1, "/")
    for bad in ([], ["bogus", PKG, "1-1"], ["pre", PKG, "1-1", "x"], ["pre", "foo", "1-1"]):
        with pytest.raises(ValueError):
            hooks.parse(bad, {})

@pytest.mark.parametrize("argv", [["pre"], ["pre", "kernel-livepatch-SLE15-SP6_Update_11", "1-1", "1"],
                                  ["pre", PKG, "1-1", "x"], ["pre", PKG, "1-1", "1", "--kernel"]])
def test_unusable_arguments_warn_and_never_refuse(argv, capsys):
    assert hooks.main(argv) == 0
    err = capsys.readouterr().err
    assert err.startswith("klp-hook: warning: ") and "did nothing" in err and err.count("\n") == 1


def test_install_flow_loads_newest_and_rebuilds_initrd(root, tmp_path, build_ko, capsys):
    install(root, tmp_path, build_ko, "1")
    assert hook(root, "pre", PKG, "1-1.1", "1") == 0
    assert hook(root, "post", PKG, "1-1.1", "1") == 0
    assert initrd.pending(root) == [RELEASE]
    assert hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0.2"}) == 0
    err = capsys.readouterr().err
    assert "klp: livepatch_1_1_1 (kernel-livepatch-6_1_0-26-default-1-1.1.x86_64) is loaded; its " \
           "transition is still in progress" in err
    assert initrd_log(tmp_path) == [f"-f --kver {RELEASE}"] and initrd.pending(root) == []
    with open(os.path.join(root, apply.LAST_LOAD)) as handle:
        assert json.load(handle)["result"] == "in_progress"


def test_pre_gate_refuses_during_a_transition(root, tmp_path, build_ko, capsys):
    install(root, tmp_path, build_ko, "1")
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"})
    capsys.readouterr()
    assert hook(root, "pre", PKG, "2-1.1", "2") == 1
    err = capsys.readouterr().err
    assert "cannot install kernel-livepatch-6_1_0-26-default-2-1.1: the live patch transition of " \
           "livepatch_1_1_1 is still in progress, blocked by PID 4242 (memdb-stats)" in err
    assert err.count("\n") == 1


def run_hook(monkeypatch, root, *args, env=None):
    """klp-hook's entry point as rpm runs it: argv and the process environment."""
    for key in ("RPM_BUILD_ROOT", "TRANSACTIONAL_UPDATE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    return hooks.main([*args, "--root", root])


@pytest.mark.parametrize("env, sysconfig", [
    ({"RPM_BUILD_ROOT": "/tmp/br"}, ""),
    ({}, "LIVEPATCH_KERNEL=never\n"),
    ({"TRANSACTIONAL_UPDATE": "true"}, "LIVEPATCH_KERNEL='auto'\n"),
])
def test_gate_and_load_skipped_where_they_do_not_apply(root, sim, tmp_path, build_ko, env, sysconfig,
                                                         monkeypatch, capsys):
    # A transition held in progress: the gate would refuse (checked first), so a 0 below means
    # the gate was skipped, not that there was nothing to refuse.
    install(root, tmp_path, build_ko, "1")
    assert run_hook(monkeypatch, root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"}) == 0
    assert run_hook(monkeypatch, root, "pre", PKG, "2-1.1", "2") == 1
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write(sysconfig)
    capsys.readouterr()
    assert run_hook(monkeypatch, root, "pre", PKG, "2-1.1", "2", env=env) == 0
    assert capsys.readouterr().err == ""
    sim.release()
    assert not any(p.transition for p in sysfs.read_patches(root))
    install(root, tmp_path, build_ko, "2")
    assert run_hook(monkeypatch, root, "posttrans", PKG, "2-1.1", env={"KLP_WAIT": "0", **env}) == 0
    assert [(p.name, p.enabled) for p in sysfs.read_patches(root)] == [("livepatch_1_1_1", True)]


def test_other_kernel_is_not_loaded_but_its_initrd_is_scheduled(root, tmp_path, build_ko):
    other = "kernel-livepatch-6_1_0-27-default"
    assert hook(root, "post", other, "1-1.1", "1") == 0
    assert initrd.pending(root) == ["6.1.0-27-default"]
    assert hook(root, "posttrans", other, "1-1.1") == 0
    assert sysfs.read_patches(root) == []
    assert initrd.pending(root) == []  # kernel 6.1.0-27 not installed: skipped, flag cleared


def test_posttrans_is_idempotent(root, tmp_path, build_ko, sim, capsys):
    install(root, tmp_path, build_ko, "1")
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"})
    sim.release()
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "1"})
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "klp: livepatch_1_1_1 (kernel-livepatch-6_1_0-26-default-1-1.1.x86_64) is already active"
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]


def test_upgrade_replaces_and_erase_leaves_reboot_notice(root, tmp_path, build_ko, sim, capsys):
    install(root, tmp_path, build_ko, "1")
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"})
    sim.release()
    install(root, tmp_path, build_ko, "3")
    assert hook(root, "postun", PKG, "1-1.1", "1") == 0  # upgrade: nothing
    assert not os.path.exists(os.path.join(root, remove.REBOOT_NEEDED))
    hook(root, "posttrans", PKG, "3-1.1", env={"KLP_WAIT": "1"})
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_3_1_1"]
    assert hook(root, "postun", PKG, "3-1.1", "0") == 0
    assert os.path.exists(os.path.join(root, remove.REBOOT_NEEDED))
    (notice,) = remove.notices(root, sysfs.boot_id(root))
    assert notice.package == f"{PKG}-3-1.1" and notice.kernel == RELEASE
    assert "reboot" in capsys.readouterr().err
    assert initrd_log(tmp_path)[-1] == f"-f --kver {RELEASE}"


@pytest.mark.parametrize("installed", [False, True])
def test_erasing_another_kernels_patch_needs_no_reboot(root, tmp_path, capsys, installed):
    other, release = "kernel-livepatch-6_1_0-27-default", "6.1.0-27-default"
    os.makedirs(os.path.join(root, "lib/modules", release, "livepatch"))  # the package's directory
    if installed:
        open(os.path.join(root, "lib/modules", release, "modules.dep"), "w").close()
    assert hook(root, "posttrans", other, "1-1.1") == 0
    assert capsys.readouterr().err == (f"klp: {other}-1-1.1 is for kernel {release}, which is not "
                                       "running: it will load when that kernel boots\n")
    assert hook(root, "postun", other, "1-1.1", "0") == 0
    assert capsys.readouterr().err == f"klp: {other}-1-1.1 removed; kernel {release} is not running, " \
        "no reboot needed\n"
    assert not os.path.exists(os.path.join(root, remove.REBOOT_NEEDED))
    assert remove.notices(root, sysfs.boot_id(root)) == []
    assert initrd_log(tmp_path) == ([f"-f --kver {release}"] if installed else [])
    assert initrd.pending(root) == []


def test_failing_generator_keeps_the_flag_and_names_the_command(root, tmp_path, capsys):
    with open(os.path.join(root, "etc/sysconfig/bootloader"), "w") as handle:
        handle.write("INITRD_GENERATOR=/bin/false\n")
    hook(root, "post", PKG, "1-1.1", "1")
    assert hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"}) == 0
    assert f"re-run: /bin/false -f --kver {RELEASE}" in capsys.readouterr().err
    assert initrd.pending(root) == [RELEASE]


def test_vermagic_mismatch_is_reported_and_recorded(root, tmp_path, build_ko, capsys):
    from zypp_plugin_klp.testing import packages

    ko = build_ko("livepatch_1_1_1", vermagic="6.1.0-25-default SMP preempt mod_unload modversions")
    packages.rpm_install(root, build_livepatch_rpm(tmp_path, ko, "1", "1.1"))
    assert hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"}) == 0
    assert "warning: livepatch-1-1.1.ko was built for kernel 6.1.0-25-default" in capsys.readouterr().err
    with open(os.path.join(root, apply.LAST_LOAD)) as handle:
        record = json.load(handle)
    assert record["result"] == "failed" and "6.1.0-25-default" in record["message"]
    assert sysfs.loaded_livepatch_modules(root) == []


def test_state_writes_replace_symlinks_instead_of_following_them(root, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.makedirs(os.path.join(root, "run"), exist_ok=True)
    os.symlink(victim, os.path.join(root, remove.REBOOT_NEEDED))
    remove.after_erase(root, f"{PKG}-1-1.1", RELEASE, RELEASE, boot=None)
    assert victim.read_text() == "precious"
    assert stat.S_ISREG(os.lstat(os.path.join(root, remove.REBOOT_NEEDED)).st_mode)


def test_status_verbose_shows_reboot_notice_and_last_load(root, tmp_path, build_ko, sim):
    from conftest import run_klp

    install(root, tmp_path, build_ko, "1")
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"})
    hook(root, "postun", PKG, "1-1.1", "0")
    lines = run_klp("--root", root, "-v", "status").stdout.splitlines()
    assert lines[0] == "in_progress"
    assert lines[1] == "transition: livepatch_1_1_1 is being applied"
    assert lines[2].startswith(f"reboot needed: live patch package {PKG}-1-1.1 was removed")
    assert lines[3].startswith("last load: livepatch_1_1_1 (kernel-livepatch-6_1_0-26-default-1-1.1.x86_64) "
                               "is loaded; its transition is in progress")
    assert run_klp("--root", root, "status").stdout == "in_progress\n"
    sim.release()  # the transition completes: the last load tells the present, not the past
    lines = run_klp("--root", root, "-v", "status").stdout.splitlines()
    assert lines[0] == "ready" and lines[2].startswith("last load: livepatch_1_1_1 (kernel-livepatch-"
                                                       "6_1_0-26-default-1-1.1.x86_64) is active (")


def test_second_posttrans_during_its_own_transition_does_not_claim_failure(root, tmp_path, build_ko,
                                                                           capsys):
    install(root, tmp_path, build_ko, "1")
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"})
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0.2"})
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == ("klp: livepatch_1_1_1 (kernel-livepatch-6_1_0-26-default-1-1.1.x86_64) is loaded; "
                    "its transition is still in progress after 0.2s (see 'klp blocking -v')")
    with open(os.path.join(root, apply.LAST_LOAD)) as handle:
        assert json.load(handle)["result"] == "in_progress"


@pytest.mark.parametrize("tamper, words", [
    (lambda p: open(p, "ab").write(b"\0evil"), "differs from what kernel-livepatch-6_1_0-26-default-1-1.1"
                                               ".x86_64 installed"),
    (lambda p: os.chmod(p, 0o666), "is writable by group or others (mode 0666)"),
    (lambda p: os.chown(p, 1000, 0), "is not owned by root"),
    (lambda p: (os.rename(p, p + ".orig"), os.symlink(p + ".orig", p)), "cannot be opened safely"),
])
def test_a_tampered_module_file_is_refused_and_audited(root, tmp_path, build_ko, capsys, tamper, words):
    from zypp_plugin_klp.services import integrity

    install(root, tmp_path, build_ko, "1")
    module = os.path.join(root, "lib/modules", RELEASE, "livepatch/livepatch-1-1.1.ko")
    tamper(module)
    assert hook(root, "post", PKG, "1-1.1", "1") == 0
    assert hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"}) == 0
    err = capsys.readouterr().err
    assert "klp: warning: refusing to load: /lib/modules/6.1.0-26-default/livepatch/livepatch-1-1.1.ko " \
           in err and words in err, err
    assert sysfs.loaded_livepatch_modules(root) == []
    # issue 15, finding 2: the refused file does not go into a regenerated initrd either
    assert f"klp: warning: not regenerating the initrd of {RELEASE}" in err
    assert initrd_log(tmp_path) == [] and initrd.pending(root) == [RELEASE]
    assert hooks.main(["initrd-module", RELEASE, "--root", root]) == 1
    assert "klp: refusing to load: " in capsys.readouterr().err
    with open(os.path.join(root, integrity.AUDIT_LOG)) as handle:
        assert words in handle.read()


def test_parallel_posttrans_hooks_are_serialised_and_load_once(root, tmp_path, build_ko, sim):
    """Real parallel processes (as %posttrans and the commit plugin can be): one loads, the other
    waits for the lock, says for whom, then finds the patch there."""
    import subprocess
    import sys

    install(root, tmp_path, build_ko, "1")
    argv = [sys.executable, "-m", "zypp_plugin_klp.hooks", "posttrans", PKG, "1-1.1", "--root", root]
    env = {**os.environ, "KLP_WAIT": "2"}
    procs = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    errs = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    joined = "".join(errs)
    assert joined.count("waiting for process ") == 1, joined  # exactly one of them had to wait
    assert all("livepatch_1_1_1 (kernel-livepatch-6_1_0-26-default-1-1.1.x86_64) is loaded" in e
               for e in errs), errs
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]
    assert open(os.path.join(root, "run/klp/lock")).read() == ""  # no holder left behind


def _stderr_until(proc, text, seconds=60.0):
    """Lines of ``proc``'s stderr up to the first containing ``text`` (bounded wait, no sleep)."""
    import select
    import time

    lines, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], deadline - time.monotonic())
        line = proc.stderr.readline() if ready else ""
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} from PID {proc.pid} within {seconds}s: {lines}")


def test_posttrans_loads_only_under_the_lock(root, tmp_path, build_ko, sim):
    """The effect of serialisation, not its message: while another process holds the lock, two
    %posttrans hooks both wait and load nothing; once it is free, the patch is loaded exactly once."""
    import subprocess
    import sys

    from zypp_plugin_klp.drivers import host

    install(root, tmp_path, build_ko, "1")
    argv = [sys.executable, "-m", "zypp_plugin_klp.hooks", "posttrans", PKG, "1-1.1", "--root", root]
    env = {**os.environ, "KLP_WAIT": "0"}
    with host.Lock(root):
        procs = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
        for proc in procs:
            assert f"waiting for process {os.getpid()}," in _stderr_until(proc, "waiting for process")[-1]
        assert sysfs.read_patches(root) == [] and sysfs.loaded_livepatch_modules(root) == []
        assert all(proc.poll() is None for proc in procs)
    errs = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errs
    assert [p.name for p in sysfs.read_patches(root)] == ["livepatch_1_1_1"]
    assert sysfs.loaded_livepatch_modules(root) == ["livepatch_1_1_1"]
    assert not any("warning" in e for e in errs), errs  # neither ran into EEXIST from the other


def test_a_killed_holder_leaves_no_stale_lock(root):
    import signal
    import subprocess
    import sys

    from zypp_plugin_klp.drivers import host

    code = ("import sys, time; from zypp_plugin_klp.drivers import host; "
            "l = host.Lock(sys.argv[1]).__enter__(); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, root], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    # flock is dropped with its holder: a non-blocking attempt succeeds at once (no waiting at all).
    waits = []
    with host.Lock(root, on_wait=waits.append):
        assert open(os.path.join(root, "run/klp/lock")).read() == f"{os.getpid()}\n"
    assert waits == []


def test_what_was_verified_is_what_gets_loaded(root, tmp_path, build_ko, sim):
    """Through the load service (as %posttrans and the plugin call it): a file swapped at the path
    right after verification cannot slip in, because the kernel gets the verified descriptor."""
    from zypp_plugin_klp.drivers.rpmdb import RpmDb

    install(root, tmp_path, build_ko, "1")
    rel = f"/lib/modules/{RELEASE}/livepatch/livepatch-1-1.1.ko"
    evil = build_ko("livepatch_evil_9_9", vermagic="6.1.0-26-default SMP preempt mod_unload modversions")
    swapped = []

    class SwappingKernel(SimulatedKernel):
        """The simulated kernel, with an attacker who swaps the file once it has been verified."""

        def inspect_fd(self, fd, label):
            if not swapped:
                os.replace(evil, os.path.join(root, rel.lstrip("/")))
                swapped.append(label)
            return super().inspect_fd(fd, label)

    outcome = apply.load_newest(root, SwappingKernel(root), RpmDb(root), RELEASE, wait=0)
    assert swapped == [rel]
    assert (outcome.module, outcome.loaded_now) == ("livepatch_1_1_1", True)
    assert sysfs.loaded_livepatch_modules(root) == ["livepatch_1_1_1"]
    # the next load refuses the swapped file: its digest is not the one rpm recorded
    again = apply.load_newest(root, SimulatedKernel(root), RpmDb(root), RELEASE, wait=0)
    assert again.result == "failed" and again.message.startswith("refusing to load: "), again


@pytest.mark.parametrize("modules_dir", ["/lib/modules", "/usr/lib/modules"])
def test_posttrans_loads_from_either_module_layout(root, tmp_path, build_ko, modules_dir, capsys):
    """A root where /lib and /usr/lib are separate directories: the package's own path counts."""
    from zypp_plugin_klp.services import report as reports
    from zypp_plugin_klp.testing import packages
    from zypp_plugin_klp.wiring import open_kernel, open_rpmdb

    SimulatedKernel(root).exit(4242)
    rpm = packages.build_livepatch_rpm(str(tmp_path), build_ko("livepatch_1_1_1"), RELEASE, "1", "1.1",
                                       "- Fix CVE-2024-1086", modules_dir=modules_dir)
    packages.rpm_install(root, rpm)
    assert os.path.isfile(f"{root}{modules_dir}/{RELEASE}/livepatch/livepatch-1-1.1.ko")
    assert not os.path.islink(f"{root}/lib")
    assert hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "1"}) == 0
    assert "livepatch_1_1_1 (kernel-livepatch-6_1_0-26-default-1-1.1.x86_64) is active" in capsys.readouterr().err
    (report,) = reports.patches(open_kernel(root), open_rpmdb(root))
    assert report.active and report.package.name == PKG and report.cves == ["CVE-2024-1086"]


def test_the_initrd_generator_is_run_by_absolute_path_never_looked_up_in_path(tmp_path,
                                                                                monkeypatch):
    """Issue 15, finding 5: root's PATH (a user's directory first) does not pick the generator."""
    from zypp_plugin_klp.services.initrd import generator_path

    evil = tmp_path / "dracut"
    evil.write_text("#!/bin/sh\ntouch /tmp/pwned\n")
    evil.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    found = generator_path(None)
    assert found is None or (found.startswith("/") and not found.startswith(str(tmp_path)))
    assert generator_path("mkinitrd-not-there") is None
    assert generator_path("../dracut") is None
    assert generator_path("/usr/bin/dracut") == "/usr/bin/dracut"


def test_initrd_module_names_the_verified_file_not_the_newest_file_name(root, tmp_path, build_ko,
                                                                         capsys):
    """Issue 15, finding 2: what the dracut module asks for. A world-writable livepatch-10 owned
    by nobody and by no package sorts after the installed livepatch-9 (sort -V, glob order alike);
    only the installed, verified livepatch-9 may go into the initrd."""
    install(root, tmp_path, build_ko, "9")
    livepatch = os.path.join(root, "lib/modules", RELEASE, "livepatch")
    foreign = os.path.join(livepatch, "livepatch-10-1.1.ko")
    with open(os.path.join(livepatch, "livepatch-9-1.1.ko"), "rb") as src, open(foreign, "wb") as dst:
        dst.write(src.read())
    os.chmod(foreign, 0o666)
    os.chown(foreign, 65534, 65534)
    assert hooks.main(["initrd-module", RELEASE, "--root", root]) == 0
    assert capsys.readouterr().out == f"/lib/modules/{RELEASE}/livepatch/livepatch-9-1.1.ko\n"
    assert hooks.main(["initrd-module", "6.1.0-99-default", "--root", root]) == 1
    assert "no live patch is installed for kernel 6.1.0-99-default" in capsys.readouterr().err
    assert hooks.main(["initrd-module", "--root", root]) == 2


def test_a_notice_that_cannot_be_dated_holds_only_with_the_tmpfs_flag(root, tmp_path, build_ko, sim):
    """This boot's id unreadable (missing or garbage): the stamped notice cannot be compared, so
    libzypp's /run/reboot-needed (written with it, gone at boot) decides; readable again, the
    stamp decides even without the flag."""
    from conftest import run_klp

    install(root, tmp_path, build_ko, "1")
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"})
    hook(root, "postun", PKG, "1-1.1", "0")
    boot_file = os.path.join(root, "proc/sys/kernel/random/boot_id")
    with open(boot_file) as handle:
        boot = handle.read()
    flag = os.path.join(root, remove.REBOOT_NEEDED)

    def claimed():
        lines = run_klp("--root", root, "-v", "status").stdout.splitlines()
        verdict = json.loads(run_klp("--root", root, "--json", "status").stdout)["reboot_needed"]
        ours = any(line.startswith(f"reboot needed: live patch package {PKG}-1-1.1") for line in lines)
        assert verdict == (ours or os.path.exists(flag))
        return ours

    assert claimed()
    for garbage in ("", "not-a-uuid\n", boot.upper(), boot.strip() + "\n[<0>] forged\n", None):
        if garbage is None:
            os.unlink(boot_file)
        else:
            with open(boot_file, "w") as handle:
                handle.write(garbage)
        assert claimed(), garbage
        os.rename(flag, flag + ".away")
        assert not claimed(), garbage
        os.rename(flag + ".away", flag)
    with open(boot_file, "w") as handle:
        handle.write(boot)
    os.unlink(flag)
    assert claimed()


def test_a_refused_load_of_an_earlier_boot_is_history_after_a_reboot(root, tmp_path, build_ko, sim):
    """The kernel that refused the module is gone after a reboot: -v status tells the refusal as
    history, the JSON says it was not this boot, metrics and check_klp stop calling it failed."""
    import subprocess
    import sys

    from conftest import run_klp
    from zypp_plugin_klp.testing import packages

    ko = build_ko("livepatch_1_1_1", vermagic="6.1.0-25-default SMP preempt mod_unload modversions")
    packages.rpm_install(root, build_livepatch_rpm(tmp_path, ko, "1", "1.1"))
    hook(root, "posttrans", PKG, "1-1.1", env={"KLP_WAIT": "0"})
    bindir = os.path.dirname(sys.executable)

    def told():
        (line,) = [line for line in run_klp("--root", root, "-v", "status").stdout.splitlines()
                   if line.startswith("last load: ")]
        last = json.loads(run_klp("--root", root, "--json", "status").stdout)["last_load"]
        metrics = run_klp("--root", root, "metrics").stdout.splitlines()
        check = subprocess.run([os.path.join(bindir, "check_klp"), "--root", root],
                               capture_output=True, text=True, timeout=60)
        return (line.startswith("last load: before the last reboot: "), last["result"],
                last["this_boot"], "klp_last_load_failed 1" in metrics,
                "the last live patch load failed" in check.stdout)

    assert told() == (False, "failed", True, True, True)
    subprocess.run([os.path.join(bindir, "klp-simkernel"), "reboot", root], check=True,
                   capture_output=True)
    assert told() == (True, "failed", False, False, False)
