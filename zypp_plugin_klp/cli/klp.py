"""``klp`` (and ``kgr``): query and steer kernel live patching, output-compatible with SUSE's klp.

Exit codes (the one place they are decided):

    0  success; ``check``/``wait``: no transition in progress
    1  error; ``check``: a transition is in progress; ``wait``: still in progress at the timeout;
       ``downgrade``: no older version to go back to
    2  usage error (unknown command or option)
    N  ``update``/``downgrade``: zypper's own exit status once zypper ran (see zypper(8))

``klp status`` is polled by monitoring: this module imports nothing heavy at start-up, and each
command imports what it needs.
"""

from __future__ import annotations

import os
import sys

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2

USAGE = """\
usage: {prog} [-h] [-v[v]] [--root DIR] [--json] [--version] COMMAND [ARGS]

Kernel live patching status and control.

commands:
  status              print 'ready' or 'in_progress'; -v adds pending reboots, last load
  check               exit 0 when ready, 1 while a transition is in progress
  patches             list live patch modules; -v adds RPM, CVE and bug fixes, -vv expiry/update
  blocking            PIDs of tasks blocking the transition; -v command lines, -vv stacks
  wait [--timeout S] [--interval S] [--revert]
                      wait for the transition, showing progress; at the timeout name the
                      blocking tasks, optionally reverse the transition, and exit 1
  force [-n]          emergency: mark every task of the transition switched (asks first)
  log                 what the zypper commit plugin saw, decided and did, one line per commit
  update [-n] [--dry-run]
                      install the newest live patch for the running kernel with zypper
  downgrade [-n]      go back to the previous live patch version (zypper in --oldpackage)
{kgr}
options:
  -h, --help          show this help and exit
  -v, --verbose       more detail (repeat for even more)
  --root DIR          inspect DIR instead of / (chroot, simulated kernel tree)
  --json              machine-readable output for status, patches and blocking
  --version           print the version and exit

exit status: 0 success/ready, 1 error or transition in progress, 2 usage error;
update/downgrade pass on zypper's exit status once zypper ran.
See klp(8).
"""

KGR_USAGE = """\
  blocking_threads    TIDs of threads blocking the transition
  poke                signal the blocking tasks (kernels before 5.x; newer ones do it alone)
"""

NON_ROOT_WARNING = "Warning: running as non-root user, display will be limited"


class Options:
    """The parsed command line."""

    def __init__(self) -> None:
        self.verbose = 0
        self.root = "/"
        self.json = False
        self.command = ""
        self.timeout: float | None = None   # 'klp wait': the wait policy's defaults
        self.interval: float | None = None
        self.revert = False
        self.yes = False
        self.dry_run = False


def _number(value: str, option: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"{option} needs a number of seconds, not {value!r}")
    return number


def parse_args(argv: list[str], commands: tuple[str, ...]) -> Options:
    """Parse ``argv`` (options may come before or after the command).

    Raises:
        ValueError: with the message to print for a usage error.
    """
    opts = Options()
    args = list(argv)
    while args:
        arg = args.pop(0)
        value = None
        if arg.startswith("--") and "=" in arg:
            arg, value = arg.split("=", 1)
        if arg in ("--root", "--timeout", "--interval"):
            if value is None:
                if not args:
                    raise ValueError(f"{arg} needs a value")
                value = args.pop(0)
            if arg == "--root":
                if not value:
                    raise ValueError("--root needs a directory")
                opts.root = value
            elif arg == "--timeout":
                opts.timeout = _number(value, arg)
            else:
                opts.interval = max(_number(value, arg), 0.01)
        elif value is not None:
            raise ValueError(f"option {arg} takes no value")
        elif arg == "--verbose":
            opts.verbose += 1
        elif arg == "--json":
            opts.json = True
        elif arg == "--revert":
            opts.revert = True
        elif arg == "--dry-run":
            opts.dry_run = True
        elif arg in ("-h", "--help"):
            opts.command = "help"
            return opts
        elif arg == "--version":
            opts.command = "version"
            return opts
        elif arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
            for flag in arg[1:]:
                if flag == "v":
                    opts.verbose += 1
                elif flag == "n":
                    opts.yes = True
                elif flag == "h":
                    opts.command = "help"
                    return opts
                else:
                    raise ValueError(f"unknown option -{flag}")
        elif arg.startswith("-"):
            raise ValueError(f"unknown option {arg}")
        elif not opts.command:
            if arg not in commands:
                raise ValueError(f"unknown command {arg!r}")
            opts.command = arg
        else:
            raise ValueError(f"unexpected argument {arg!r}")
    if not opts.command:
        raise ValueError("no command given")
    return opts


