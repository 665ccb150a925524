"""A pure model of the kernel's live patch core, for the simulated kernel driver.

It follows kernel/livepatch/{core,transition}.c: one transition at a time; a task switches once no
frame of its stack is a function the transitioning patch changes; atomic replace removes older
patches from sysfs when its transition completes (their modules stay loaded); writing the
opposite ``enabled`` value mid-transition reverses it; ``force`` completes it; stalled tasks that
can be woken by a signal are woken 15 s into a transition. As in 6.1: non-replace patches stack
(the newest wins, any may be disabled first); a patch lists one object per target (vmlinux and
modules, patched only while the module is loaded); forcing an unpatch, or a replace patch, pins
the affected modules; a scenario may declare the load failures the kernel has. Each operation
appends to a kernel log what 6.1's livepatch core and module loader print, in their order and
wording (``pr_debug`` lines only while dynamic debug is on for kernel/livepatch, as the kernel's
selftests turn it on).
"""

import errno as E
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set

from ..errors import KernelError
from ..core.errno_text import describe
from ..core.kernel_text import frame_function, parse_boot_id
from ..core.transition import PATCHED, UNDEFINED, UNPATCHED

SIGNAL_AFTER = 15.0
FEATURES = ("replace", "stack_order", "signal")  # sysfs files of other kernels: 6.1 has none
VMLINUX = "vmlinux"
LOAD_FAILURES = ("pre_patch", "klp_state")  # what a scenario can make a module's load fail with
# printk levels (a /dev/kmsg record's priority for the kernel facility)
ERR, WARNING, NOTICE, INFO, DEBUG = 3, 4, 5, 6, 7
LINE_MAX = 992  # longest message the kernel keeps (LOG_LINE_MAX)
LOG_PREFIX = "livepatch: "  # pr_fmt of kernel/livepatch/*.c (KBUILD_MODNAME)


@dataclass
class SimThread:
    """A thread of the simulated system; ``stack`` lists frames, innermost first."""

    pid: int
    tid: int
    comm: str
    cmdline: List[str] = field(default_factory=list)
    stack: List[str] = field(default_factory=list)
    state: int = UNDEFINED
    wakes_on_signal: bool = False


@dataclass
class SimPatch:
    """A live patch registered in (simulated) sysfs."""

    name: str
    functions: List[str]
    enabled: int = 1
    replace: bool = True
    stack_order: int = 1
    forced: bool = False
    objects: Dict[str, List[str]] = field(default_factory=dict)  # target module -> functions
    vmlinux: bool = False  # declares a vmlinux object even without functions (callbacks only)
    sympos: Dict[str, List[int]] = field(default_factory=dict)  # object -> old_sympos per function
    new: Dict[str, str] = field(default_factory=dict)  # replacement function -> what it replaces

    def targets(self) -> Dict[str, List[str]]:
        """Every object this patch changes (vmlinux first) with its functions."""
        return {VMLINUX: self.functions, **self.objects}

    def function_dirs(self, obj: str) -> List[str]:
        """The object's function directories as the kernel names them: ``<old_name>,<sympos>``."""
        positions = self.sympos.get(obj, [])
        return [f"{f},{(positions[i] if i < len(positions) else 0) or 1}"
                for i, f in enumerate(self.targets()[obj])]

    def object_names(self) -> List[str]:
        """The objects the kernel registers for this patch, in its klp_object array order."""
        return [obj for obj, funcs in self.targets().items()
                if obj != VMLINUX or funcs or self.vmlinux or not self.objects]


@dataclass
class SimModule:
    """A loaded module (live patches stay loaded after they leave sysfs)."""

    name: str
    path: str = ""
    functions: List[str] = field(default_factory=list)
    forced: bool = False  # 6.1: a module whose patch was forced cannot be removed
    params: str = ""  # the parameter string it was loaded with


