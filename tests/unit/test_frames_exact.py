"""Plugin frames, kernel text and transaction steps at their boundaries, with the exact messages."""

import pytest

from zypp_plugin_klp.core import frames as fr
from zypp_plugin_klp.core import kernel_text as kt
from zypp_plugin_klp.core import transaction as tx
from zypp_plugin_klp.core.frames import Frame, FrameError, FrameReader, encode


def read_all(data: bytes, limit: int = fr.MAX_FRAME):
    reader = FrameReader(limit)
    out = reader.feed(data)
    reader.close()
    return out


def error(data: bytes, limit: int = fr.MAX_FRAME) -> str:
    with pytest.raises(FrameError) as info:
        read_all(data, limit)
    return str(info.value)


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("007", 7), ("999999999999", 999999999999), ("1234567890123", None), ("", None),
    ("1a", None), ("X", None), ("1X", None), ("²", None), ("٣", None), (" 1", None), ("-1", None),
])
def test_ascii_numbers(text, value):
    assert fr._ascii_number(text) == value


@pytest.mark.parametrize("command,ok", [
    (b"A", True), (b"a" * 64, True), (b"a" * 65, False), (b"", False), (b"1ACK", False),
    (b"A1_b", True), (b"AC K", False), (b"AC-K", False), (b"\xc3\x84", False),
])
def test_commands(command, ok):
    assert fr._valid_command(command) is ok
    if ok:
        assert read_all(command + b"\n\n\0") == [Frame(command.decode())]


def test_frame_equality_repr_and_headers():
    frame = Frame("COMMIT", (("a", "1"), ("a", "2"), ("b", "")), b"x" * 50)
    assert frame == Frame("COMMIT", [("a", "1"), ("a", "2"), ("b", "")], b"x" * 50)
    assert frame != Frame("COMMIT", (("a", "1"),), b"x" * 50)
    assert frame != Frame("COMMAND", frame.headers, frame.body)
    assert frame != Frame("COMMIT", frame.headers, b"y")
    assert frame != ("COMMIT", frame.headers, frame.body)
    assert (frame.header("a"), frame.header("b"), frame.header("c")) == ("1", "", None)
    assert repr(frame) == f"Frame('COMMIT', (('a', '1'), ('a', '2'), ('b', '')), {b'x' * 40!r})"
    assert Frame("ACK").headers == () and Frame("ACK").body == b""


@pytest.mark.parametrize("raw,value", [
    ("a\\nb", "a\nb"), ("a\\rb", "a\rb"), ("a\\\\nb", "a\\nb"), ("a\\tb", "a\\tb"), ("end\\", "end\\"),
    ("plain", "plain"), ("", ""),
])
def test_unescape(raw, value):
    assert fr._unescape(raw) == value


def test_encode_escapes_exactly_and_decodes_back():
    frame = Frame("COMMIT", (("k", "a\\b\nc\rd"), ("e", "")), b"body")
    assert encode(frame) == b"COMMIT\nk:a\\\\b\\nc\\rd\ne:\n\nbody\0"
    assert encode(Frame("ACK")) == b"ACK\n\n\0"


@pytest.mark.parametrize("frame,message", [
    (Frame("1ACK"), "invalid frame command '1ACK'"),
    (Frame("ÄCK"), "invalid frame command 'ÄCK'"),
    (Frame("ACK", (("", "v"),)), "invalid frame header ''"),
    (Frame("ACK", (("a:b", "v"),)), "invalid frame header 'a:b'"),
    (Frame("ACK", (("a\nb", "v"),)), "invalid frame header 'a\\nb'"),
    (Frame("ACK", (("a\0", "v"),)), "invalid frame header 'a\\x00'"),
    (Frame("ACK", (("a", "v\0"),)), "invalid frame header 'a'"),
    (Frame("ACK", (), b"a\0b"), "a frame body cannot contain NUL without content-length"),
    (Frame("ACK", (("a", "\udcff"),)), "frame header is not valid text: surrogates not allowed"),
])
def test_encode_refuses_what_cannot_be_framed(frame, message):
    with pytest.raises(FrameError) as info:
        encode(frame)
    assert str(info.value) == message


