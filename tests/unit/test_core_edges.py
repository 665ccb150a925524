"""Edges of pure core logic that mutation testing found unguarded: sysconfig values holding '='
or only a comment, numeric bug order, unknown errnos, and every waiter's policy field."""

import pytest

from zypp_plugin_klp.core import waiting
from zypp_plugin_klp.core.changelog import references
from zypp_plugin_klp.core.errno_text import describe
from zypp_plugin_klp.core.sysconfig import parse_sysconfig


def test_sysconfig_value_with_an_equals_sign_and_a_value_that_is_only_a_comment():
    text = 'DRACUT_OPTS="--add-drivers=virtio"\nNOTHING= # left empty on purpose\n'
    assert parse_sysconfig(text) == {"DRACUT_OPTS": "--add-drivers=virtio", "NOTHING": ""}


def test_bug_references_sort_by_tracker_then_number():
    _, bugs = references(["- fix (bsc#1000, boo#7, bsc#999)", "- more (bsc#999)"])
    assert bugs == ["boo#7", "bsc#999", "bsc#1000"]


def test_an_unknown_errno_is_named_by_its_number():
    assert describe("load", 4242, "livepatch_1") == "load of livepatch_1 failed (4242)"


@pytest.mark.parametrize("waiter", sorted(waiting.DEFAULTS))
def test_every_waiter_gets_all_its_defaults(waiter):
    d = waiting.DEFAULTS[waiter]
    assert waiting.policy(waiter, {}, {}) == waiting.WaitPolicy(d.timeout, d.interval, d.signal_after,
                                                                d.cap, d.lock)


def test_the_plugin_keeps_its_cap_and_the_scriptlet_its_signal_setting():
    plugin = waiting.policy("plugin", {"LIVEPATCH_PLUGIN_WAIT": "3600"}, {})
    assert (plugin.timeout, plugin.cap) == (25.0, 25.0)
    assert waiting.policy("scriptlet", {}, {"KLP_WAIT": "3"}).timeout == 3.0
