"""Lifecycle data: parser tables, matching, successors, verdicts, rendering (pure)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zypp_plugin_klp.core import lifecycle as lc
from zypp_plugin_klp.core import lifecycle_report as out

NOW = lc.parse_date("2026-11-25")


def newer(a, b):
    return tuple(int(x) for x in a.replace("-", ".").split(".")) > \
        tuple(int(x) for x in b.replace("-", ".").split("."))


def packages(*items):
    result = {}
    for name, edition, *update in items:
        result.setdefault(name, []).append(lc.Package(name, edition, "x86_64",
                                                      update=update[0] if update else None))
    return result


@pytest.mark.parametrize("line, name, version, date, successor", [
    ("foo, *, 2027-01-15", "foo", "*", "2027-01-15", None),
    ("  foo ,  1.2* ,2027-01-15  ", "foo", "1.2*", "2027-01-15", None),
    ('"foo", "1.0", "2027-01-15", "bar"', "foo", "1.0", "2027-01-15", "bar"),
    ("foo*, *, , foo<1>-new", "foo*", "*", None, "foo<1>-new"),
    ("/^lib(x|y)$/, *, 2027-01-15", "/^lib(x|y)$/", "*", "2027-01-15", None),
])
def test_parse_good_lines(line, name, version, date, successor):
    (rule,), errors = lc.parse_lifecycle(f"# comment\n\n{line}\n", "f.lifecycle")
    assert errors == []
    assert (rule.name, rule.version, rule.successor, rule.line) == (name, version, successor, 3)
    assert rule.eol == (lc.parse_date(date) if date else None)


@pytest.mark.parametrize("line, reason", [
    ("foo, *", "expected 'name, version, date[, successor]', got 2 fields"),
    ("foo, *, 2027-01-15, a, b", "got 5 fields"),
    ("foo, *, 2027-02-30", "invalid date '2027-02-30' (expected YYYY-MM-DD)"),
    ("foo, *, 15.01.2027", "invalid date"),
    ("foo, *, ", "a date is required unless a successor is given"),
    (", *, 2027-01-15", "empty name or version"),
    ("/(unclosed/, *, 2027-01-15", "invalid regular expression"),
    ('"foo, *, 2027-01-15', "not a CSV line"),
])
def test_bad_lines_name_file_and_line_and_the_rest_still_parses(line, reason):
    rules, errors = lc.parse_lifecycle(f"ok, *, 2027-01-01\n{line}\nalso, *, 2027-01-01\n", "d.lifecycle")
    assert [r.name for r in rules] == ["ok", "also"]
    assert len(errors) == 1 and errors[0].startswith("d.lifecycle:2: ") and reason in errors[0]


def test_later_lines_win_and_globs_and_regexps_match():
    rules, _ = lc.parse_lifecycle(
        "lp-*, *, 2026-01-01\nlp-a, *, 2027-05-05\n/^lib[0-9]+$/, *, 2028-01-01\n"
        "py, 3.6*, 2026-12-31\npy, 3.11*, 2030-01-01\n", "x")
    inst = packages(("lp-a", "1-1"), ("lp-b", "1-1"), ("lib5", "1-1"), ("libx", "1-1"),
                    ("py", "3.6.15-1"))
    lc.apply_rules(rules, inst, [], NOW, newer)
    assert lc.format_eol(inst["lp-a"][0].eol) == "2027-05-05"
    assert inst["lp-b"][0].eol == lc.NOW  # 2026-01-01 has passed
    assert lc.format_eol(inst["lib5"][0].eol) == "2028-01-01" and inst["libx"][0].eol == lc.NEVER
    assert lc.format_eol(inst["py"][0].eol) == "2026-12-31"
    assert inst["py"][0].version_specified == "3.11*"  # SUSE's: the last line whose name matched


def test_update_without_data_means_now_and_update_eol_from_data():
    rules, _ = lc.parse_lifecycle("tool, 2*, 2029-01-01\n", "x")
    inst = packages(("tool", "1-1", "2-1"), ("plain", "1-1"))
    lc.apply_rules(rules, inst, [], NOW, newer)
    tool = inst["tool"][0]
    assert tool.eol == lc.NOW and lc.format_eol(tool.update_eol) == "2029-01-01" and tool.differs
    assert inst["plain"][0].eol == lc.NEVER and not inst["plain"][0].differs


def test_successor_with_captures():
    rules, _ = lc.parse_lifecycle("libbar*-compat, *, , libbar<1>\n", "x")
    inst = packages(("libbar5-compat", "1-1"))
    available = [("libbar5", "2-1", "x86_64"), ("libbar6", "3-1", "x86_64"), ("libbar5", "0-1", "x86_64")]
    lc.apply_rules(rules, inst, available, NOW, newer)
    p = inst["libbar5-compat"][0]
    assert p.successor == "libbar5-2-1" and p.eol == lc.NOW


def test_product_files():
    prod = lc.parse_product("<product><vendor>SUSE</vendor><name>sle-module-live-patching</name>"
                            "<summary>Live Patching</summary><endoflife></endoflife>"
                            "<register><flavor>module</flavor></register></product>")
    assert (prod.name, prod.eol, prod.flavor) == ("sle-module-live-patching", lc.NA, "module")
    base = lc.parse_product("<product><name>SLES</name><endoflife>2031-07-31</endoflife></product>", True)
    assert lc.format_eol(base.eol) == "2031-07-31" and base.isbase and base.summary == ""
    assert lc.parse_product("<product><name>x</name></product>").eol == lc.NEVER
    for bad in ("<nope/>", "not xml", "<product></product>"):
        with pytest.raises(ValueError):
            lc.parse_product(bad)


def test_report_format_matches_suse():
    base = lc.Product("SLES", "SUSE Linux Enterprise Server 15 SP6", "SUSE",
                      lc.parse_date("2031-07-31"), isbase=True)
    module = lc.Product("sle-module-live-patching", "SUSE Linux Enterprise Live Patching Module 15 SP6",
                        "SUSE", lc.NA, flavor="module")
    lp = lc.Package("kernel-livepatch-4_12_14-122_46-default", "1-8.5.1", "x86_64", update="2-2.1",
                    eol=lc.NOW)
    text, empty = out.report([base, module], [lp])
    assert not empty
    assert text == (
        "\n" + "Product end of general support".ljust(55) + " \n"
        + "SUSE Linux Enterprise Server 15 SP6".ljust(55) + " 2031-07-31\n"
        + "\n" + "Module end of general support".ljust(55) + " \n"
        + "SUSE Linux Enterprise Live Patching Module 15 SP6".ljust(55) + " n/a*\n"
        + "\nPackage end of support if different from product:\n"
        + "kernel-livepatch-4_12_14-122_46-default  Now, installed 1-8.5.1, update available 2-2.1 \n"
        + "\n*) See https://www.suse.com/lifecycle for latest information\n")


def test_empty_reports_and_save_diff_round_trip():
    text, empty = out.report([], [])
    assert empty and text == ("\nNo products.\n\nNo packages with end of support different from "
                              "product.\n\n")
    text, empty = out.deadline([], [], False, "2027-01-01")
    assert empty and "No packages whose support ends before 2027-01-01." in text
    p = lc.Package("a", "1-1", "x86_64", eol=lc.parse_date("2027-01-15"))
    prod = lc.Product("SLES", "S", "", lc.NEVER, isbase=True)
    date, products, pkgs = out.load_saved(out.save_xml([prod], [p], "2026-11-25 09:00:00 +0000"))
    assert date == "2026-11-25 09:00:00 +0000" and products == {"SLES": lc.NEVER}
    assert pkgs == {("a", "1-1", p.eol)}
    with pytest.raises(ValueError):
        out.load_saved("<report><package eol='x'/></report>")


@pytest.mark.parametrize("offset_days, kind, days", [
    (-3, "expired", -3), (0, "expired", 0), (1, "soon", 1), (10, "soon", 10), (20, "soon", 20),
    (30, "soon", 30), (31, "later", 31),
])
@pytest.mark.parametrize("hour", [0, 1, 23])
def test_expiry_classification(offset_days, kind, days, hour):
    """Calendar days in UTC, whatever the hour of today (the end of the day included)."""
    now = lc.parse_date("2026-11-25") + hour * 3600 + (3599 if hour == 23 else 0)
    eol = lc.parse_date("2026-11-25") + offset_days * 86400
    assert lc.expiry(eol, now) == (kind, days)
    assert lc.expiry(None, now) == ("unknown", 0)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab*", max_size=8), st.text(alphabet="ab", max_size=10))
def test_wildcards_capture_what_a_greedy_regexp_would(pattern, text):
    """SUSE's tool turns '*' into a greedy '(.*)': same verdict, same captures for <1>..<9>."""
    import re

    regexp = re.fullmatch("(.*)".join(re.escape(p) for p in pattern.split("*")), text)
    expected = list(regexp.groups()) if regexp else None
    assert lc.glob_match(pattern, text) == expected


