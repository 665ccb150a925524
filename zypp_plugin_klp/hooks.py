"""``klp-hook``: the scriptlets of kernel-livepatch packages (%pre gate, %post, %postun, %posttrans).

Usage: ``klp-hook STAGE PACKAGE VERSION-RELEASE [COUNT] [--kernel RELEASE] [--root DIR]``,
as the macros in macros.klp write it; ``klp-hook initrd-module RELEASE [--root DIR]`` for the
dracut module (the one verified file its initrd may hold). Exit 0 lets rpm go on; only ``pre``
ever fails (exit 1), which makes rpm keep the installed version. Arguments the hook cannot use (a
packaging mistake of the macros' caller, e.g. a package name that names no kernel) are a warning
and exit 0: a mistake of ours never refuses an install. Every message is one ``klp: ...`` line on
stderr, where rpm and zypper show it.
"""

import sys
from typing import Dict, List, Optional

from .errors import KlpError

STAGES = ("pre", "post", "postun", "posttrans")
USAGE = ("usage: klp-hook pre|post|postun|posttrans PACKAGE VERSION-RELEASE [COUNT] "
         "[--kernel RELEASE] [--root DIR]")


class Hook:
    """One scriptlet invocation."""

    def __init__(self, stage: str, package: str, evr: str, count: Optional[int], kernel: str,
                 root: str, environ: Dict[str, str]) -> None:
        self.stage = stage
        self.package = package
        self.evr = evr
        self.count = count
        self.kernel = kernel
        self.root = root
        self.environ = environ

    @property
    def nvr(self) -> str:
        return f"{self.package}-{self.evr}"

    def say(self, message: str) -> None:
        sys.stderr.write(f"klp: {message}\n")
        sys.stderr.flush()

    def _applies(self, tell: bool = False) -> bool:
        """Whether this package's patch is for the running kernel and may be loaded now; with
        ``tell``, say why not when the reason concerns the administrator."""
        from .services.load import NOT_RUNNING, why_not_load
        from .wiring import open_kernel

        why = why_not_load(open_kernel(self.root), self.environ, self.kernel)
        if tell and why is not None and why != NOT_RUNNING and why != "in a build root":
            self.say(f"{self.nvr} installed but not loaded: {why}")
        return why is None

    def _other_kernel(self) -> bool:
        """Whether this package's patch is for a kernel that is not the running one."""
        from .drivers import host
        from .wiring import open_kernel

        running = open_kernel(self.root).kernel_release()
        return bool(running) and running != self.kernel and \
            not host.in_build_root(self.environ, self.root)

    def pre(self) -> int:
        from .services import report as reports
        from .wiring import open_kernel

        if not self._applies():
            return 0
        report = reports.blocking(open_kernel(self.root), details=1)
        if report.patch is None:
            return 0
        from .core.render import printable

        blockers = ", ".join(f"{pid} ({comm})" for pid, comm in sorted(  # by PID, as numbers
            {(t.pid, printable((t.details.comm if t.details else None) or '?')) for t in report.tasks})) \
            or "no task found yet"
        self.say(f"cannot install {self.nvr}: the live patch transition of {printable(report.patch.name)} is "
                 f"still in progress, blocked by PID {blockers}; run 'klp wait' or 'klp blocking -v' "
                 "and try again")
        return 1

    def post(self) -> int:
        from .services import initrd

        initrd.schedule(self.root, self.kernel)
        return 0

    def postun(self) -> int:
        from .services import initrd, remove
        from .wiring import open_kernel, runner

        if self.count != 0:
            return 0  # an upgrade: the new version's scriptlets do the work
        kernel = open_kernel(self.root)
        if remove.after_erase(self.root, self.nvr, self.kernel, kernel.kernel_release(),
                              boot=kernel.boot_id()):
            self.say(f"{self.nvr} removed; the running kernel keeps the live patch until a reboot "
                     "('zypper needs-rebooting' says so)")
        else:
            self.say(f"{self.nvr} removed; kernel {self.kernel} is not running, no reboot needed")
        for message in initrd.regenerate(self.root, self.environ, runner()):
            self.say(f"warning: {message}")
        self._refresh_metrics(erased=self.nvr)
        return 0

    def posttrans(self) -> int:
        from .errors import KlpError
        from .services import initrd
        from .wiring import runner

        from .core.sysconfig import mode_warning
        from .drivers import host

        warning = mode_warning(host.sysconfig(self.root, "livepatching"))
        if warning:
            self.say(f"warning: {warning}")
        if self._applies(tell=True):
            from .services.load import load_newest
            from .services.transition import policy_for
            from .wiring import open_kernel, open_rpmdb

            wait = policy_for("scriptlet", self.root, self.environ)
            outcome = load_newest(self.root, open_kernel(self.root), open_rpmdb(self.root), self.kernel,
                                  wait.timeout, wait.interval, on_wait=self.say, lock=wait.lock)
            self.say(outcome.message if outcome.result != "failed" else f"warning: {outcome.message}")
            if outcome.refused:  # the initrd would get the refused file: leave it as it is
                self.say(f"warning: not regenerating the initrd of {self.kernel}: its live patch "
                         "module was refused")
                return 0
            if outcome.loaded_now:
                try:  # again, idempotently: %post's flag may have been lost (killed, disk full)
                    initrd.schedule(self.root, self.kernel)
                except KlpError as exc:
                    self.say(f"warning: {exc}")
        elif self._other_kernel():
            self.say(f"{self.nvr} is for kernel {self.kernel}, which is not running: it will load "
                     "when that kernel boots")
        for message in initrd.regenerate(self.root, self.environ, runner()):
            self.say(f"warning: {message}")
        self._refresh_metrics()
        return 0

    def _refresh_metrics(self, erased: Optional[str] = None) -> None:
        """Rewrite node_exporter's textfile after a change (never fails the scriptlet)."""
        from .drivers.host import in_build_root

        if in_build_root(self.environ, self.root):
            return
        from .services.metrics import refresh_after_change
        from .wiring import open_kernel, open_rpmdb

        problem = refresh_after_change(open_kernel(self.root), lambda: open_rpmdb(self.root),
                                       erased)
        if problem:
            self.say(f"warning: live patching metrics not refreshed: {problem}")