class Console:
    """Where output goes; warnings are printed once each, as ``klp: warning: ...``."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.seen: set[str] = set()

    def out(self, text: str) -> None:
        sys.stdout.write(text)

    def err(self, line: str) -> None:
        sys.stderr.write(line + "\n")

    def warn(self, message: str) -> None:
        if message not in self.seen:
            self.seen.add(message)
            self.err(f"{self.prog}: warning: {message}")


def _is_root() -> bool:
    return os.geteuid() == 0


def _require_root(console: Console, what: str) -> None:
    from ..errors import PermissionDeniedError

    if not _is_root():
        raise PermissionDeniedError(f"{what} changes the kernel's state and must be run as root")


def _status(opts: Options, console: Console) -> int:
    from ..wiring import open_kernel

    state = "in_progress" if open_kernel(opts.root).in_transition() else "ready"
    if opts.json:
        from ..core.render import status_json

        console.out(status_json(state))
    else:
        console.out(state + "\n")
    if opts.verbose and not opts.json:
        _status_details(opts, console)
    return EXIT_OK


def _status_details(opts: Options, console: Console) -> None:
    """``klp -v status``: after the status line, pending reboots and the last load's outcome."""
    import json

    from ..drivers import host
    from ..paths import LAST_LOAD
    from ..services import remove

    for notice in remove.notices(opts.root):
        console.out(f"reboot needed: {notice.get('reason', '?')} ({notice.get('time', '?')})\n")
    text = host.read_file(opts.root, LAST_LOAD)
    try:
        last = json.loads(text) if text else None
    except ValueError:
        last = None
    if isinstance(last, dict):
        console.out(f"last load: {last.get('message', '?')} ({last.get('time', '?')})\n")
    _stream_expiry(opts, console)


def _stream_expiry(opts: Options, console: Console) -> None:
    """Call out an expired or soon-expiring live patch stream of the running kernel."""
    import time

    from ..core.names import package_name
    from ..core.lifecycle import expiry, format_eol
    from ..drivers.rpmdb import RpmDbError
    from ..services.lifecycle import package_eol
    from ..wiring import open_kernel, open_rpmdb

    release = open_kernel(opts.root).kernel_release()
    try:
        installed = open_rpmdb(opts.root).installed(package_name(release)) if release else []
    except (RpmDbError, ValueError):
        return
    if not installed:
        return
    newest = installed[-1]
    eol = package_eol(opts.root, newest.name, f"{newest.version}-{newest.release}", newest.arch)
    kind, days = expiry(eol, int(time.time()))
    if eol is not None and kind == "expired":
        console.out(f"live patch stream {newest.name} expired on {format_eol(eol)}: no more live "
                    "patches for this kernel; plan a kernel update and reboot\n")
    elif eol is not None and kind == "soon":
        console.out(f"live patch stream {newest.name} expires on {format_eol(eol)} (in {days} days): "
                    "plan a kernel update and reboot\n")


def _check(opts: Options, console: Console) -> int:
    from ..wiring import open_kernel

    return EXIT_FAIL if open_kernel(opts.root).in_transition() else EXIT_OK


