"""State files: one owner each, a versioned schema checked on read, old files still read."""

import json
import os

from zypp_plugin_klp.paths import LAST_LOAD, NOTICES
from zypp_plugin_klp.services.records import (LAST_LOAD_SCHEMA, LastLoad, RebootNotice,
                                              load_notices, save_notices)


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def test_last_load_round_trips_with_its_schema(tmp_path):
    root = str(tmp_path)
    record = LastLoad("loaded", "livepatch_1 is active", "6.1.0-26-default", "2026-01-31T23:59:59Z",
                      "livepatch_1", "kernel-livepatch-x-1-1.x86_64", True)
    record.save(root)
    with open(os.path.join(root, LAST_LOAD)) as handle:
        assert json.load(handle)["schema"] == LAST_LOAD_SCHEMA
    assert LastLoad.load(root) == record


def test_files_from_before_the_schema_are_still_read(tmp_path):
    root = str(tmp_path)
    write(root, LAST_LOAD, json.dumps({"result": "active", "message": "m", "time": "t"}))
    assert LastLoad.load(root) == LastLoad("active", "m", None, "t")
    write(root, NOTICES, json.dumps({"notices": [{"package": "p", "reason": "r"}, "junk"]}))
    assert load_notices(root) == [RebootNotice("p", None, "r", None)]


def test_foreign_schema_or_garbage_reads_as_absent(tmp_path):
    root = str(tmp_path)
    write(root, LAST_LOAD, json.dumps({"schema": "klp-last-load/2", "result": "active"}))
    assert LastLoad.load(root) is None
    write(root, LAST_LOAD, "{not json")
    assert LastLoad.load(root) is None
    write(root, NOTICES, json.dumps(["not", "an", "object"]))
    assert load_notices(root) == []


def test_notices_round_trip(tmp_path):
    root = str(tmp_path)
    notices = [RebootNotice("a", "6.1.0-1-default", "why", "2026-12-31T23:59:59Z"),
               RebootNotice("b", "6.10.0-10-default", "why", "2027-01-01T00:00:00Z")]
    save_notices(root, notices)
    assert load_notices(root) == notices


BOOT = "6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e"
OTHER_BOOT = "0a1b2c3d-4e5f-4061-8273-849506a7b8c9"


def test_a_notice_holds_in_its_own_boot_and_undated_ones_only_with_the_flag():
    """Stamp and boot both known: same boot. Otherwise libzypp's tmpfs flag decides."""
    table = [  # (stamp, this boot, /run/reboot-needed exists) -> holds
        (BOOT, BOOT, False, True), (BOOT, BOOT, True, True),
        (BOOT, OTHER_BOOT, True, False), (BOOT, OTHER_BOOT, False, False),
        (None, BOOT, True, True), (None, BOOT, False, False),       # written by an older klp
        (BOOT, None, True, True), (BOOT, None, False, False),       # this boot's id unreadable
        (None, None, True, True), (None, None, False, False),
    ]
    for stamp, boot, flag, holds in table:
        assert RebootNotice("p", "k", "r", "t", stamp).holds(boot, flag) is holds, (stamp, boot, flag)


def test_notices_keep_their_boot_and_old_ones_read_without_one(tmp_path):
    root = str(tmp_path)
    write(root, NOTICES, json.dumps({"notices": [{"package": "a", "kernel": "k", "reason": "r",
                                                  "time": "t"},
                                                 {"package": "b", "boot": BOOT}]}))
    assert [n.boot for n in load_notices(root)] == [None, BOOT]
    save_notices(root, load_notices(root))
    assert [n.boot for n in load_notices(root)] == [None, BOOT]