def parse(argv: List[str], environ: Dict[str, str]) -> Hook:
    """Build a Hook from the scriptlet's arguments; ValueError with the usage on bad input."""
    from .core.names import release_from_package

    args = list(argv)
    kernel = root = None
    for option in ("--kernel", "--root"):
        if option in args:
            at = args.index(option)
            if at + 1 >= len(args):
                raise ValueError(f"{option} needs a value")
            value = args[at + 1]
            del args[at:at + 2]
            if option == "--kernel":
                kernel = value
            else:
                root = value
    if len(args) not in (3, 4) or args[0] not in STAGES:
        raise ValueError(USAGE)
    count = None
    if len(args) == 4:
        try:
            count = int(args[3])
        except ValueError:
            raise ValueError(f"COUNT must be a number, not {args[3]!r}") from None
    kernel = kernel or release_from_package(args[1])
    if not kernel:
        raise ValueError(f"cannot tell the kernel of {args[1]}; pass --kernel RELEASE")
    return Hook(args[0], args[1], args[2], count, kernel, root or "/", environ)


def initrd_module(argv: List[str]) -> int:
    """``klp-hook initrd-module RELEASE [--root DIR]``: print the one module file the initrd of
    kernel RELEASE may hold (the newest installed patch's, verified as the loader verifies it),
    relative to DIR; exit 1 with a ``klp: ...`` line when there is none or it is refused."""
    from .services.load import Unavailable, newest_verified
    from .wiring import open_rpmdb

    args = list(argv)
    root = "/"
    if "--root" in args[:-1]:
        at = args.index("--root")
        root = args.pop(at + 1)
        del args[at]
    if len(args) != 1 or args[0].startswith("-") or "/" in args[0]:
        sys.stderr.write("usage: klp-hook initrd-module RELEASE [--root DIR]\n")
        return 2
    try:
        module = newest_verified(root, open_rpmdb(root), args[0])
    except Unavailable as exc:
        sys.stderr.write(f"klp: {exc}\n")
        return 1
    from .drivers import host

    host.close(module.fd)
    sys.stdout.write(module.rel_path + "\n")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of klp-hook."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["initrd-module"]:
        try:
            return initrd_module(args[1:])
        except KlpError as exc:
            sys.stderr.write(f"klp: {exc}\n")
            return 1
    try:
        from .drivers import host

        hook = parse(args, host.environment())
    except ValueError as exc:
        sys.stderr.write(f"klp-hook: warning: {exc} (the live patch hooks did nothing)\n")
        return 0
    try:
        return int(getattr(hook, hook.stage)())
    except KlpError as exc:
        hook.say(f"{'error' if hook.stage == 'pre' else 'warning'}: {exc}")
        return 1 if hook.stage == "pre" else 0


if __name__ == "__main__":
    sys.exit(main())