def _patches(opts: Options, console: Console) -> int:
    from ..core import render
    from ..services import report
    from ..wiring import open_kernel, open_rpmdb

    rpmdb = open_rpmdb(opts.root) if opts.verbose or opts.json else None
    reports = report.patches(open_kernel(opts.root), rpmdb, console.warn)
    if opts.verbose >= 2 or opts.json:
        import time

        from ..drivers.solver import SolverError
        from ..wiring import open_resolver

        report.add_expiry(reports, opts.root, int(time.time()))

        try:
            report.add_updates(reports, open_resolver(opts.root))
        except SolverError as exc:
            console.warn(f"update status unknown: {exc}")
    console.out(render.patches_json(reports) if opts.json else render.patches_text(reports, opts.verbose))
    return EXIT_OK


def _blocking_report(opts: Options, console: Console, details: int):  # noqa: ANN202
    from ..services import report as reports
    from ..wiring import open_kernel

    if not _is_root():
        console.err(NON_ROOT_WARNING)
    report = reports.blocking(open_kernel(opts.root), details, console.warn)
    if report.stats.denied and _is_root():
        console.warn(f"{report.stats.denied} tasks could not be read")
    return report


def _blocking(opts: Options, console: Console) -> int:
    from ..core import render

    report = _blocking_report(opts, console, 2 if opts.json else min(opts.verbose, 2))
    console.out(render.blocking_json(report) if opts.json else render.blocking_text(report, opts.verbose))
    return EXIT_OK


def _blocking_threads(opts: Options, console: Console) -> int:
    from ..core import render

    console.out(render.threads_text(_blocking_report(opts, console, 0)))
    return EXIT_OK


def _wait(opts: Options, console: Console) -> int:
    from ..core import render
    from ..core.waiting import DEFAULTS, WaitPolicy
    from ..services import transition
    from ..wiring import open_kernel

    if opts.revert:
        _require_root(console, "wait --revert")
    kernel = open_kernel(opts.root)
    default = DEFAULTS["cli"]
    policy = WaitPolicy(default.timeout if opts.timeout is None else opts.timeout,
                        default.interval if opts.interval is None else opts.interval)
    tty = sys.stderr.isatty()

    def progress(patch: str, switched: int, total: int, elapsed: float) -> None:
        line = render.progress_line(patch, switched, total, elapsed)
        sys.stderr.write(f"\r{line}\033[K" if tty else line + "\n")
        sys.stderr.flush()

    result = transition.wait(kernel, policy, progress)
    if tty:
        sys.stderr.write("\n")
    if result.completed:
        console.out("ready\n")
        return EXIT_OK
    console.err(f"{console.prog}: transition of {result.patch} still in progress after "
                f"{policy.timeout:g}s; blocking tasks:")
    report = _blocking_report(opts, console, 1)
    console.err(render.blocking_text(report, 1).rstrip("\n"))
    if opts.revert and result.patch:
        console.err(f"{console.prog}: reversing the transition of {result.patch}")
        again = transition.revert(kernel, result.patch, policy, progress)
        console.err(f"{console.prog}: transition reversed" if again.completed
                    else f"{console.prog}: the reversal is still in progress too")
    return EXIT_FAIL


