"""``klp`` (and ``kgr``): query and steer kernel live patching, output-compatible with SUSE's klp.

Exit codes (the one place they are decided):

    0  success; ``check``/``wait``: no transition in progress
    1  error; ``check``: a transition is in progress; ``wait``: still in progress at the timeout;
       ``downgrade``: no older version to go back to
    2  usage error (unknown command or option, or an option of another command)
    N  ``update``/``downgrade``: zypper's own exit status once zypper ran (see zypper(8))

Each command is one module of this package (its name, summary, options and ``run``); the
registry below imports only the command that runs, since ``klp status`` is polled by monitoring.
"""

from __future__ import annotations

import sys

from ..options import COUNT, FLAG, HELP, VALUE, Option
from .common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, NON_ROOT_WARNING, Console  # noqa: F401

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

# The registry: command name -> module of this package (imported when the command runs).
COMMANDS = {**{name: name for name in (
    "status", "check", "patches", "blocking", "wait", "force", "log", "update", "downgrade",
    "metrics")},
    # packagers' build-time steps (SUSE's spells the second this way)
    "check-module": "check_module", "rpm_changes_to_klp_info": "changes_info"}
KGR_COMMANDS = {**COMMANDS, "blocking_threads": "blocking_threads", "poke": "poke"}


def _root(value: str, option: str) -> str:
    if not value:
        raise ValueError(f"{option} needs a directory")
    return value


GLOBAL_OPTIONS = (
    Option(("-h", "--help"), "help", HELP),
    Option(("-v", "--verbose"), "verbose", COUNT),
    Option(("--root",), "root", VALUE, default="/", convert=_root),
    Option(("--json",), "json", FLAG),
    Option(("--version",), "version", HELP),
)

_HEAD = """\
usage: {prog} [-h] [-v[v]] [--root DIR] [--json] [--version] COMMAND [ARGS]

Kernel live patching status and control.

commands:
  help [COMMAND]      this help, or one command's help (also: COMMAND --help)
"""
_TAIL = """\
{kgr}
options:
  -h, --help          show this help and exit
  -v, --verbose       more detail (repeat for even more)
  --root DIR          inspect DIR instead of / (chroot, simulated kernel tree)
  --json              machine-readable output for status, patches, blocking, wait,
                      update and downgrade (schemas: klp(8), docs/json.md)
  --version           print the version and exit

exit status: 0 success/ready, 1 error or transition in progress, 2 usage error;
update/downgrade pass on zypper's exit status once zypper ran.
See klp(8).
"""


def command(name: str) -> ModuleType:
    """The module of command ``name`` (imported on first use)."""
    module = KGR_COMMANDS[name]
    __import__(f"{__name__}.{module}")
    return sys.modules[f"{__name__}.{module}"]


def _help_lines(names: list[str]) -> str:
    out = []
    for name in names:
        module = command(name)
        synopsis, summary = module.SYNOPSIS, module.SUMMARY.split("\n")
        if len(synopsis) < 18:
            out.append(f"  {synopsis:<18}  {summary[0]}\n")
            summary = summary[1:]
        else:
            out.append(f"  {synopsis}\n")
        out += [f"{'':22}{line}\n" for line in summary]
    return "".join(out)


def __getattr__(name: str) -> str:
    """``USAGE`` and ``KGR_USAGE``, generated from the commands' summaries when first asked for."""
    if name == "USAGE":
        return _HEAD + _help_lines(list(COMMANDS)) + _TAIL
    if name == "KGR_USAGE":
        return _help_lines([n for n in KGR_COMMANDS if n not in COMMANDS])
    raise AttributeError(name)


def command_help(prog: str, name: str) -> str:
    """``klp help COMMAND`` and ``klp COMMAND --help``: the command's usage, summary and options."""
    module = command(name)
    text = f"usage: {prog} [-v[v]] [--root DIR] [--json] {module.SYNOPSIS}\n\n{module.SUMMARY}\n"
    details = getattr(module, "DETAILS", "")
    if details:
        text += "\n" + details
    return text + f"\nSee '{prog} --help' for the global options and klp(8).\n"


def _elsewhere(option: str) -> bool:
    return any(option in o.names for n in KGR_COMMANDS for o in command(n).OPTIONS)


def run(argv: list[str], prog: str = "klp") -> int:
    """Run one klp command; returns the exit status (see the module docstring)."""
    from ..options import parse

    commands = KGR_COMMANDS if prog == "kgr" else COMMANDS
    console = Console(prog)
    try:
        opts = parse(argv, GLOBAL_OPTIONS, commands, lambda n: command(n).OPTIONS, _elsewhere,
                     lambda n: bool(getattr(command(n), "ARGUMENTS", False)))
    except ValueError as exc:
        console.err(f"{prog}: {exc}")
        console.err(f"Try '{prog} --help' for more information.")
        return EXIT_USAGE
    if opts.command == "help":
        topic = getattr(opts, "topic", "")
        if topic:
            console.out(command_help(prog, topic))
            return EXIT_OK
        usage: str = __getattr__("USAGE")
        console.out(usage.format(prog=prog, kgr=__getattr__("KGR_USAGE") if prog == "kgr" else ""))
        return EXIT_OK
    if opts.command == "version":
        from ... import __version__

        console.out(f"{prog} (zypp-plugin-klp) {__version__}\n")
        return EXIT_OK
    from ...drivers.host import is_dir

    if opts.root != "/" and not is_dir(opts.root, ""):
        console.err(f"{prog}: --root {opts.root}: no such directory")
        return EXIT_FAIL
    from ...errors import KlpError

    try:
        return int(command(opts.command).run(opts, console))
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
