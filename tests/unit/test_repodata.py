"""patterns.xml and updateinfo.xml made from package headers: well-formed whatever the changelog
says, a pattern per pattern package, a security patch per live patch package that names a CVE."""

import xml.etree.ElementTree as ET

from zypp_plugin_klp.testing.repodata import Header, patterns_xml, updateinfo_xml

RPM_NS = "{http://linux.duke.edu/metadata/rpm}"


def header(name, version="3", provides=(), changelog=(), summary="s"):
    return Header(f"{name}-{version}-1.1.x86_64.rpm", name, version, "1.1", "x86_64", 1764000000,
                  summary, tuple(provides), tuple(changelog))


def test_one_security_patch_per_live_patch_package_with_its_references():
    hostile = "- Fix CVE-2024-26585 & <tls> \"quotes\" (bsc#1220187)\n- Fix CVE-2024-1086"
    doc = ET.fromstring(updateinfo_xml([
        header("kernel-livepatch-6_1_0-26-default", changelog=[hostile]),
        header("kernel-livepatch-6_1_0-27-default", "1", changelog=["- Initial kernel live patch"]),
        header("hello")]))
    updates = doc.findall("update")
    assert [u.get("type") for u in updates] == ["security", "recommended"]
    first = updates[0]
    assert first.findtext("id") == "lp-6.1.0-26-default-3"
    refs = [(r.get("type"), r.get("id")) for r in first.find("references")]
    assert refs == [("cve", "CVE-2024-1086"), ("cve", "CVE-2024-26585"), ("bugzilla", "1220187")]
    assert first.findtext("description") == hostile
    package = first.find("pkglist/collection/package")
    assert (package.get("name"), package.get("version"), package.get("release")) == \
        ("kernel-livepatch-6_1_0-26-default", "3", "1.1")
    assert updateinfo_xml([header("hello")]) is None


def test_a_pattern_per_pattern_package_requiring_that_package():
    doc = ET.fromstring(patterns_xml([
        header("patterns-lp-lp_sles", "0.1.0", summary="Live <Patching>",
               provides=[("pattern()", "lp_sles"), ("pattern-visible()", ""),
                         ("pattern-order()", "1000")]),
        header("kernel-livepatch-6_1_0-26-default")]))
    ns = "{http://novell.com/package/metadata/suse/pattern}"
    (pattern,) = doc.findall(f"{ns}pattern")
    assert pattern.findtext(f"{ns}name") == "lp_sles"
    assert pattern.findtext(f"{ns}summary") == "Live <Patching>"
    assert pattern.find(f"{ns}uservisible") is not None and pattern.findtext(f"{ns}order") == "1000"
    (entry,) = pattern.find(f"{RPM_NS}requires")
    assert (entry.get("name"), entry.get("flags"), entry.get("ver")) == ("patterns-lp-lp_sles", "EQ", "0.1.0")
    assert patterns_xml([header("hello")]) is None
