"""pytest plugin for packagers (entry point ``klp``): test live patch spec hooks in mock roots.

Fixtures:
    klp_product_rpm: path of the zypp-plugin-klp RPM to install into mock roots
        (``--klp-rpm PATH`` or ``KLP_PRODUCT_RPM``; built with ``make rpm`` from a source checkout);
        the zypp-plugin-klp-testing RPM in the same directory is installed with it.
    klp_mockroot: a fresh :class:`~zypp_plugin_klp.testing.mockroot.MockRoot` with that RPM
        installed and the default simulated system running kernel 6.1.0-26-default
        (``--klp-kernel RELEASE`` changes it).
    klp_rpmbuild: ``build(spec, sources_dir, macros=(), build_requires=None, **defines) ->
        [rpm paths]`` with the real rpmbuild, a private rpm database, the klp macros and then
        the given macro files loaded. ``build_requires``: None lets rpm check BuildRequires
        against the empty build database (so any fails); ``"skip"`` builds without checking
        them; ``klp_mockroot`` resolves them from the mock root's repositories and builds
        inside it (see :func:`zypp_plugin_klp.testing.packages.build_spec`).

Marker:
    ``@pytest.mark.needs("rpmbuild", "zypper", ...)``: skip the test when a capability is missing
    (see :mod:`~zypp_plugin_klp.testing.capabilities`); under ``CI=true`` fail it instead.
"""

import glob
import os
import subprocess
import tempfile
from typing import Callable, Iterator, List, Sequence, Union

import pytest

from . import capabilities
from .mockroot import DEFAULT_RELEASE, MockRoot, default_scenario
from .packages import SOURCE_TREE, build_spec, macros_path, template_path  # noqa: F401  (re-exported)



def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("klp", "kernel live patch mock roots (zypp-plugin-klp)")
    group.addoption("--klp-rpm", default=os.environ.get("KLP_PRODUCT_RPM"),
                    help="zypp-plugin-klp RPM to install into mock roots")
    group.addoption("--klp-kernel", default=DEFAULT_RELEASE,
                    help="kernel release the simulated system runs")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*capabilities): the machine capabilities a test needs "
                            "(root, rpmbuild, zypper, mockroot, ...); skipped without, failed under CI=true")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers(name="needs"):
        capabilities.require(*mark.args)


@pytest.fixture(scope="session")
def klp_product_rpm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The zypp-plugin-klp RPM under test."""
    capabilities.require("mockroot")
    given = request.config.getoption("--klp-rpm")
    if given:
        return str(given)
    if not os.path.exists(os.path.join(SOURCE_TREE, "specfiles", "zypp-plugin-klp.spec")):
        pytest.fail("no zypp-plugin-klp RPM: pass --klp-rpm PATH or set KLP_PRODUCT_RPM")
    top = str(tmp_path_factory.mktemp("product-rpm"))
    built = subprocess.run(["make", "--no-print-directory", "-C", SOURCE_TREE, "rpm", f"RPMTOP={top}"],
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"make rpm failed:\n{built.stdout}{built.stderr}")
    (rpm,) = glob.glob(os.path.join(top, "RPMS", "noarch", "zypp-plugin-klp-[0-9]*.rpm"))
    return rpm


@pytest.fixture
def klp_mockroot(request: pytest.FixtureRequest, klp_product_rpm: str) -> Iterator[MockRoot]:
    """A fresh mock root with zypp-plugin-klp installed; removed afterwards."""
    base = tempfile.mkdtemp(prefix="klp-mockroot.")
    try:
        release = request.config.getoption("--klp-kernel")
        yield MockRoot(base).create(klp_product_rpm, default_scenario(release))
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", base], check=False)


@pytest.fixture
def klp_rpmbuild(tmp_path) -> Callable[..., List[str]]:
    """Build a spec with the real rpmbuild; returns the binary RPMs it produced."""

    def build(spec: str, sources: str, macros: Sequence[str] = (),
              build_requires: Union[None, str, MockRoot] = None, **defines: str) -> List[str]:
        top = str(tmp_path / f"rpmbuild-{len(list(tmp_path.iterdir()))}")
        return build_spec(os.path.abspath(spec), os.path.abspath(sources), top,
                          [os.path.abspath(m) for m in macros], defines, build_requires)

    return build
