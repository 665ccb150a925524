"""Static checks that keep the code honest: types (mypy) and the layering of core/."""

import ast
import os
import subprocess
import sys

import pytest

from zypp_plugin_klp.testing import capabilities

from conftest import REPO

PACKAGE = os.path.join(REPO, "zypp_plugin_klp")


def test_mypy_finds_no_type_errors(tmp_path):
    try:
        import mypy  # noqa: F401
    except ImportError:
        capabilities.unavailable("mypy is not installed (make test installs it)")
    r = subprocess.run([sys.executable, "-m", "mypy", "--ignore-missing-imports", "--cache-dir",
                        str(tmp_path), PACKAGE], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]


def test_core_does_no_io():
    """core/ is pure logic: it imports no os, subprocess, rpm, solv or drivers."""
    forbidden = {"os", "subprocess", "rpm", "solv", "shutil", "socket"}
    for name in os.listdir(os.path.join(PACKAGE, "core")):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(PACKAGE, "core", name)).read())
        for node in ast.walk(tree):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for module in modules:
                assert module.split(".")[0] not in forbidden, f"core/{name} imports {module}"
                assert "drivers" not in module and "services" not in module, f"core/{name}: {module}"


IO_MODULES = {"os", "subprocess", "ctypes", "fcntl", "shutil"}
# Where I/O may happen: the drivers, the simulated kernel's driver, the composition root, and the
# packagers' test harness (testing/, not part of the product's code paths).
IO_ALLOWED = ("drivers/", "sim/driver.py", "wiring.py", "testing/")
IO_PENDING: tuple = ()  # modules still to move their I/O into drivers (none left)


def _io_uses(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] in IO_MODULES)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and \
                (node.module or "").split(".")[0] in IO_MODULES:
            yield node.module
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            yield "open()"


def test_only_drivers_do_io():
    """os, subprocess, ctypes (and open()) only in drivers/, the simulator's driver and wiring."""
    offenders = {}
    for folder, _dirs, files in os.walk(PACKAGE):
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), PACKAGE).replace(os.sep, "/")
            if not name.endswith(".py") or rel.startswith(IO_ALLOWED) or rel in IO_PENDING:
                continue
            uses = sorted(set(_io_uses(os.path.join(folder, name))))
            if uses:
                offenders[rel] = uses
    assert offenders == {}


def test_only_drivers_and_wiring_read_sysfs_and_procfs():
    """The kernel is read through the KernelDriver interface; only the wiring knows the simulator."""
    for folder, _dirs, files in os.walk(PACKAGE):
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), PACKAGE).replace(os.sep, "/")
            if not name.endswith(".py"):
                continue
            text = open(os.path.join(folder, name)).read()
            if not rel.startswith(("drivers/", "sim/")) and rel != "wiring.py":
                assert "sysfs" not in _imports(text) and "procfs" not in _imports(text), rel
            if not rel.startswith(("sim/", "testing/")) and rel != "wiring.py":
                assert not any(m.startswith("sim") or ".sim" in m for m in _imports(text)), rel


def _imports(text):
    modules = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
            modules.update(f"{node.module}.{a.name}" if node.module else a.name for a in node.names)
        elif isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
    return {m for m in modules for m in (m, *m.split("."))}


ENTRY_POINTS = ("bin/klp", "bin/kgr", "bin/zypp-plugin-klp", "bin/zypper-lifecycle",
                "bin/check_klp", "bin/klp-sandbox", "bin/klp-simkernel", "rpm-hooks/klp-hook")


def test_every_entry_point_runs_isolated_with_an_explicit_product_path():
    """Issue 15, finding 5: root's PYTHON* variables, user site and .pth files never run."""
    for name in ENTRY_POINTS:
        with open(os.path.join(REPO, name), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        assert lines[0] == "#!/usr/bin/python3 -IS", name
        assert 'PRODUCT = ""' in lines and "sys.path[:0] = [PRODUCT] if PRODUCT else []" in lines


def test_the_venv_runs_the_same_entry_files():
    """make setup's console scripts are bin/*, only the interpreter and PRODUCT written in."""
    bindir = os.path.dirname(sys.executable)
    for name in ("klp", "kgr", "zypper-lifecycle", "check_klp", "klp-sandbox", "klp-simkernel"):
        with open(os.path.join(REPO, "bin", name), encoding="utf-8") as handle:
            source = handle.read().splitlines()
        with open(os.path.join(bindir, name), encoding="utf-8") as handle:
            copy = handle.read().splitlines()
        assert copy[0].startswith(f"#!{bindir}/python") and copy[0].endswith(" -IS"), copy[0]
        assert copy[1:] == [f'PRODUCT = "{REPO}"' if line == 'PRODUCT = ""' else line
                            for line in source[1:]], name
