"""Build kernel-livepatch RPMs with the real rpmbuild and install them into a root's own rpm database."""

import os
import shutil
import subprocess
from functools import lru_cache
from typing import List, Sequence

from ..core.names import module_file, package_name

RPM_QUIET = ["--force-debian"]  # Debian's rpm nags on every direct call without it


@lru_cache(maxsize=1)
def _rpm_supports_force_debian() -> List[str]:
    probe = subprocess.run(["rpm", "--force-debian", "--version"], capture_output=True)
    return RPM_QUIET if probe.returncode == 0 else []


def build_livepatch_rpm(workdir: str, ko_path: str, release: str, version: str = "1",
                        rel: str = "1.1", changelog: str = "- Initial kernel live patch") -> str:
    """Package ``ko_path`` as SUSE does (module under the kernel's livepatch/ directory).

    Returns:
        The path of the built binary RPM. rpmbuild runs with a private ``_dbpath``.
    """
    top = os.path.join(workdir, f"rpmbuild-{version}-{rel}")
    os.makedirs(os.path.join(top, "SOURCES"), exist_ok=True)
    module = module_file(version, rel)
    shutil.copy(ko_path, os.path.join(top, "SOURCES", module))
    target = f"/lib/modules/{release}/livepatch/{module}"
    spec = os.path.join(top, "livepatch.spec")
    with open(spec, "w", encoding="utf-8") as handle:
        handle.write(f"""Name: {package_name(release)}
Version: {version}
Release: {rel}
Summary: Kernel live patch {version} for {release}
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
    hook scriptlets). Returns the binary RPM's path."""
    src = os.path.join(workdir, f"template-{release}-{version}")
    os.makedirs(src)
    shutil.copy(ko_path, os.path.join(src, "livepatch.ko"))
    with open(template, encoding="utf-8") as handle:
        head = handle.read().partition("%changelog\n")[0]
    spec = os.path.join(src, "kernel-livepatch.spec")
    with open(spec, "w", encoding="utf-8") as handle:
        handle.write(head + "%changelog\n* Mon Nov 23 2026 Live Patching Team <klp@example.com> - "
                     f"{version}-1.1\n{changelog}\n")
    return rpmbuild(spec, os.path.join(src, "top"), "--load", macros,
                    "--define", f"_sourcedir {src}", "--define", f"klp_kernel_release {release}",
                    "--define", f"klp_version {version}")
