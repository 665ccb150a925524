"""Bounded fuzzing of every parser of outside input: each either returns or raises the product's
own error type, never anything else (the longer atheris runs are 'make fuzz')."""

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from zypp_plugin_klp.core import changelog, lifecycle, sysconfig
from zypp_plugin_klp.core import kernel_text as kvalues
from zypp_plugin_klp.sim.scenario import parse_scenario
from zypp_plugin_klp.errors import ScenarioError

LINES = st.text(alphabet=string.printable + "*/<>\"'ä\0", max_size=200)


@settings(max_examples=400, deadline=None)
@given(LINES)
def test_lifecycle_lines(text):
    rules, errors = lifecycle.parse_lifecycle(text, "fuzz")
    assert all(e.startswith("fuzz:") for e in errors)
    packages = {"kernel-livepatch-a": [lifecycle.Package("kernel-livepatch-a", "1-1", "x86_64")]}
    lifecycle.apply_rules(rules, packages, [("x", "2-1", "x86_64")], 0, lambda a, b: a > b)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_product_files(text):
    try:
        lifecycle.parse_product(text)
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet=string.printable + "{}[]:-#&*!|>'\"", max_size=300),
                 st.recursive(st.one_of(st.none(), st.integers(), st.text(max_size=10)),
                              lambda c: st.one_of(st.lists(c, max_size=3),
                                                  st.dictionaries(st.text(max_size=8), c, max_size=3)),
                              max_leaves=10).map(repr)))
def test_scenarios(text):
    try:
        parse_scenario(text, "fuzz.yaml")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.yaml:")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_sysconfig_and_changelog(text):
    values = sysconfig.parse_sysconfig(text)
    assert sysconfig.livepatch_mode(values) in sysconfig.MODES
    cves, bugs = changelog.references([text])
    assert all(c.startswith("CVE-") for c in cves) and all("#" in b for b in bugs)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.text(max_size=200))
def test_kernel_values(raw, text):
    value = kvalues.parse_int(raw)
    assert value is None or isinstance(value, int)
    assert isinstance(kvalues.parse_cmdline(raw), list)
    for frame in kvalues.parse_stack(text):
        assert isinstance(kvalues.frame_function(frame), str)
    assert isinstance(kvalues.is_livepatch_taint(text), bool)
