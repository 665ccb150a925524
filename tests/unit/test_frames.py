"""Plugin frames and transaction bodies: real captures, both libzypp dialects, and fuzzing."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zypp_plugin_klp.core.frames import Frame, FrameError, FrameReader, encode
from zypp_plugin_klp.core.transaction import parse_steps

from conftest import FIXTURES

CAPTURE = os.path.join(FIXTURES, "frames", "zypper-1.14.42-install.log")


def captured_frames():
    with open(CAPTURE, "rb") as handle:
        chunks = handle.read().split(b"\n=====\n")
    return [c + b"\0" for c in chunks if c]


def test_real_zypper_capture_decodes():
    reader = FrameReader()
    frames = reader.feed(b"".join(captured_frames()))
    reader.close()
    assert [f.command for f in frames] == ["PLUGINBEGIN", "COMMITBEGIN", "COMMITEND", "PLUGINEND",
                                           "_DISCONNECT"]
    (begin,) = parse_steps(frames[1].body)
    (end,) = parse_steps(frames[2].body)
    assert (begin.type, begin.nvr, begin.arch, begin.stage) == (
        "+", "kernel-livepatch-6_1_0-26-default-1-1.1", "x86_64", None)
    assert end.stage == "ok" and end.kernel == "6.1.0-26-default"


def test_byte_by_byte_feeding_gives_the_same_frames():
    data = b"".join(captured_frames())
    reader = FrameReader()
    frames = [f for i in range(len(data)) for f in reader.feed(data[i:i + 1])]
    assert [f.command for f in frames] == ["PLUGINBEGIN", "COMMITBEGIN", "COMMITEND", "PLUGINEND",
                                           "_DISCONNECT"]


def test_new_dialect_content_length_and_escapes():
    body = b'{"a":"x\\u0000"}\0tail'
    raw = (b"COMMITBEGIN\nuserdata:line1\\nline2 \\\\ end\ncontent-length:%d\n\n" % len(body)
           + body + b"\0")
    (frame,) = FrameReader().feed(raw)
    assert frame.body == body and frame.header("userdata") == "line1\nline2 \\ end"


def test_old_dialect_values_are_verbatim_and_split_at_the_first_colon():
    (frame,) = FrameReader().feed(b"PLUGINBEGIN\nuserdata:a:b\\n \n\n\0")
    assert frame.headers == (("userdata", "a:b\\n "),)


@pytest.mark.parametrize("raw, words", [
    (b"ACK\nno colon here\n\n\0", "invalid header line"),
    (b"bad command!\n\n\0", "invalid frame command"),
    (b"ACK\0", "before its header block"),
    (b"ACK\ncontent-length:zz\n\nx\0", "invalid content-length"),
    (b"ACK\ncontent-length:2\n\nxyz\0", "does not end with NUL"),
    (b"ACK\ncontent-length:99999999999\n\n", "invalid content-length"),
])
def test_garbage_is_a_clear_protocol_error(raw, words):
    with pytest.raises(FrameError, match=words):
        FrameReader().feed(raw)


def test_unencodable_header_is_a_frame_error():
    with pytest.raises(FrameError, match="not valid text"):
        encode(Frame("ACK", (("k", "\ud800"),)))


def test_truncated_frame_is_reported_at_close_and_huge_frames_are_refused():
    reader = FrameReader()
    assert reader.feed(b"COMMITBEGIN\n\n{\"Transact") == []
    with pytest.raises(FrameError, match="input ended inside a frame"):
        reader.close()
    small = FrameReader(limit=1000)
    with pytest.raises(FrameError, match="larger than 1000 bytes"):
        small.feed(b"COMMITBEGIN\n\n" + b"x" * 2000)


@pytest.mark.parametrize("body, words", [
    (b"not json", "not JSON"), (b"[]", "no TransactionStepList"),
    (b'{"TransactionStepList": [{"type": "+"}]}', "without a solvable"),
    (b'{"TransactionStepList": [{"type": "?", "solvable": {"n":"a","v":"1","r":"1","a":"x"}}]}',
     "invalid transaction step"),
    (b'{"TransactionStepList": [{"type": "+", "solvable": {"n":"a","v":1,"r":"1","a":"x"}}]}',
     "invalid transaction step"),
    (b"\xff\xfe", "not JSON"), (b"[" * 100000, "not JSON"),
])
def test_bad_transaction_bodies(body, words):
    with pytest.raises(FrameError, match=words):
        parse_steps(body)


def test_epoch_and_multiversion_steps():
    (step,) = parse_steps(b'{"TransactionStepList":[{"type":"M","stage":"err","solvable":'
                          b'{"n":"kernel-default","v":"6.1","r":"1","a":"x86_64","e":2}}]}')
    assert (step.type, step.epoch, step.stage, step.kernel) == ("M", 2, "err", None)


commands = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z")
values = st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
                 max_size=40)
keys = st.text(alphabet=st.characters(blacklist_characters="\0:\n", blacklist_categories=("Cs",)),
               min_size=1, max_size=10)


@settings(max_examples=300, deadline=None)
@given(commands, st.lists(st.tuples(keys, values), max_size=4),
       st.binary(max_size=200).filter(lambda b: b"\0" not in b))
def test_encode_then_decode_round_trips(command, headers, body):
    frame = Frame(command, tuple(headers), body)
    raw = encode(frame)
    # encode escapes values (the 17.34 dialect), so decode them as 17.34 frames do
    head, _, rest = raw.partition(b"\n\n")
    raw = head + b"\ncontent-length:%d\n\n" % len(body) + rest
    (decoded,) = FrameReader().feed(raw)
    assert decoded.command == command and decoded.body == body
    assert decoded.headers[:len(headers)] == tuple((k, v) for k, v in headers)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_frame_error(data):
    reader = FrameReader(limit=4096)
    try:
        reader.feed(data)
        reader.close()
    except FrameError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_captures_never_raise_anything_but_frame_error(data):
    raw = bytearray(b"".join(captured_frames()))
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    reader = FrameReader()
    try:
        for frame in reader.feed(bytes(raw)):
            if frame.command.startswith("COMMIT"):
                parse_steps(frame.body)
        reader.close()
    except FrameError:
        pass


NEW_DIALECT = (b"PLUGINBEGIN\nuserdata:a\\nb\\\\c\n\n\0"
               b"COMMITBEGIN\ncontent-length:11\n\n{\"x\":\"\0\\n\"}\0"
               b"_DISCONNECT\n\n\0")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["capture", "new"]), st.lists(st.integers(min_value=0), max_size=12))
def test_frames_split_across_reads_decode_exactly_as_in_one_read(which, cuts):
    """Frames arrive in arbitrary pieces from a pipe: every split point (inside a command, a
    header, an escape, a content-length body holding a NUL) gives the same frames, all fields."""
    data = b"".join(captured_frames()) if which == "capture" else NEW_DIALECT
    whole = FrameReader()
    expected = whole.feed(data)
    whole.close()
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    reader = FrameReader()
    got = [f for a, b in zip(points, points[1:]) for f in reader.feed(data[a:b])]
    reader.close()
    assert [(f.command, f.headers, f.body) for f in got] == \
        [(f.command, f.headers, f.body) for f in expected]
    assert len(expected) == (5 if which == "capture" else 3)
