"""The fault matrix: inject each fault at each step of installing, upgrading and erasing a live
patch (real rpm database, simulated kernel, the real hook processes), then prove nothing was lost:
the rpm database answers, every state file is whole, klp tells the truth, and re-running the
step (the documented recovery) converges. Shared by tests/reliability and ``make reliability``."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "fixtures"))

import kobuild  # noqa: E402

from zypp_plugin_klp.sim.scenario import parse_scenario  # noqa: E402
from zypp_plugin_klp.drivers import sysfs  # noqa: E402
from zypp_plugin_klp.sim.driver import SimulatedKernel  # noqa: E402
from zypp_plugin_klp.testing import packages  # noqa: E402

RELEASE = "6.1.0-26-default"
PKG = "kernel-livepatch-6_1_0-26-default"
VERMAGIC = f"{RELEASE} SMP preempt mod_unload modversions"
STATE_FILES = ("var/lib/klp/last-load.json", "var/lib/klp/reboot-needed.json")
SCENARIO = f"""
kernel: {{release: {RELEASE}, vermagic: "{VERMAGIC}"}}
processes:
  - {{pid: 1, comm: systemd, stack: [ep_poll]}}
  - {{pid: 4242, comm: memdb, stack: [futex_wait]}}
"""


@dataclass
class Tally:
    """Counts for one area of the report."""

    injected: int = 0
    survived: int = 0
    lost: int = 0
    failures: List[str] = field(default_factory=list)


class Root:
    """A root with a real rpm database, the simulated kernel and a recording initrd generator."""

    def __init__(self, base: str, rpms: Dict[str, str]) -> None:
        self.root = os.path.join(base, "root")
        self.rpms = rpms
        SimulatedKernel.create(self.root, parse_scenario(SCENARIO))
        os.makedirs(os.path.join(self.root, "etc/sysconfig"))
        os.makedirs(os.path.join(self.root, "lib/modules", RELEASE))
        open(os.path.join(self.root, "lib/modules", RELEASE, "modules.dep"), "w").close()
        self.recorder = os.path.join(base, "dracut-recorder")
        with open(self.recorder, "w") as handle:
            handle.write(f"#!/bin/sh\necho \"$*\" >> {base}/initrd.log\n")
        os.chmod(self.recorder, 0o755)
        self.initrd_log = os.path.join(base, "initrd.log")
        with open(os.path.join(self.root, "etc/sysconfig/bootloader"), "w") as handle:
            handle.write(f"INITRD_GENERATOR=\"{self.recorder}\"\n")

    def hook(self, *args: str, env: Dict[str, str] = None) -> subprocess.Popen:
        argv = [sys.executable, "-m", "zypp_plugin_klp.hooks", *args, "--root", self.root]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "KLP_WAIT": "1", **(env or {})})

    def run_hook(self, *args: str) -> int:
        proc = self.hook(*args)
        proc.communicate(timeout=60)
        return proc.returncode

    def rpm(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(packages.rpm_command(self.root, *args), capture_output=True, text=True)

    def check(self, expect_loaded: str) -> List[str]:
        """Everything that must hold after a fault and a recovery; returns what does not."""
        problems = []
        if self.rpm("-qa").returncode != 0:
            problems.append("the rpm database does not answer")
        for rel in STATE_FILES:
            path = os.path.join(self.root, rel)
            if os.path.exists(path):
                try:
                    json.load(open(path))
                except ValueError:
                    problems.append(f"{rel} is half-written")
        leftovers = [n for d in ("var/lib/klp", "run") if os.path.isdir(os.path.join(self.root, d))
                     for n in os.listdir(os.path.join(self.root, d)) if ".klp-" in n]
        if leftovers:
            problems.append(f"temporary files left: {leftovers}")
        klp = subprocess.run([os.path.join(os.path.dirname(sys.executable), "klp"), "--root", self.root,
                              "patches"], capture_output=True, text=True)
        truth = [p.name for p in sysfs.read_patches(self.root) if p.enabled == 1]
        if klp.stdout.split() != sorted(sysfs.loaded_livepatch_modules(self.root)):
            problems.append(f"klp patches says {klp.stdout.split()}, the kernel has other modules")
        if expect_loaded and truth != [expect_loaded]:
            problems.append(f"active patches {truth}, expected [{expect_loaded}]")
        flags = os.path.join(self.root, "run/regenerate-initrd")
        if os.path.isdir(flags) and [f for f in os.listdir(flags) if not f.startswith(".")]:
            problems.append(f"initrd rebuilds still pending: {os.listdir(flags)}")
        if not os.path.exists(self.initrd_log):
            problems.append("the initrd was never rebuilt")
        return problems


def build_rpms(work: str) -> Dict[str, str]:
    os.makedirs(work, exist_ok=True)
    rpms = {}
    for version in ("1", "2"):
        ko = kobuild.write_module(os.path.join(work, f"lp{version}.ko"), f"livepatch_{version}_1_1",
                                  vermagic=VERMAGIC, functions=["livepatch_cmdline_proc_show"])
        rpms[version] = packages.build_livepatch_rpm(work, ko, RELEASE, version, "1.1")
    return rpms


def _kill_at(proc: subprocess.Popen, reached: Callable[[], bool]) -> None:
    """SIGKILL ``proc`` as soon as it has reached an observable point (a file it wrote, the lock
    it holds, a module it loaded), not after a guessed delay; a process that finished first is
    left alone (bounded: 60 s)."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and not reached() and time.monotonic() < deadline:
        time.sleep(0.001)  # polling the observable state
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def _point(root: Root, proc_pid: Callable[[], int], point: str, module: str = "") -> Callable[[], bool]:
    """Whether the hook has reached ``point``: start, lock (it holds klp's lock), loaded
    (``module`` is in the kernel), recorded (last-load.json rewritten), notice (reboot-needed
    written), flag (an initrd rebuild scheduled)."""
    def mtime(rel: str) -> int:
        try:
            return os.stat(os.path.join(root.root, rel)).st_mtime_ns
        except FileNotFoundError:
            return 0

    before = mtime(STATE_FILES[0])

    def lock_holder() -> str:
        try:
            with open(os.path.join(root.root, "run/klp/lock")) as handle:
                return handle.read().strip()
        except FileNotFoundError:
            return ""

    checks: Dict[str, Callable[[], bool]] = {
        "start": lambda: True,
        "lock": lambda: lock_holder() == str(proc_pid()),
        "loaded": lambda: module in sysfs.loaded_livepatch_modules(root.root),
        "recorded": lambda: mtime(STATE_FILES[0]) != before,
        "notice": lambda: os.path.exists(os.path.join(root.root, "run/reboot-needed")),
        "flag": lambda: bool(mtime("run/regenerate-initrd")),
    }
    return checks[point]


