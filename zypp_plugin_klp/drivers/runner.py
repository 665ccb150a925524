"""The one place that runs subprocesses: argv lists only, never a shell, always a timeout."""

import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

from ..errors import KlpError


class RunError(KlpError):
    """A command could not be started."""


@dataclass(frozen=True)
class Result:
    """How a command ended; ``returncode`` is -1 when it could not run or timed out."""

    argv: Sequence[str]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.returncode == 0

    @property
    def command(self) -> str:
        """The command as a user would re-run it."""
        import shlex

        return " ".join(shlex.quote(a) for a in self.argv)


def run(argv: Sequence[str], timeout: float = 600.0, env: Optional[Dict[str, str]] = None) -> Result:
    """Run ``argv``; stdout and stderr are captured together."""
    try:
        proc = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=timeout, env=env, check=False)
    except FileNotFoundError:
        return Result(argv, -1, f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired as exc:
        out = exc.output.decode("utf-8", "replace") if exc.output else ""
        return Result(argv, -1, out + f"\n{argv[0]}: timed out after {timeout:g}s")
    except OSError as exc:
        return Result(argv, -1, f"{argv[0]}: {exc.strerror or exc}")
    return Result(argv, proc.returncode, proc.stdout.decode("utf-8", "replace"))


def run_interactive(argv: Sequence[str], output_to_stderr: bool = False,
                    env: Optional[Dict[str, str]] = None, pass_fds: Sequence[int] = ()) -> int:
    """Run ``argv`` attached to this terminal (zypper asking its own questions); its exit status.
    With ``output_to_stderr`` its standard output goes to our stderr (stdout carries JSON);
    ``env`` replaces the environment, ``pass_fds`` stay open in the child.

    What this process printed so far is flushed first: on a pipe it would otherwise come out
    after everything the child printed."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return subprocess.run(list(argv), check=False, stdout=2 if output_to_stderr else None,
                              env=env, pass_fds=tuple(pass_fds)).returncode
    except OSError as exc:
        raise RunError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
