"""Build kernel-livepatch RPMs with the real rpmbuild and install them into a root's own rpm database."""

import glob
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence

from ..core.names import module_file, package_name

RPM_QUIET = ["--force-debian"]  # Debian's rpm nags on every direct call without it


@lru_cache(maxsize=1)
def _rpm_supports_force_debian() -> List[str]:
    probe = subprocess.run(["rpm", "--force-debian", "--version"], capture_output=True)
    return RPM_QUIET if probe.returncode == 0 else []


def force_debian() -> List[str]:
    """``--force-debian`` where this rpm knows it (Debian's), else nothing."""
    return _rpm_supports_force_debian()


SOURCE_TREE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def macros_path() -> str:
    """macros.klp from the source tree when running there, else the installed one."""
    source = os.path.join(SOURCE_TREE, "rpm-hooks", "macros.klp")
    return source if os.path.exists(source) else "/usr/lib/rpm/macros.d/macros.klp"


def template_path() -> str:
    """The kernel-livepatch.spec template of the source tree."""
    return os.path.join(SOURCE_TREE, "specfiles", "kernel-livepatch.spec")


def build_livepatch_rpm(workdir: str, ko_path: str, release: str, version: str = "1",
                        rel: str = "1.1", changelog: str = "- Initial kernel live patch",
                        modules_dir: str = "/lib/modules") -> str:
    """Package ``ko_path`` as SUSE does (module under the kernel's livepatch/ directory in
    ``modules_dir``: ``/usr/lib/modules`` for usr-merged kernels).

    Returns:
        The path of the built binary RPM. rpmbuild runs with a private ``_dbpath``.
    """
    top = os.path.join(workdir, f"rpmbuild-{version}-{rel}")
    os.makedirs(os.path.join(top, "SOURCES"), exist_ok=True)
    module = module_file(version, rel)
    shutil.copy(ko_path, os.path.join(top, "SOURCES", module))
    target = f"{modules_dir}/{release}/livepatch/{module}"
    spec = os.path.join(top, "livepatch.spec")
    with open(spec, "w", encoding="utf-8") as handle:
        handle.write(f"""Name: {package_name(release)}
Version: {version}
Release: {rel}
Summary: Kernel live patch module
License: GPL-2.0-only
Source0: {module}
%description
Live patch {version} for kernel {release}.
%install
install -D -m 0644 %{{SOURCE0}} %{{buildroot}}{target}
%files
{target}
%changelog
* Mon Nov 23 2026 Live Patching Team <klp@example.com> - {version}-{rel}
{changelog}
""")
    return rpmbuild(spec, top)


def rpmbuild(spec: str, top: str, *options: str) -> str:
    """Build ``spec`` with the real rpmbuild in ``top`` (private ``_dbpath``, no post-install
    scripts); return the one binary RPM it produced."""
    subprocess.run(["rpmbuild", "-bb", *options, "--define", f"_topdir {top}",
                    "--define", f"_dbpath {top}/db", "--define", "__os_install_post %{nil}",
                    "--define", "debug_package %{nil}", spec], check=True, capture_output=True)
    rpms = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(top, "RPMS")) for f in files]
    if len(rpms) != 1:
        raise RuntimeError(f"rpmbuild produced {rpms}")
    return rpms[0]


def rpm_command(root: str, *args: str) -> List[str]:
    """argv for rpm acting on ``root``'s own database (never the host's)."""
    return ["rpm", *_rpm_supports_force_debian(), "--root", root, "--dbpath", "/var/lib/rpm", *args]


def rpm_install(root: str, package: str, *options: str) -> None:
    """``rpm -U`` a package into ``root`` without dependencies or scriptlets."""
    subprocess.run(rpm_command(root, "-U", "--nodeps", "--noscripts", *options, package),
                   check=True, capture_output=True)


def build_plain_rpm(workdir: str, name: str, version: str = "1", release: str = "1",
                    provides: Sequence[str] = (), arch: str = "noarch") -> str:
    """A file-less package (cached in ``workdir``): for mock roots and lifecycle data tests."""
    path = os.path.join(workdir, f"{name}-{version}-{release}.{arch}.rpm")
    if os.path.exists(path):
        return path
    top = os.path.join(workdir, f"rpmbuild-{name}-{version}-{release}")
    os.makedirs(top, exist_ok=True)
    spec = os.path.join(top, "plain.spec")
    with open(spec, "w", encoding="utf-8") as handle:
        handle.write(f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: {name}\n"
                     f"License: GPL-2.0-or-later\nBuildArch: {arch}\n"
                     + "".join(f"Provides: {p}\n" for p in provides)
                     + f"%description\n{name} for tests.\n%files\n")
    shutil.copy(rpmbuild(spec, top), path)
    return path


def build_base_rpm(workdir: str, provides: Sequence[str]) -> str:
    """A file-less noarch package providing what a mock root borrows from the host's /usr."""
    return build_plain_rpm(workdir, "klp-mockroot-base", provides=provides)


def build_from_template(workdir: str, ko_path: str, release: str, version: str, changelog: str,
                        template: str, macros: str) -> str:
    """Build a live patch package from the kernel-livepatch.spec template as a packager would:
    the module as livepatch.ko, the given changelog entry, the klp macros loaded (so it has the
    hook scriptlets), BuildRequires not checked (the build database is private and empty).
    Returns the binary RPM's path."""
    src = os.path.join(workdir, f"template-{release}-{version}")
    os.makedirs(src)
    shutil.copy(ko_path, os.path.join(src, "livepatch.ko"))
    with open(template, encoding="utf-8") as handle:
        head = handle.read().partition("%changelog\n")[0]
    spec = os.path.join(src, "kernel-livepatch.spec")
    with open(spec, "w", encoding="utf-8") as handle:
        handle.write(head + "%changelog\n* Mon Nov 23 2026 Live Patching Team <klp@example.com> - "
                     f"{version}-1.1\n{changelog}\n")
    return rpmbuild(spec, os.path.join(src, "top"), "--load", macros, "--nodeps",
                    "--define", f"_sourcedir {src}", "--define", f"klp_kernel_release {release}",
                    "--define", f"klp_version {version}")