@pytest.mark.parametrize("raw,message", [
    (b"ACK\0", "frame ended before its header block"),
    (b"1ACK\n\n\0", "invalid frame command b'1ACK'"),
    (b"ACK\nnocolon\n\n\0", "invalid header line b'nocolon'"),
    (b"ACK\n:v\n\n\0", "invalid header line b':v'"),
    (b"ACK\nk:\0v\n\n\0", "invalid header line b'k:\\x00v'"),
    (b"ACK\ncontent-length:x\n\n\0", "invalid content-length 'x'"),
    (b"ACK\ncontent-length:11\n\nhello world!\0", "frame body does not end with NUL after content-length bytes"),
    (b"ACK\n\nbody", "input ended inside a frame (9 bytes pending)"),
    (b"ACK\n\n\0 ", "input ended inside a frame (1 bytes pending)"),
    (b"ACK\n\n\0X", "input ended inside a frame (1 bytes pending)"),
    (b" ACK\n\n\0", "invalid frame command b' ACK'"),
    (b"\tACK\n\n\0", "invalid frame command b'\\tACK'"),
    (b"1" + b"A" * 50 + b"\n\n\0", "invalid frame command b'1" + "A" * 39 + "'"),
    (b"ACK\n" + b"k" * 50 + b"\n\n\0", "invalid header line b'" + "k" * 40 + "'"),
    (b"ACK\ncontent-length:" + b"9" * 30 + b"\n\n\0", "invalid content-length '" + "9" * 20 + "'"),
])
def test_reader_errors_are_exact(raw, message):
    assert error(raw) == message


def test_content_length_over_the_limit_is_refused_and_at_the_limit_accepted():
    assert error(b"ACK\ncontent-length:5\n\nhello\0", limit=4) == "invalid content-length '5'"
    (frame,) = FrameReader(limit=5).feed(b"ACK\ncontent-length:5\n\nhello\0")
    assert frame.body == b"hello"


def test_content_length_body_may_hold_nul_and_headers_are_unescaped():
    (frame,) = read_all(b"COMMIT\nk:a\\nb\ncontent-length:3\n\na\0b\0")
    assert frame == Frame("COMMIT", (("k", "a\nb"), ("content-length", "3")), b"a\0b")
    (old,) = read_all(b"COMMIT\nk:a\\nb\n\nab\0")
    assert old.headers == (("k", "a\\nb"),)  # the old dialect keeps values verbatim


def test_content_length_waits_for_the_terminating_nul():
    reader = FrameReader()
    assert reader.feed(b"ACK\ncontent-length:3\n\nabc") == []
    assert reader.feed(b"\0ACK\n\n\0") == [Frame("ACK", (("content-length", "3"),), b"abc"), Frame("ACK")]
    reader.close()


def test_frames_after_an_error_are_returned_first_and_the_error_sticks():
    reader = FrameReader()
    assert reader.feed(b"ACK\n\n\0\n\n1BAD\n\n\0") == [Frame("ACK")]
    for _ in range(2):
        with pytest.raises(FrameError, match="invalid frame command b'1BAD'"):
            reader.feed(b"ACK\n\n\0")
    with pytest.raises(FrameError, match="invalid frame command"):
        reader.close()


def test_the_size_limit_counts_the_pending_bytes():
    reader = FrameReader(limit=10)
    assert reader.feed(b"ACK\n\n12345") == []  # 10 bytes pending: at the limit
    with pytest.raises(FrameError) as info:
        reader.feed(b"6")
    assert str(info.value) == "frame larger than 10 bytes"


def test_blank_lines_and_nuls_between_frames_end_cleanly():
    stray = FrameReader()
    assert stray.feed(b"ACK\n\n\0\n\0") == [Frame("ACK")]  # a stray NUL: the frame first, then the error
    with pytest.raises(FrameError, match="frame ended before its header block"):
        stray.close()
    reader = FrameReader()
    assert reader.feed(b"\n\nACK\n\nx\0\n\n") == [Frame("ACK", (), b"x")]
    reader.close()
    assert reader.buffer == b""


def test_header_split_at_the_first_colon_and_invalid_utf8_replaced():
    (frame,) = read_all(b"ACK\nk:a:b\nu:\xff\n\xfe:v\n\n\0")
    assert frame.headers == (("k", "a:b"), ("u", "\ufffd"), ("\ufffd", "v"))


# -- kernel text ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,value", [("12\n", 12), (b" 3 \n", 3), ("-1\n", -1), ("x", None), ("", None)])
def test_parse_int(raw, value):
    assert kt.parse_int(raw) == value


@pytest.mark.parametrize("raw,args", [
    (b"a\0b\0", ["a", "b"]), (b"a\0b", ["a", "b"]), (b"", []), (b"\0", []), (b"a\0\0", ["a", ""]),
    (b"\xff\0", ["\ufffd"]),
])
def test_parse_cmdline(raw, args):
    assert kt.parse_cmdline(raw) == args


def test_parse_stack_drops_addresses_and_blank_lines():
    assert kt.parse_stack("[<0>]tight+0x1/0x2\n") == ["tight+0x1/0x2"]
    text = "[<0>] foo+0x1/0x2\n\n  [<ffffffff>]  bar+0x3/0x4 [mod]  \n[<0 broken\n  plain  \n[<0>]\n"
    assert kt.parse_stack(text) == ["foo+0x1/0x2", "bar+0x3/0x4 [mod]", "plain"]