@dataclass
class SimState:
    """The whole simulated kernel; serialisable with :meth:`to_dict` / :meth:`from_dict`."""

    release: str
    arch: str = "x86_64"
    vermagic: str = ""
    features: List[str] = field(default_factory=list)
    threads: Dict[int, SimThread] = field(default_factory=dict)
    modules: Dict[str, SimModule] = field(default_factory=dict)
    patches: List[SimPatch] = field(default_factory=list)
    transition: Optional[str] = None
    target: int = PATCHED
    transition_functions: List[str] = field(default_factory=list)
    started: float = 0.0
    clock: float = 0.0
    signalled: bool = False
    targets: List[str] = field(default_factory=list)  # ordinary (non-live-patch) modules loaded
    ftrace: bool = True  # kernel.ftrace_enabled: off, no patch can register its handlers
    failures: Dict[str, List[Any]] = field(default_factory=dict)  # module -> [kind, errno]
    dyndbg: bool = False  # dynamic debug on for kernel/livepatch/* (pr_debug lines are printed)
    log_seq: int = 0  # sequence number of the next kernel log record
    taints: str = ""  # taint flags set so far ("O", "K", "E": each announced once per boot)
    log: List[List[Any]] = field(default_factory=list)  # records not yet in the log file:
    #                                                      [seq, level, microseconds, text]
    boot_id: str = ""  # /proc/sys/kernel/random/boot_id (the driver draws one: the model is pure)

    def __post_init__(self) -> None:
        if not self.vermagic:
            self.vermagic = f"{self.release} SMP preempt mod_unload modversions"
        self.dirty: Set[int] = set()

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """A JSON-serialisable copy of the state."""
        doc = asdict(self)
        doc["threads"] = [asdict(t) for t in self.threads.values()]
        doc["modules"] = [asdict(m) for m in self.modules.values()]
        return doc

    @classmethod
    def from_dict(cls, doc: Dict[str, Any]) -> "SimState":
        """Inverse of :meth:`to_dict`."""
        doc = dict(doc)
        threads = [SimThread(**t) for t in doc.pop("threads")]
        modules = [SimModule(**m) for m in doc.pop("modules")]
        patches = [SimPatch(**p) for p in doc.pop("patches")]
        _check_state(threads, modules, patches, doc)
        state = cls(**doc, patches=patches)
        state.threads = {t.tid: t for t in threads}
        state.modules = {m.name: m for m in modules}
        return state

    # -- queries -------------------------------------------------------------------------------
    def patch(self, name: str) -> Optional[SimPatch]:
        """The patch named ``name`` in sysfs, or None."""
        return next((p for p in self.patches if p.name == name), None)

    def blocking(self) -> List[SimThread]:
        """Threads not yet switched to the transition's target."""
        if self.transition is None:
            return []
        return [t for t in self.threads.values() if t.state != self.target]

    # -- operations (each raises KernelError with the errno the kernel would return) -----------
    def load(self, name: str, functions: Sequence[str], path: str = "", livepatch: bool = True,
             vermagic: Optional[str] = None, replace: bool = True,
             objects: Optional[Dict[str, List[str]]] = None, params: str = "",
             intree: bool = False, signed: bool = False, vmlinux: bool = False,
             sympos: Optional[Dict[str, List[int]]] = None,
             new: Optional[Dict[str, str]] = None) -> None:
        """finit_module() of a live patch module: registers and enables its patch."""
        if not livepatch:
            raise KernelError(f"{name} is not a live patch module; the simulated kernel loads only "
                              "live patches (EINVAL)", E.EINVAL)
        # With modversions (every distribution kernel) the kernel compares only the flags after
        # the release: symbol CRCs stand in for the release (seen under qemu on Debian's 6.1).
        if vermagic is not None and vermagic.split(" ", 1)[1:] != self.vermagic.split(" ", 1)[1:]:
            self.printk(ERR, f"{name}: version magic '{vermagic}' should be '{self.vermagic}'")
            raise KernelError(describe("load", E.ENOEXEC, name), E.ENOEXEC)
        if not intree:
            self._taint("O", WARNING, f"{name}: loading out-of-tree module taints kernel.")
        self._taint("K", NOTICE, f"{name}: tainting kernel with TAINT_LIVEPATCH")
        if name in self.modules:
            raise KernelError(describe("load", E.EEXIST, name), E.EEXIST)
        if not signed:
            self._taint("E", NOTICE, f"{name}: module verification failed: signature and/or "
                                     "required key missing - tainting kernel")
        # The module's init calls klp_enable_patch(): on failure the module is freed again.
        failure = self.failures.get(name)
        if failure is not None and failure[0] == "klp_state":
            self.printk(ERR, f"{LOG_PREFIX}Livepatch patch ({name}) is not compatible with the "
                             "already installed livepatches.")
            raise KernelError(describe("load", int(failure[1]), name), int(failure[1]))
        if self.transition is not None:
            raise KernelError(describe("load", E.EBUSY, name), E.EBUSY)
        order = max((p.stack_order for p in self.patches), default=0) + 1
        patch = SimPatch(name, list(functions), replace=replace, stack_order=order,
                         objects={k: list(v) for k, v in (objects or {}).items()}, vmlinux=vmlinux,
                         sympos=dict(sympos or {}), new=dict(new or {}))
        self.printk(NOTICE, f"{LOG_PREFIX}enabling patch '{name}'")
        self._transition_log(patch, "initializing", PATCHED)
        for obj in patch.object_names():
            if not self.object_loaded(obj):
                continue
            if failure is not None:  # the scenario's pre-patch callback error
                self.printk(WARNING, f"{LOG_PREFIX}pre-patch callback failed for object '{obj}'")
                self._cancel(patch, int(failure[1]))
            funcs = patch.targets()[obj]
            if funcs and not self.ftrace:  # register_ftrace_function() of a permanent ops
                self.printk(ERR, f"{LOG_PREFIX}failed to register ftrace handler for function "
                                 f"'{funcs[0]}' (-{E.EBUSY})")
                self.printk(WARNING, f"{LOG_PREFIX}failed to patch object '{obj}'")
                self._cancel(patch, E.EBUSY)
        self.modules[name] = SimModule(name, path, _all_functions(patch), params=params)
        self.patches.append(patch)
        changed = set(self._live_functions(patch))
        if replace:
            for older in self.patches[:-1]:  # older functions revert to the originals
                changed.update(self._live_functions(older))
        self._start(patch, PATCHED, sorted(changed))

    def _cancel(self, patch: SimPatch, code: int) -> None:
        """klp_cancel_transition() after a failed enable: the load fails with ``code``."""
        self.printk(WARNING, f"{LOG_PREFIX}failed to enable patch '{patch.name}'")
        self.printk(DEBUG, f"{LOG_PREFIX}'{patch.name}': canceling patching transition, going to "
                           "unpatch")
        self._transition_log(patch, "completing", UNPATCHED)
        self.printk(NOTICE, f"{LOG_PREFIX}'{patch.name}': unpatching complete")
        raise KernelError(describe("load", code, patch.name), code)

    def disable(self, name: str) -> None:
        """Write 0 to ``enabled``: start unpatching, or reverse this patch's own transition."""
        patch = self._existing(name)
        if self.transition == name:
            if patch.enabled == 0:
                raise KernelError(describe("sysfs", E.EINVAL, name), E.EINVAL)
            patch.enabled = 0
            self.printk(DEBUG, f"{LOG_PREFIX}'{name}': reversing transition from patching to "
                               "unpatching")
            self.target = UNPATCHED
            self._transition_log(patch, "starting", UNPATCHED)
            self.started = self.clock
            self.signalled = False
            self.dirty.update(self.threads)
            self.settle()
            return
        if self.transition is not None:
            raise KernelError(describe("sysfs", E.EBUSY, name), E.EBUSY)
        if patch.enabled == 0:
            raise KernelError(describe("sysfs", E.EINVAL, name), E.EINVAL)
        patch.enabled = 0
        self._transition_log(patch, "initializing", UNPATCHED)
        self._start(patch, UNPATCHED, self._live_functions(patch))

    def force(self, name: str) -> None:
        """Write 1 to ``force``: mark every task switched (irreversible)."""
        patch = self._existing(name)
        if self.transition != name:
            raise KernelError(describe("sysfs", E.EINVAL, name), E.EINVAL)
        patch.forced = True
        self.printk(WARNING, f"{LOG_PREFIX}forcing remaining tasks to the patched state")
        # 6.1 (klp_force_transition): an unpatch pins its own module; a replace patch pins the
        # modules it replaces; forcing a non-replace patch in leaves its module removable.
        if self.target == UNPATCHED:
            self._pin(name)
        elif patch.replace:
            for older in self.patches:
                if older is not patch:
                    self._pin(older.name)
        for thread in self.threads.values():
            thread.state = self.target
        self.dirty.update(self.threads)
        self.settle()

    def unload(self, name: str) -> None:
        """delete_module(): only once the module's patch has left sysfs."""
        if name in self.targets:  # klp_module_going(): its patches are reverted first
            self._revert(self.patches, name)
            self.targets.remove(name)
            if self.transition is not None:
                self.transition_functions = self._transition_functions()
                self.settle()
            return
        if name not in self.modules:
            raise KernelError(describe("unload", E.ENOENT, name), E.ENOENT)
        # klp holds a reference on a registered patch's module, and never drops it for a forced
        # one: delete_module() then finds it in use (try_stop_module: EWOULDBLOCK)
        if self.patch(name) is not None or self.modules[name].forced:
            raise KernelError(describe("unload", E.EWOULDBLOCK, name), E.EWOULDBLOCK)
        del self.modules[name]

    def set_ftrace(self, enabled: bool) -> None:
        """sysctl kernel.ftrace_enabled: live patches' handlers are permanent, so turning ftrace
        off while any patch has registered one (a loaded object's function) fails with EBUSY."""
        if not enabled and any(funcs for p in self.patches for obj, funcs in p.targets().items()
                               if self.object_loaded(obj)):
            raise KernelError("ftrace cannot be disabled while live patches are registered (EBUSY)",
                              E.EBUSY)
        self.ftrace = enabled

    def load_target(self, name: str) -> None:
        """An ordinary module loads: the patches of it are applied to it now (klp_module_coming)."""
        if name in self.modules or name in self.targets:
            raise KernelError(describe("load", E.EEXIST, name), E.EEXIST)
        applied: List[SimPatch] = []
        for patch in self.patches:  # klp_module_coming()
            funcs = patch.objects.get(name)
            if funcs is None:
                continue
            self.printk(NOTICE, f"{LOG_PREFIX}applying patch '{patch.name}' to loading module "
                                f"'{name}'")
            if funcs and not self.ftrace:
                self.printk(ERR, f"{LOG_PREFIX}failed to register ftrace handler for function "
                                 f"'{funcs[0]}' (-{E.EBUSY})")
                self.printk(WARNING, f"{LOG_PREFIX}failed to apply patch '{patch.name}' to module "
                                     f"'{name}' (-{E.EBUSY})")
                self.printk(WARNING, f"{LOG_PREFIX}patch '{patch.name}' failed for module "
                                     f"'{name}', refusing to load module '{name}'")
                self._revert(applied, name)
                raise KernelError(describe("load", E.EBUSY, name), E.EBUSY)
            applied.append(patch)
        self.targets.append(name)
        if self.transition is not None:  # its functions join the running transition
            self.transition_functions = self._transition_functions()
            self.settle()

    def release_tasks(self, tids: Optional[Sequence[int]] = None) -> int:
        """Let threads return from every function a loaded live patch changes; count released."""
        patched = self._patched_functions()
        names = self._replacements()
        count = 0
        for thread in self.threads.values():
            if tids is not None and thread.tid not in tids and thread.pid not in tids:
                continue
            kept = [f for f in thread.stack if self._base(frame_function(f), names) not in patched]
            if kept != thread.stack:
                thread.stack = kept
                self.dirty.add(thread.tid)
                count += 1
        self.settle()
        return count

    def call(self, tids: Sequence[int], frames: Sequence[str]) -> int:
        """Threads (pids or tids) call into ``frames`` (outermost first) and sleep there."""
        count = 0
        for thread in self.threads.values():
            if thread.tid in tids or thread.pid in tids:
                thread.stack = [*reversed(frames), *thread.stack]
                self.dirty.add(thread.tid)
                count += 1
        self.settle()
        return count

    def exit(self, pid: int) -> int:
        """A process exits: its threads leave /proc."""
        gone = [tid for tid, t in self.threads.items() if t.pid == pid]
        for tid in gone:
            del self.threads[tid]
        self.dirty.update(gone)
        self.settle()
        return len(gone)

    def advance(self, seconds: float) -> None:
        """Let time pass: the kernel signals stalled tasks after 15 s and retries the transition."""
        self.clock += max(0.0, seconds)
        if self.transition is not None and not self.signalled and \
                self.clock - self.started >= SIGNAL_AFTER:
            self.signalled = True
            if self.blocking():
                self.printk(NOTICE, f"{LOG_PREFIX}signaling remaining tasks")
            functions = set(self.transition_functions)
            names = self._replacements()
            for thread in self.blocking():
                if thread.wakes_on_signal:
                    thread.stack = [f for f in thread.stack
                                    if self._base(frame_function(f), names) not in functions]
        self.settle()

    def reboot(self, boot_id: str) -> None:
        """The machine restarts with a new ``boot_id``: every module (live patches and the
        ordinary ones) is gone with its patches and any transition, sysctls are back to their
        defaults (ftrace on), the clock restarts; the processes come back (same pids), sleeping
        where they slept, minus frames in replacement code, which no longer exists. Loading what
        the boot loads (the initrd's live patch, target modules) is the caller's next step."""
        if parse_boot_id(boot_id) != boot_id:
            raise KernelError(f"invalid boot id {boot_id!r}", E.EINVAL)
        names = self._replacements()  # what replacement code was, before the patches go
        self.boot_id = boot_id
        self.modules.clear()
        self.patches.clear()
        self.targets.clear()
        self.transition = None
        self.target = PATCHED
        self.transition_functions = []
        self.started = self.clock = 0.0
        self.signalled = False
        self.ftrace = True
        self.taints = ""
        self.log_seq = 0  # a new boot's log starts afresh (the driver empties the log file)
        self.log.clear()
        for thread in self.threads.values():
            thread.state = UNDEFINED
            thread.stack = [f for f in thread.stack
                            if self._base(frame_function(f), names) == frame_function(f)]
        self.dirty.update(self.threads)

    def settle(self) -> None:
        """klp_try_complete_transition(): switch every safe task; finish when all are switched."""
        if self.transition is None:
            return
        functions = set(self.transition_functions)
        names = self._replacements()
        for thread in self.threads.values():
            if thread.state != self.target and not any(
                    self._blocks(frame_function(f), functions, names) for f in thread.stack):
                thread.state = self.target
                self.dirty.add(thread.tid)
        if not self.blocking():
            self._complete()

    # -- internals -----------------------------------------------------------------------------
    def _existing(self, name: str) -> SimPatch:
        patch = self.patch(name)
        if patch is None:
            raise KernelError(describe("sysfs", E.ENOENT, name), E.ENOENT)
        return patch

    def _pin(self, name: str) -> None:
        module = self.modules.get(name)
        if module is not None:
            module.forced = True

    def object_loaded(self, obj: str) -> bool:
        """Whether a patch's object is in the kernel (vmlinux always; a module once loaded)."""
        return obj == VMLINUX or obj in self.targets

    def _live_functions(self, patch: SimPatch) -> List[str]:
        """The functions of ``patch`` in objects that are loaded (others cannot hold tasks)."""
        return [f for obj, funcs in patch.targets().items() if self.object_loaded(obj) for f in funcs]

    def _replacements(self) -> Dict[str, str]:
        """Replacement function -> the function it replaces, for every registered patch."""
        return {new: old for patch in self.patches for new, old in patch.new.items()}

    def _base(self, function: str, names: Optional[Dict[str, str]] = None) -> str:
        """The function a frame's function stands for: a patch's replacement (as its klp_func
        names it, or by the naming convention) counts as the function it replaces."""
        found = (self._replacements() if names is None else names).get(function)
        return found if found is not None else _base_by_name(function)

    def _blocks(self, function: str, changed: Set[str], names: Dict[str, str]) -> bool:
        """Whether sleeping in ``function`` stops a task from switching (klp_check_stack_func).

        Patching must wait for tasks in an original function or in an older patch's replacement
        of it (not in its own); unpatching only for tasks in the patch's own replacement (the
        code below it is safe to return to).
        """
        base = self._base(function, names)
        if base not in changed:
            return False
        patch = self.patch(self.transition or "")
        own = patch is not None and function in patch.new  # the transitioning patch's new code
        if self.target == PATCHED:
            return not own
        return base != function and (own or function not in names)

    def _patched_functions(self) -> Set[str]:
        found: Set[str] = set()
        for module in self.modules.values():
            found.update(module.functions)
        return found

    def printk(self, level: int, text: str) -> None:
        """Append one record to the kernel log (``pr_debug`` only while dynamic debug is on)."""
        if level == DEBUG and not self.dyndbg:
            return
        self.log.append([self.log_seq, level, int(self.clock * 1_000_000), text])
        self.log_seq += 1

    def user_message(self, text: str) -> None:
        """A line written to /dev/kmsg by user space (facility user, default level warning)."""
        self.log.append([self.log_seq, 8 + WARNING, int(self.clock * 1_000_000), text[:LINE_MAX]])
        self.log_seq += 1

    def _revert(self, patches: Sequence[SimPatch], module: str) -> None:
        for patch in patches:
            if module in patch.objects:
                self.printk(NOTICE, f"{LOG_PREFIX}reverting patch '{patch.name}' on unloading "
                                    f"module '{module}'")

    def _taint(self, flag: str, level: int, text: str) -> None:
        if flag not in self.taints:
            self.taints += flag
            self.printk(level, text)

    def _transition_log(self, patch: SimPatch, step: str, target: int) -> None:
        way = "patching" if target == PATCHED else "unpatching"
        self.printk(NOTICE if step == "starting" else DEBUG,
                    f"{LOG_PREFIX}'{patch.name}': {step} {way} transition")

    def _transition_functions(self) -> List[str]:
        """What the running transition covers now (a module loading or leaving changes it)."""
        patch = self.patch(self.transition or "")
        if patch is None:
            return []
        changed = set(self._live_functions(patch))
        if patch.replace and self.target == PATCHED:
            for older in self.patches:
                changed.update(self._live_functions(older))
        return sorted(changed)

    def _start(self, patch: SimPatch, target: int, functions: Sequence[str]) -> None:
        self._transition_log(patch, "starting", target)
        self.transition = patch.name
        self.target = target
        self.transition_functions = list(functions)
        self.started = self.clock
        self.signalled = False
        for thread in self.threads.values():
            thread.state = UNPATCHED if target == PATCHED else PATCHED
        self.dirty.update(self.threads)
        self.settle()

    def _complete(self) -> None:
        patch = self.patch(self.transition or "")
        if patch is not None:
            self._transition_log(patch, "completing", self.target)
            way = "patching" if self.target == PATCHED else "unpatching"
            self.printk(NOTICE, f"{LOG_PREFIX}'{patch.name}': {way} complete")
        self.transition = None
        self.transition_functions = []
        for thread in self.threads.values():
            thread.state = UNDEFINED
        self.dirty.update(self.threads)
        if patch is None:
            return
        if patch.enabled == 0:
            self.patches.remove(patch)
        elif patch.replace:
            self.patches = [patch]


