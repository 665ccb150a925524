"""Throwaway roots where the real rpm and zypper install live patch packages, scriptlets included.

A MockRoot is a directory ROOT with a busybox-free minimal layout: ``/usr`` is, in a private
mount namespace per command, an overlay of the host's ``/usr`` (so ``/bin/sh`` and Python with
the rpm bindings work inside the chroot that rpm runs scriptlets in) whose writes land in
``ROOT/usr`` itself (the upper layer), so that after the command ``klp --root ROOT`` from outside
sees the same packaged files as inside. ROOT has its own rpm database, a base package that
provides what the host's /usr brings, a simulated kernel at ``ROOT/sys`` and ``ROOT/proc``, a
local createrepo_c repository, and a recording stand-in for dracut. Nothing is written to the
host's rpm database, /usr or /run; the overlay disappears with each command's namespace.
"""

import glob
import os
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

from ..sim.scenario import parse_scenario
from ..sim.model import SimState
from ..sim.driver import SimulatedKernel
from . import packages
from .repodata import RepoExtras

BASE_PROVIDES = ("/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/python3", "python3", "python3-base",
                 "python3-rpm", "python3-solv", "python3-PyYAML", "coreutils", "kmod")
RECORDER = "opt/klp-test/dracut"
INITRD_LOG = "var/log/klp-test-initrd.log"
DEFAULT_RELEASE = "6.1.0-26-default"
# What SLE ships in /etc/zypp/zypp.conf (the rest of its file is comments): kernels, and whatever
# provides multiversion(kernel), install side by side and are purged by 'zypper purge-kernels'.
SLE_ZYPP_CONF = """[main]
multiversion = provides:multiversion(kernel)
multiversion.kernels = latest,latest-1,running
"""


