"""The libzypp commit plugin: checks, loads and notices around every zypper commit.

libzypp starts it for each commit and talks frames over stdin/stdout. A commit plugin cannot veto
a commit (the %pre hook is the gate), so this plugin always answers ACK, never writes anything
else to stdout, and bounds every wait well inside libzypp's 30 s timeout:

- COMMITBEGIN with live patch steps for the running kernel: while a transition is in progress,
  wait (``LIVEPATCH_PLUGIN_WAIT``, default 20 s) so the commit does not run into the %pre gate
  needlessly; note patches for kernels neither installed nor running, and several versions of
  one stream in one commit (only the newest matters).
- COMMITEND: make sure the newest installed patch for the running kernel is loaded (exactly once,
  whether %posttrans or this plugin gets there first); for erased live patch packages make sure
  the initrd rebuild and the reboot notice happened.

Each commit is recorded atomically in /var/lib/klp/transactions/ (shown by ``klp log``) and in
syslog, since the plugin's stderr only reaches zypper's log.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .drivers.kernel import KernelDriver

from .core.frames import Frame, FrameError, FrameReader, encode
from .core.transaction import ERASE, INSTALL, MULTIVERSION, Step, mentions_livepatch, parse_steps

from .paths import RECORDS  # noqa: E402,F401  (klp log reads it from here too)
KEEP_RECORDS = 20


class CommitPlugin:
    """Handles one commit's frames; every public method returns the reply frame."""

    def __init__(self, root: str = "/", environ: dict[str, str] | None = None) -> None:
        self.root = root
        self.environ = dict(os.environ if environ is None else environ)
        self.started = time.monotonic()
        self.record: dict[str, Any] = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "pid": os.getpid(),
            "steps": [], "decisions": [], "actions": [], "errors": []}
        self.written = False

    # -- protocol ------------------------------------------------------------------------------
    def handle(self, frame: Frame) -> Frame:
        """Answer one frame. Never raises: a failure is recorded and the answer is still ACK."""
        handlers = {"PLUGINBEGIN": None, "COMMITBEGIN": self.commit_begin,
                    "COMMITEND": self.commit_end, "PLUGINEND": self.finish,
                    "_DISCONNECT": self.finish}
        if frame.command not in handlers:
            return Frame("_ENOMETHOD")
        handler = handlers[frame.command]
        if handler is not None:
            try:
                handler(frame)
            except Exception as exc:  # noqa: BLE001 - the plugin must never break a commit
                self.record["errors"].append(f"{frame.command}: {type(exc).__name__}: {exc}")
        return Frame("ACK")

    # -- stages --------------------------------------------------------------------------------
    def _steps(self, frame: Frame) -> list[Step]:
        if not mentions_livepatch(frame.body):
            return []  # most commits: no JSON parsing, no record, nothing to do
        steps = [s for s in parse_steps(frame.body) if s.kernel]
        self.record["steps"] = [
            {"type": s.type, "package": s.nvr, "arch": s.arch, "stage": s.stage} for s in steps]
        return steps

    def commit_begin(self, frame: Frame) -> None:
        """Note odd steps; wait (bounded) for a running transition before rpm's %pre gate."""
        from .wiring import open_kernel

        steps = self._steps(frame)
        if not steps:
            return
        kernel = open_kernel(self.root)
        running = kernel.kernel_release()
        installs = [s for s in steps if s.type in (INSTALL, MULTIVERSION)]
        for step in installs:
            if step.kernel != running and \
                    not os.path.isdir(os.path.join(self.root, "lib/modules", step.kernel or "")):
                self._decide(f"{step.nvr} is for kernel {step.kernel}, which is neither running nor "
                             "installed")
        names = [s.name for s in installs]
        for name in sorted({n for n in names if names.count(n) > 1}):
            self._decide(f"several versions of {name} in one commit: only the newest matters")
        if not any(s.kernel == running for s in installs) or not kernel.in_transition():
            return
        from .services import transition

        result = transition.wait(kernel, transition.policy_for("plugin", self.root, {}))
        self._decide(f"waited {result.elapsed:.1f}s for the transition of {result.patch}: " +
                     ("completed" if result.completed else
                      "still in progress, the %pre gate will refuse the new patch"))

    def commit_end(self, frame: Frame) -> None:
        """Make the outcome right whatever the scriptlets managed: newest patch loaded, notices."""
        from .wiring import open_kernel

        steps = [s for s in self._steps(frame) if s.stage == "ok"]
        if not steps:
            return
        kernel = open_kernel(self.root)
        running = kernel.kernel_release()
        installed_names = {s.name for s in steps if s.type in (INSTALL, MULTIVERSION)}
        ours = [s for s in steps if s.type in (INSTALL, MULTIVERSION) and s.kernel == running]
        if ours and not self._posttrans_did_it(ours):
            self._ensure_loaded(kernel, running)
        for step in steps:
            if step.type == ERASE and step.name not in installed_names:
                self._ensure_erase_notice(step)

    def _posttrans_did_it(self, steps: list[Step]) -> bool:
        """Whether %posttrans of this very commit already handled one of ``steps`` (then the rpm
        database need not even be opened: this keeps the plugin cheap in the common case)."""
        import json

        from .drivers import host
        from .paths import FAILED, LAST_LOAD

        text = host.read_file(self.root, LAST_LOAD)
        try:
            last = json.loads(text) if text else None
        except ValueError:
            return False
        if not isinstance(last, dict) or last.get("result") == FAILED or \
                str(last.get("time", "")) < self.record["started"]:
            return False
        if last.get("package") in {f"{s.nvr}.{s.arch}" for s in steps}:
            self._decide(f"%posttrans already handled {last['package']}: {last.get('message')}")
            return True
        return False

    def _ensure_loaded(self, kernel: KernelDriver, release: str) -> None:
        from .services.load import load_newest, may_load_now
        from .wiring import open_rpmdb

        if not may_load_now(kernel, self.environ, release):
            self._decide(f"not loading live patches for {release} (LIVEPATCH_KERNEL or build root)")
            return
        from .services.transition import policy_for

        wait = policy_for("plugin", self.root, {})
        outcome = load_newest(self.root, kernel, open_rpmdb(self.root), release, wait.timeout,
                              wait.interval, on_wait=self._decide)
        self.record["actions"].append({"load": outcome.result, "message": outcome.message})

    def _ensure_erase_notice(self, step: Step) -> None:
        from .services import initrd, remove
        from .wiring import runner

        if any(n.get("package") == step.nvr for n in remove.notices(self.root)):
            self._decide(f"{step.nvr}: reboot notice already recorded by %postun")
            return
        remove.after_erase(self.root, step.nvr, step.kernel or "")
        messages = initrd.regenerate(self.root, self.environ, runner())
        self.record["actions"].append({"erase": step.nvr, "initrd": messages or "ok"})

    def _decide(self, text: str) -> None:
        self.record["decisions"].append(text)

    def finish(self, _frame: Frame | None = None) -> None:
        """Write the record of this commit once (atomically), keep the newest few, log to syslog."""
        if self.written or not (self.record["steps"] or self.record["errors"]):
            return
        import json

        from .drivers import host

        self.written = True
        self.record["duration"] = round(time.monotonic() - self.started, 3)
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{time.time_ns() % 10**9:09d}-" \
               f"{os.getpid()}.json"
        try:
            host.write_file(self.root, f"{RECORDS}/{name}",
                            (json.dumps(self.record, indent=2, sort_keys=True) + "\n").encode())
            for old in [n for n in host.list_dir(self.root, RECORDS)
                        if n.endswith(".json")][:-KEEP_RECORDS]:
                host.remove_file(self.root, f"{RECORDS}/{old}")
        except host.HostFileError as exc:  # unprivileged, full disk...: syslog still gets it
            self.record["errors"].append(f"record not saved: {exc}")
        _syslog(summary(self.record))