def _all_functions(patch: SimPatch) -> List[str]:
    return [f for funcs in patch.targets().values() for f in funcs]


def _base_by_name(function: str) -> str:
    """By the naming convention a replacement names what it replaces: ``livepatch_f``/``klpp_f``."""
    for prefix in ("livepatch_", "klpp_"):
        if function.startswith(prefix):
            return function[len(prefix):]
    return function


def _check_state(threads: List[SimThread], modules: List[SimModule], patches: List[SimPatch],
                 doc: Dict[str, Any]) -> None:
    """A state file is user-editable input: every name written as a path or line is checked."""
    def name(value: Any) -> bool:
        return isinstance(value, str) and value not in ("", ".", "..") and "/" not in value and \
            not any(ord(c) < 33 or ord(c) == 127 for c in value)

    def text(value: Any) -> bool:
        return isinstance(value, str) and not any(ord(c) < 32 or ord(c) == 127 for c in value)

    def content(value: Any) -> bool:  # a task's comm and argv hold any byte but NUL, as on Linux
        return isinstance(value, str) and "\0" not in value

    bad = [m.name for m in modules if not name(m.name)]
    for patch in patches:
        bad += [n for obj, funcs in patch.targets().items() for n in [patch.name, obj, *funcs]
                if not name(n)]
    bad += [t for t in doc.get("targets", []) if not name(t)]
    boot = doc.get("boot_id", "")
    if boot != "" and (not isinstance(boot, str) or parse_boot_id(boot) != boot):
        bad.append(repr(boot))  # written to proc/sys/kernel/random/boot_id: a UUID or nothing
    for t in threads:
        if not (type(t.pid) is int and type(t.tid) is int and t.pid > 0 and t.tid > 0):
            bad.append(repr(t.pid))
        bad += [s for s in t.stack if not text(s)]  # kernel symbols: a newline would forge frames
        bad += [a for a in [t.comm, *t.cmdline] if not content(a)]
    if type(doc.get("log_seq", 0)) is not int or not isinstance(doc.get("taints", ""), str):
        bad.append(repr(doc.get("log_seq")))
    for record in doc.get("log", []):  # [seq, priority, microseconds, text]
        if not (isinstance(record, list) and len(record) == 4 and
                all(type(v) is int for v in record[:3]) and isinstance(record[3], str)):
            bad.append(repr(record))
    if bad:
        raise KernelError(f"the simulated kernel's state holds an invalid name: {bad[0]!r}",
                          E.EINVAL)
