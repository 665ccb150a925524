"""``check_klp``: live patching as a Nagios/Icinga/Naemon check (Monitoring Plugins guidelines).

Exit codes (the one place they are decided): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for
bad arguments, a timeout, or anything that could not be read). One line on stdout:
``KLP <STATE> - text | perfdata``. Same lazy imports as ``klp status``: it runs every few minutes.
"""

from __future__ import annotations

import sys

UNKNOWN = 3
USAGE = "Usage: check_klp [-w AGE[,DAYS]] [-c AGE[,DAYS]] [-t SECONDS] [--root DIR] [-h] [-V]"
HELP = USAGE + """

Checks kernel live patching: the transition in progress (its age), the live patch stream's end
of support, installed patches that are not loaded, a failed last load, pending reboots.

Options:
  -w, --warning AGE[,DAYS]   warning thresholds (default 300,30:)
  -c, --critical AGE[,DAYS]  critical thresholds (default 1800,7:)
                             AGE: seconds a transition has been in progress; DAYS: whole days
                             until the stream's expiry. Both are Monitoring Plugins ranges
                             ([@]start:end; '30:' alerts below 30); an empty part disables one.
  -t, --timeout SECONDS      give up with UNKNOWN after this long (default 10)
  --root DIR                 check DIR instead of / (chroot, simulated kernel tree)
  -h, --help                 show this help
  -V, --version              show the version

Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A transition whose start klp has not seen
(the timer or check_klp running as root record it) warns. See klp(8), section MONITORING.
"""


class _Args:
    def __init__(self) -> None:
        self.warning: str | None = None
        self.critical: str | None = None
        self.timeout = 10
        self.root = "/"


def _parse(argv: list[str]) -> _Args | str:
    """The options, or the word ``help``/``version``; ValueError with a one-line reason."""
    args = _Args()
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        value = None
        if arg.startswith("--") and "=" in arg:
            arg, value = arg.split("=", 1)
        elif len(arg) > 2 and arg[:2] in ("-w", "-c", "-t"):
            arg, value = arg[:2], arg[2:]
        if arg in ("-h", "--help"):
            return "help"
        if arg in ("-V", "--version"):
            return "version"
        if arg not in ("-w", "--warning", "-c", "--critical", "-t", "--timeout", "--root"):
            raise ValueError(f"unknown argument {arg!r}")
        if value is None:
            if not rest:
                raise ValueError(f"{arg} needs a value")
            value = rest.pop(0)
        if arg in ("-w", "--warning"):
            args.warning = value
        elif arg in ("-c", "--critical"):
            args.critical = value
        elif arg == "--root":
            if not value:
                raise ValueError("--root needs a directory")
            args.root = value
        else:
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"{arg} needs a whole number of seconds, not {value!r}")
            args.timeout = int(value)
    return args


def _timed_out(_signum: int, _frame: object) -> None:
    raise TimeoutError


def run(argv: list[str]) -> int:
    """Run the check once; returns the exit status (see the module docstring)."""
    try:
        args = _parse(argv)
    except ValueError as exc:
        sys.stdout.write(f"KLP UNKNOWN - {exc}\n{USAGE}\n")
        return UNKNOWN
    if args == "help":
        sys.stdout.write(HELP)
        return 0
    if args == "version":
        from .. import __version__

        sys.stdout.write(f"check_klp (zypp-plugin-klp) {__version__}\n")
        return 0
    assert isinstance(args, _Args)
    import signal
    import time

    signal.signal(signal.SIGALRM, _timed_out)
    signal.alarm(args.timeout)
    try:
        from ..core.health import DEFAULT_CRITICAL, DEFAULT_WARNING, verdict
        from ..errors import KlpError
        from ..services.metrics import observe
        from ..wiring import open_kernel, open_rpmdb

        now = int(time.time())
        try:
            obs = observe(open_kernel(args.root), lambda: open_rpmdb(args.root), now)
            state, line = verdict(obs, now, args.warning if args.warning is not None
                                  else DEFAULT_WARNING,
                                  args.critical if args.critical is not None else DEFAULT_CRITICAL)
        except ValueError as exc:
            state, line = UNKNOWN, f"KLP UNKNOWN - {exc}"
        except (KlpError, OSError) as exc:
            state, line = UNKNOWN, f"KLP UNKNOWN - {exc}"
    except TimeoutError:
        state, line = UNKNOWN, f"KLP UNKNOWN - no answer within {args.timeout}s"
    finally:
        signal.alarm(0)
    sys.stdout.write(line + "\n")
    return state


def main() -> int:
    """Console entry point of ``check_klp``."""
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
