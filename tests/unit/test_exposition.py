"""The Prometheus text renderer and the metric model, with literal expected text."""

import math

import pytest

from zypp_plugin_klp.core import metrics as m
from zypp_plugin_klp.core.exposition import Family, format_value, render, valid_name

LP2 = m.InstalledPatch("kernel-livepatch-6_1_0-26-default", "2-1.1", "x86_64", "livepatch_2_1_1")
LP10 = m.InstalledPatch("kernel-livepatch-6_1_0-26-default", "10-1.1", "x86_64", "livepatch_10_1_1")


def test_render_escapes_help_and_label_values():
    family = Family("x_total", "counter", 'a \\ b\nc "q"')
    family.add(3, (("path", 'C:\\dir\n"x"'), ("b", "")))
    assert render([family]) == (
        '# HELP x_total a \\\\ b\\nc "q"\n'
        "# TYPE x_total counter\n"
        'x_total{path="C:\\\\dir\\n\\"x\\"",b=""} 3\n')


@pytest.mark.parametrize("value, text", [
    (0, "0"), (True, "1"), (1.0, "1"), (1764063689, "1764063689"), (0.25, "0.25"),
    (-2.5, "-2.5"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (math.nan, "NaN"), (1e20, "1e+20")])
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize("name, label, ok", [
    ("klp_blocking_tasks", False, True), ("a:b", False, True), ("a:b", True, False),
    ("__x", True, False), ("9a", False, False), ("", False, False), ("a-b", False, False),
    ("é", False, False)])
def test_names(name, label, ok):
    assert valid_name(name, label) is ok


def test_invalid_family_and_duplicates_are_refused():
    with pytest.raises(ValueError):
        Family("bad-name", "gauge", "")
    with pytest.raises(ValueError):
        Family("ok", "info", "")
    with pytest.raises(ValueError):
        Family("ok", "gauge", "").add(1, (("bad-label", "x"),))
    with pytest.raises(ValueError):
        render([Family("a", "gauge", ""), Family("a", "gauge", "")])


def _ready_obs(**kw):
    facts = m.Facts([LP2, LP10], expiry=1798761600, last_load=("loaded", "livepatch_10_1_1", 1764063689))
    base = dict(version="0.1.0", supported=True, kernel_release="6.1.0-26-default",
                enabled=["livepatch_10_1_1"], facts=facts, blocking=0)
    base.update(kw)
    return m.Observation(**base)


def test_families_of_a_ready_system_literal():
    text = render(m.families(_ready_obs()))
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == [
        'klp_build_info{version="0.1.0"} 1',
        "klp_livepatch_supported 1",
        "klp_transition_in_progress 0",
        "klp_blocking_tasks 0",
        'klp_patch_info{module="livepatch_10_1_1",package="kernel-livepatch-6_1_0-26-default",'
        'version="10-1.1",kernel_release="6.1.0-26-default"} 1',
        'klp_installed_not_loaded{package="kernel-livepatch-6_1_0-26-default",version="10-1.1"} 0',
        'klp_stream_expiry_timestamp_seconds{package="kernel-livepatch-6_1_0-26-default"} 1798761600',
        'klp_reboot_needed{reason="livepatch_removed"} 0',
        'klp_reboot_needed{reason="zypp"} 0',
        "klp_last_load_success_timestamp_seconds 1764063689",
        "klp_last_load_failed 0"]
    assert "# TYPE klp_transition_started_timestamp_seconds gauge\n# HELP klp_blocking" in text


def test_families_during_an_unpatch_transition_and_a_failed_load():
    facts = m.Facts([LP10], livepatch_removed=True, last_load=("failed", "livepatch_10_1_1", 5))
    obs = _ready_obs(enabled=["livepatch_2_1_1"], transition=("livepatch_2_1_1", 0),
                     transition_since=1700000000, blocking=3, facts=facts, zypp_reboot=True)
    samples = [line for line in render(m.families(obs)).splitlines() if not line.startswith("#")]
    assert "klp_transition_in_progress 1" in samples
    assert 'klp_transition_started_timestamp_seconds{module="livepatch_2_1_1",direction="unpatch"} ' \
           "1700000000" in samples
    assert "klp_blocking_tasks 3" in samples
    assert 'klp_patch_info{module="livepatch_2_1_1",package="",version="",' \
           'kernel_release="6.1.0-26-default"} 1' in samples
    assert 'klp_installed_not_loaded{package="kernel-livepatch-6_1_0-26-default",version="10-1.1"} 1' \
        in samples
    assert 'klp_reboot_needed{reason="livepatch_removed"} 1' in samples
    assert 'klp_reboot_needed{reason="zypp"} 1' in samples
    assert "klp_last_load_failed 1" in samples
    assert not any(s.startswith("klp_last_load_success") for s in samples)
    assert not any(s.startswith("klp_stream_expiry") for s in samples)


def test_unknown_blocking_count_is_absent_not_zero():
    samples = render(m.families(_ready_obs(blocking=None)))
    assert "\nklp_blocking_tasks " not in samples and "# TYPE klp_blocking_tasks gauge" in samples


@pytest.mark.parametrize("current, seen, last, now, expected", [
    (None, ("a", 1, 5), None, 100, None),
    (("a", 1), None, None, 100, ("a", 1, 100)),
    (("a", 1), ("a", 1, 40), None, 100, ("a", 1, 40)),
    (("a", 1), ("a", 0, 40), None, 100, ("a", 1, 100)),         # the other direction: new
    (("a", 1), ("b", 1, 40), None, 100, ("a", 1, 100)),
    (("a", 1), ("a", 1, 40), ("in_progress", "a", 30), 100, ("a", 1, 30)),
    (("a", 1), None, ("failed", "a", 30), 100, ("a", 1, 100)),
    (("a", 0), None, ("loaded", "a", 30), 100, ("a", 0, 100)),  # a load starts no unpatching
    (("a", 1), ("a", 1, 40), ("loaded", "b", 30), 100, ("a", 1, 40)),
])
def test_transition_since(current, seen, last, now, expected):
    assert m.transition_since(current, seen, last, now) == expected


def test_seen_codec_round_trip_and_hostile_text():
    assert m.decode_seen(m.encode_seen(("livepatch_2_1_1", 0, 1764063689))) == \
        ("livepatch_2_1_1", 0, 1764063689)
    for text in (None, "", "klp-transition-seen/1 a 1", "other a 1 2", "klp-transition-seen/1 a x 2",
                 "\x00\xff"):
        assert m.decode_seen(text) is None


def test_facts_codec_round_trip_and_key_mismatch():
    facts = m.Facts([LP2, LP10], expiry=0, livepatch_removed=True,
                    last_load=("in_progress", "livepatch_10_1_1", 7))
    text = m.encode_facts("k1", facts)
    assert m.decode_facts(text, "k1") == facts
    assert m.decode_facts(text, "k2") is None
    assert m.decode_facts(m.encode_facts("k", m.Facts()), "k") == m.Facts()
    assert m.decode_facts(text.replace("expiry\t0", "expiry\tsoon"), "k1") is None
    assert m.decode_facts(text + "surprise\n", "k1") is None
    assert m.decode_facts(None, "k1") is None


@pytest.mark.parametrize("text, seconds", [
    ("1970-01-01T00:00:00Z", 0), ("2026-11-25T09:21:29Z", 1795598489),
    ("2000-02-29T23:59:59Z", 951868799), ("2100-03-01T00:00:00Z", 4107542400),
    ("2026-13-01T00:00:00Z", None), ("2026-11-25 09:21:29Z", None), ("", None), (None, None),
    (17, None), ("2026-11-25T09:21:29+01", None)])
def test_iso_seconds(text, seconds):
    assert m.iso_seconds(text) == seconds


from hypothesis import given, settings, strategies as st  # noqa: E402


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            out.append({"n": "\n", "\\": "\\", '"': '"'}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_any_label_value_and_help_stay_on_their_lines_and_round_trip(value, help_text):
    family = Family("klp_x", "gauge", help_text)
    family.add(1, (("v", value),))
    lines = render([family]).split("\n")
    assert len(lines) == 4 and lines[-1] == ""
    assert _unescape(lines[0][len("# HELP klp_x "):]) == help_text
    sample = lines[2]
    assert sample.startswith('klp_x{v="') and sample.endswith('"} 1')
    assert _unescape(sample[len('klp_x{v="'):-len('"} 1')]) == value