def summary(record: dict[str, Any]) -> str:
    """One line describing a recorded commit (also what ``klp log`` prints)."""
    steps = ", ".join(f"{s['type']}{s['package']}" for s in record.get("steps", [])) or "no live patches"
    parts = [f"{record.get('started', '?')} {steps}"]
    parts += [a.get("message") or f"erase {a.get('erase')}: initrd {a.get('initrd')}"
              for a in record.get("actions", []) if isinstance(a, dict)]
    parts += record.get("decisions", []) + [f"error: {e}" for e in record.get("errors", [])]
    return "; ".join(str(p) for p in parts)


def _syslog(message: str) -> None:
    try:
        import syslog

        syslog.openlog("zypp-plugin-klp", 0, syslog.LOG_DAEMON)
        syslog.syslog(syslog.LOG_INFO, message)
    except OSError:
        pass


def serve(infd: int, outfd: int, plugin: CommitPlugin) -> int:
    """The frame loop: read frames from ``infd``, answer each on ``outfd``, until _DISCONNECT."""
    reader = FrameReader()
    while True:
        try:
            data = os.read(infd, 65536)
        except OSError:
            data = b""
        try:
            if not data:
                reader.close()
                plugin.finish()
                return 0
            frames = reader.feed(data)
        except FrameError as exc:
            plugin.record["errors"].append(f"protocol: {exc}")
            plugin.finish()
            return 0  # out of sync with libzypp: the safest answer is to leave the commit alone
        for frame in frames:
            reply = plugin.handle(frame)
            try:
                os.write(outfd, encode(reply))
            except OSError:
                return 0
            if frame.command == "_DISCONNECT":
                return 0


def main() -> int:
    """Entry point: keep stdout for replies only (stray output goes to stderr), then serve."""
    replies = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    status = serve(0, replies, CommitPlugin("/"))
    # libzypp waits for the plugin to exit inside every commit: everything is written and closed
    # by now, so skip the interpreter's teardown (a few milliseconds per commit).
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
