"""The libzypp commit plugin: checks, loads and notices around every zypper commit.

libzypp starts it for each commit and talks frames over stdin/stdout. A commit plugin cannot veto
a commit (the %pre hook is the gate), so this plugin always answers ACK, never writes anything
else to stdout, and answers every message within one deadline set when the message arrives
(25 s of libzypp's 30 s, see core/waiting.py), which the lock and every wait share:

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

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .drivers import pipe
from .core.frames import Frame, FrameError, FrameReader, encode
from .core.transaction import Step, mentions_livepatch, parse_steps


class CommitPlugin:
    """Handles one commit's frames; every public method returns the reply frame."""

    def __init__(self, root: str = "/", environ: dict[str, str] | None = None) -> None:
        self.root = root
        self.environ = pipe.environment() if environ is None else dict(environ)
        self.started = time.monotonic()
        self.arrived = self.started  # when the message being answered arrived (monotonic time)
        self.record: dict[str, Any] = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "pid": pipe.pid(),
            "steps": [], "decisions": [], "actions": [], "errors": []}
        self.written = False

    # -- protocol ------------------------------------------------------------------------------
    def handle(self, frame: Frame, arrived: float | None = None) -> Frame:
        """Answer one frame that arrived at ``arrived`` (``time.monotonic()``; now if None) by
        its deadline (:meth:`until`). Never raises: a failure is recorded and the answer is
        still ACK."""
        handlers = {"PLUGINBEGIN": None, "COMMITBEGIN": self.commit_begin,
                    "COMMITEND": self.commit_end, "PLUGINEND": self.finish,
                    "_DISCONNECT": self.finish}
        if frame.command not in handlers:
            return Frame("_ENOMETHOD")
        handler = handlers[frame.command]
        if handler is not None:
            self.arrived = time.monotonic() if arrived is None else arrived
            try:
                handler(frame)
            except Exception as exc:  # noqa: BLE001 - the plugin must never break a commit
                self.record["errors"].append(f"{frame.command}: {type(exc).__name__}: {exc}")
        return Frame("ACK")

    def until(self) -> float:
        """The deadline of the message being answered: the lock and every wait share it."""
        from .core.waiting import answer_budget  # only commits with live patch steps get here

        return self.arrived + answer_budget(self.environ)

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
        steps = self._steps(frame)
        if steps:
            from .services import commit
            from .wiring import open_kernel

            commit.before(self.root, open_kernel(self.root), steps, self._decide, self.until())

    def commit_end(self, frame: Frame) -> None:
        """Make the outcome right whatever the scriptlets managed: newest patch loaded, notices."""
        steps = [s for s in self._steps(frame) if s.stage == "ok"]
        if steps:
            from .services import commit
            from .wiring import open_kernel, open_rpmdb, runner

            self.record["actions"] += commit.after(
                self.root, self.environ, steps, self.record["started"], open_kernel(self.root),
                open_rpmdb(self.root), runner(), self._decide, self.until())

    def _decide(self, text: str) -> None:
        self.record["decisions"].append(text)

    def finish(self, _frame: Frame | None = None) -> None:
        """Write the record of this commit once (atomically), keep the newest few, log to syslog."""
        if self.written or not (self.record["steps"] or self.record["errors"]):
            return
        from .drivers.host import HostFileError
        from .services import journal

        self.written = True
        self.record["duration"] = round(time.monotonic() - self.started, 3)
        try:
            journal.save(self.root, self.record, pipe.pid())
        except HostFileError as exc:  # unprivileged, full disk...: syslog still gets it
            self.record["errors"].append(f"record not saved: {exc}")
        _syslog(journal.summary(self.record))


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
        data = pipe.read(infd)
        arrived = time.monotonic()  # every deadline counts from here: libzypp's clock runs too
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
            reply = plugin.handle(frame, arrived)
            if not pipe.write(outfd, encode(reply)):
                return 0
            arrived = time.monotonic()  # libzypp sends the next frame only after this answer
            if frame.command == "_DISCONNECT":
                return 0


def main() -> int:
    """Entry point: keep stdout for replies only (stray output goes to stderr), then serve."""
    replies = pipe.keep_stdout_for_replies()
    sys.stdout = sys.stderr
    status = serve(0, replies, CommitPlugin("/"))
    # libzypp waits for the plugin to exit inside every commit: everything is written and closed
    # by now, so skip the interpreter's teardown (a few milliseconds per commit).
    sys.stderr.flush()
    pipe.exit_now(status)


if __name__ == "__main__":
    sys.exit(main())
