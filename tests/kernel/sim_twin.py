"""The simulator twin's story, told to the real kernel (in the qemu guest) and to the simulated one
(on the host): each step's action, then a normalized snapshot of /sys/kernel/livepatch (names,
modes, values), of ``klp --json patches``, ``status`` and ``blocking``, and the kernel log lines the
step added (the kernel's own records about live patching or the story's modules, without
timestamps, with the livepatch core's pr_debug lines on as the kernel's selftests turn them on)."""

import errno
import json
import os
import stat
from typing import Any, Callable, Dict, List, Optional, Tuple

LIVEPATCH = "sys/kernel/livepatch"
TARGET = "klp_sim_target"
HELD = "klp_test_held"  # target module whose worker thread can be held in klp_test_held_func
WORKER = "klp_held_worker"



def worker_stack() -> str:
    """The kernel stack of the held module's worker thread ('' when it is not there)."""
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/comm") as handle:
                if handle.read().strip() != WORKER:
                    continue
            with open(f"/proc/{pid}/stack") as handle:
                return handle.read()
        except OSError:  # the task exited, or /proc/PID/stack is not readable
            continue
    return ""

class Machine:
    """What the story needs from a kernel; one subclass drives the real one, one the simulator."""

    root = "/"

    def load(self, name: str) -> None:
        raise NotImplementedError

    def insmod_target(self) -> None:
        raise NotImplementedError

    def disable(self, name: str) -> None:
        raise NotImplementedError

    def unload(self, name: str) -> None:
        raise NotImplementedError

    def ftrace(self, enabled: bool) -> None:
        raise NotImplementedError

    def wait(self) -> None:
        raise NotImplementedError

    def rmmod_target(self) -> None:
        raise NotImplementedError

    def insmod_held(self) -> None:
        raise NotImplementedError

    def hold(self, held: bool) -> None:
        """Hold the worker in (the live patch of) klp_test_held_func, or let it return."""
        raise NotImplementedError

    def force(self, name: str) -> None:
        raise NotImplementedError

    def log(self) -> List[str]:
        """The kernel log's messages added since the last call."""
        raise NotImplementedError


def log_lines(messages: List[str]) -> List[str]:
    """The log lines the twins compare: about live patching or the story's modules."""
    return [m for m in messages if "livepatch" in m.lower() or "klp_sim" in m]


def _errno(action: Callable[[], None]) -> str:
    """Run an action; the errno name it failed with, or "ok"."""
    from zypp_plugin_klp.errors import KernelError

    try:
        action()
    except KernelError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "ok"


STORY: List[Any] = [
    ("start", lambda m: "ok"),
    ("load a non-replace patch of a module not loaded yet", lambda m: _errno(lambda: m.load("klp_sim_a"))),
    ("the target module loads: its object gets patched", lambda m: _errno(m.insmod_target)),
    ("load b, a second non-replace patch of the same function", lambda m: _errno(lambda: m.load("klp_sim_b"))),
    ("disable a, the bottom patch", lambda m: _errno(lambda: m.disable("klp_sim_a"))),
    ("a pre-patch callback fails with ENODEV", lambda m: _errno(lambda: m.load("klp_sim_fail"))),
    ("disable b", lambda m: _errno(lambda: m.disable("klp_sim_b"))),
    ("remove a and b", lambda m: ",".join(_errno(lambda n=n: m.unload(n))
                                          for n in ("klp_sim_a", "klp_sim_b"))),
    ("ftrace disabled: a load fails with EBUSY, no transition",
     lambda m: _errno(lambda: m.ftrace(False)) + "," + _errno(lambda: m.load("klp_sim_a"))),
    ("ftrace enabled again", lambda m: _errno(lambda: m.ftrace(True))),
    ("a again, then the target module leaves: its patch is reverted on it",
     lambda m: _errno(lambda: m.load("klp_sim_a")) + "," +
     _errno(lambda: (m.wait(), m.rmmod_target())[1])),
    ("disable and remove a", lambda m: _errno(lambda: m.disable("klp_sim_a")) + "," +
     _errno(lambda: (m.wait(), m.unload("klp_sim_a"))[1])),
    ("b is in use while enabled; disabled, it can be removed", lambda m: ",".join([
        _errno(lambda: (m.load("klp_sim_b"), m.wait())[0]),
        _errno(lambda: m.unload("klp_sim_b")),
        _errno(lambda: m.disable("klp_sim_b")),
        _errno(lambda: (m.wait(), m.unload("klp_sim_b"))[1])])),
    ("the held target module, then a patch of its function", lambda m: ",".join([
        _errno(m.insmod_held), _errno(lambda: m.load("klp_sim_held"))])),
    ("the worker sleeps in the replacement: unpatching waits; force completes it, pins the patch",
     lambda m: _held_unpatch_forced(m)),
    ("the worker returns", lambda m: _errno(lambda: m.hold(False))),
]


def _held_unpatch_forced(m: Machine) -> str:
    from zypp_plugin_klp.drivers import sysfs

    m.hold(True)
    steps = [_errno(lambda: m.disable("klp_sim_held"))]
    steps.append("held" if sysfs.any_transition(m.root) else "not held")
    steps.append(_errno(lambda: m.force("klp_sim_held")))
    m.wait()
    steps.append(_errno(lambda: m.unload("klp_sim_held")))
    return ",".join(steps)