SKIP = "skip"  # build_requires policy: build without checking BuildRequires (rpmbuild --nodeps)


class BuildError(AssertionError):
    """rpmbuild refused the spec; the message carries rpmbuild's own output."""


def spec_build_requires(spec: str, options: Sequence[str]) -> List[str]:
    """The spec's BuildRequires as rpm parses them (macros and conditionals applied)."""
    out = subprocess.run(["rpmspec", *options, "-q", "--buildrequires", spec], capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise BuildError(f"rpmspec cannot parse {spec}:\n{out.stderr}")
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def build_spec(spec: str, sources: str, top: str, macros: Sequence[str], defines: Dict[str, str],
               build_requires: Any = None) -> List[str]:
    """Build ``spec`` (sources in ``sources``) with the real rpmbuild; return the binary RPMs.

    Args:
        macros: macro files loaded after macros.klp, in order (``rpmbuild --load``).
        build_requires: the policy for the spec's BuildRequires. None: rpm checks them against the
            private, empty build database, so any BuildRequires fails the build (with a message
            naming the policies); ``"skip"``: not checked (``--nodeps``), the build host's tools
            are used as they are; a MockRoot: resolved from that root's repositories (installed
            into it with its zypper) and the spec built inside the root (chrooted rpmbuild, whose
            rpm database then checks them), with the macros of the zypp-plugin-klp RPM installed
            there.
    """
    define_args = [arg for key, value in defines.items() for arg in ("--define", f"{key} {value}")]
    if build_requires is not None and not isinstance(build_requires, str):  # a MockRoot
        return _build_in_mockroot(spec, sources, build_requires, macros, define_args)
    if build_requires not in (None, SKIP):
        raise ValueError(f"build_requires must be None, {SKIP!r} or a MockRoot, not {build_requires!r}")
    os.makedirs(top, exist_ok=True)
    argv = ["rpmbuild", "-bb", "--load", macros_path(), *[a for m in macros for a in ("--load", m)],
            "--define", f"_topdir {top}", "--define", f"_sourcedir {sources}",
            "--define", f"_dbpath {top}/db", "--define", "__os_install_post %{nil}",
            "--define", f"klp_packager {sys.executable} -m zypp_plugin_klp.packager", *define_args]
    if build_requires == SKIP:
        argv.append("--nodeps")
    result = subprocess.run([*argv, spec], capture_output=True, text=True)
    if result.returncode != 0:
        hint = ("\n(BuildRequires are checked against an empty build database: pass "
                "build_requires='skip' or build_requires=klp_mockroot)"
                if "Failed build dependencies" in result.stderr else "")
        raise BuildError(f"rpmbuild {spec} failed:\n{result.stderr}{hint}")
    return sorted(glob.glob(os.path.join(top, "RPMS", "*", "*.rpm")))


def _build_in_mockroot(spec: str, sources: str, mockroot: Any, macros: Sequence[str],
                       define_args: List[str]) -> List[str]:
    root = mockroot.root
    inside = f"/tmp/klp-rpmbuild-{len(os.listdir(os.path.join(root, 'tmp')))}"
    top = os.path.join(root, inside.lstrip("/"))
    shutil.copytree(sources, os.path.join(top, "SOURCES"))
    shutil.copy(spec, os.path.join(top, "SOURCES", os.path.basename(spec)))
    loads = []
    for number, macro in enumerate(macros):
        shutil.copy(macro, os.path.join(top, f"macros.{number}"))
        loads += ["--load", f"{inside}/macros.{number}"]
    inner = [*loads, "--define", f"_topdir {inside}", "--define", f"_sourcedir {inside}/SOURCES",
             *define_args]
    inner_spec = f"{inside}/SOURCES/{os.path.basename(spec)}"
    # kernel-syms, which %klp_module_package reads the kernels from, is itself a BuildRequires:
    # parse for the query with a placeholder kernel unless the caller names one
    placeholder = [] if any(a.startswith("klp_kernel_release ") for a in define_args) else \
        ["--define", "klp_kernel_release 0-0-buildrequires"]
    query = mockroot.chroot("rpmspec", *inner, *placeholder, "-q", "--buildrequires",
                            inner_spec)
    if query.returncode != 0:
        raise BuildError(f"rpmspec cannot parse {spec} in the mock root:\n{query.stderr}")
    wanted = [line.strip() for line in query.stdout.splitlines() if line.strip()]
    if wanted:
        installed = mockroot.zypper("install", *wanted)
        if installed.returncode != 0:
            raise BuildError(f"BuildRequires of {spec} cannot be resolved from the mock root's "
                             f"repositories ({', '.join(wanted)}):\n{installed.stdout}{installed.stderr}")
    result = mockroot.chroot("rpmbuild", "-bb", *inner, "--define", "__os_install_post %{nil}",
                             inner_spec)
    if result.returncode != 0:
        raise BuildError(f"rpmbuild {spec} failed in the mock root:\n{result.stderr}")
    return sorted(glob.glob(os.path.join(top, "RPMS", "*", "*.rpm")))
