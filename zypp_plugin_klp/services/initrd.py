"""Initrd regeneration after live patch changes (the boot loads the active patch from the initrd).

Follows suse-module-tools' convention: ``%post`` leaves a flag ``/run/regenerate-initrd/<kver>``
(or ``all``), ``%posttrans`` rebuilds what is flagged and removes a flag only once its rebuild
succeeded, so a failed or interrupted transaction is rebuilt by the next one.
"""

from typing import Callable, Dict, List, Optional

from ..drivers import host
from ..drivers.modfiles import kernel_installed
from ..drivers.runner import Result

from ..paths import INITRD_FLAGS as FLAGS
POSTTRANS_HELPER = "/usr/lib/module-init-tools/regenerate-initrd-posttrans"

Runner = Callable[[List[str]], Result]
SYSTEM_BIN = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")  # where a bare generator name is looked up


def generator_path(setting: Optional[str]) -> Optional[str]:
    """The initrd generator to run, by absolute path: INITRD_GENERATOR from
    /etc/sysconfig/bootloader (default dracut); a bare name is looked up in the system's
    directories only, never in the caller's PATH. None when it is not there."""
    name = setting or "dracut"
    if name.startswith("/"):
        return name
    if "/" in name:
        return None
    return next((f"{d}/{name}" for d in SYSTEM_BIN if host.is_executable(f"{d}/{name}")), None)


def schedule(root: str, kernel_release: str) -> None:
    """Flag ``kernel_release``'s initrd for regeneration at the end of the transaction."""
    host.write_file(root, f"{FLAGS}/{kernel_release}", b"")


def pending(root: str) -> List[str]:
    """Flagged kernel releases (``all`` meaning every kernel)."""
    return [n for n in host.list_dir(root, FLAGS) if not n.startswith(".")]


def regenerate(root: str, environ: Dict[str, str], run: Runner) -> List[str]:
    """Rebuild every flagged initrd; return one message per thing that went wrong or was skipped.

    In a chroot or build root nothing is rebuilt (the host's initrds are not ours): it warns and
    clears the flags, as the suse-module-tools helper does.
    """
    flags = pending(root)
    if not flags:
        return []
    if host.in_build_root(environ, root) or host.in_chroot(root):
        for flag in flags:
            host.remove_file(root, f"{FLAGS}/{flag}")
        return [f"not regenerating the initrd for {', '.join(flags)} in a chroot or build root"]
    if root == "/" and host.is_executable(POSTTRANS_HELPER):
        result = run([POSTTRANS_HELPER])
        return [] if result.ok else [f"initrd regeneration failed; re-run: {result.command}"]
    generator = generator_path(host.sysconfig(root, "bootloader").get("INITRD_GENERATOR"))
    if generator is None:
        return [f"INITRD_GENERATOR is not an executable in {':'.join(SYSTEM_BIN)}; the initrd of "
                f"{', '.join(flags)} was not regenerated"]
    messages = []
    for flag in flags:
        if flag != "all" and not kernel_installed(root, flag):
            # nothing to rebuild: that kernel's own install builds its initrd, live patch included
            host.remove_file(root, f"{FLAGS}/{flag}")
            continue
        argv = [generator, "-f", "--regenerate-all"] if flag == "all" else [generator, "-f", "--kver", flag]
        result = run(argv)
        if result.ok:
            host.remove_file(root, f"{FLAGS}/{flag}")
        else:
            last = result.output.strip().splitlines()[-1:] or ["no output"]
            messages.append(f"initrd regeneration for {flag} failed ({last[0]}); "
                            f"re-run: {result.command}")
    return messages