def _kill_hook(root: Root, point: str, *args: str, module: str = "") -> None:
    pid: List[int] = []
    reached = _point(root, lambda: pid[0], point, module)
    proc = root.hook(*args)
    pid.append(proc.pid)
    _kill_at(proc, reached)


# Each case: (name, step, fault, action(root) -> expected active patch after recovery)
def _install(root: Root, version: str) -> None:
    root.rpm("-U", "--nodeps", "--noscripts", root.rpms[version])
    root.run_hook("post", PKG, f"{version}-1.1", "1")


def case_kill_posttrans(point: str) -> Callable[[Root], str]:
    def action(root: Root) -> str:
        _install(root, "1")
        _kill_hook(root, point, "posttrans", PKG, "1-1.1", module="livepatch_1_1_1")
        root.run_hook("posttrans", PKG, "1-1.1")  # recovery: the next transaction's posttrans
        return "livepatch_1_1_1"
    return action


def case_kill_postun(point: str) -> Callable[[Root], str]:
    def action(root: Root) -> str:
        _install(root, "1")
        root.run_hook("posttrans", PKG, "1-1.1")
        root.rpm("-e", "--nodeps", "--noscripts", PKG)
        _kill_hook(root, point, "postun", PKG, "1-1.1", "0")
        root.run_hook("postun", PKG, "1-1.1", "0")
        if not os.path.exists(os.path.join(root.root, "run/reboot-needed")):
            raise AssertionError("no reboot notice after recovery")
        return "livepatch_1_1_1"  # still in the running kernel until the reboot
    return action


