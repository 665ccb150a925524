"""The zypp-plugin-klp-testing subpackage: installed by rpm into a root, it registers the packagers'
pytest plugin (entry point metadata) and brings the simulated kernel; the main package alone
does not."""

import importlib.metadata
import os
import shutil

from zypp_plugin_klp.testing.mockroot import MockRoot

# pytest and what it imports, copied from this venv into the root as a distribution's
# python3-pytest would be installed there (pure Python)
PYTEST_DISTRIBUTIONS = ("pytest", "pluggy", "iniconfig", "packaging")
SITE = "local/lib/python3.11/dist-packages"  # inside the root's /usr (its overlay upper)


def give_pytest(mock: MockRoot) -> None:
    target = os.path.join(mock.upper, SITE)
    for name in PYTEST_DISTRIBUTIONS:
        dist = importlib.metadata.distribution(name)
        for entry in dist.files or ():
            source = str(dist.locate_file(entry))
            if entry.parts[0] == ".." or "__pycache__" in entry.parts or not os.path.isfile(source):
                continue  # console scripts and byte code are not needed
            os.makedirs(os.path.join(target, *entry.parts[:-1]), exist_ok=True)
            shutil.copy(source, os.path.join(target, *entry.parts))


def test_pytest_finds_the_fixtures_once_the_testing_rpm_is_installed(klp_product_rpm, tmp_path):
    mock = MockRoot(str(tmp_path / "machine")).create(klp_product_rpm)
    assert {"zypp-plugin-klp-0.1.0-0", "zypp-plugin-klp-testing-0.1.0-0"} <= set(mock.installed())
    give_pytest(mock)
    os.makedirs(os.path.join(mock.root, "srv/tests"))
    fixtures = ("/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider", "--fixtures", "/srv/tests")
    r = mock.chroot(*fixtures)
    assert "klp_mockroot" in r.stdout and "klp_rpmbuild" in r.stdout, r.stdout + r.stderr
    r = mock.chroot("/usr/bin/klp-simkernel", "--help")
    assert r.returncode == 0 and "usage" in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    assert_isolated(mock, "/usr/bin/klp-simkernel")

    mock.rpm("-e", "--nodeps", "zypp-plugin-klp-testing", check=True)
    r = mock.chroot(*fixtures)
    assert r.returncode == 0 and "klp_mockroot" not in r.stdout, r.stdout + r.stderr
    assert not mock.exists("/usr/bin/klp-simkernel")
    assert mock.chroot("/usr/bin/klp", "--help").returncode == 0  # the tools do not need it


def assert_isolated(mock: MockRoot, command: str) -> None:
    """``command`` runs as the other entry points do (python3 -IS, the product's path written in):
    a package on PYTHONPATH named like the product does not replace it."""
    head = mock.run("head", "-n", "12", os.path.join(mock.root, command.lstrip("/")), check=True).stdout
    assert head.splitlines()[0] == "#!/usr/bin/python3 -IS", head
    (product,) = [line.split('"')[1] for line in head.splitlines() if line.startswith("PRODUCT = ")]
    assert mock.exists(f"{product}/zypp_plugin_klp/sim/cli.py"), product
    decoy = os.path.join(mock.root, "srv/decoy/zypp_plugin_klp")
    os.makedirs(decoy)
    with open(os.path.join(decoy, "__init__.py"), "w") as handle:
        handle.write("raise SystemExit('decoy imported')\n")
    r = mock.chroot(command, "--help", env={"PYTHONPATH": "/srv/decoy"})
    assert r.returncode == 0 and "decoy" not in r.stdout + r.stderr, r.stdout + r.stderr
