"""Package/kernel naming and the sysconfig policy (pure)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zypp_plugin_klp.core import names
from zypp_plugin_klp.core.sysconfig import livepatch_mode, may_load, parse_sysconfig


@pytest.mark.parametrize("release, package", [
    ("4.12.14-25.22-default", "kernel-livepatch-4_12_14-25_22-default"),
    ("5.3.18-24.34-default", "kernel-livepatch-5_3_18-24_34-default"),
    ("6.1.0-26-default", "kernel-livepatch-6_1_0-26-default"),
    ("5.14.21-150500.55.19-rt", "kernel-livepatch-5_14_21-150500_55_19-rt"),
])
def test_package_name_round_trip(release, package):
    assert names.package_name(release) == package
    assert names.release_from_package(package) == release


@pytest.mark.parametrize("name", ["kernel-default", "kernel-livepatch-tools", "kernel-livepatch-"])
def test_other_packages_have_no_kernel(name):
    assert names.release_from_package(name) is None


def test_module_naming():
    assert names.module_file("1", "5.3.2") == "livepatch-1-5.3.2.ko"
    with pytest.raises(ValueError):
        names.split_release("nodash")


def test_parse_sysconfig_shell_syntax():
    text = ('## Type: list\n# LIVEPATCH_KERNEL="never"\nLIVEPATCH_KERNEL="always"\n'
            "INITRD_GENERATOR='mkinitrd' # comment\nexport FOO=bar\nBROKEN=\"unterminated\n"
            "not an assignment\n1BAD=x\nEMPTY=\n")
    assert parse_sysconfig(text) == {"LIVEPATCH_KERNEL": "always", "INITRD_GENERATOR": "mkinitrd",
                                     "FOO": "bar", "EMPTY": ""}


@pytest.mark.parametrize("values, mode", [({}, "auto"), ({"LIVEPATCH_KERNEL": "NEVER"}, "never"),
                                          ({"LIVEPATCH_KERNEL": "sometimes"}, "auto")])
def test_livepatch_mode(values, mode):
    assert livepatch_mode(values) == mode


@pytest.mark.parametrize("mode, tu, allowed", [
    ("always", "1", True), ("never", None, False), ("auto", None, True), ("auto", "1", False),
    ("auto", "", True),
])
def test_may_load(mode, tu, allowed):
    assert may_load(mode, tu) is allowed


@pytest.mark.parametrize("raw, expected", [
    (None, 15.0), ("", 15.0), ("3", 3.0), ("2.5", 2.5), ("-4", 0.0), ("soon", 15.0), ("nan", 15.0),
    ("3600", 25.0), ("inf", 25.0),
])
def test_seconds_settings(raw, expected):
    from zypp_plugin_klp.core.sysconfig import seconds

    assert seconds(raw, 15.0, cap=25.0) == expected


@pytest.mark.parametrize("name", ["kernel-livepatch-6_1_0-26-default\n",
                                  "kernel-livepatch-6_1_0-26-default\nx",
                                  "kernel-livepatch-6_1_0-26-default-debuginfo"])
def test_only_whole_names_are_live_patch_packages(name):
    assert names.release_from_package(name) is None


# The plugin's names module parses package names without re (it loads in every zypper commit);
# this is the grammar it must keep, as a regular expression.
SUSE_LIVEPATCH_NAME = r"kernel-livepatch-([0-9][0-9A-Za-z_]*)-([0-9A-Za-z_]+)-([a-z0-9]+)"


@given(st.text(alphabet="0123456789azAZ_-.é\n", max_size=14).map(lambda t: "kernel-livepatch-" + t))
def test_package_names_parse_as_the_grammar_says(name):
    import re

    match = re.fullmatch(SUSE_LIVEPATCH_NAME, name, re.ASCII)
    expected = None if match is None else "-".join(
        (match[1].replace("_", "."), match[2].replace("_", "."), match[3]))
    assert names.release_from_package(name) == expected
