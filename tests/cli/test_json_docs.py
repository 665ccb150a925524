"""docs/json.md stays true: each schema's example has exactly the keys the real ``klp --json``
prints (nested objects too), and the schema names match."""

import json
import os
import re

import pytest

from zypp_plugin_klp.services import remove
from zypp_plugin_klp.services.records import LastLoad

from conftest import REPO, RELEASE, build_livepatch_rpm, rpm_install, run_klp
from test_truth import stacked_tree

DOC = os.path.join(REPO, "docs", "json.md")
DATA_MAPS = {"objects", "functions"}  # keyed by object names: the keys are data, not schema


def examples():
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    found = re.findall(r"^## (klp-[a-z]+/\d+)\n.*?```json\n(.*?)```", text, re.S | re.M)
    return {name: json.loads(body) for name, body in found}


def same_shape(example, real, where="$"):
    """Where both sides have a value, dicts have the same keys and lists the same item shape."""
    if example is None or real is None:
        return
    if isinstance(example, dict):
        assert isinstance(real, dict), f"{where}: the docs show an object, klp prints {real!r}"
        if where.rsplit(".", 1)[-1] not in DATA_MAPS:
            assert sorted(example) == sorted(real), f"{where}: docs {sorted(example)} != klp {sorted(real)}"
        for key in set(example) & set(real):
            same_shape(example[key], real[key], f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(real, list), f"{where}: the docs show a list, klp prints {real!r}"
        if example and real:
            same_shape(example[0], real[0], f"{where}[0]")
    else:
        assert isinstance(real, type(example)) or {type(real), type(example)} <= {int, float}, \
            f"{where}: docs {example!r}, klp {real!r}"


@pytest.fixture
def held(sim, build_ko):
    sim.load(build_ko("livepatch_1_1_1"))
    LastLoad("in_progress", "livepatch_1_1_1 (p) is loaded", RELEASE, "2026-11-25T09:21:29Z",
             "livepatch_1_1_1", "kernel-livepatch-6_1_0-26-default-1-1.1.x86_64",
             boot=sim.boot_id()).save(sim.root)
    os.makedirs(os.path.join(sim.root, "lib/modules", RELEASE), exist_ok=True)
    remove.after_erase(sim.root, "kernel-livepatch-6_1_0-26-default-0-1.1", RELEASE, RELEASE,
                       boot=sim.boot_id())
    return sim


def real(*args):
    r = run_klp("--json", *args)
    assert r.stdout, r.stderr
    return json.loads(r.stdout)


def test_every_schema_is_documented_with_an_example():
    assert sorted(examples()) == ["klp-blocking/1", "klp-change/1", "klp-patches/1", "klp-status/1",
                                  "klp-wait/1"]
    for name, doc in examples().items():
        assert doc["schema"] == name


def test_status_blocking_wait_examples_match(held):
    docs = examples()
    status = real("--root", held.root, "status")
    assert status["transition"] and status["last_load"] and status["reboot_reasons"]
    same_shape(docs["klp-status/1"], status)
    same_shape(docs["klp-blocking/1"], real("--root", held.root, "blocking"))
    waited = real("--root", held.root, "wait", "--timeout", "0")
    assert waited["blocking"]
    same_shape(docs["klp-wait/1"], waited)


def test_patches_example_matches(tmp_path):
    doc = real("--root", stacked_tree(str(tmp_path)), "patches")
    assert doc["patches"][0]["functions"]["vmlinux"]
    same_shape(examples()["klp-patches/1"], doc)


@pytest.mark.needs("rpmbuild")
def test_change_example_matches(sim, build_ko, tmp_path):
    rpm_install(sim.root, build_livepatch_rpm(tmp_path, build_ko("livepatch_1_1_1"), "1", "1.1"))
    doc = real("--root", sim.root, "update", "--dry-run")
    assert doc["result"] == "nothing"
    same_shape(examples()["klp-change/1"], doc)