def test_wildcards_cost_no_backtracking():
    assert lc.glob_match("*a" * 40 + "*b", "a" * 200) is None  # a regexp would take ages


@pytest.mark.parametrize("ruby, text, matches", [
    (r"^libfoo\h$", "libfooe", True), (r"^libfoo\h$", "libfoog", False),
    (r"^lib\H", "libx", True), (r"^[\h-]+$", "0a-f", True),
    (r"^kernel\z", "kernel", True), (r"kernel\Z", "kernel", True),
    (r"^(?<v>\d)-\k<v>$", "1-1", True), (r"^(?<v>\d)-\k<v>$", "1-2", False),
    (r"^(?'v'\d)$", "7", True), (r"^[[:digit:]]+[[:alpha:]]$", "123a", True),
    (r"(?m)a.b", "a\nb", True), (r"a.b", "a\nb", False), (r"(?i:LIB)x", "libx", True),
    (r"(?<=lib)x", "libx", True), (r"^a++b$", "aab", True), (r"^(?>a+)b$", "aab", True),
])
def test_ruby_regexp_constructs(ruby, text, matches):
    assert (lc.compile_ruby(ruby).search(text) is not None) == matches


@pytest.mark.parametrize("ruby", [r"\p{Alpha}", r"\G", r"[[:nope:]]", r"[a&&b]", "(unclosed",
                                  "x" * 1001, "(" * 2000 + ")" * 2000])
