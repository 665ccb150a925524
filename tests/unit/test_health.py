"""check_klp's verdict: Monitoring Plugins ranges, states and the exact status line."""

import pytest

from zypp_plugin_klp.core import health as h
from zypp_plugin_klp.core import metrics as m

NOW = 1_800_000_000
DAY = 86400
LP = m.InstalledPatch("kernel-livepatch-6_1_0-26-default", "3-1.1", "x86_64", "livepatch_3_1_1")


def obs(**kw):
    facts = kw.pop("facts", m.Facts([LP], expiry=NOW + 120 * DAY))
    base = dict(version="0.1.0", supported=True, kernel_release="6.1.0-26-default",
                enabled=["livepatch_3_1_1"], blocking=0, facts=facts)
    base.update(kw)
    return m.Observation(**base)


@pytest.mark.parametrize("text, inside, outside", [
    ("10", [0, 10, 5.5], [-1, 10.1]),
    ("10:", [10, 1e9], [9.9, -5]),
    ("~:10", [-1e9, 10], [10.5]),
    ("10:20", [10, 20], [9, 21]),
    ("@10:20", [9, 21], [10, 15, 20]),     # @: alert inside
    ("0:0", [0], [1, -1]),
])
def test_ranges(text, inside, outside):
    r = h.Range(text)
    assert [r.alerts(v) for v in inside] == [False] * len(inside)
    assert [r.alerts(v) for v in outside] == [True] * len(outside)


@pytest.mark.parametrize("text", ["@", "abc", "20:10", "1:x", "1,2,3", ":"])
def test_bad_thresholds(text):
    with pytest.raises(ValueError):
        h.parse_thresholds(text)


def test_ok_line_exact():
    state, line = h.verdict(obs(), NOW)
    assert state == h.OK
    assert line == ("KLP OK - livepatch_3_1_1 active; stream kernel-livepatch-6_1_0-26-default "
                    "expires in 120 days | transition_age=0s;300;1800;0; blocking_tasks=0;;;0; "
                    "active_patches=1;;;0; expiry_days=120;30:;7:;;")


@pytest.mark.parametrize("since, state", [
    (NOW - 299, h.OK), (NOW - 300, h.OK), (NOW - 301, h.WARNING), (NOW - 1800, h.WARNING),
    (NOW - 1801, h.CRITICAL)])
def test_transition_age_thresholds(since, state):
    o = obs(transition=("livepatch_3_1_1", 1), transition_since=since, blocking=2)
    got, line = h.verdict(o, NOW)
    assert got == state
    assert f"transition of livepatch_3_1_1 in progress for {NOW - since}s, 2 blocking tasks" in line
    assert f"transition_age={NOW - since}s;300;1800;0;" in line and "blocking_tasks=2;;;0;" in line


def test_unknown_start_and_unknown_blocking_warn():
    state, line = h.verdict(obs(transition=("livepatch_3_1_1", 0), blocking=None), NOW)
    assert state == h.WARNING
    assert "in progress since an unknown time;" in line
    assert "transition_age=U;300;1800;0;" in line and "blocking_tasks=U;;;0;" in line


@pytest.mark.parametrize("eol, state, text", [
    (NOW + 31 * DAY, h.OK, "expires in 31 days"),
    (NOW + 30 * DAY, h.OK, "expires in 30 days"),
    (NOW + 30 * DAY - 1, h.WARNING, "expires in 29 days"),
    (NOW + 7 * DAY, h.WARNING, "expires in 7 days"),
    (NOW + 7 * DAY - 1, h.CRITICAL, "expires in 6 days"),
    (NOW + 1, h.CRITICAL, "expires in 0 days"),
    (NOW, h.CRITICAL, "expired"),
    (NOW - 3 * DAY, h.CRITICAL, "expired"),
])
def test_expiry_thresholds_end_of_day(eol, state, text):
    got, line = h.verdict(obs(facts=m.Facts([LP], expiry=eol)), NOW)
    assert got == state and f"stream kernel-livepatch-6_1_0-26-default {text}" in line


def test_custom_thresholds_and_no_expiry_threshold():
    o = obs(transition=("livepatch_3_1_1", 1), transition_since=NOW - 60,
            facts=m.Facts([LP], expiry=NOW + 2 * DAY))
    assert h.verdict(o, NOW, "30", "120")[0] == h.WARNING           # age only: expiry unchecked
    assert h.verdict(o, NOW, "30,", "50,1:")[0] == h.CRITICAL
    assert h.verdict(o, NOW, ",", ",")[0] == h.OK
    with pytest.raises(ValueError):
        h.verdict(o, NOW, "x")


def test_not_loaded_reboot_and_failed_load():
    facts = m.Facts([LP], livepatch_removed=True)
    state, line = h.verdict(obs(enabled=[], facts=facts, zypp_reboot=True), NOW)
    assert state == h.WARNING
    assert line.startswith("KLP WARNING - no live patch active; installed but not loaded: "
                           "kernel-livepatch-6_1_0-26-default-3-1.1; reboot needed (a live patch "
                           "was removed, zypp flagged one) | ")
    facts = m.Facts([LP], last_load=("failed", "livepatch_3_1_1", NOW))
    assert h.verdict(obs(facts=facts), NOW)[0] == h.CRITICAL


def test_unsupported_kernel_is_unknown():
    assert h.verdict(obs(supported=False), NOW) == (
        h.UNKNOWN, "KLP UNKNOWN - the running kernel has no live patching (/sys/kernel/livepatch)")
