"""The fault matrix (tests/reliability/matrix.py) in make test: zero data lost, every case."""

import shutil

import pytest

from . import matrix

pytestmark = pytest.mark.needs("rpmbuild", "unshare")


@pytest.fixture(scope="module")
def rpms(tmp_path_factory):
    return matrix.build_rpms(str(tmp_path_factory.mktemp("fault-rpms")))


@pytest.mark.parametrize("name", list(matrix.cases()))
def test_fault_leaves_nothing_lost_and_converges(name, rpms, tmp_path):
    problems = matrix.run_case(name, matrix.cases()[name], str(tmp_path), rpms)
    assert problems == [], f"{name}: {problems}"
