"""The shipped alert rules, unit-tested with the real 'promtool test rules'; and the exposition
text checked by promtool's own parser and linter."""

import os
import subprocess

from monitoring_tools import PROMTOOL, need

from conftest import REPO
from zypp_plugin_klp.core import metrics as m
from zypp_plugin_klp.core.exposition import render

RULES = os.path.join(REPO, "specfiles", "klp-alerts.yml")
CASES = os.path.join(REPO, "tests", "monitoring", "klp-alerts.test.yml")


def test_rules_are_valid():
    r = subprocess.run([need(PROMTOOL, "prometheus"), "check", "rules", RULES],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS: 7 rules found" in r.stdout, r.stdout + r.stderr


def test_rules_unit_tests_pass():
    r = subprocess.run([need(PROMTOOL, "prometheus"), "test", "rules", CASES],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def test_rules_unit_tests_catch_a_wrong_threshold(tmp_path):
    """The cases are strong enough to notice a rule that alerts ten times too late."""
    rules = open(RULES).read().replace("> 600\n", "> 6000\n", 1)
    assert rules != open(RULES).read()
    os.makedirs(tmp_path / "specfiles")
    os.makedirs(tmp_path / "tests" / "monitoring")
    (tmp_path / "specfiles" / "klp-alerts.yml").write_text(rules)
    (tmp_path / "tests" / "monitoring" / "klp-alerts.test.yml").write_text(open(CASES).read())
    r = subprocess.run([PROMTOOL or need(PROMTOOL, "prometheus"), "test", "rules",
                        str(tmp_path / "tests" / "monitoring" / "klp-alerts.test.yml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "KlpTransitionStuck" in r.stdout + r.stderr


def _every_series() -> str:
    lp = m.InstalledPatch("kernel-livepatch-6_1_0-26-default", "10-1.1", "x86_64", "livepatch_10_1_1")
    facts = m.Facts([lp], expiry=1798761600, livepatch_removed=True,
                    last_load=("in_progress", "livepatch_10_1_1", 1764063689))
    obs = m.Observation("0.1.0", True, "6.1.0-26-default", ["livepatch_10_1_1"],
                        ("livepatch_10_1_1", 1), 1764063600, 2, facts, True)
    return render(m.families(obs))


def test_exposition_passes_promtool_check_metrics():
    text = _every_series()
    for family in m.families(m.Observation("0", True, "")):
        assert f"# TYPE {family.name} gauge\n" in text  # every family appears in this sample
    r = subprocess.run([need(PROMTOOL, "prometheus"), "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_promtool_check_metrics_rejects_broken_text():
    """The check above is a real parser: a broken escape fails it."""
    text = _every_series().replace('version="0.1.0"', 'version="0.1.0\n"')
    r = subprocess.run([need(PROMTOOL, "prometheus"), "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
