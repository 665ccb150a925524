"""rpm's order of editions, as the product uses it to pick the newest live patch: digit
boundaries (9 -> 10, 1.9 -> 1.10), epochs, and release-only differences."""

import pytest

from zypp_plugin_klp.drivers.rpmdb import newer


@pytest.mark.parametrize("a, b", [
    ("10-1.1", "9-1.1"),
    ("10-1.10", "10-1.9"),
    ("1.10-1", "1.9-1"),
    ("1:2-1.1", "10-1.1"),        # an epoch beats any version
    ("2:1-1", "1:99-1"),
    ("0:10-1", "9-1"),            # epoch 0 is no epoch
    ("3-2", "3-1.99"),
])
def test_newer_across_boundaries(a, b):
    assert newer(a, b) and not newer(b, a)


def test_equal_editions_are_not_newer():
    assert not newer("0:3-1.1", "3-1.1") and not newer("3-1.1", "0:3-1.1")
