"""The spec files build with the real rpmbuild: the product RPM and the live patch template."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO, VERMAGIC

pytestmark = pytest.mark.needs("rpmbuild")


def query(rpm, *args):
    """rpm -qp with a private (empty) database: querying a file must not touch the host's."""
    dbpath = os.path.join(os.path.dirname(rpm), ".querydb")
    return subprocess.run(["rpm", "--dbpath", dbpath, "-qp", *args, rpm], capture_output=True,
                          text=True, check=True).stdout


def test_product_rpm_builds_with_make_rpm(tmp_path):
    top = tmp_path / "top"
    r = subprocess.run(["make", "--no-print-directory", "-C", REPO, "rpm", f"RPMTOP={top}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (rpm,) = (top / "RPMS" / "noarch").glob("zypp-plugin-klp-[0-9]*.noarch.rpm")
    files = query(str(rpm), "-l").splitlines()
    for wanted in ("/usr/bin/klp", "/usr/bin/kgr", "/usr/lib/zypp-plugin-klp/klp-hook",
                   "/etc/sysconfig/livepatching", "/usr/share/man/man8/klp.8",
                   "/usr/lib/zypp/plugins/commit/zypp-plugin-klp",
                   "/usr/lib/zypper/commands/zypper-lifecycle", "/usr/share/man/man8/zypper-lifecycle.8"):
        assert any(f.startswith(wanted) for f in files), wanted
    assert any(f.endswith("/zypp_plugin_klp/hooks.py") for f in files)
    for wanted in ("/usr/lib/systemd/system/klp-metrics.timer",  # monitoring (tests/monitoring)
                   "/usr/lib/systemd/system/klp-metrics.service",
                   "/usr/lib/systemd/system-preset/90-zypp-plugin-klp.preset",
                   "/usr/share/zypp-plugin-klp/prometheus/klp-alerts.yml",
                   "/usr/lib/nagios/plugins/check_klp"):
        assert wanted in files, wanted
    assert "systemctl preset klp-metrics.timer" in query(str(rpm), "--scripts")
    assert any(f.endswith("/macros.d/macros.klp") for f in files)
    requires = query(str(rpm), "--requires")
    for name in ("python3-rpm", "python3-solv", "python3-PyYAML"):
        assert name in requires


def test_livepatch_template_builds_a_package_with_hooks(tmp_path):
    import sys

    sys.path.insert(0, os.path.join(REPO, "fixtures"))
    import kobuild

    kobuild.write_module(tmp_path / "livepatch.ko", "livepatch_1_1_1", vermagic=VERMAGIC,
                         functions=["livepatch_cmdline_proc_show"])
    r = build_template(tmp_path, "--nodeps", "--define", "klp_kernel_release 6.1.0-26-default")
    assert r.returncode == 0, r.stderr
    (rpm,) = (tmp_path / "top" / "RPMS").glob("*/*.rpm")
    assert os.path.basename(rpm).startswith("kernel-livepatch-6_1_0-26-default-1-1.1.")
    assert query(str(rpm), "-l").strip().endswith(
        "/lib/modules/6.1.0-26-default/livepatch/livepatch-1-1.1.ko")
    assert "kernel-livepatch(" not in query(str(rpm), "--provides")  # nothing reads it
    scripts = query(str(rpm), "--scripts")
    for stage in ("pre", "post", "postun", "posttrans"):
        assert f"klp-hook {stage} kernel-livepatch-6_1_0-26-default 1-1.1" in scripts
    assert "Requires(pre): zypp-plugin-klp" not in scripts
    assert "zypp-plugin-klp" in query(str(rpm), "--requires")


def build_template(tmp_path, *options, macros=True):
    """rpmbuild the template in ``tmp_path`` (with the klp macros unless ``macros`` is false)."""
    shutil.copy(os.path.join(REPO, "specfiles", "kernel-livepatch.spec"), tmp_path)
    load = ["--load", os.path.join(REPO, "rpm-hooks", "macros.klp")] if macros else []
    return subprocess.run(["rpmbuild", "-bb", *load, *options,
                           "--define", f"_topdir {tmp_path}/top", "--define", f"_sourcedir {tmp_path}",
                           "--define", f"_dbpath {tmp_path}/db", "--define", "__os_install_post %{nil}",
                           str(tmp_path / "kernel-livepatch.spec")], capture_output=True, text=True)


def test_template_refuses_to_build_without_the_macros(tmp_path):
    """Attack (issue 15, finding 3): a build host without macros.klp built a package with no
    %pre gate, no load and no initrd rebuild, and said nothing; now the build fails."""
    (tmp_path / "livepatch.ko").write_bytes(b"")
    r = build_template(tmp_path, "--nodeps", "--define", "klp_kernel_release 6.1.0-26-default",
                       macros=False)
    assert r.returncode != 0 and not (tmp_path / "top" / "RPMS").exists()
    assert "kernel-livepatch.spec needs the klp macros: install zypp-plugin-klp" in r.stderr


def test_template_refuses_to_build_without_a_kernel_release(tmp_path):
    (tmp_path / "livepatch.ko").write_bytes(b"")
    r = build_template(tmp_path, "--nodeps")
    assert r.returncode != 0 and not (tmp_path / "top" / "RPMS").exists()
    assert "needs the kernel release to build for: define klp_kernel_release" in r.stderr


def test_template_build_requires_the_macros_package(tmp_path):
    """Attack (issue 15, finding 3): the template names the package that defines its macros."""
    (tmp_path / "livepatch.ko").write_bytes(b"")
    r = build_template(tmp_path, "--define", "klp_kernel_release 6.1.0-26-default")
    assert r.returncode != 0 and "zypp-plugin-klp is needed by" in r.stderr


def test_lifecycle_data_spec_builds(tmp_path):
    r = subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {tmp_path}/top",
                        "--define", f"_sourcedir {REPO}/specfiles", "--define", f"_dbpath {tmp_path}/db",
                        os.path.join(REPO, "specfiles", "lifecycle-data-sle-module-live-patching.spec")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (rpm,) = (tmp_path / "top" / "RPMS" / "noarch").glob("*.rpm")
    assert query(str(rpm), "-l").split()[-1] == \
        "/usr/share/lifecycle/data/sle-module-live-patching.lifecycle"
    from zypp_plugin_klp.core.lifecycle import parse_lifecycle

    with open(os.path.join(REPO, "specfiles", "sle-module-live-patching.lifecycle")) as handle:
        rules, errors = parse_lifecycle(handle.read(), "shipped")
    assert errors == [] and all(r.name.startswith("kernel-livepatch-") for r in rules)


@pytest.mark.parametrize("hook_exit, pre_exit", [(0, 0), (1, 1), (2, 0), (127, 0)])
def test_klp_pre_fails_only_on_the_gates_refusal(tmp_path, hook_exit, pre_exit):
    """%klp_pre as rpm expands it, run by sh as rpm runs %pre: only the gate's exit 1 fails it."""
    stub = tmp_path / "klp-hook"
    stub.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\nexit {hook_exit}\n")
    stub.chmod(0o755)
    body = subprocess.run(["rpm", "--load", os.path.join(REPO, "rpm-hooks", "macros.klp"),
                           "--define", f"klp_hook_path {stub}", "--define", "name kernel-livepatch-SLE15-SP6_Update_11",
                           "--define", "version 1", "--define", "release 1",
                           "--eval", "%klp_pre -n kernel-livepatch-6_1_0-26-default"],
                          capture_output=True, text=True, check=True).stdout
    assert subprocess.run(["sh", "-c", body, "sh", "1"]).returncode == pre_exit
    assert (tmp_path / "args").read_text() == "pre kernel-livepatch-6_1_0-26-default 1-1 1\n"


def test_fleet_subpackages_carry_the_engine_trees(tmp_path):
    top = tmp_path / "top"
    r = subprocess.run(["make", "--no-print-directory", "-C", REPO, "rpm", f"RPMTOP={top}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (salt,) = (top / "RPMS" / "noarch").glob("zypp-plugin-klp-salt-*.noarch.rpm")
    (ansible,) = (top / "RPMS" / "noarch").glob("zypp-plugin-klp-ansible-*.noarch.rpm")
    states = "/usr/share/salt-formulas/states"
    files = query(str(salt), "-l").splitlines()
    for wanted in ("_modules/klp.py", "_states/klp.py", "_grains/klp.py", "_beacons/klp.py",
                   "klp/patched.sls", "klp/ready.sls", "orch/klp_rollout.sls"):
        assert f"{states}/{wanted}" in files, wanted
    assert query(str(salt), "--qf", "%{LICENSE}") == "Apache-2.0"
    collection = "/usr/share/ansible/collections/ansible_collections/suse/klp"
    files = query(str(ansible), "-l").splitlines()
    for wanted in ("plugins/modules/klp_info.py", "plugins/modules/klp_update.py",
                   "plugins/modules/klp_wait.py", "roles/rolling_update/tasks/main.yml"):
        assert f"{collection}/{wanted}" in files, wanted
    assert query(str(ansible), "--qf", "%{LICENSE}") == "GPL-3.0-or-later"
