"""README drift: the transcript in README.md is what ``make demo`` prints (fixtures/demo.py, run
here for real), once download sizes, progress dots and times are masked; Debian's rpm warning
never reaches it."""

import os
import re
import subprocess
import sys

import pytest

from conftest import REPO


MASKS = [
    (re.compile(r" *\d+(\.\d+)? ?(KiB|MiB|B)\b"), "<size>"),  # with zypper's padding
    (re.compile(r"\[\.*(done|error)\]"), r"[\1]"),
    (re.compile(r"\[\.+$", re.M), "["),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "<time>"),
    (re.compile(r"\| \d{4}-\d\d-\d\d +\|"), "| <date> |"),
]


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def readme_transcript() -> str:
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    return readme.split("```text\n", 1)[1].split("```\n", 1)[0]


@pytest.mark.needs("mockroot")
def test_readme_shows_the_demos_real_output():
    run = subprocess.run([sys.executable, os.path.join(REPO, "fixtures", "demo.py")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RPM should not be used" not in run.stdout
    for documented in ("install -t pattern lp_sles", "# zypper list-patches", "patch\n"):
        assert documented in run.stdout
    assert masked(run.stdout.lstrip("\n")) == masked(readme_transcript())
