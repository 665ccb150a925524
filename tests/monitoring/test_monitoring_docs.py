"""Every series klp writes is documented in klp(8) and named by the README's Monitoring section."""

import os

from conftest import REPO
from zypp_plugin_klp.core import metrics as m


def test_every_series_is_documented():
    man = open(os.path.join(REPO, "man", "klp.8"), encoding="utf-8").read()
    readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    monitoring = readme[readme.index("## Monitoring"):]
    for family in m.families(m.Observation("0", True, "")):
        assert f"\n.B {family.name}" in man, family.name
        assert family.name in monitoring or family.name in m.__doc__, family.name
        assert family.name in m.__doc__, family.name
