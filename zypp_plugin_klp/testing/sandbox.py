"""``klp-sandbox``: a server to try live patching on, kept between commands (a mock root with the
real zypper, rpm and klp, and a simulated kernel; see :mod:`zypp_plugin_klp.testing.mockroot`)."""

import argparse
import glob
import os
import subprocess
import sys
from typing import TYPE_CHECKING, List, Optional

from ..errors import KlpError

if TYPE_CHECKING:
    from .mockroot import MockRoot

STATE = ".klp-sandbox"  # inside DIR: what the sandbox needs beside its root (never seen inside)
EPILOG = """\
examples:
  klp-sandbox create /srv/lp-server --publish kernel-livepatch-6_1_0-26-default-1-1.1.x86_64.rpm
  klp-sandbox shell /srv/lp-server              # a root shell on the server: zypper, rpm, klp
  klp-sandbox run /srv/lp-server -- zypper --non-interactive in kernel-livepatch-6_1_0-26-default
  klp --root /srv/lp-server -v patches          # from outside: the same packages as inside
  klp-sandbox destroy /srv/lp-server

exit status: 0 success, 1 error (one line on stderr), 2 usage error; run and shell pass on the
command's own exit status.
"""


class SandboxError(KlpError):
    """A sandbox cannot be created, found or used."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="klp-sandbox", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A throwaway server running a simulated kernel, with the real zypper, rpm and "
                    "klp, to try kernel live patching on.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="make a sandbox in DIR (new or empty)")
    create.add_argument("dir")
    create.add_argument("--scenario", help="the simulated system (YAML, see klp-simkernel)")
    create.add_argument("--rpm", help="the zypp-plugin-klp RPM to install (default: built from "
                                      "this source tree with 'make rpm')")
    create.add_argument("--publish", action="append", default=[], metavar="RPM",
                        help="put a package into the sandbox's repository (repeatable)")
    shell = sub.add_parser("shell", help="an interactive root shell inside the sandbox")
    shell.add_argument("dir")
    run = sub.add_parser("run", help="run one command inside the sandbox")
    run.add_argument("dir")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    destroy = sub.add_parser("destroy", help="remove the sandbox and everything in it")
    destroy.add_argument("dir")
    return parser


def open_sandbox(directory: str) -> "MockRoot":
    """The sandbox in ``directory``; SandboxError when there is none."""
    from .mockroot import MockRoot

    if not os.path.isdir(os.path.join(directory, STATE)) or \
            not os.path.isdir(os.path.join(directory, "var/lib/rpm")):
        raise SandboxError(f"{directory} is not a sandbox ('klp-sandbox create {directory}' makes one)")
    return MockRoot(os.path.join(directory, STATE), root=directory)


def _product_rpm(given: Optional[str], state: str) -> str:
    if given:
        if not os.path.isfile(given):
            raise SandboxError(f"no such RPM: {given}")
        return given
    from .plugin import SOURCE_TREE

    if not os.path.exists(os.path.join(SOURCE_TREE, "specfiles", "zypp-plugin-klp.spec")):
        raise SandboxError("not running from a source tree: pass --rpm PATH")
    top = os.path.join(state, "product")
    built = subprocess.run(["make", "--no-print-directory", "-C", SOURCE_TREE, "rpm", f"RPMTOP={top}"],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise SandboxError(f"make rpm failed: {(built.stderr or built.stdout).strip().splitlines()[-1:]}")
    (rpm,) = glob.glob(os.path.join(top, "RPMS", "noarch", "zypp-plugin-klp-[0-9]*.rpm"))
    return rpm


def create(directory: str, scenario: Optional[str], rpm: Optional[str], publish: List[str]) -> str:
    """Make the sandbox; return the one line that says what is there."""
    from .mockroot import MockRoot, default_scenario, missing_capabilities

    why = missing_capabilities()
    if why:
        raise SandboxError(f"cannot make a sandbox here: {why}")
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise SandboxError(f"{directory} exists and is not an empty directory")
    for path in publish:
        if not os.path.isfile(path):
            raise SandboxError(f"no such RPM: {path}")
    state = default_scenario()
    if scenario:
        from ..sim.scenario import parse_scenario

        try:
            with open(scenario, encoding="utf-8") as handle:
                state = parse_scenario(handle.read(), scenario)
        except OSError as exc:
            raise SandboxError(f"cannot read {scenario}: {exc.strerror}") from None
    os.makedirs(os.path.join(directory, STATE), exist_ok=True)
    mock = MockRoot(os.path.join(directory, STATE), root=directory)
    mock.create(_product_rpm(rpm, mock.base), state)
    if publish:
        mock.publish(*publish)
    return (f"sandbox {directory}: kernel {state.release} (simulated), {len(publish)} package(s) in "
            f"its repository; 'klp-sandbox shell {directory}' opens a shell on it")


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of klp-sandbox."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    directory = os.path.abspath(args.dir)
    try:
        if args.command == "create":
            print(create(directory, args.scenario, args.rpm, args.publish))
            return 0
        mock = open_sandbox(directory)
        if args.command == "destroy":
            subprocess.run(["rm", "-rf", "--one-file-system", directory], check=True)
            return 0
        if args.command == "shell":
            env = {"PS1": "sandbox:\\w# ", "HOME": "/root", "TERM": os.environ.get("TERM", "dumb")}
            return mock.chroot("/bin/bash", "--norc", "-i", env=env, capture=False).returncode
        command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not command:
            _parser().error("run needs a command: klp-sandbox run DIR -- COMMAND...")
        return mock.chroot(*command, capture=False).returncode
    except KlpError as exc:
        sys.stderr.write(f"klp-sandbox: {exc}\n")
        return 1

if __name__ == "__main__":
    sys.exit(main())
