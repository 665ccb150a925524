"""The kernel's real reasons for refusing a live patch, told from its facts, not guessed from errno."""

import errno as E

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zypp_plugin_klp.core.errno_text import describe_load_refusal
from zypp_plugin_klp.core.render import printable

CALLBACK_LOG = ["livepatch: enabling patch 'lp'", "livepatch: pre-patch callback failed for object "
                "'vmlinux'", "livepatch: failed to enable patch 'lp'"]
STATE_LOG = ["livepatch: Livepatch patch (lp) is not compatible with the already installed livepatches."]


@pytest.mark.parametrize("err, transition, ftrace, log, words", [
    (E.EBUSY, "lp_old", True, [], ["another live patch transition is in progress (lp_old)", "(EBUSY)"]),
    (E.EBUSY, None, False, [], ["ftrace is disabled (sysctl kernel.ftrace_enabled=0)", "(EBUSY)"]),
    (E.EBUSY, None, True, None, ["busy although no transition is in progress", "dmesg"]),
    (E.ENODEV, None, True, CALLBACK_LOG, ["lp's own pre-patch callback refused to patch (ENODEV)",
                                          "the kernel log says:", "failed for object 'vmlinux'"]),
    (E.EAGAIN, None, True, CALLBACK_LOG, ["own pre-patch callback refused to patch (EAGAIN)"]),
    (E.ENODEV, None, True, None, ["refused (ENODEV), most likely by its own pre-patch callback",
                                  "see the kernel log ('dmesg')"]),
    (E.EINVAL, None, True, STATE_LOG, ["incompatible with the system states (klp_state)",
                                       "(EINVAL)", "is not compatible with the already installed"]),
    (E.EINVAL, None, True, None, ["most likely an incompatible system state (klp_state)", "dmesg"]),
    (E.ENOENT, None, True, [], ["needs symbols the running kernel does not have (ENOENT)"]),
])
def test_refusal_reasons(err, transition, ftrace, log, words):
    message = describe_load_refusal(err, "lp", transition, ftrace, log)
    for word in words:
        assert word in message, message
    if err == E.EBUSY and transition is None:
        assert "another live patch transition" not in message


@pytest.mark.parametrize("raw, shown", [
    ("plain /usr/bin/x --y", "plain /usr/bin/x --y"),
    ("\x1b[2J", "\\x1b[2J"),
    ("a\nb\r", "a\\x0ab\\x0d"),
    ("\u202eevil", "\\u202eevil"),  # a bidi override reorders what the terminal shows
    ("caf\u00e9 \u4e2d", "caf\u00e9 \u4e2d"),  # printable non-ASCII stays readable
    ("\x7f\x9b", "\\x7f\\x9b"),  # DEL and the C1 CSI
])
def test_printable_escapes_controls_only(raw, shown):
    assert printable(raw) == shown


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_printable_output_is_always_printable(text):
    assert printable(text).isprintable()
