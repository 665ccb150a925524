"""check_klp from the outside: exit codes, the one status line with performance data, and the
Monitoring Plugins' own ``negate`` wrapping it as Nagios/Icinga would."""

import os
import re
import subprocess
import sys

import pytest

from monitoring_tools import NEGATE, need

CHECK = os.path.join(os.path.dirname(sys.executable), "check_klp")


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


@pytest.fixture
def held(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    return sim


def test_ok_on_a_ready_system(sim):
    r = run(CHECK, "--root", sim.root)
    assert (r.returncode, r.stdout, r.stderr) == (
        0, "KLP OK - no live patch active | transition_age=0s;300;1800;0; blocking_tasks=0;;;0; "
           "active_patches=0;;;0;\n", "")


def test_a_transition_seen_for_the_first_time_starts_its_clock(held):
    r = run(CHECK, "--root", held.root)
    assert r.returncode == 0 and re.match(
        r"KLP OK - transition of livepatch_1_1_1 in progress for [0-5]s, 1 blocking tasks \| ", r.stdout)
    assert open(os.path.join(held.root, "run/klp/transition-seen")).read().startswith(
        "klp-transition-seen/1 livepatch_1_1_1 1 ")
    r = run(CHECK, "--root", held.root, "-w", "@0:1000000", "-c", ",")  # warn at any age
    assert r.returncode == 1 and r.stdout.startswith("KLP WARNING - transition of livepatch_1_1_1")


@pytest.mark.parametrize("args, message", [
    (["-w"], "KLP UNKNOWN - -w needs a value"),
    (["-w", "x"], "KLP UNKNOWN - invalid threshold 'x' (expected [@]start:end)"),
    (["-c", "10,20:,3"], "KLP UNKNOWN - too many thresholds in '10,20:,3' (expected AGE,DAYS)"),
    (["-t", "0"], "KLP UNKNOWN - -t needs a whole number of seconds, not '0'"),
    (["--frobnicate"], "KLP UNKNOWN - unknown argument '--frobnicate'"),
])
def test_bad_arguments_are_unknown(sim, args, message):
    r = run(CHECK, "--root", sim.root, *args)
    assert r.returncode == 3 and r.stdout.splitlines()[0] == message and r.stderr == ""


def test_help_and_version():
    r = run(CHECK, "--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage: check_klp ")
    assert "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN" in r.stdout
    r = run(CHECK, "-V")
    assert (r.returncode, r.stdout) == (0, "check_klp (zypp-plugin-klp) 0.1.0\n")


def test_no_livepatch_in_the_kernel_is_unknown(tmp_path):
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/osrelease").write_text("6.1.0-26-default\n")
    r = run(CHECK, "--root", str(tmp_path))
    assert (r.returncode, r.stdout) == (
        3, "KLP UNKNOWN - the running kernel has no live patching (/sys/kernel/livepatch)\n")


def test_negate_from_monitoring_plugins_reads_our_states(held):
    """negate runs the plugin, maps its state by exit code and substitutes the state word in our
    status line: it only works if the line follows the plugin conventions."""
    negate = need(NEGATE, "monitoring-plugins-basic")
    r = run(negate, "-o", "CRITICAL", "-s", CHECK, "--root", held.root)
    assert r.returncode == 2
    assert r.stdout.startswith("KLP CRITICAL - transition of livepatch_1_1_1 in progress for ")
    r = run(negate, "-w", "OK", "-s", CHECK, "--root", held.root, "-w", "@0:1000000")
    assert r.returncode == 0 and r.stdout.startswith("KLP OK - transition of livepatch_1_1_1")