def test_unsupported_or_bad_ruby_regexps_are_line_errors(ruby):
    rules, errors = lc.parse_lifecycle(f"/{ruby}/, *, 2027-01-01\n", "d")
    assert rules == [] and len(errors) == 1 and errors[0].startswith("d:1: ")


def test_a_quoted_field_after_a_space_is_read_as_the_field():
    """Ruby's CSV rejects the whole file here; we read the field (zypper-lifecycle(8))."""
    (rule,), errors = lc.parse_lifecycle('foo, "1.*", "2027-01-15"\n', "d")
    assert errors == [] and (rule.version, lc.format_eol(rule.eol)) == ("1.*", "2027-01-15")


def test_a_slow_regexp_is_skipped_within_its_budget():
    from zypp_plugin_klp.services.lifecycle import RegexpBudget

    rules, _ = lc.parse_lifecycle("/(a+)+$/, *, 2027-01-01\nvictim*, *, 2028-01-01\n", "d")
    victim = "victim" + "a" * 40 + "b"
    inst = packages((victim, "1-1"))
    errors = lc.apply_rules(rules, inst, [], NOW, newer, RegexpBudget(per_line=0.05, total=0.2))
    assert errors == ["d:1: regular expression too slow, line skipped"]
    assert lc.format_eol(inst[victim][0].eol) == "2028-01-01"  # the next line still applies


@pytest.mark.parametrize("now, kind, days", [  # calendar days in UTC (issue 14)
    ("2026-12-14T23:59:59", "soon", 1),      # the last second before the end-of-support day
    ("2026-12-15T00:00:00", "expired", 0),   # the day itself: no more live patches
    ("2026-12-15T12:00:00", "expired", 0),
    ("2026-12-16T00:00:00", "expired", -1),
    ("2026-11-15T00:00:00", "soon", 30),     # exactly 30 days ahead: called out
    ("2026-11-14T23:59:59", "later", 31),    # the day before: 31 calendar days, at any hour
    ("2026-11-14T00:00:00", "later", 31),
])
def test_expiry_on_and_around_the_end_of_support_day(now, kind, days):
    from zypp_plugin_klp.core.lifecycle import expiry, parse_date
    import datetime as _dt

    moment = int(_dt.datetime.fromisoformat(now).replace(tzinfo=_dt.timezone.utc).timestamp())
    assert expiry(parse_date("2026-12-15"), moment) == (kind, days)
