"""The user documentation stays true: the man page covers every command and renders cleanly."""

import os
import shutil
import subprocess

import pytest

from zypp_plugin_klp.cli import klp as cli

from conftest import REPO

MAN = os.path.join(REPO, "man", "klp.8")


def test_man_page_documents_every_command_and_exit_code():
    with open(MAN, encoding="utf-8") as handle:
        text = handle.read()
    for command in cli.KGR_COMMANDS:
        assert f".B {command}" in text or f".BR {command} " in text, command
    for code in (cli.EXIT_OK, cli.EXIT_FAIL, cli.EXIT_USAGE):
        assert f".B {code}\n" in text


def test_help_lists_every_command():
    help_text = cli.USAGE.format(prog="kgr", kgr=cli.KGR_USAGE)
    for command in cli.KGR_COMMANDS:
        assert f"\n  {command} " in help_text, command


@pytest.mark.needs("groff")
def test_man_page_renders_without_warnings():
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", MAN], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""
