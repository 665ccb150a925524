"""libzypp plugin frames (STOMP-like): ``COMMAND\\nkey:value\\n...\\n\\nbody\\0``.

Reads what libzypp 17.25 sends (body up to the NUL) and what 17.34+ sends (a ``content-length``
header, header values with ``\\n``, ``\\r`` and ``\\\\`` escaped). Anything else is a FrameError
with one clear line; no input makes the reader hang, grow without bound, or raise anything else.
"""

from __future__ import annotations

from ..errors import KlpError

# The commit plugin imports this module inside every zypper commit: no re, dataclasses or typing
# here (they cost more than the plugin's whole work in the usual case).
MAX_FRAME = 8 << 20  # libzypp's transaction bodies are kilobytes; anything near this is garbage
_COMMAND_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _ascii_number(text: str) -> int | None:
    """``text`` as a decimal number of ASCII digits only (``str.isdigit`` admits ``²``, ``٣``)."""
    if not text or len(text) > 12 or text.strip("0123456789"):
        return None
    return int(text)


def _valid_command(command: bytes) -> bool:
    return 0 < len(command) <= 64 and not command[:1].isdigit() and \
        all(c in _COMMAND_CHARS for c in command)


class FrameError(KlpError):
    """The byte stream is not a valid sequence of plugin frames."""


class Frame:
    """One plugin frame (immutable by convention)."""

    __slots__ = ("command", "headers", "body")

    def __init__(self, command: str, headers: tuple[tuple[str, str], ...] = (),
                 body: bytes = b"") -> None:
        self.command = command
        self.headers = tuple(headers)
        self.body = body

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frame) and \
            (self.command, self.headers, self.body) == (other.command, other.headers, other.body)

    def __repr__(self) -> str:
        return f"Frame({self.command!r}, {self.headers!r}, {self.body[:40]!r})"

    def header(self, key: str) -> str | None:
        """The first value of header ``key``, or None."""
        return next((v for k, v in self.headers if k == key), None)


def _unescape(value: str) -> str:
    out = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
        else:
            out.append(char)
    return "".join(out)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def encode(frame: Frame) -> bytes:
    """Serialise a frame (header values escaped only where they need it)."""
    if not _valid_command(frame.command.encode("ascii", "replace")):
        raise FrameError(f"invalid frame command {frame.command!r}")
    lines = [frame.command]
    for key, value in frame.headers:
        if not key or ":" in key or "\n" in key or "\0" in key or "\0" in value:
            raise FrameError(f"invalid frame header {key!r}")
        lines.append(f"{key}:{_escape(value)}")
    if b"\0" in frame.body:
        raise FrameError("a frame body cannot contain NUL without content-length")
    try:
        head = ("\n".join(lines) + "\n\n").encode()
    except UnicodeEncodeError as exc:
        raise FrameError(f"frame header is not valid text: {exc.reason}") from None
    return head + frame.body + b"\0"


class FrameReader:
    """Incremental decoder: ``feed(bytes)`` returns the frames completed so far."""

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self.buffer = b""
        self.limit = limit
        self.error: FrameError | None = None

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return every complete frame.

        Raises:
            FrameError: on invalid input. Frames completed before the invalid bytes are returned
                first; the error is raised by the next call.
        """
        if self.error is not None:
            raise self.error
        self.buffer += data
        frames: list[Frame] = []
        while True:
            try:
                frame = self._next()
            except FrameError as exc:
                if not frames:
                    raise
                self.error = exc
                return frames
            if frame is None:
                break
            frames.append(frame)
        if len(self.buffer) > self.limit:
            raise FrameError(f"frame larger than {self.limit} bytes")
        return frames

    def close(self) -> None:
        """End of input: FrameError if a frame was cut off (or an error is pending)."""
        if self.error is not None:
            raise self.error
        if self.buffer.strip(b"\n\0"):
            raise FrameError(f"input ended inside a frame ({len(self.buffer)} bytes pending)")

    def _next(self) -> Frame | None:
        buf = self.buffer.lstrip(b"\n")  # tolerate blank lines between frames
        self.buffer = buf
        end = buf.find(b"\n\n")
        if end < 0:
            if b"\0" in buf:
                raise FrameError("frame ended before its header block")
            return None
        head = buf[:end].split(b"\n")
        command = head[0]
        if not _valid_command(command):
            raise FrameError(f"invalid frame command {command[:40]!r}")
        raw_headers = []
        for line in head[1:]:
            key, sep, value = line.partition(b":")
            if not sep or not key or b"\0" in line:
                raise FrameError(f"invalid header line {line[:40]!r}")
            raw_headers.append((key.decode("utf-8", "replace"), value.decode("utf-8", "replace")))
        start = end + 2
        length_text = next((v for k, v in raw_headers if k == "content-length"), None)
        if length_text is not None:
            length = _ascii_number(length_text)
            if length is None or length > self.limit:
                raise FrameError(f"invalid content-length {length_text[:20]!r}")
            stop = start + length
            if len(buf) < stop + 1:
                return None
            if buf[stop:stop + 1] != b"\0":
                raise FrameError("frame body does not end with NUL after content-length bytes")
            headers = tuple((k, _unescape(v)) for k, v in raw_headers)
        else:
            stop = buf.find(b"\0", start)
            if stop < 0:
                return None
            headers = tuple(raw_headers)
        self.buffer = buf[stop + 1:]
        return Frame(command.decode("ascii"), headers, buf[start:stop])
