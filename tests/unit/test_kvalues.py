"""Parsers of single sysfs/proc values, fed literal kernel text."""

import pytest

from zypp_plugin_klp.core import kernel_text as kvalues


@pytest.mark.parametrize("raw, expected", [
    ("1\n", 1), ("0\n", 0), ("-1\n", -1), (b"1\n", 1), (" 7 ", 7),
    ("", None), ("\n", None), ("yes\n", None), ("1\n2\n", None), (b"\xff\xfe", None), ("0x1", None),
])
def test_parse_int(raw, expected):
    assert kvalues.parse_int(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    (b"/usr/sbin/sshd\0-D\0", ["/usr/sbin/sshd", "-D"]),
    (b"", []),
    (b"sshd: listener [0 of 10]", ["sshd: listener [0 of 10]"]),  # rewritten argv, no NUL
    (b"a\0\0b\0", ["a", "", "b"]),
    (b"bad\xff\0", ["bad\ufffd"]),
])
def test_parse_cmdline(raw, expected):
    assert kvalues.parse_cmdline(raw) == expected


def test_parse_stack_drops_addresses_and_blank_lines():
    text = ("[<0>] klp_test_held_func+0x1e/0x30 [test_klp_held]\n"
            "[<ffffffff81234567>] kthread+0xe8/0x110\n\n  \n"
            "ret_from_fork+0x22/0x30\n")
    assert kvalues.parse_stack(text) == [
        "klp_test_held_func+0x1e/0x30 [test_klp_held]", "kthread+0xe8/0x110",
        "ret_from_fork+0x22/0x30"]


@pytest.mark.parametrize("frame, function", [
    ("cmdline_proc_show+0x10/0x20 [livepatch_1]", "cmdline_proc_show"),
    ("do_syscall_64", "do_syscall_64"),
    ("kthread+0xe8/0x110", "kthread"),
])
def test_frame_function(frame, function):
    assert kvalues.frame_function(frame) == function


@pytest.mark.parametrize("taint, livepatch", [("OEK\n", True), ("K", True), ("OE\n", False), ("", False)])
def test_livepatch_taint(taint, livepatch):
    assert kvalues.is_livepatch_taint(taint) is livepatch


UUID = "3b0b1f5e-8f6a-4d2c-9e71-5a4c2b1d0f9e"


@pytest.mark.parametrize("raw, expected", [
    (UUID + "\n", UUID), (UUID, UUID),
    ("", None), ("\n", None), (UUID + "\n\n", None), (" " + UUID + "\n", None),
    (UUID.upper() + "\n", None),                      # the kernel prints lower-case hex
    (UUID.replace("-", "") + "\n", None), (UUID[:-1] + "g\n", None), (UUID[:-1] + "\n", None),
    (UUID + "0\n", None), ("3b0b1f5e-8f6a4-d2c-9e71-5a4c2b1d0f9e\n", None),
    ("../../../../etc/passwd-xxxxxxxxxxxxxxx\n", None), (UUID[:8] + "\x1b[2J" + UUID[12:], None),
])
def test_parse_boot_id(raw, expected):
    assert kvalues.parse_boot_id(raw) == expected
