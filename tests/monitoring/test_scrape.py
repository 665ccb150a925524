"""klp's series as Prometheus sees them: the real node_exporter scrapes the textfile that the
hooks, ``klp metrics --refresh`` (the timer) and ``klp metrics --textfile`` write, through a
transition, its completion, the stream's expiry and the package's removal on the simulated
kernel; check_klp judges the same states."""

import datetime as dt
import os
import shutil
import subprocess
import sys
import time

import pytest

from node_exporter import NodeExporter
from monitoring_tools import NODE_EXPORTER, need

from conftest import FIXTURES, RELEASE, build_livepatch_rpm, rpm_install, run_klp

pytestmark = pytest.mark.needs("rpmbuild")

PKG = "kernel-livepatch-6_1_0-26-default"
TEXTFILE_DIR = "var/lib/node_exporter/textfile_collector"
MOD = "livepatch_1_1_1"


def midnight(days_from_today: int) -> tuple:
    day = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=days_from_today)
    return day.isoformat(), int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())


def set_expiry(root: str, date: str) -> None:
    data = os.path.join(root, "usr/share/lifecycle/data")
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, "sle-module-live-patching.lifecycle"), "w") as handle:
        handle.write(f"{PKG}, *, {date}\n")


@pytest.fixture
def server(sim, tmp_path):
    """A simulated server set up for the textfile collector, and node_exporter watching it."""
    root = sim.root
    os.makedirs(os.path.join(root, "etc/sysconfig"))
    with open(os.path.join(root, "etc/sysconfig/livepatching"), "w") as handle:
        handle.write(f'LIVEPATCH_KERNEL="always"\nLIVEPATCH_METRICS_DIR="/{TEXTFILE_DIR}"\n')
    with open(os.path.join(root, "etc/sysconfig/bootloader"), "w") as handle:
        handle.write("INITRD_GENERATOR=/bin/true\n")
    os.makedirs(os.path.join(root, "lib/modules", RELEASE))
    os.makedirs(os.path.join(root, TEXTFILE_DIR))
    products = os.path.join(root, "etc/products.d")
    os.makedirs(products)
    for name in ("SLES.prod", "sle-module-live-patching.prod"):
        shutil.copy(os.path.join(FIXTURES, "lifecycle/products.d", name), products)
    exporter = NodeExporter(need(NODE_EXPORTER, "prometheus-node-exporter"),
                            os.path.join(root, TEXTFILE_DIR), str(tmp_path / "node_exporter.log"))
    exporter.start()
    try:
        yield sim, exporter
    finally:
        exporter.stop()


def hook(root: str, *args: str) -> subprocess.CompletedProcess:
    """The scriptlet entry, as klp-hook runs it."""
    r = subprocess.run([sys.executable, "-m", "zypp_plugin_klp.hooks", *args, "--root", root],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "KLP_WAIT": "0.2"})
    assert r.returncode == 0, r.stderr
    assert "metrics not refreshed" not in r.stderr
    return r


def check(root: str, *args: str) -> tuple:
    exe = os.path.join(os.path.dirname(sys.executable), "check_klp")
    r = subprocess.run([exe, "--root", root, *args], capture_output=True, text=True, timeout=60)
    assert r.stderr == "" and r.stdout.count("\n") == 1
    return r.returncode, r.stdout.rstrip("\n")


def info(module: str, package: str = PKG, version: str = "1-1.1") -> str:
    return (f'klp_patch_info{{kernel_release="{RELEASE}",module="{module}",package="{package}",'
            f'version="{version}"}}')


NOT_LOADED = f'klp_installed_not_loaded{{package="{PKG}",version="1-1.1"}}'
EXPIRY = f'klp_stream_expiry_timestamp_seconds{{package="{PKG}"}}'
STARTED = f'klp_transition_started_timestamp_seconds{{direction="patch",module="{MOD}"}}'
REMOVED = 'klp_reboot_needed{reason="livepatch_removed"}'
ZYPP = 'klp_reboot_needed{reason="zypp"}'


