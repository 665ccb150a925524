"""The systemd timer and service that refresh the textfile every minute, checked by systemd's own
verifier; the preset enables the timer."""

import os
import shutil
import subprocess

from monitoring_tools import need

from conftest import REPO

SPECFILES = os.path.join(REPO, "specfiles")
# What verify says only because this machine has no klp installed and no klp(8) in man's path.
HOST_ONLY = ("Command /usr/bin/klp is not executable", "Command 'man klp(8)' failed")


def test_units_pass_systemd_analyze_verify():
    analyze = need(shutil.which("systemd-analyze"), "systemd")
    r = subprocess.run([analyze, "verify", os.path.join(SPECFILES, "klp-metrics.service"),
                        os.path.join(SPECFILES, "klp-metrics.timer")],
                       capture_output=True, text=True, timeout=60)
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if line.strip() and not any(known in line for known in HOST_ONLY)]
    assert problems == []


def test_timer_runs_the_refresh_every_minute_and_the_preset_enables_it():
    timer = open(os.path.join(SPECFILES, "klp-metrics.timer")).read()
    assert "OnUnitActiveSec=1min\n" in timer and "WantedBy=timers.target\n" in timer
    service = open(os.path.join(SPECFILES, "klp-metrics.service")).read()
    assert "ExecStart=/usr/bin/klp metrics --refresh\n" in service and "Type=oneshot\n" in service
    preset = [line for line in open(os.path.join(SPECFILES, "90-zypp-plugin-klp.preset"))
              if line.strip() and not line.startswith("#")]
    assert preset == ["enable klp-metrics.timer\n"]
    sysconfig = open(os.path.join(SPECFILES, "livepatching.sysconfig")).read()
    assert 'LIVEPATCH_METRICS_DIR="/var/lib/node_exporter/textfile_collector"\n' in sysconfig
