"""zypper-lifecycle against a root with real RPMs installed, product files, lifecycle data and a
zypper-refreshed repository with updates (the resolver reads zypp's cache)."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys

import pytest

from zypp_plugin_klp.testing import packages

from conftest import FIXTURES, HAS_RPMBUILD

pytestmark = pytest.mark.skipif(not HAS_RPMBUILD or shutil.which("zypper") is None,
                                reason="rpm, rpmbuild and zypper are needed (make test installs them)")

TODAY = dt.datetime.now(dt.timezone.utc).date()


def day(offset):
    return (TODAY + dt.timedelta(days=offset)).isoformat()


LP = "kernel-livepatch-6_1_0-26-default"
SLES_DATA = f"""# name, version, date[, successor]
oldtool, *, {day(-300)}
python3-legacy, 3.6*, {day(40)}
/^libfoo[0-9]+$/, *, {day(400)}
libbar*-compat, *, , libbar<1>
"""
LP_DATA = f"""# one year per live patch stream
{LP}, *, {day(20)}
kernel-livepatch-6_1_0-2*-default, *, {day(-1)}
{LP}, *, {day(20)}
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("lifecycle")
    r = base / "root"
    (r / "etc/products.d").mkdir(parents=True)
    for name in ("SLES.prod", "sle-module-live-patching.prod"):
        shutil.copy(os.path.join(FIXTURES, "lifecycle/products.d", name), r / "etc/products.d")
    os.symlink("SLES.prod", r / "etc/products.d/baseproduct")
    data = r / "usr/share/lifecycle/data"
    data.mkdir(parents=True)
    (data / "SLES.lifecycle").write_text(SLES_DATA)
    (data / "sle-module-live-patching.lifecycle").write_text(LP_DATA)
    work = str(base / "rpms")
    os.makedirs(work)
    build = packages.build_plain_rpm
    for name, version in (("oldtool", "1.0"), ("python3-legacy", "3.6.15"), ("libfoo2", "1.0"),
                          ("libbar5-compat", "1.0"), ("bash", "5.2")):
        packages.rpm_install(str(r), build(work, name, version))
    packages.rpm_install(str(r), build(work, LP, "3", "1.1", arch="x86_64"))
    repo = base / "repo"
    repo.mkdir()
    for rpm in (build(work, "libbar5", "2.0"), build(work, LP, "4", "1.1", arch="x86_64"),
                build(work, "python3-legacy", "3.11.9")):
        shutil.copy(rpm, repo)
    subprocess.run(["createrepo_c", "--quiet", str(repo)], check=True)
    (r / "etc/zypp/repos.d").mkdir(parents=True)
    (r / "etc/zypp/repos.d/updates.repo").write_text(
        f"[updates]\nname=updates\nbaseurl=file://{repo}\nenabled=1\ngpgcheck=0\n")
    env = {**os.environ, "ZYPP_LOGFILE": str(base / "zypper.log"), "ZYPP_LOCKFILE_ROOT": str(r)}
    subprocess.run(["zypper", "--root", str(r), "--non-interactive", "--quiet", "refresh"],
                   check=True, env=env, capture_output=True)
    return str(r)


def lifecycle(*args, tz=None):
    exe = os.path.join(os.path.dirname(sys.executable), "zypper-lifecycle")
    env = {**os.environ, **({"TZ": tz} if tz else {})}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=120)


def row(name, eol, extra=""):
    return f"{name:<40} {eol:<40} {extra}\n"


def test_full_report_is_golden(root):
    r = lifecycle("--root", root)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == (
        "\n" + "Product end of general support".ljust(55) + " \n"
        + "SUSE Linux Enterprise Server 15 SP6".ljust(55) + " 2031-07-31\n"
        + "\n" + "Module end of general support".ljust(55) + " \n"
        + "SUSE Linux Enterprise Live Patching Module 15 SP6".ljust(55) + " n/a*\n"
        + "\nPackage end of support if different from product:\n"
        + row("oldtool", "Now")
        + row("libbar5-compat", "Now, installed 1.0-1, successor available libbar5-2.0-1")
        + row(LP, f"{day(20)}, installed 3-1.1, update available 4-1.1", day(20))
        + row("python3-legacy-3.6*", f"{day(40)}, installed 3.6.15-1, update available 3.11.9-1")
        + row("libfoo2", day(400))
        + "\n*) See https://www.suse.com/lifecycle for latest information\n")


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "America/Adak", "UTC"])
def test_same_dates_in_every_time_zone(root, tz):
    assert lifecycle("--root", root, tz=tz).stdout == lifecycle("--root", root, tz="UTC").stdout
    assert lifecycle("--root", root, "--days", "30", tz=tz).stdout == \
        lifecycle("--root", root, "--days", "30", tz="UTC").stdout