def missing_capabilities() -> Optional[str]:
    """Why mock roots cannot work on this machine, or None when they can."""
    if os.geteuid() != 0:
        return "mock roots need root (mount namespaces and overlayfs)"
    for tool in ("unshare", "mount", "rpm", "rpmbuild", "zypper", "createrepo_c"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def default_scenario(release: str = DEFAULT_RELEASE) -> SimState:
    """A small system on ``release``: init, a shell, and a database worker sleeping in
    ``cmdline_proc_show`` (the function the test live patches replace)."""
    return parse_scenario(f"""
kernel: {{release: {release}, vermagic: "{release} SMP preempt mod_unload modversions"}}
processes:
  - {{pid: 1, comm: systemd, cmdline: [/usr/lib/systemd/systemd], stack: [ep_poll]}}
  - {{pid: 700, comm: bash, cmdline: [-bash], stack: [n_tty_read], wakes_on_signal: true}}
  - pid: 4242
    comm: memdb
    cmdline: [/opt/memdb/bin/memdb]
    threads:
      - {{tid: 4242, stack: [futex_wait]}}
      - {{tid: 4245, comm: memdb-stats, stack: [cmdline_proc_show, seq_read_iter, vfs_read]}}
""", "<default scenario>")


def with_testing(product_rpm: str) -> List[str]:
    """``product_rpm`` and the zypp-plugin-klp-testing RPM beside it, if any: the simulated
    kernel that a mock root runs lives in the testing subpackage."""
    folder = os.path.dirname(os.path.abspath(product_rpm))
    return [product_rpm, *sorted(glob.glob(os.path.join(folder, "zypp-plugin-klp-testing-*.rpm")))]


class MockRoot:
    """A throwaway root: ``root`` (default ``base/root``) is what rpm and zypper see as /, ``base``
    holds the rest (overlay work directory, zypper's log, built helper packages)."""

    def __init__(self, base: str, root: Optional[str] = None) -> None:
        self.base = os.path.abspath(base)
        self.root = os.path.abspath(root) if root else os.path.join(self.base, "root")
        self.upper = os.path.join(self.root, "usr")  # the overlay's upper layer is ROOT/usr itself
        self.work = os.path.join(self.base, "usr-work")
        self.repo = os.path.join(self.root, "srv/klp-repo")
        self.log = os.path.join(self.base, "zypper.log")
        self.extras = RepoExtras()

    # -- creation ------------------------------------------------------------------------------
    def create(self, product_rpm: Optional[str], scenario: Optional[SimState] = None,
               provides: Sequence[str] = BASE_PROVIDES) -> "MockRoot":
        """Lay out the root, install the base package and ``product_rpm`` (zypp-plugin-klp)."""
        root = self.root
        for path in (self.upper, self.work, self.repo, root):
            os.makedirs(path, exist_ok=True)
        # The repository's host path must also resolve inside the chroot (zypper run chrooted)
        mirror = os.path.join(root, self.repo.lstrip("/"))
        if not os.path.lexists(mirror):
            os.makedirs(os.path.dirname(mirror))
            os.symlink("/srv/klp-repo", mirror)
        for sub in ("usr", "etc/sysconfig", "etc/zypp/repos.d", "var/lib/rpm", "var/log", "run",
                    "tmp", "dev", "root", "opt/klp-test", "etc/rpm"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.isdir(f"/usr/{link}") and not os.path.lexists(os.path.join(root, link)):
                os.symlink(f"usr/{link}", os.path.join(root, link))
        if not os.path.exists(os.path.join(root, "dev/null")):
            os.mknod(os.path.join(root, "dev/null"), 0o666 | 0o020000, os.makedev(1, 3))
        _write(os.path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
        _write(os.path.join(root, "etc/group"), "root:x:0:\n")
        # rpm inside the chroot (scriptlets, zypper) must use the root's database, as on SUSE
        _write(os.path.join(root, "etc/rpm/macros.dbpath"), "%_dbpath /var/lib/rpm\n")
        _write(os.path.join(root, "etc/zypp/zypp.conf"), SLE_ZYPP_CONF)
        _write(os.path.join(root, RECORDER),
               f'#!/bin/sh\necho "$*" >> /{INITRD_LOG}\n', 0o755)
        _write(os.path.join(root, "etc/sysconfig/bootloader"), f'INITRD_GENERATOR="/{RECORDER}"\n')
        state = scenario or default_scenario()
        SimulatedKernel.create(root, state)
        # the running kernel is installed (depmod's file is how klp tells an installed kernel)
        _write(os.path.join(self.upper, "lib/modules", state.release, "modules.dep"), "")
        base = packages.build_base_rpm(os.path.join(self.base, "build"), provides)
        self.rpm("-i", "--nodeps", base, check=True)
        if product_rpm:
            self.rpm("-U", "--nodeps", *with_testing(product_rpm), check=True)
        return self

    # -- running -------------------------------------------------------------------------------
    def run(self, *argv: str, env: Optional[Dict[str, str]] = None, check: bool = False,
            timeout: Optional[float] = 300.0, stdin: str = "",
            capture: bool = True) -> subprocess.CompletedProcess:
        """Run ``argv`` on the host side, in a private mount namespace with ROOT/usr mounted
        (``capture=False``: attached to this terminal, no timeout, for interactive use)."""
        wrapped = ["unshare", "--mount", "--propagation", "private", "--",
                   sys.executable, "-m", "zypp_plugin_klp.testing.nsexec",
                   self.root, self.upper, self.work, "--", *argv]
        # zypper --root reads the host's zypp.conf unless told otherwise: use the root's (SLE's)
        full_env = {**os.environ, "ZYPP_LOGFILE": self.log, "ZYPP_LOCKFILE_ROOT": self.root,
                    "ZYPP_CONF": os.path.join(self.root, "etc/zypp/zypp.conf"),
                    **(env or {})}
        if not capture:
            return subprocess.run(wrapped, env=full_env)
        result = subprocess.run(wrapped, capture_output=True, text=True, env=full_env,
                                timeout=timeout, input=stdin)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def chroot(self, *argv: str, env: Optional[Dict[str, str]] = None, **kw) \
            -> subprocess.CompletedProcess:
        """Run ``argv`` chrooted into ROOT, where zypper's root is ``/`` and so its commit plugins
        run (libzypp skips them for ``--root``)."""
        inside = {"ZYPP_LOGFILE": "/var/log/zypper.log", "ZYPP_LOCKFILE_ROOT": "/",
                  "ZYPP_CONF": "/etc/zypp/zypp.conf",
                  "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})}
        return self.run("chroot", self.root, *argv, env=inside, **kw)

    def rpm(self, *args: str, **kw) -> subprocess.CompletedProcess:
        """The real rpm on ROOT's own database."""
        return self.run(*packages.rpm_command(self.root, *args), **kw)

    def zypper(self, *args: str, **kw) -> subprocess.CompletedProcess:
        """The real zypper with ``--root ROOT``, non-interactive, unsigned local packages allowed."""
        return self.run("zypper", "--root", self.root, "--non-interactive", "--no-gpg-checks",
                        *args, **kw)

    def klp(self, *args: str, **kw) -> subprocess.CompletedProcess:
        """This machine's klp (the package under test) looking at ROOT."""
        return self.run(sys.executable, "-m", "zypp_plugin_klp.cli.klp", "--root", self.root,
                        *args, **kw)

    def publish(self, *rpms: str) -> None:
        """Put packages into the local repository and (re)index it; zypper sees them next."""
        for rpm in rpms:
            shutil.copy(rpm, self.repo)
        subprocess.run(["createrepo_c", "--quiet", "--update", self.repo], check=True,
                       capture_output=True)
        self.extras.add(self.repo)  # patterns.xml and updateinfo.xml, as a SLE repository has
        if not os.path.exists(os.path.join(self.root, "etc/zypp/repos.d/local.repo")):
            _write(os.path.join(self.root, "etc/zypp/repos.d/local.repo"),
                   f"[local]\nname=local\nbaseurl=file://{self.repo}\nenabled=1\nautorefresh=1\n"
                   "gpgcheck=0\n")
        self.zypper("--quiet", "refresh", "--force", check=True)

    # -- inspection ----------------------------------------------------------------------------
    @property
    def kernel(self) -> SimulatedKernel:
        """The simulated kernel running 'inside' the root (release tasks, advance time...)."""
        return SimulatedKernel(self.root)

    def installed(self) -> List[str]:
        """Installed packages as NAME-VERSION-RELEASE, sorted."""
        out = self.rpm("-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}\\n", check=True).stdout
        return sorted(line for line in out.splitlines() if line)

    def initrd_log(self) -> List[str]:
        """Every call of the stand-in initrd generator (its arguments), oldest first."""
        path = os.path.join(self.root, INITRD_LOG)
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists inside the root (looks through the /usr overlay)."""
        return self.run("test", "-e", os.path.join(self.root, path.lstrip("/"))).returncode == 0


def _write(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)