def _force(opts: Options, console: Console) -> int:
    from ..services import transition
    from ..wiring import open_kernel

    _require_root(console, "force")
    kernel = open_kernel(opts.root)
    patch = transition.transitioning(kernel, console.warn)
    if patch is None:
        console.out("ready\n")
        return EXIT_OK
    if not opts.yes:
        console.err(f"Forcing marks every task as switched to {patch.name}, even tasks still running "
                    "the old code. It cannot be undone and may crash the system; ask your vendor.")
        sys.stderr.write("Continue? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            console.err("not forced")
            return EXIT_FAIL
    transition.force(kernel, patch.name)
    console.out(f"forced {patch.name}\n")
    return EXIT_OK


def _poke(opts: Options, console: Console) -> int:
    from ..services import transition
    from ..wiring import open_kernel

    _require_root(console, "poke")
    kernel = open_kernel(opts.root)
    patch = transition.transitioning(kernel, console.warn)
    if patch is None:
        return EXIT_OK
    if not transition.signal(kernel, patch.name):
        console.err(f"{console.prog}: this kernel signals blocking tasks by itself; nothing to do")
    return EXIT_OK


def _change(opts: Options, console: Console, downgrade: bool) -> int:
    """``klp update`` / ``klp downgrade``: print the zypper command, ask unless -n, run it."""
    import shlex

    from ..services.update import plan_downgrade, plan_update
    from ..wiring import interactive_runner, open_kernel, open_resolver

    what = "downgrade" if downgrade else "update"
    if not opts.dry_run:
        _require_root(console, what)
    release = open_kernel(opts.root).kernel_release()
    plan = (plan_downgrade if downgrade else plan_update)(open_resolver(opts.root), release, opts.root,
                                                         opts.yes)
    if plan.argv is None:
        console.out(plan.message + "\n")
        return EXIT_FAIL if downgrade else EXIT_OK
    command = " ".join(shlex.quote(a) for a in plan.argv)
    console.out(f"{plan.message}:\n  {command}\n")
    if opts.dry_run:
        return EXIT_OK
    if not opts.yes:
        sys.stderr.write("Continue? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            console.err(f"{console.prog}: {what} cancelled")
            return EXIT_FAIL
    return interactive_runner()(plan.argv)


def _update(opts: Options, console: Console) -> int:
    return _change(opts, console, downgrade=False)


def _downgrade(opts: Options, console: Console) -> int:
    return _change(opts, console, downgrade=True)


def _log(opts: Options, console: Console) -> int:
    """``klp log``: one line per recorded zypper commit that touched live patches, oldest first."""
    import json

    from ..drivers import host
    from ..plugin import RECORDS, summary

    for name in host.list_dir(opts.root, RECORDS):
        text = host.read_file(opts.root, f"{RECORDS}/{name}") if name.endswith(".json") else None
        try:
            record = json.loads(text) if text else None
        except ValueError:
            record = None
        if isinstance(record, dict):
            console.out(summary(record) + "\n")
        elif text is not None:
            console.warn(f"ignoring unreadable record {name}")
    return EXIT_OK


COMMANDS = {
    "status": _status, "check": _check, "patches": _patches, "blocking": _blocking,
    "wait": _wait, "force": _force, "log": _log, "update": _update, "downgrade": _downgrade,
}
KGR_COMMANDS = {**COMMANDS, "blocking_threads": _blocking_threads, "poke": _poke}


def run(argv: list[str], prog: str = "klp") -> int:
    """Run one klp command; returns the exit status (see the module docstring)."""
    commands = KGR_COMMANDS if prog == "kgr" else COMMANDS
    console = Console(prog)
    try:
        opts = parse_args(argv, tuple(commands))
    except ValueError as exc:
        console.err(f"{prog}: {exc}")
        console.err(f"Try '{prog} --help' for more information.")
        return EXIT_USAGE
    if opts.command == "help":
        console.out(USAGE.format(prog=prog, kgr=KGR_USAGE if prog == "kgr" else ""))
        return EXIT_OK
    if opts.command == "version":
        from .. import __version__

        console.out(f"{prog} (zypp-plugin-klp) {__version__}\n")
        return EXIT_OK
    if opts.root != "/" and not os.path.isdir(opts.root):
        console.err(f"{prog}: --root {opts.root}: no such directory")
        return EXIT_FAIL
    from ..errors import KlpError

    try:
        return commands[opts.command](opts, console)
    except KlpError as exc:
        console.err(f"{prog}: {exc}")
        return EXIT_FAIL
    except KeyboardInterrupt:
        console.err(f"{prog}: interrupted")
        return EXIT_FAIL
    except BrokenPipeError:
        return EXIT_FAIL


def main() -> int:
    """Console entry point of ``klp``."""
    return run(sys.argv[1:], "klp")


def kgr_main() -> int:
    """Console entry point of ``kgr`` (klp plus blocking_threads and poke)."""
    return run(sys.argv[1:], "kgr")


if __name__ == "__main__":
    sys.exit(main())
