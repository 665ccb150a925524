"""One-line parsers for the values the kernel exposes in sysfs and /proc (text in, value out).

Imported by ``klp status``: no typing/dataclasses imports here, they cost milliseconds.
"""

from __future__ import annotations


def parse_int(raw: str | bytes) -> int | None:
    """Parse a sysfs attribute printed as ``"%d\\n"``.

    Returns:
        The integer, or None when the text is not a single decimal integer.
    """
    try:
        return int(raw.strip())
    except ValueError:
        return None


def parse_cmdline(raw: bytes) -> list[str]:
    """Split ``/proc/<pid>/cmdline`` (NUL-separated, NUL-terminated) into arguments."""
    text = raw.decode("utf-8", errors="replace")
    if text.endswith("\0"):
        text = text[:-1]
    return text.split("\0") if text else []


def parse_stack(text: str) -> list[str]:
    """Parse ``/proc/<pid>/task/<tid>/stack`` into frames like ``func+0x10/0x20 [module]``.

    The kernel prints each frame as ``[<address>] frame``; the address part is dropped.
    """
    frames = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[<"):
            end = line.find("]")
            line = line[end + 1:].strip() if end >= 0 else ""
        if line:
            frames.append(line)
    return frames


def frame_function(frame: str) -> str:
    """The function name of one stack frame: ``cmdline_proc_show+0x10/0x20 [m]`` -> ``cmdline_proc_show``."""
    return frame.split("+", 1)[0].split(" ", 1)[0]


def is_livepatch_taint(raw: str) -> bool:
    """Whether ``/sys/module/<name>/taint`` marks a live patch module (TAINT_LIVEPATCH, ``K``)."""
    return "K" in raw.strip()


def parse_boot_id(raw: str) -> str | None:
    """Parse ``/proc/sys/kernel/random/boot_id`` (a random UUID, new at every boot, printed as
    ``8-4-4-4-12`` lower-case hex digits and a newline).

    Returns:
        The UUID, or None for anything else (the file is read as hostile input: a value that is
        not exactly a UUID must never be compared as one).
    """
    text = raw[:-1] if raw.endswith("\n") else raw
    groups = text.split("-")
    if len(text) != 36 or [len(g) for g in groups] != [8, 4, 4, 4, 12]:
        return None
    if any(c not in "0123456789abcdef" for g in groups for c in g):
        return None
    return text