def case_kill_upgrade(point: str) -> Callable[[Root], str]:
    def action(root: Root) -> str:
        _install(root, "1")
        root.run_hook("posttrans", PKG, "1-1.1")
        _install(root, "2")
        _kill_hook(root, point, "posttrans", PKG, "2-1.1", module="livepatch_2_1_1")
        root.run_hook("posttrans", PKG, "2-1.1")
        return "livepatch_2_1_1"
    return action


def case_kill_pre(point: str) -> Callable[[Root], str]:
    """The %pre gate is killed: rpm aborts that package (the old state stays); a retry installs."""
    def action(root: Root) -> str:
        _kill_hook(root, point, "pre", PKG, "1-1.1", "1")
        _install(root, "1")
        root.run_hook("posttrans", PKG, "1-1.1")
        return "livepatch_1_1_1"
    return action


def case_kill_plugin(point: str) -> Callable[[Root], str]:
    """The commit plugin is killed inside COMMITEND (libzypp drops it); %posttrans or the next
    commit converges."""
    def action(root: Root) -> str:
        _install(root, "1")
        step = (b'{"TransactionStepList": [{"solvable": {"a": "x86_64", "n": "%s", "r": "1.1", '
                b'"v": "1"}, "stage": "ok", "type": "+"}]}' % PKG.encode())
        frames = b"PLUGINBEGIN\n\n\0COMMITEND\n\n" + step + b"\0PLUGINEND\n\n\0_DISCONNECT\n\n\0"
        code = ("import sys; from zypp_plugin_klp import plugin; "
                "plugin.serve(0, 1, plugin.CommitPlugin(sys.argv[1], {}))")
        pid: List[int] = []
        reached = _point(root, lambda: pid[0], point, "livepatch_1_1_1")
        proc = subprocess.Popen([sys.executable, "-c", code, root.root], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pid.append(proc.pid)
        proc.stdin.write(frames)
        proc.stdin.flush()
        _kill_at(proc, reached)
        root.run_hook("posttrans", PKG, "1-1.1")
        return "livepatch_1_1_1"
    return action


def case_enospc(step: str) -> Callable[[Root], str]:
    """State writes fail as on a full disk (a 1-block tmpfs over var/lib/klp and run)."""
    def action(root: Root) -> str:
        _install(root, "1")
        full = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                'for d in "$1/var/lib/klp" "$1/run/klp" "$1/run/regenerate-initrd"; do '
                'mkdir -p "$d" && mount -t tmpfs -o size=4k tmpfs "$d" && '
                'dd if=/dev/zero of="$d/fill" bs=4k count=1 2>/dev/null; done; shift; exec "$@"',
                "sh", root.root, sys.executable, "-m", "zypp_plugin_klp.hooks", step, PKG, "1-1.1"]
        if step == "postun":
            full.append("0")
        faulted = subprocess.run(full + ["--root", root.root], capture_output=True, text=True,
                                 timeout=60, env={**os.environ, "KLP_WAIT": "1"})
        if "Traceback" in faulted.stderr or faulted.returncode not in (0, 1):
            raise AssertionError(f"unexpected exception under ENOSPC: {faulted.stderr[-300:]}")
        if step != "post" and "klp: " not in faulted.stderr:
            raise AssertionError("the full disk went unreported")
        root.run_hook("posttrans", PKG, "1-1.1")  # recovery once there is space again
        return "livepatch_1_1_1"
    return action


