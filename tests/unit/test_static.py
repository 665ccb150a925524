"""Static checks that keep the code honest: types (mypy) and the layering of core/."""

import ast
import os
import subprocess
import sys

import pytest

from conftest import REPO

PACKAGE = os.path.join(REPO, "zypp_plugin_klp")


def test_mypy_finds_no_type_errors(tmp_path):
    pytest.importorskip("mypy", reason="mypy is installed by make test")
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
