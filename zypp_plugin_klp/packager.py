"""``klp-packager``: build-time steps for live patch packages (run by macros.klp, or by hand).

Usage::

    python3 -m zypp_plugin_klp.packager check-module FILE.ko...
    python3 -m zypp_plugin_klp.packager changes-to-info CHANGES NAME-VERSION-RELEASE.ARCH OUTFILE
    python3 -m zypp_plugin_klp.packager install-post --buildroot DIR [--changes FILE] --vra V-R.A \\
        NAME=KERNEL_RELEASE=FILELIST...

Exit 0 on success, 1 when a module fails its checks or a step cannot be done, 2 on usage errors.
Messages are one ``klp-packager: ...`` line each on stderr (rpmbuild shows them in the build log).
"""

import argparse
import sys
from typing import List, Optional

from .core.elfmod import ModuleFormatError, ModuleInfo
from .core.klpinfo import INFO_DIR, info_name, render_info
from .core.modcheck import module_problems
from .drivers import buildroot as files
from .drivers.modfiles import MODULE_DIRS, read_module


class PackagerError(Exception):
    """A build step failed; the message is one line for the build log."""


def _read(path: str) -> ModuleInfo:
    try:
        return read_module(path)
    except (OSError, ModuleFormatError) as exc:
        raise PackagerError(f"{path}: not a kernel module: {getattr(exc, 'strerror', None) or exc}") from None


def check_module(path: str) -> List[str]:
    """The problems of one module file, each prefixed with its path."""
    return [f"{path}: {problem}" for problem in module_problems(_read(path))]


def changes_to_info(changes: str, nvra: str, out: str) -> None:
    """Write the info file ``out`` for package ``nvra`` from the .changes file ``changes``."""
    try:
        text = files.read_text(changes)
    except OSError as exc:
        raise PackagerError(f"cannot read {changes}: {exc.strerror}") from None
    files.write_text(out, render_info(nvra, text))


def install_post(buildroot: str, changes: Optional[str], vra: str, subpackage: str) -> List[str]:
    """Check the modules %install put in for one subpackage (``NAME=RELEASE=FILELIST``), make
    their info files from ``changes`` when it exists, and write the subpackage's file list.

    Returns:
        The problems found (empty when the subpackage may be built).
    """
    try:
        name, release, filelist = subpackage.split("=", 2)
    except ValueError:
        raise PackagerError(f"not NAME=RELEASE=FILELIST: {subpackage!r}") from None
    directories, modules = files.livepatch_modules(buildroot, release)
    if not modules:
        raise PackagerError(f"{name}: no live patch module was installed into "
                            f"{buildroot}/{{{','.join(MODULE_DIRS)}}}/{release}/livepatch")
    entries = [f"%dir {d}" for d in directories]
    problems: List[str] = []
    infos = set()
    for path in modules:
        problems += check_module(path)
        entries.append(files.package_path(buildroot, path))
        info = _read(path)
        target = f"{buildroot}/{INFO_DIR}/{info_name(info.name or '', info.get('srcversion') or '')}"
        if not files.exists(target) and changes and files.exists(changes):
            changes_to_info(changes, f"{name}-{vra}", target)
        if files.exists(target):
            infos.add(files.package_path(buildroot, target))
    if infos:
        entries += [f"%dir /{INFO_DIR}", *sorted(infos)]
    files.write_text(filelist, "\n".join(entries) + "\n")
    return problems


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="klp-packager", description="Build-time steps for live "
                                     "patch packages (see macros.klp).")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-module", help="check live patch modules as SUSE's lp-mod-checks "
                           "does: no dependencies, no .klp.*__jump_table sections")
    check.add_argument("modules", nargs="+", metavar="FILE.ko")
    info = sub.add_parser("changes-to-info", help="make a live patch info file from a .changes file")
    info.add_argument("changes")
    info.add_argument("nvra", metavar="NAME-VERSION-RELEASE.ARCH")
    info.add_argument("out", metavar="OUTFILE")
    post = sub.add_parser("install-post", help="after %%install: check modules, make info files, "
                          "write file lists (run by %%klp_module_package)")
    post.add_argument("--buildroot", required=True)
    post.add_argument("--changes")
    post.add_argument("--vra", required=True, metavar="VERSION-RELEASE.ARCH")
    post.add_argument("subpackages", nargs="+", metavar="NAME=RELEASE=FILELIST")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of klp-packager."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-module":
            problems = [p for path in args.modules for p in check_module(path)]
        elif args.command == "changes-to-info":
            changes_to_info(args.changes, args.nvra, args.out)
            problems = []
        else:
            problems = [p for sub in args.subpackages
                        for p in install_post(args.buildroot, args.changes, args.vra, sub)]
    except PackagerError as exc:
        sys.stderr.write(f"klp-packager: error: {exc}\n")
        return 1
    for problem in problems:
        sys.stderr.write(f"klp-packager: error: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
