"""rpmlint, the packaging linter SUSE's build service runs, over every RPM our specs build, with
settings close to openSUSE's (tests/rpm/rpmlint-opensuse.toml) and each spec's rpmlintrc:
no errors (and so no badness over openSUSE's threshold)."""

import os
import re
import subprocess
import sys
import sysconfig

import pytest

from conftest import REPO, VERMAGIC

pytestmark = pytest.mark.needs("rpmbuild", "rpmlint")

RELEASE = "6.1.0-26-default"
CONFIG = os.path.join(REPO, "tests", "rpm", "rpmlint-opensuse.toml")
SPECS = os.path.join(REPO, "specfiles")


def built_rpms(work: str) -> dict:
    """spec name -> the binary RPMs it builds (the product as SUSE's build would lay it out)."""
    sys.path.insert(0, os.path.join(REPO, "fixtures"))
    import kobuild

    from zypp_plugin_klp.testing import packages
    from zypp_plugin_klp.testing.plugin import macros_path, template_path

    # SUSE's %python3_sitelib (/usr/lib/python3.X/site-packages), not Debian's /usr/local scheme
    sitelib = sysconfig.get_path("purelib", "posix_prefix", vars={"base": "/usr"})
    subprocess.run(["make", "--no-print-directory", "-C", REPO, "rpm", f"RPMTOP={work}/product",
                    f"PYTHON3_SITELIB={sitelib}"], check=True, capture_output=True)
    noarch = os.path.join(work, "product", "RPMS", "noarch")
    ko = kobuild.write_module(os.path.join(work, "lp.ko"), "livepatch_1_1_1", vermagic=VERMAGIC,
                              functions=["livepatch_cmdline_proc_show"])
    return {
        "zypp-plugin-klp": sorted(os.path.join(noarch, f) for f in os.listdir(noarch)),
        "kernel-livepatch": [packages.build_from_template(work, str(ko), RELEASE, "1",
                                                          "- Fix CVE-2024-1086 (bsc#1219434)",
                                                          template_path(), macros_path())],
        "patterns-lp": [packages.rpmbuild(os.path.join(SPECS, "patterns-lp.spec"), f"{work}/pattern")],
        "kernel-default-livepatch": [packages.rpmbuild(
            os.path.join(SPECS, "kernel-default-livepatch.spec"), f"{work}/meta",
            "--define", f"klp_kernel_release {RELEASE}")],
        "lifecycle-data-sle-module-live-patching": [packages.rpmbuild(
            os.path.join(SPECS, "lifecycle-data-sle-module-live-patching.spec"), f"{work}/lifecycle",
            "--define", f"_sourcedir {SPECS}")],
    }


def rpmlint(home: str, rpms: list, rpmlintrc: str = "") -> subprocess.CompletedProcess:
    """rpmlint with our configuration, run from / (it reads any *rpmlintrc in its working
    directory) with HOME=``home``: it opens the default rpm database, which Debian's rpm keeps in
    ~/.rpmdb, and reads the user's rpmlint configuration from there."""
    extra = ["-r", rpmlintrc] if rpmlintrc else []
    return subprocess.run(["rpmlint", "-c", CONFIG, *extra, *rpms], capture_output=True, text=True,
                          cwd="/", env={**os.environ, "HOME": home})


def test_every_rpm_our_specs_build_passes_rpmlint(tmp_path):
    rpms = built_rpms(str(tmp_path))
    assert len(rpms["zypp-plugin-klp"]) == 4  # the product and its subpackages
    for spec, files in rpms.items():
        rpmlintrc = os.path.join(SPECS, f"{spec}-rpmlintrc")
        r = rpmlint(str(tmp_path), files, rpmlintrc if os.path.exists(rpmlintrc) else "")
        summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr
        assert r.returncode == 0 and re.search(r"\b0 errors\b", summary), \
            f"{spec}:\n{r.stdout}{r.stderr}"
        assert f"{len(files)} packages" in summary, summary


def test_rpmlint_fails_an_rpm_with_an_error(tmp_path):
    """The check can fail: a spec whose file list puts a file under /usr/local (openSUSE forbids
    it) gets an error and a non-zero exit with the same configuration."""
    spec = tmp_path / "bad.spec"
    spec.write_text("Name: bad\nVersion: 1\nRelease: 0\nSummary: Bad\nLicense: MIT\nBuildArch: noarch\n"
                    "%description\nBad.\n%install\nmkdir -p %{buildroot}/usr/local/share\n"
                    "echo x > %{buildroot}/usr/local/share/bad\n%files\n/usr/local/share/bad\n")
    from zypp_plugin_klp.testing import packages

    r = rpmlint(str(tmp_path), [packages.rpmbuild(str(spec), str(tmp_path / "top"))])
    assert r.returncode != 0 and "E: dir-or-file-in-usr-local /usr/local/share/bad" in r.stdout, \
        r.stdout + r.stderr

