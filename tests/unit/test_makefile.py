"""make demo installs only what the demo needs; make test still installs everything (read from
what make would run, ``make -n``: nothing is installed by this test)."""

import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST_ONLY = ("qemu-system-x86", "linux-image-amd64", "linux-headers-amd64", "gcc", "busybox-static",
             "python3-venv")


def planned(target: str) -> str:
    return subprocess.run(["make", "-n", "--no-print-directory", "-C", REPO, target],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.needs("make")
def test_demo_installs_only_what_it_needs_and_test_everything():
    demo = planned("demo")
    assert "zypper" in demo and "createrepo-c" in demo and "fixtures/demo.py" in demo
    for package in TEST_ONLY:
        assert package not in demo, package
    assert "pip install" not in demo and ".venv" not in demo
    apt = planned("deps")
    for package in TEST_ONLY:
        assert package in apt, package