def case_load_error(code: int) -> Callable[[Root], str]:
    """The kernel refuses the load (EEXIST, EBUSY, ENOEXEC, EKEYREJECTED, ENOMEM)."""
    def action(root: Root) -> str:
        from zypp_plugin_klp.drivers.rpmdb import RpmDb
        from zypp_plugin_klp.errors import KernelError
        from zypp_plugin_klp.services.load import FAILED, load_newest

        class Refusing(SimulatedKernel):
            def _insert(self, fd: int, info: object, label: str, params: str = "") -> None:
                raise KernelError(f"simulated refusal ({errno.errorcode[code]})", code)

        _install(root, "1")
        outcome = load_newest(root.root, Refusing(root.root), RpmDb(root.root), RELEASE, 0.2)
        if outcome.result != FAILED:
            raise AssertionError(f"a refused load reported {outcome.result}")
        root.run_hook("posttrans", PKG, "1-1.1")  # recovery: the kernel accepts it now
        return "livepatch_1_1_1"
    return action


def case_generator_fails() -> Callable[[Root], str]:
    def action(root: Root) -> str:
        with open(os.path.join(root.root, "etc/sysconfig/bootloader"), "w") as handle:
            handle.write("INITRD_GENERATOR=/bin/false\n")
        _install(root, "1")
        root.run_hook("posttrans", PKG, "1-1.1")
        if os.listdir(os.path.join(root.root, "run/regenerate-initrd")) != [RELEASE]:
            raise AssertionError("the initrd flag was not kept after a failed rebuild")
        with open(os.path.join(root.root, "etc/sysconfig/bootloader"), "w") as handle:
            handle.write(f"INITRD_GENERATOR=\"{root.recorder}\"\n")
        root.run_hook("posttrans", PKG, "1-1.1")
        if os.listdir(os.path.join(root.root, "run/regenerate-initrd")):
            raise AssertionError("the flag survived a successful rebuild")
        return "livepatch_1_1_1"
    return action


def cases() -> Dict[str, Callable[[Root], str]]:
    """Every (step, fault) pair of the matrix; kills land at observable points of each step."""
    matrix: Dict[str, Callable[[Root], str]] = {}
    for point in ("start", "lock", "loaded", "recorded"):
        matrix[f"plugin-COMMITEND/SIGKILL@{point}"] = case_kill_plugin(point)
        matrix[f"posttrans/SIGKILL@{point}"] = case_kill_posttrans(point)
        matrix[f"upgrade-posttrans/SIGKILL@{point}"] = case_kill_upgrade(point)
    matrix["pre/SIGKILL@start"] = case_kill_pre("start")
    for point in ("start", "notice", "flag"):
        matrix[f"postun/SIGKILL@{point}"] = case_kill_postun(point)
    for step in ("post", "posttrans", "postun"):
        matrix[f"{step}/ENOSPC"] = case_enospc(step)
    for code in (errno.EEXIST, errno.EBUSY, errno.ENOEXEC, errno.EKEYREJECTED, errno.ENOMEM):
        matrix[f"load/{errno.errorcode[code]}"] = case_load_error(code)
    matrix["initrd/generator fails"] = case_generator_fails()
    return matrix


def run_case(name: str, action: Callable[[Root], str], work: str, rpms: Dict[str, str]) -> List[str]:
    """Run one case in a fresh root; the list of problems (empty: survived, nothing lost)."""
    base = os.path.join(work, name.replace("/", "_").replace("@", "_").replace(" ", "_"))
    os.makedirs(base)
    try:
        root = Root(base, rpms)
        try:
            expected = action(root)
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            return [f"recovery failed: {exc}"]
        return root.check(expected)
    finally:
        shutil.rmtree(base, ignore_errors=True)
