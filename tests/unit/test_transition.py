"""The transition model: status, target direction, who blocks."""

import pytest

from zypp_plugin_klp.core import transition as tr


def test_no_transitioning_patch_without_patches():
    assert tr.transitioning_patch([]) is None


def test_the_patch_with_transition_1_is_the_transitioning_one():
    patches = [tr.Patch("a", enabled=1, transition=0), tr.Patch("b", enabled=1, transition=1)]
    assert tr.transitioning_patch(patches).name == "b"


def test_kernels_without_transition_attribute_have_none_transitioning():
    assert tr.transitioning_patch([tr.Patch("old", enabled=1, transition=None)]) is None


@pytest.mark.parametrize("enabled, target", [(1, tr.PATCHED), (0, tr.UNPATCHED)])
def test_target_follows_enabled(enabled, target):
    assert tr.transition_target(tr.Patch("p", enabled=enabled, transition=1)) == target


@pytest.mark.parametrize("state, target, blocks", [
    (-1, 1, False), (0, 1, True), (1, 1, False), (1, 0, True), (0, 0, False), (-1, 0, False),
])
def test_is_blocking(state, target, blocks):
    assert tr.is_blocking(state, target) is blocks


def test_natural_key_orders_numbers_numerically():
    names = ["livepatch_10", "livepatch_2", "livepatch_1_5", "livepatch_1_10"]
    assert sorted(names, key=tr.natural_key) == [
        "livepatch_1_5", "livepatch_1_10", "livepatch_2", "livepatch_10"]