def snapshot(machine: Machine) -> Dict[str, Any]:
    """The livepatch sysfs tree (path, kind, mode, value) and klp's JSON views of ``machine``."""
    base = os.path.join(machine.root, LIVEPATCH)
    files: List[List[Any]] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        rel = os.path.relpath(dirpath, base)
        for name in sorted(dirnames):
            files.append([os.path.normpath(os.path.join(rel, name)), "d",
                          oct(stat.S_IMODE(os.lstat(os.path.join(dirpath, name)).st_mode))])
        for name in sorted(filenames):
            if name.startswith("."):
                continue  # the simulator's own state
            path = os.path.join(dirpath, name)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            value: Optional[str] = None
            if mode & 0o444:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    value = handle.read()
            files.append([os.path.normpath(os.path.join(rel, name)), "f", oct(mode), value])
    views = {}
    for view in ("patches", "status", "blocking"):
        code, out, err = klp_json(machine.root, view)
        try:
            views[view] = json.loads(out)
        except ValueError:
            views[view] = {"exit": code, "stdout": out, "stderr": err}
    return {"sysfs": files, **views}


def klp_json(root: str, view: str) -> Tuple[int, str, str]:
    """``klp --root ROOT --json VIEW`` through klp's own entry (in-process: under TCG a Python
    start costs seconds, and the story takes 30 views)."""
    import contextlib
    import io

    from zypp_plugin_klp.cli.klp import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(["--root", root, "--json", view])
    return code, out.getvalue(), err.getvalue()


def wait_idle(root: str, seconds: float = 60.0) -> None:
    """Wait until no patch is in transition (observable state, polled)."""
    import time

    from zypp_plugin_klp.drivers import sysfs

    def settling() -> bool:  # a disabled patch leaves sysfs from a workqueue, after transition=0
        return sysfs.any_transition(root) or any(p.enabled == 0 for p in sysfs.read_patches(root))

    deadline = time.monotonic() + seconds
    while settling() and time.monotonic() < deadline:
        time.sleep(0.1)


def tell(machine: Machine) -> List[Dict[str, Any]]:
    """Run the story on ``machine``: one record per step (its outcome and the snapshot after)."""
    records = []
    for title, action in STORY:
        outcome = action(machine)
        machine.wait()
        records.append({"step": title, "outcome": outcome, **snapshot(machine),
                        "log": log_lines(machine.log())})
    return records



class Simulated(Machine):
    """The simulated kernel, fed the same module files the guest loaded."""

    def __init__(self, root: str, release: str, modules: str) -> None:
        from zypp_plugin_klp.core.elfmod import parse_module
        from zypp_plugin_klp.sim.driver import SimulatedKernel
        from zypp_plugin_klp.sim.scenario import parse_scenario

        with open(os.path.join(modules, "klp_sim_a.ko"), "rb") as handle:
            vermagic = parse_module(handle.read()).vermagic
        scenario = (f"kernel: {{release: '{release}', vermagic: '{vermagic}',\n"
                    "  dynamic_debug: true,\n"
                    "  load_failures: {klp_sim_fail: {pre_patch: ENODEV}}}\n"
                    "processes:\n  - {pid: 1, comm: init, stack: [do_wait]}\n"
                    f"  - {{pid: 2, comm: {WORKER}, "
                    "stack: [msleep, klp_test_worker_fn, kthread]}\n")
        self.kernel = SimulatedKernel.create(root, parse_scenario(scenario))
        self.root = root
        self.modules = modules
        self.seen = 0

    def load(self, name: str) -> None:
        self.kernel.load(os.path.join(self.modules, f"{name}.ko"))

    def insmod_target(self) -> None:
        self.kernel.load_target(TARGET)

    def disable(self, name: str) -> None:
        self.kernel.disable(name)

    def unload(self, name: str) -> None:
        self.kernel.unload(name)

    def ftrace(self, enabled: bool) -> None:
        self.kernel.set_ftrace(enabled)

    def wait(self) -> None:
        wait_idle(self.root)

    def rmmod_target(self) -> None:
        self.kernel.unload(TARGET)

    def insmod_held(self) -> None:
        self.kernel.load_target(HELD)

    def hold(self, held: bool) -> None:
        if held:
            self.kernel.call([2], ["held_replacement", "msleep"])
        else:
            self.kernel.release([2])

    def force(self, name: str) -> None:
        self.kernel.force(name)

    def log(self) -> List[str]:
        lines = self.kernel.dmesg()
        new, self.seen = lines[self.seen:], len(lines)
        return new


def differences(real: List[Dict[str, Any]], simulated: List[Dict[str, Any]]) -> List[str]:
    """Where the two stories part, step by step (empty when they agree)."""
    found = []
    for r, s in zip(real, simulated):
        for key in r:
            if r[key] != s.get(key):
                found.append(f"step '{r['step']}': {key}: real {r[key]!r} != simulated {s.get(key)!r}")
    if len(real) != len(simulated):
        found.append(f"{len(real)} real steps, {len(simulated)} simulated")
    return found
