"""Scenario YAML: the demo parses; malformed input names file and line."""

import pytest

from zypp_plugin_klp.sim.scenario import parse_scenario
from zypp_plugin_klp.errors import ScenarioError

from conftest import DEMO_SCENARIO


def test_demo_scenario_parses():
    with open(DEMO_SCENARIO, encoding="utf-8") as handle:
        s = parse_scenario(handle.read(), DEMO_SCENARIO)
    assert s.release == "6.1.0-26-default"
    assert s.threads[4245].comm == "memdb-stats" and s.threads[4245].pid == 4242
    assert s.threads[4242].cmdline == ["/opt/memdb/bin/memdb", "--config", "/etc/memdb.conf"]
    assert s.threads[5001].wakes_on_signal is True
    assert s.features == ["replace", "stack_order"]


def test_preloaded_patches():
    s = parse_scenario("kernel: {release: r}\npatches:\n  - {name: lp1, functions: [f]}\n")
    assert [p.name for p in s.patches] == ["lp1"] and "lp1" in s.modules


@pytest.mark.parametrize("text, line, words", [
    ("kernel: {release: r}\nprocesses:\n  - pid: x\n    comm: a\n", 3, "pid must be an integer"),
    ("kernel: {release: r}\nprocesses:\n  - comm: a\n", 3, "needs 'pid' and 'comm'"),
    ("kernel:\n  release: r\n  colour: red\n", 3, "unknown key 'colour'"),
    ("kernel: {release: r}\nprocesses: [\n", 3, "invalid YAML"),
    ("processes: []\n", 1, "missing 'kernel'"),
    ("kernel: {release: r, features: [teleport]}\n", 1, "unknown feature"),
    ("kernel: {release: r}\nprocesses:\n  - {pid: 1, comm: a}\n  - {pid: 1, comm: b}\n", 4,
     "duplicate tid 1"),
    ("kernel: {release: r}\nprocesses:\n  - {pid: -3, comm: a}\n", 3, "between 1 and"),
    ("", 1, "empty scenario"),
    ("- 1\n", 1, "must be a mapping"),
    ("kernel: {release: r}\nprocesses:\n  - {pid: 1, comm: a, wakes_on_signal: maybe}\n", 3,
     "true or false"),
])
def test_malformed_scenario_names_file_and_line(text, line, words):
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(text, "bad.yaml")
    message = str(exc.value)
    assert message.startswith(f"bad.yaml:{line}: "), message
    assert words in message
    assert "\n" not in message