def test_transition_completion_expiry_and_removal_as_scraped(server, tmp_path, build_ko):
    sim, exporter = server
    root = sim.root
    textfile = os.path.join(root, TEXTFILE_DIR, "klp.prom")

    # Nothing installed yet: the timer's refresh writes the file; node_exporter serves it.
    assert run_klp("--root", root, "metrics", "--refresh").returncode == 0
    got = exporter.scrape()
    assert got == {'klp_build_info{version="0.1.0"}': 1, "klp_livepatch_supported": 1,
                   "klp_transition_in_progress": 0, "klp_blocking_tasks": 0, REMOVED: 0, ZYPP: 0}
    assert exporter.scrape("node_textfile_scrape_error") == {"node_textfile_scrape_error": 0}

    # Install live patch 1 (expiring in 10 days); %posttrans loads it and memdb holds the
    # transition: the hook itself refreshes the file.
    date, eol = midnight(10)
    set_expiry(root, date)
    rpm_install(root, build_livepatch_rpm(tmp_path, build_ko(MOD), "1", "1.1"))
    before = int(time.time())
    assert "transition is still in progress" in hook(root, "posttrans", PKG, "1-1.1").stderr
    after = int(time.time())
    got = exporter.scrape()
    assert got["klp_transition_in_progress"] == 1 and got["klp_blocking_tasks"] == 1
    assert before <= got[STARTED] <= after
    assert got[info(MOD)] == 1 and got[NOT_LOADED] == 0 and got[EXPIRY] == eol
    assert before <= got["klp_last_load_success_timestamp_seconds"] <= after + 1
    assert got["klp_last_load_failed"] == 0
    state, line = check(root)
    left = (eol - int(time.time())) // 86400  # whole days left: 9 unless midnight has passed since
    assert state == 1 and line.startswith(
        f"KLP WARNING - transition of {MOD} in progress for ") and "1 blocking tasks" in line
    assert f"stream {PKG} expires in {left} days" in line and f"expiry_days={left};30:;7:;;" in line

    # The transition stays stuck: first seen an hour ago (as the timer would have recorded it).
    with open(os.path.join(root, "run/klp/transition-seen"), "w") as handle:
        handle.write(f"klp-transition-seen/1 {MOD} 1 {before - 3600}\n")
    state, line = check(root)
    assert state == 2 and f"transition of {MOD} in progress for 36" in line
    assert run_klp("--root", root, "metrics", "--refresh").returncode == 0
    assert exporter.scrape()[STARTED] == before - 3600

    # The stats thread returns: the transition completes; the timer's next refresh shows it.
    sim.release()
    assert run_klp("--root", root, "metrics", "--refresh").returncode == 0
    got = exporter.scrape()
    assert got["klp_transition_in_progress"] == 0 and got["klp_blocking_tasks"] == 0
    assert STARTED not in got and got[info(MOD)] == 1 and got[NOT_LOADED] == 0
    assert not os.path.exists(os.path.join(root, "run/klp/transition-seen"))

    # The lifecycle data changes (the stream ended yesterday): the cached facts notice.
    date, eol = midnight(-1)
    set_expiry(root, date)
    assert run_klp("--root", root, "metrics", "--refresh").returncode == 0
    assert exporter.scrape()[EXPIRY] == eol < time.time()
    state, line = check(root)
    assert state == 2 and line.startswith(f"KLP CRITICAL - {MOD} active; stream {PKG} expired |")

    # The package is removed: the kernel keeps the patch (no package owns it now), a reboot is due.
    # rpm runs %postun before it drops the package from its database: the hook leaves it out.
    mtime = os.stat(textfile).st_mtime_ns
    hook(root, "postun", PKG, "1-1.1", "0")
    assert os.stat(textfile).st_mtime_ns != mtime
    removed_in_postun = exporter.scrape()
    subprocess.run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-e", "--nodeps",
                    "--noscripts", PKG], check=True, capture_output=True)
    assert run_klp("--root", root, "metrics", "--refresh").returncode == 0
    got = exporter.scrape()
    assert got == removed_in_postun
    assert got[REMOVED] == 1 and got[ZYPP] == 1
    assert got[info(MOD, "", "")] == 1 and NOT_LOADED not in got and EXPIRY not in got
    state, line = check(root)
    assert state == 1 and "reboot needed (a live patch was removed, zypp flagged one)" in line

    # node_exporter never saw a half-written file, and nothing else is left in its directory.
    assert os.listdir(os.path.join(root, TEXTFILE_DIR)) == ["klp.prom"]
    assert exporter.scrape("node_textfile_scrape_error") == {"node_textfile_scrape_error": 0}


def test_textfile_option_writes_atomically_into_a_given_directory(sim, tmp_path):
    out = tmp_path / "collector"
    out.mkdir()
    (out / "other.prom").write_text("other_metric 1\n")
    r = run_klp("--root", sim.root, "metrics", "--textfile", str(out))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert sorted(os.listdir(out)) == ["klp.prom", "other.prom"]
    assert (out / "klp.prom").read_text() == run_klp("--root", sim.root, "metrics").stdout
    # a symlink planted at the file is replaced, not written through
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.unlink(out / "klp.prom")
    os.symlink(victim, out / "klp.prom")
    assert run_klp("--root", sim.root, "metrics", "--textfile", str(out)).returncode == 0
    assert victim.read_text() == "precious" and not os.path.islink(out / "klp.prom")


def test_bad_textfile_directory_is_one_line_and_exit_1(sim, tmp_path):
    r = run_klp("--root", sim.root, "metrics", "--textfile", str(tmp_path / "missing"))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == f"klp: textfile directory {tmp_path / 'missing'}: no such directory\n"
    r = run_klp("--root", sim.root, "metrics", "--textfile", str(tmp_path), "--refresh")
    assert (r.returncode, r.stderr) == (2, "klp: --textfile and --refresh exclude each other\n")


def test_refresh_without_a_configured_directory_does_nothing(sim):
    r = run_klp("--root", sim.root, "metrics", "--refresh")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_a_symlinked_textfile_directory_is_refused_and_the_hook_still_succeeds(server, tmp_path):
    """Root never writes through a symlink under /var: the refresh fails with one line, and a
    scriptlet only warns."""
    sim, _exporter = server
    root = sim.root
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.rmdir(os.path.join(root, TEXTFILE_DIR))
    os.symlink(elsewhere, os.path.join(root, TEXTFILE_DIR))
    r = run_klp("--root", root, "metrics", "--refresh")
    assert r.returncode == 1 and r.stderr.startswith("klp: cannot write ") and r.stderr.count("\n") == 1
    r = subprocess.run([sys.executable, "-m", "zypp_plugin_klp.hooks", "postun", PKG, "1-1.1", "0",
                        "--root", root], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "klp: warning: live patching metrics not refreshed: cannot write" in r.stderr
    assert os.listdir(elsewhere) == []
