"""The Salt execution module and grain without a master: loaded from their files with the dunders
Salt would inject, running the real klp on a simulated kernel. Plus what every fleet file must
be."""

import importlib.util
import os
import re

import pytest

from . import engines

MODULE = os.path.join(engines.SALT_TREE, "_modules", "klp.py")


def _load(path, opts):
    spec = importlib.util.spec_from_file_location(f"salt_klp_{len(opts)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = opts
    module.__pillar__ = {}
    return module


@pytest.fixture
def klp(sim):
    return _load(MODULE, {"klp.cmd": [engines.KLP], "klp.root": sim.root})


def test_virtual_is_false_without_klp(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    module = _load(MODULE, {})
    assert module.__virtual__() == (False, "klp: neither klp nor kgr is installed (or set klp.cmd)")
    module.__pillar__ = {"klp.cmd": "/usr/bin/klp"}
    assert module.__virtual__() == "klp"


def test_a_klp_error_is_its_one_line(tmp_path):
    module = _load(MODULE, {"klp.cmd": [engines.KLP], "klp.root": str(tmp_path / "nope")})
    with pytest.raises(module.CommandExecutionError,
                       match=r"^klp: --root .*/nope: no such directory$"):
        module.status()


def test_wait_names_the_blockers_and_uyuni_sees_the_patch(klp, sim, build_ko):
    assert klp.kernel_live_version(attempts=1) is None
    sim.load(build_ko("livepatch_1_1_1"))
    assert klp.check() is False and klp.status() == "in_progress"
    waited = klp.wait(timeout=0.2, interval=0.1)
    assert waited == {"ready": False, "patch": "livepatch_1_1_1", "reverted": False,
                      "blocking": ["4242 /opt/memdb/bin/memdb --config /etc/memdb.conf"]}
    sim.release()
    assert klp.wait(timeout=5, interval=0.1) == {"ready": True, "patch": None, "blocking": []}
    assert klp.kernel_live_version(attempts=1) == {"mgr_kernel_live_version": "livepatch_1_1_1"}
    assert klp.active()["name"] == "livepatch_1_1_1" and klp.reboot_needed() == []


def test_uyuni_names_only_livepatch_or_kgraft_modules(klp, sim, build_ko):
    sim.load(build_ko("custom_fix"))
    sim.release()
    assert klp.active()["name"] == "custom_fix"
    assert klp.kernel_live_version(attempts=1) == {"mgr_kernel_live_version": None}


def test_grain_never_raises(tmp_path, sim):
    grain = os.path.join(engines.SALT_TREE, "_grains", "klp.py")
    assert _load(grain, {"klp.cmd": [str(tmp_path / "absent")]}).klp() == {"klp": {}}
    found = _load(grain, {"klp.cmd": [engines.KLP], "klp.root": sim.root}).klp()["klp"]
    assert found["status"] == "ready" and found["active"] is None
    assert found["reboot_needed"] is False


def test_fleet_files_only_run_klp_and_say_their_license():
    fleet = os.path.join(engines.REPO, "fleet")
    for top, _, files in os.walk(fleet):
        for name in files:
            path = os.path.join(top, name)
            text = open(path, encoding="utf-8").read()
            assert "zypp_plugin_klp" not in text, f"{path} imports the product"
            # no shell anywhere: neither subprocess's shell flag nor Salt's python_shell
            assert not re.search(r"\bshell\s*=\s*True|python_shell", text), path
            if name.endswith((".py", ".sls", ".yml")) and name not in ("galaxy.yml", "runtime.yml"):
                license = "Apache-2.0" if "/salt/" in path else "GPL-3.0-or-later"
                assert re.search(rf"SPDX-License-Identifier: {re.escape(license)}\n", text), path
