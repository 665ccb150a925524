"""CVE and bug references from live patch changelogs."""

from zypp_plugin_klp.core.changelog import references


def test_references_are_unique_and_sorted():
    entries = [
        "- Fix for CVE-2024-1086 (bsc#1219434)\n- References: bsc#1219435 CVE-2023-52447",
        "- Initial live patch for this kernel\n- cve-2024-1086 again, boo#123 jsc#PED-42",
    ]
    cves, bugs = references(entries)
    assert cves == ["CVE-2023-52447", "CVE-2024-1086"]
    assert bugs == ["boo#123", "bsc#1219434", "bsc#1219435", "jsc#PED-42"]


def test_cve_numbers_sort_numerically():
    assert references(["CVE-2024-10000 CVE-2024-9999"])[0] == ["CVE-2024-9999", "CVE-2024-10000"]


def test_initial_patch_has_no_references():
    assert references(["- Initial kernel live patch"]) == ([], [])


def test_lookalikes_are_not_references():
    assert references(["CVE-24-1 bsc# xbsc#12 notCVE-2024-1234x"]) == ([], [])