@pytest.mark.parametrize("frame,name", [
    ("cmdline_proc_show+0x10/0x20 [m]", "cmdline_proc_show"), ("func [m]", "func"), ("a+b+c", "a"),
    ("plain", "plain"), ("x [m+1]", "x"), ("x y [m]", "x"), ("a\tb", "a\tb"),
])
def test_frame_function(frame, name):
    assert kt.frame_function(frame) == name


@pytest.mark.parametrize("raw,marked", [("OEK\n", True), ("K", True), ("OE\n", False), (" k ", False), ("", False)])
def test_livepatch_taint(raw, marked):
    assert kt.is_livepatch_taint(raw) is marked


# -- transaction steps ----------------------------------------------------------------------------

def step(kind="+", n="kernel-livepatch-6_12_10-150700_53-default", v="10", r="150700.2.1", a="x86_64",
         **extra):
    import json

    solvable = {"n": n, "v": v, "r": r, "a": a, **extra.pop("solvable", {})}
    return json.dumps({"TransactionStepList": [{"type": kind, "solvable": solvable, **extra}]}).encode()


def test_a_step_keeps_every_field():
    (s,) = tx.parse_steps(step("M", solvable={"e": 12}, stage="ok"))
    assert (s.type, s.name, s.version, s.release, s.arch, s.epoch, s.stage) == (
        "M", "kernel-livepatch-6_12_10-150700_53-default", "10", "150700.2.1", "x86_64", 12, "ok")
    assert s.nvr == "kernel-livepatch-6_12_10-150700_53-default-10-150700.2.1"
    assert s.kernel == "6.12.10-150700.53-default"
    assert repr(s) == ("Step('M', 'kernel-livepatch-6_12_10-150700_53-default-10-150700.2.1', "
                       "'x86_64', stage='ok')")
    (plain,) = tx.parse_steps(step("-", n="vim", stage="err"))
    assert (plain.epoch, plain.stage, plain.kernel, plain.type) == (0, "err", None, "-")
    made = tx.Step("+", "a", "1", "2", "noarch")
    assert (made.stage, made.epoch) == (None, 0)


def test_mentions_livepatch():
    assert tx.mentions_livepatch(b'{"n":"kernel-livepatch-x"}')
    assert not tx.mentions_livepatch(b'{"n":"kernel-default"}')


@pytest.mark.parametrize("field,ok", [("a b~", True), ("a\x1fb", False), ("a\x7fb", False), ("a\tb", False),
                                      ("\x00", False), (" ", True), ("\x80", True)])
def test_control_characters_forge_a_step(field, ok):
    if ok:
        assert tx.parse_steps(step(r=field))[0].release == field
    else:
        with pytest.raises(FrameError, match="invalid transaction step"):
            tx.parse_steps(step(r=field))


@pytest.mark.parametrize("body,message", [
    (b"\xff", "transaction body is not JSON: "),
    (b"{", "transaction body is not JSON: "),
    (b"[]", "transaction body has no TransactionStepList"),
    (b'{"TransactionStepList": {}}', "transaction body has no TransactionStepList"),
    (b'{"TransactionStepList": [1]}', "transaction step without a solvable"),
    (b'{"TransactionStepList": [{"type": "+", "solvable": []}]}', "transaction step without a solvable"),
])
def test_bad_bodies_are_exact(body, message):
    with pytest.raises(FrameError) as info:
        tx.parse_steps(body)
    assert str(info.value).startswith(message) and len(str(info.value)) <= len(message) + 80


def test_a_body_that_is_not_json_names_the_parser_error_cut_at_80_characters():
    with pytest.raises(FrameError) as info:
        tx.parse_steps(b"{")
    assert str(info.value) == ("transaction body is not JSON: Expecting property name enclosed in double quotes: "
                               "line 1 column 2 (char 1)")
    with pytest.raises(FrameError) as info:
        tx.parse_steps(b"\n" * 100000 + b"{")
    assert str(info.value) == ("transaction body is not JSON: Expecting property name enclosed in double quotes: "
                               "line 100001 column 2 (char 10")  # cut at 80


@pytest.mark.parametrize("body", [
    step("x"), step(v=1), step(stage="done"), step(solvable={"e": True}), step(solvable={"e": "1"}),
    step(solvable={"e": 1.0}), step(a=None),
])
def test_invalid_steps_name_the_step(body):
    with pytest.raises(FrameError) as info:
        tx.parse_steps(body)
    text = str(info.value)
    assert text.startswith('invalid transaction step {"type": ') and len(text) <= len("invalid transaction step ") + 120


def test_an_empty_step_list_is_no_steps():
    assert tx.parse_steps(b'{"TransactionStepList": []}') == []
    assert tx.parse_steps(step())[0].epoch == 0
