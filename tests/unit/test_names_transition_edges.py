"""Edges of package naming and the transition model (written against mutation survivors):
multi-digit kernel versions, malformed releases, both transition directions, natural order."""

import pytest

from zypp_plugin_klp.core import names
from zypp_plugin_klp.core import transition as tr


@pytest.mark.parametrize("release, package", [
    ("6.10.0-150600.23-default", "kernel-livepatch-6_10_0-150600_23-default"),
    ("5.14.21-150500.55.19-rt", "kernel-livepatch-5_14_21-150500_55_19-rt"),
    ("6.1.0-26-default", "kernel-livepatch-6_1_0-26-default"),
])
def test_package_name_round_trips_multi_digit_releases(release, package):
    assert names.package_name(release) == package
    assert names.release_from_package(package) == release
    assert names.split_release(release) == (release.rsplit("-", 1)[0], release.rsplit("-", 1)[1])


@pytest.mark.parametrize("bad", ["default", "-default", "6.1.0-26-", ""])
def test_a_release_without_both_parts_is_refused(bad):
    with pytest.raises(ValueError, match="not a kernel release with a flavor"):
        names.split_release(bad)


@pytest.mark.parametrize("other", ["kernel-default", "kernel-livepatch-tools", "kernel-livepatch-6_1_0-26",
                                   "xkernel-livepatch-6_1_0-26-default", "kernel-livepatch-6_1_0-26-default-x"])
def test_other_package_names_have_no_kernel(other):
    assert names.release_from_package(other) is None


def test_module_file_name():
    assert names.module_file("10", "1.10") == "livepatch-10-1.10.ko"


@pytest.mark.parametrize("enabled, target", [(1, tr.PATCHED), (0, tr.UNPATCHED), (None, tr.UNPATCHED)])
def test_transition_target_in_both_directions(enabled, target):
    assert tr.transition_target(tr.Patch("p", enabled=enabled, transition=1)) == target


@pytest.mark.parametrize("state, target, blocks", [
    (tr.UNDEFINED, tr.PATCHED, False), (tr.UNDEFINED, tr.UNPATCHED, False),
    (tr.UNPATCHED, tr.PATCHED, True), (tr.PATCHED, tr.PATCHED, False),
    (tr.PATCHED, tr.UNPATCHED, True), (tr.UNPATCHED, tr.UNPATCHED, False),
])
def test_who_blocks_in_both_directions(state, target, blocks):
    assert tr.is_blocking(state, target) is blocks


def test_only_the_patch_with_transition_1_is_transitioning():
    patches = [tr.Patch("a", 1, 0), tr.Patch("b", 1, None), tr.Patch("c", 0, 1), tr.Patch("d", 1, 1)]
    assert tr.transitioning_patch(patches).name == "c"
    assert tr.transitioning_patch(patches[:2]) is None
    assert tr.transitioning_patch([]) is None


def test_natural_order_crosses_digit_boundaries():
    ordered = ["livepatch_2_1_1", "livepatch_9_1_9", "livepatch_9_1_10", "livepatch_10_1_1",
               "livepatch_10_1_1a", "livepatch_x"]
    assert sorted(reversed(ordered), key=tr.natural_key) == ordered
    assert tr.natural_key("ab12cd") == ((1, "ab", 0), (0, "", 12), (1, "cd", 0))
    assert tr.natural_key("7") == ((0, "", 7),) and tr.natural_key("") == ()