def test_days_and_date_filters(root):
    r = lifecycle("--root", root, "--days", "30")
    assert r.returncode == 0
    assert f"Package end of support before {day(30)}:\n" in r.stdout
    assert "No products whose support ends before" in r.stdout
    assert "python3-legacy" not in r.stdout and "libfoo2" not in r.stdout
    assert row(LP, f"{day(20)}, installed 3-1.1, update available 4-1.1", day(20)) in r.stdout
    far = lifecycle("--root", root, "--date", "2032-01-01").stdout
    assert "Product end of general support before 2032-01-01" in far and "libfoo2" in far
    bad = lifecycle("--root", root, "--date", "2032-02-30")
    assert bad.returncode == 2 and "invalid date '2032-02-30'" in bad.stderr


def test_packages_query(root):
    r = lifecycle("--root", root, LP, "bash")
    assert r.returncode == 0
    assert r.stdout.startswith("\nPackage end of support:\n" +
                               row(LP, f"{day(20)}, installed 3-1.1, update available 4-1.1", day(20)) +
                               row("bash", "-"))
    r = lifecycle("--root", root, "not-installed")
    assert r.returncode == 1 and "not-installed is not installed\n" in r.stdout


def test_save_then_diff_reports_only_changes(root, tmp_path):
    saved = tmp_path / "report.xml"
    assert lifecycle("--root", root, "--save", str(saved)).returncode == 0
    assert saved.read_text().startswith("<report date=")
    r = lifecycle("--root", root, "--diff", str(saved))
    assert r.returncode == 1  # nothing changed: an empty report
    assert r.stdout.startswith("Reporting changes since ")
    assert "No products changed since" in r.stdout
    assert "No packages with end of support different from product changed since" in r.stdout


def test_json(root):
    doc = json.loads(lifecycle("--root", root, "--json").stdout)
    assert doc["schema"] == "zypper-lifecycle/1" and doc["errors"] == []
    lp = next(p for p in doc["packages"] if p["name"] == LP)
    assert (lp["eol"], lp["update"], lp["update_eol"]) == (day(20), "4-1.1", day(20))
    old = next(p for p in doc["packages"] if p["name"] == "oldtool")
    assert old["eol"] == "now"


def test_malformed_data_is_reported_and_the_rest_printed(root, tmp_path):
    bad = tmp_path / "root"
    shutil.copytree(root, bad, symlinks=True)
    data = bad / "usr/share/lifecycle/data/SLES.lifecycle"
    data.write_text(SLES_DATA + "broken line without fields\nx, *, 2027-13-01\n/([/, *, 2027-01-01\n")
    r = lifecycle("--root", str(bad))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0].endswith("SLES.lifecycle:6: expected 'name, version, date[, successor]', got 1 fields")
    assert lines[1].endswith("SLES.lifecycle:7: invalid date '2027-13-01' (expected YYYY-MM-DD)")
    assert "SLES.lifecycle:8: invalid regular expression" in lines[2]
    assert "Traceback" not in r.stderr and row("oldtool", "Now") in r.stdout


def test_no_rpm_database_and_empty_report(tmp_path):
    r = lifecycle("--root", str(tmp_path))
    assert r.returncode == 2 and r.stderr.startswith("zypper lifecycle: ") and "Traceback" not in r.stderr
    empty = tmp_path / "empty"
    packages.rpm_install(str(empty), packages.build_plain_rpm(str(tmp_path), "bash", "5.2"))
    r = lifecycle("--root", str(empty))
    assert r.returncode == 1
    assert r.stdout == "\nNo products.\n\nNo packages with end of support different from product.\n\n"


def test_usage_errors_exit_2():
    r = lifecycle("--days", "many")
    assert r.returncode == 2 and "invalid int value" in r.stderr
    assert lifecycle("--days", "3", "--date", "2027-01-01").returncode == 2
