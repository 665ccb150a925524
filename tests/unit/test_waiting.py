"""The wait policy: its defaults table and its pure step function."""

from zypp_plugin_klp.core.waiting import DONE, GIVE_UP, PAUSE, SIGNAL, WaitPolicy, policy, step


def test_defaults_come_from_one_table_with_environment_over_sysconfig():
    assert policy("cli", {}, {}) == WaitPolicy(60.0, 1.0)
    assert policy("scriptlet", {}, {}).timeout == 15.0
    assert policy("scriptlet", {"LIVEPATCH_WAIT": "7"}, {}).timeout == 7.0
    assert policy("scriptlet", {"LIVEPATCH_WAIT": "7"}, {"KLP_WAIT": "3"}).timeout == 3.0
    assert policy("plugin", {}, {"KLP_WAIT": "3"}).timeout == 20.0  # the plugin reads sysconfig only
    assert policy("plugin", {"LIVEPATCH_PLUGIN_WAIT": "3600"}, {}).timeout == 25.0
    assert policy("plugin", {"LIVEPATCH_PLUGIN_WAIT": "banana"}, {}).timeout == 20.0


def test_step_pauses_until_the_timeout_then_gives_up():
    p = WaitPolicy(timeout=2.0, interval=0.5)
    assert step(p, 0.0, False, False) == (DONE, 0.0)
    assert step(p, 0.0, True, False) == (PAUSE, 0.5)
    assert step(p, 1.8, True, False)[0] == PAUSE and abs(step(p, 1.8, True, False)[1] - 0.2) < 1e-9
    assert step(p, 2.0, True, False) == (GIVE_UP, 0.0)
    assert step(p, 5.0, False, False) == (DONE, 0.0)  # completion wins over the timeout


def test_step_signals_once_after_signal_after_and_respects_the_cap():
    p = WaitPolicy(timeout=60.0, interval=1.0, signal_after=15.0, cap=25.0)
    assert step(p, 14.9, True, False)[0] == PAUSE
    assert step(p, 15.0, True, False) == (SIGNAL, 0.0)
    assert step(p, 16.0, True, True)[0] == PAUSE
    assert step(p, 25.0, True, True) == (GIVE_UP, 0.0)


def test_every_wait_a_setting_can_stretch_is_capped_and_every_lock_wait_has_a_deadline():
    """Issue 15, finding 5: LIVEPATCH_WAIT=inf or KLP_WAIT=1e300 cannot make %posttrans wait (and
    hold /run/klp/lock) without limit; finding 6: the plugin's lock deadline is a few seconds."""
    from zypp_plugin_klp.core.waiting import DEFAULTS, SCRIPTLET_CAP

    assert policy("scriptlet", {"LIVEPATCH_WAIT": "inf"}, {}).timeout == SCRIPTLET_CAP == 600.0
    assert policy("scriptlet", {}, {"KLP_WAIT": "1e300"}).timeout == SCRIPTLET_CAP
    assert policy("scriptlet", {"LIVEPATCH_WAIT": "599"}, {}).timeout == 599.0
    for name, default in DEFAULTS.items():
        if default.env_key or default.sysconfig_key:
            assert default.cap is not None and default.cap < float("inf"), name
    assert 0 < policy("plugin", {}, {}).lock + policy("plugin", {}, {}).cap <= 30.0
    assert policy("scriptlet", {}, {}).lock < float("inf")


def test_the_plugin_answer_budget_follows_libzypps_timeout_as_libzypp_reads_it():
    """25 s of libzypp's default 30 s; libzypp's variables are parsed like its strtol(s, 0, 0),
    the receive timeout first, and only positive values count."""
    from zypp_plugin_klp.core.waiting import answer_budget

    assert answer_budget({}) == 25.0
    assert answer_budget({"ZYPP_PLUGIN_TIMEOUT": "6"}) == 5.0
    assert answer_budget({"ZYPP_PLUGIN_RECEIVE_TIMEOUT": "12", "ZYPP_PLUGIN_TIMEOUT": "6"}) == 10.0
    assert answer_budget({"ZYPP_PLUGIN_RECEIVE_TIMEOUT": "0", "ZYPP_PLUGIN_TIMEOUT": "6"}) == 5.0
    assert answer_budget({"ZYPP_PLUGIN_TIMEOUT": "-6"}) == 25.0
    assert answer_budget({"ZYPP_PLUGIN_TIMEOUT": "banana"}) == 25.0
    assert answer_budget({"ZYPP_PLUGIN_TIMEOUT": " 12s"}) == 10.0    # strtol stops at the 's'
    assert answer_budget({"ZYPP_PLUGIN_TIMEOUT": "014"}) == 10.0     # octal, as strtol's base 0
    assert answer_budget({"ZYPP_PLUGIN_TIMEOUT": "0x18"}) == 20.0    # hex
    assert answer_budget({"ZYPP_PLUGIN_TIMEOUT": "0xg"}) == 25.0     # "0": not positive


def test_a_shared_deadline_only_ever_shortens_a_wait():
    from zypp_plugin_klp.core.waiting import within

    p = WaitPolicy(timeout=20.0, interval=0.5, cap=25.0)
    assert within(p, 30.0) == p
    assert within(p, 3.5) == WaitPolicy(timeout=3.5, interval=0.5, cap=25.0)
    assert within(p, -1.0).timeout == 0.0
    assert step(within(p, 3.5), 3.5, True, False) == (GIVE_UP, 0.0)
