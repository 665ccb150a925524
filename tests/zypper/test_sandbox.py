"""klp-sandbox: a kept server (create, run, shell, destroy) with the real zypper inside, and
``klp --root DIR`` from outside seeing the same packages as klp inside."""

import os
import subprocess
import sys

import pytest

from conftest import REPO, VERMAGIC

import kobuild
from zypp_plugin_klp.testing import packages
from zypp_plugin_klp.testing.plugin import macros_path, template_path

SANDBOX = os.path.join(REPO, "bin", "klp-sandbox")
PKG = "kernel-livepatch-6_1_0-26-default"
pytestmark = pytest.mark.needs("mockroot")


def sandbox(*args, stdin=None):
    return subprocess.run([sys.executable, SANDBOX, *args], capture_output=True, text=True,
                          input=stdin, timeout=600)


def klp_outside(*args):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "klp"), *args],
                          capture_output=True, text=True, timeout=60)


def test_a_sandbox_keeps_its_state_and_klp_sees_it_from_outside(tmp_path, klp_product_rpm):
    ko = kobuild.write_module(tmp_path / "lp.ko", "livepatch_1_1_1", vermagic=VERMAGIC,
                              functions=["livepatch_cmdline_proc_show"])
    rpm = packages.build_from_template(str(tmp_path), str(ko), "6.1.0-26-default", "1",
                                       "- Fix CVE-2024-1086 (bsc#1219434)", template_path(), macros_path())
    box = str(tmp_path / "server")
    r = sandbox("create", box, "--rpm", klp_product_rpm, "--publish", rpm)
    assert r.returncode == 0 and r.stdout.startswith(f"sandbox {box}: kernel 6.1.0-26-default"), r.stderr
    r = sandbox("run", box, "--", "zypper", "--non-interactive", "--no-gpg-checks", "in", PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    inside = sandbox("run", box, "--", "klp", "-v", "patches")
    assert inside.returncode == 0 and f"RPM: {PKG}-1-1.1.x86_64" in inside.stdout, inside.stdout
    outside = klp_outside("--root", box, "-v", "patches")
    assert outside.stdout == inside.stdout
    r = sandbox("shell", box, stdin="rpm -q --qf '%{VERSION}\\n' " + PKG + "\nexit 7\n")
    assert r.returncode == 7 and "1\n" in r.stdout, r.stdout + r.stderr

    r = sandbox("create", box, "--rpm", klp_product_rpm)
    assert r.returncode == 1 and r.stderr == f"klp-sandbox: {box} exists and is not an empty directory\n"
    assert sandbox("destroy", box).returncode == 0 and not os.path.exists(box)
    r = sandbox("run", box, "--", "true")
    assert r.returncode == 1 and "is not a sandbox" in r.stderr


def test_bad_input_is_one_line_and_nothing_is_left(tmp_path, klp_product_rpm):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("kernel: {release: 6.1.0-26-default}\nprocesses: [{pid: x}]\n")
    box = str(tmp_path / "server")
    r = sandbox("create", box, "--rpm", klp_product_rpm, "--scenario", str(scenario))
    assert r.returncode == 1 and r.stderr.startswith(f"klp-sandbox: {scenario}:"), r.stderr
    assert len(r.stderr.splitlines()) == 1
    r = sandbox("create", box, "--rpm", str(tmp_path / "missing.rpm"))
    assert r.returncode == 1 and r.stderr == f"klp-sandbox: no such RPM: {tmp_path}/missing.rpm\n"
    other = tmp_path / "not-a-sandbox"
    other.mkdir()
    (other / "keep").write_text("x")
    assert sandbox("destroy", str(other)).returncode == 1 and (other / "keep").exists()
    assert sandbox("run").returncode == 2
