"""zypper-lifecycle against a root with real RPMs installed, product files, lifecycle data and a
zypper-refreshed repository with updates (the resolver reads zypp's cache)."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from zypp_plugin_klp.testing import packages

from conftest import FIXTURES

pytestmark = pytest.mark.needs("rpmbuild", "zypper")

# One clock for the module: the data is written relative to NOW and every run of the command is told
# NOW, so a run that crosses midnight (CI does) sees the same "today" as its fixtures.
NOW = int(time.time())
TODAY = dt.datetime.fromtimestamp(NOW, dt.timezone.utc).date()


def day(offset):
    return (TODAY + dt.timedelta(days=offset)).isoformat()


LP = "kernel-livepatch-6_1_0-26-default"
SUSE = "SUSE LLC <https://www.suse.com/>"
SLES_DATA = f"""# name, version, date[, successor]
oldtool, *, {day(-300)}
python3-legacy, 3.6*, {day(40)}
python3-legacy, 3.11*, {day(700)}
/^libfoo\\h$/, *, {day(400)}
libbar*-compat, *, , libbar<1>
zeta, *, {day(50)}
alpha, *, {day(50)}
mid, *, {day(50)}
vendorpkg, *, {day(60)}
brokenpkg, *, {day(70)}
epochpkg, 1.5*, {day(80)}
epochok, 2:1.5*, {day(90)}
"""
LP_DATA = f"""# one year per live patch stream
{LP}, *, {day(20)}
kernel-livepatch-6_1_0-2*-default, *, {day(-1)}
{LP}, *, {day(20)}
"""


def build(work, name, version, release="1", vendor=SUSE, epoch=None, requires=(), arch="noarch"):
    """A file-less package with a vendor, an epoch and requirements, built with the real rpmbuild."""
    top = os.path.join(work, f"{name}-{version}-{release}-{arch}")
    os.makedirs(top)
    spec = os.path.join(top, "p.spec")
    with open(spec, "w") as handle:
        handle.write(f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: s\n"
                     f"License: MIT\nBuildArch: {arch}\n" + (f"Vendor: {vendor}\n" if vendor else "")
                     + (f"Epoch: {epoch}\n" if epoch else "")
                     + "".join(f"Requires: {r}\n" for r in requires)
                     + "%description\nd\n%files\n")
    return packages.rpmbuild(spec, top)


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
    installed = [build(work, n, v) for n, v in (
        ("oldtool", "1.0"), ("libfoo2", "1.0"), ("libbar5-compat", "1.0"), ("bash", "5.2"),
        ("zeta", "1"), ("alpha", "1"), ("mid", "1"), ("vendorpkg", "1.0"), ("brokenpkg", "1.0"))]
    installed += [build(work, "python3-legacy", "3.6.15", vendor="SUSE"),
                  build(work, "novendor", "1.0", vendor=None),
                  build(work, "epochpkg", "1.5", epoch=2), build(work, "epochok", "1.5", epoch=2),
                  build(work, LP, "3", "1.1", arch="x86_64")]
    for rpm in installed:  # one at a time: the database keeps this order (zeta before alpha)
        packages.rpm_install(str(r), rpm)
    repo = base / "repo"
    repo.mkdir()
    for rpm in (build(work, "libbar5", "2.0"), build(work, LP, "4", "1.1", arch="x86_64"),
                build(work, "python3-legacy", "3.11.9"),           # "SUSE LLC <...>": same class
                build(work, "vendorpkg", "2.0", vendor="Other Vendor"),       # a vendor change
                build(work, "brokenpkg", "2.0", requires=["not-in-any-repo"]),  # not installable
                build(work, "brokenpkg", "1.5"),
                build(work, "novendor", "2.0", vendor=None)):  # no vendor is one vendor too
        shutil.copy(rpm, repo)
    subprocess.run(["createrepo_c", "--quiet", str(repo)], check=True)
    (r / "etc/zypp/repos.d").mkdir(parents=True)
    (r / "etc/zypp/repos.d/updates.repo").write_text(
        f"[updates]\nname=updates\nbaseurl=file://{repo}\nenabled=1\ngpgcheck=0\n")
    zypper(str(r), "refresh")
    return str(r)


def zypper(root, *args):
    """The real zypper on the test root (never the host's)."""
    env = {**os.environ, "ZYPP_LOGFILE": os.path.join(os.path.dirname(root), "zypper.log"),
           "ZYPP_LOCKFILE_ROOT": root, "LC_ALL": "C"}
    r = subprocess.run(["zypper", "--root", root, "--non-interactive", *args],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


EXE = os.path.join(os.path.dirname(sys.executable), "zypper-lifecycle")
PINNED = ("import sys; from zypp_plugin_klp.cli.lifecycle import run; "
          f"sys.exit(run(sys.argv[1:], now={NOW}))")


def lifecycle(*args, tz=None, pinned=True):
    """The command in a process of its own, told the module's NOW (or the real entry script)."""
    env = {**os.environ, **({"TZ": tz} if tz else {})}
    argv = [sys.executable, "-c", PINNED] if pinned else [EXE]
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=120)


def row(name, eol, extra=""):
    return f"{name:<40} {eol:<40} {extra}\n"


def products(heading="end of general support"):
    return ("\n" + f"Product {heading}".ljust(55) + " \n"
            + "Codestream: SUSE Linux Enterprise Server 15".ljust(55) + " 2031-07-31\n"
            + "   Product: SUSE Linux Enterprise Server 15 SP6".ljust(55) + " 2029-12-31\n"
            + "\n" + f"Module {heading}".ljust(55) + " \n"
            + "Codestream: SUSE Linux Enterprise Server 15".ljust(55) + " 2031-07-31\n"
            + "   Product: SUSE Linux Enterprise Live Patching Module 15 SP6".ljust(55) + " n/a*\n")


def test_full_report_is_golden(root):
    r = lifecycle("--root", root)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == (
        products()
        + "\nPackage end of support if different from product:\n"
        + row("libbar5-compat", "Now, installed 1.0-1, successor available libbar5-2.0-1")
        + row("novendor", "Now, installed 1.0-1, update available 2.0-1")
        + row("oldtool", "Now")
        + row(LP, f"{day(20)}, installed 3-1.1, update available 4-1.1", day(20))
        # the suffix is the last line whose name matched (3.11*), the date the line whose
        # version matched; the update's date comes from the 3.11* line
        + row("python3-legacy-3.11*", f"{day(40)}, installed 3.6.15-1, update available 3.11.9-1",
              day(700))
        + row("alpha", day(50)) + row("mid", day(50)) + row("zeta", day(50))  # equal dates: by name
        + row("vendorpkg", day(60))                 # 2.0 is another vendor's: no update
        + row("brokenpkg", f"{day(70)}, installed 1.0-1, update available 1.5-1", day(70))
        + row("epochok-2:1.5*", day(90))            # epochpkg: 1.5* does not match 2:1.5-1
        + row("libfoo2", day(400))                  # /^libfoo\h$/: Ruby's \h (a hex digit)
        + "\n*) See https://www.suse.com/lifecycle for latest information\n")


def test_the_entry_script_reads_the_real_clock_and_gives_the_same_report(root):
    """No date in the data is within a day of today, so a clock one day on changes nothing."""
    real = lifecycle("--root", root, pinned=False)
    assert (real.returncode, real.stdout) == (0, lifecycle("--root", root).stdout)


def test_updates_are_what_zypper_list_updates_lists(root):
    """The real zypper is the reference: a vendor change and an uninstallable version are no
    updates, an older installable version is; SUSE LLC and SUSE are one vendor class."""
    import xml.etree.ElementTree as ET

    listed = ET.fromstring(zypper(root, "--no-refresh", "-x", "lu"))
    theirs = {(u.get("name"), u.get("edition")) for u in listed.iter("update")}
    doc = json.loads(lifecycle("--root", root, "--json").stdout)
    ours = {(p["name"], p["update"]) for p in doc["packages"] if p["update"]}
    assert ours == theirs == {(LP, "4-1.1"), ("python3-legacy", "3.11.9-1"), ("brokenpkg", "1.5-1"),
                              ("novendor", "2.0-1")}


def test_updates_on_a_system_with_unmet_requirements_are_zypper_s_too(root, tmp_path):
    import xml.etree.ElementTree as ET

    copy = tmp_path / "root"
    shutil.copytree(root, copy, symlinks=True)
    packages.rpm_install(str(copy), build(str(tmp_path), "needy", "1", requires=["not-there"]))
    listed = ET.fromstring(zypper(str(copy), "--no-refresh", "-x", "lu"))
    theirs = {(u.get("name"), u.get("edition")) for u in listed.iter("update")}
    doc = json.loads(lifecycle("--root", str(copy), "--json").stdout)
    assert {(p["name"], p["update"]) for p in doc["packages"] if p["update"]} == theirs
    assert (LP, "4-1.1") in theirs


def test_a_stale_zypp_cache_of_the_database_is_not_trusted(root, tmp_path):
    """libsolv takes unchanged packages from zypp's @System cache, as libzypp does; packages
    installed or erased since come from the rpm database itself."""
    zypper(root, "--no-refresh", "-x", "lu")  # writes the cache
    copy = with_data(root, tmp_path, f"freshpkg, *, {day(3)}\n")
    assert os.path.isfile(copy / "var/cache/zypp/solv/@System/solv")
    packages.rpm_install(str(copy), build(str(tmp_path), "freshpkg", "1"))
    subprocess.run(packages.rpm_command(str(copy), "-e", "--nodeps", "zeta"), check=True,
                   capture_output=True)
    out = lifecycle("--root", str(copy)).stdout
    assert row("freshpkg", day(3)) in out and "zeta" not in out and row("alpha", day(50)) in out


def test_products_are_what_zypper_reads_from_the_prod_files(root):
    """Codestreams are top-level in the .prod files: zypper forwards them with --xmlfwd, as
    SUSE's tool reads them; an empty <endoflife> is time_t 0 (n/a)."""
    import xml.etree.ElementTree as ET

    from zypp_plugin_klp.core.lifecycle import NA
    from zypp_plugin_klp.services.lifecycle import installed_products

    listed = ET.fromstring(zypper(root, "--no-refresh", "-x", "pd", "--xmlfwd", "codestream"))
    theirs = {(p.get("name"), p.get("summary"), p.get("isbase") == "true",
               p.findtext("registerflavor") or "", int(p.find("endoflife").get("time_t")) or NA,
               p.findtext("xmlfwd/codestream/name").strip(),
               p.findtext("xmlfwd/codestream/endoflife").strip()) for p in listed.iter("product")}
    ours = {(p.name, p.summary, p.isbase, p.flavor, p.eol, p.codestream,
             dt.datetime.fromtimestamp(p.codestream_eol, dt.timezone.utc).date().isoformat())
            for p in installed_products(root, [])}
    assert ours == theirs and len(ours) == 2
    assert [p.name for p in installed_products(root, [])] == \
        [p.get("name") for p in listed.iter("product")]  # directory order, as zypper's


def test_a_product_due_only_by_its_codestream_is_listed(root):
    r = lifecycle("--root", root, "--date", "2031-08-01")  # the module's own end is n/a
    assert r.stdout.startswith(products("end of general support before 2031-08-01"))
    r = lifecycle("--root", root, "--date", "2030-01-01")  # only SLES itself (2029-12-31)
    assert "Live Patching Module" not in r.stdout
    assert "   Product: SUSE Linux Enterprise Server 15 SP6".ljust(55) + " 2029-12-31\n" in r.stdout


def test_product_without_summary_has_an_empty_name(root, tmp_path):
    bare = tmp_path / "root"
    shutil.copytree(root, bare, symlinks=True)
    prod = bare / "etc/products.d/sle-module-live-patching.prod"
    prod.write_text(prod.read_text().replace(
        "<summary>SUSE Linux Enterprise Live Patching Module 15 SP6</summary>", ""))
    assert "   Product: ".ljust(55) + " n/a*\n" in lifecycle("--root", str(bare)).stdout


def test_epoch_matches_only_the_full_edition(root):
    r = lifecycle("--root", root, "epochpkg", "epochok")
    assert r.stdout.startswith("\nPackage end of support:\n" + row("epochpkg-1.5*", "-")
                               + row("epochok-2:1.5*", day(90)))


def test_verbose_switches_and_missing_files_with_the_system_error(root):
    r = lifecycle("--root", root, "-v", "bash")
    assert f"trying to load {root}/var/lib/lifecycle/data/SLES.lifecycle... No such file or " \
        "directory\n" in r.stdout
    assert f"trying to load {root}/usr/share/lifecycle/data/SLES.lifecycle... ok\n" in r.stdout
    quiet = lifecycle("--root", root, "-v", "--no-verbose", "bash")
    assert quiet.returncode == 0 and "trying to load" not in quiet.stdout


def test_days_with_package_names_is_the_deadline_report(root):
    r = lifecycle("--root", root, "--days", "30", "bash", "epochok")
    assert r.stdout == lifecycle("--root", root, "--days", "30").stdout
    assert f"Package end of support before {day(30)}:\n" in r.stdout and "epochok" not in r.stdout


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
    assert lines[0].endswith("SLES.lifecycle:14: expected 'name, version, date[, successor]', got 1 fields")
    assert lines[1].endswith("SLES.lifecycle:15: invalid date '2027-13-01' (expected YYYY-MM-DD)")
    assert "SLES.lifecycle:16: invalid regular expression" in lines[2]
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


# Attacks through the data and the options (issue 15, finding 9): each would hang or crash the
# unfixed command; the subprocess timeout only stops a hang, the assertions check the effect.

def with_data(root, tmp_path, extra):
    copy = tmp_path / "root"
    shutil.copytree(root, copy, symlinks=True)
    data = copy / "usr/share/lifecycle/data/SLES.lifecycle"
    data.write_text(SLES_DATA + extra)
    return copy


def test_a_catastrophic_regexp_is_stopped_and_reported(root, tmp_path):
    copy = with_data(root, tmp_path, f"/(a+)+$/, *, {day(5)}\nbash, *, {day(6)}\n")
    victim = "a" * 40 + "b"  # 2^40 backtracking steps for (a+)+$
    packages.rpm_install(str(copy), build(str(tmp_path), victim, "1"))
    r = lifecycle("--root", str(copy))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.endswith("SLES.lifecycle:14: regular expression too slow, line skipped\n")
    assert row("bash", day(6)) in r.stdout and victim not in r.stdout


def test_the_regexp_budget_also_guards_klp_status_lookups(root, tmp_path):
    """klp -v status and -vv patches read the same data through package_eol."""
    copy = with_data(root, tmp_path, f"/(a+)+$/, *, {day(5)}\nbash, *, {day(7)}\n")
    code = ("import sys; from zypp_plugin_klp.services.lifecycle import package_eol as e; "
            "print(e(sys.argv[1], 'a' * 40 + 'b', '1-1', 'noarch'), e(sys.argv[1], 'bash', '5.2-1', "
            "'noarch'))")
    r = subprocess.run([sys.executable, "-c", code, str(copy)], capture_output=True, text=True,
                       timeout=120)
    eol = int(dt.datetime.fromisoformat(day(7)).replace(tzinfo=dt.timezone.utc).timestamp())
    assert r.stdout == f"None {eol}\n", r.stderr


def test_deep_regexps_and_huge_days_are_clear_errors(root, tmp_path):
    deep = "(" * 2000 + "a" + ")" * 2000
    copy = with_data(root, tmp_path, f"/{deep}/, *, {day(5)}\n/{'(' * 400}a{')' * 400}/, *, "
                                     f"{day(5)}\n")
    r = lifecycle("--root", str(copy))
    assert r.returncode == 2 and "Traceback" not in r.stderr and row("oldtool", "Now") in r.stdout
    assert "SLES.lifecycle:14: regular expression longer than 1000 characters\n" in r.stderr
    huge = lifecycle("--root", root, "--days", "1000000000000")
    assert huge.returncode == 2 and "Traceback" not in huge.stderr
    assert "argument --days: 1000000000000 is out of range" in huge.stderr


def test_fifos_as_product_data_or_saved_report_do_not_hang(root, tmp_path):
    copy = tmp_path / "root"
    shutil.copytree(root, copy, symlinks=True)
    os.remove(copy / "etc/products.d/sle-module-live-patching.prod")
    os.mkfifo(copy / "etc/products.d/sle-module-live-patching.prod")
    os.makedirs(copy / "var/lib/lifecycle/data")
    os.mkfifo(copy / "var/lib/lifecycle/data/SLES.lifecycle")
    r = lifecycle("--root", str(copy))
    assert r.returncode == 2
    assert f"{copy}/etc/products.d/sle-module-live-patching.prod: not a regular file\n" in r.stderr
    assert f"{copy}/var/lib/lifecycle/data/SLES.lifecycle: not a regular file, skipped\n" in r.stderr
    assert row("oldtool", "Now") in r.stdout  # the rest is still reported
    os.mkfifo(tmp_path / "saved")
    r = lifecycle("--root", root, "--diff", str(tmp_path / "saved"))
    assert r.returncode == 2 and r.stderr == f"zypper lifecycle: {tmp_path}/saved: not a regular file\n"


# --save and another user's symlink (issue 15, finding 10).

@pytest.mark.needs("root")  # to plant a symlink owned by another user
def test_save_refuses_a_symlink_another_user_planted(root, tmp_path):
    shared = tmp_path / "tmp"            # like /tmp: world-writable and sticky
    shared.mkdir(mode=0o1777)
    os.chmod(shared, 0o1777)
    target = tmp_path / "etc"            # a directory only root may write
    target.mkdir(mode=0o755)
    os.symlink(target, shared / "reports")
    os.lchown(shared / "reports", 65534, 65534)  # planted by nobody
    r = lifecycle("--root", root, "--save", str(shared / "reports/lifecycle.xml"))
    assert r.returncode == 2 and not os.path.exists(target / "lifecycle.xml")
    assert r.stderr == (f"zypper lifecycle: --save: cannot write {shared}/reports/lifecycle.xml: "
                        "reports is a symlink owned by uid 65534, not by you or root\n")
    os.symlink(target, shared / "mine")  # the caller's own symlink is followed, as users expect
    assert lifecycle("--root", root, "--save", str(shared / "mine/lifecycle.xml")).returncode == 0
    assert (target / "lifecycle.xml").read_text().startswith("<report date=")


# The manual page.

def test_the_man_page_documents_every_option_and_the_differences():
    with open(os.path.join(os.path.dirname(FIXTURES), "man/zypper-lifecycle.8")) as handle:
        page = handle.read().replace("\\-", "-")
    assert ".SH DIFFERENCES FROM SUSE'S ZYPPER-LIFECYCLE" in page
    helptext = lifecycle("--help").stdout
    for option in ("--days", "--date", "--save", "--diff", "--root", "--json", "--verbose",
                   "--no-verbose"):
        assert option in helptext and option in page
    for deviation in ("file", "YYYY-MM-DD", "usage errors", "quoted after a space", "rb_sysopen"):
        assert deviation in page


def test_an_empty_database_directory_stays_empty_with_repositories(tmp_path):
    """libsolv reads the database through librpm, which would create one where none is."""
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    (tmp_path / "etc/zypp/repos.d").mkdir(parents=True)
    (tmp_path / "etc/zypp/repos.d/x.repo").write_text("[x]\nname=x\nbaseurl=file:///nowhere\n")
    r = lifecycle("--root", str(tmp_path))
    assert r.returncode == 1 and "No packages with end of support" in r.stdout
    assert os.listdir(tmp_path / "var/lib/rpm") == []
