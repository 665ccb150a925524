"""The Prometheus text exposition format (version 0.0.4): metric families in, text out.

Pure and cheap to import (``klp metrics`` runs every minute on every server): no ``re``,
``typing`` or ``dataclasses`` at run time.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    Labels = Sequence[tuple[str, str]]

TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
_NAME_REST = _NAME_FIRST | frozenset("0123456789")


class Family:
    """One metric family: its name, type, help text and samples ``(labels, value)``."""

    __slots__ = ("name", "kind", "help", "samples")

    def __init__(self, name: str, kind: str, help: str,
                 samples: Iterable[tuple[Labels, float]] = ()) -> None:
        if not valid_name(name):
            raise ValueError(f"invalid metric name {name!r}")
        if kind not in TYPES:
            raise ValueError(f"invalid metric type {kind!r}")
        self.name = name
        self.kind = kind
        self.help = help
        self.samples: list[tuple[Labels, float]] = []
        for labels, value in samples:
            self.add(value, labels)

    def add(self, value: float, labels: Labels = ()) -> None:
        """Append one sample; label names are checked, values may be any text."""
        for key, _ in labels:
            if not valid_name(key, label=True):
                raise ValueError(f"invalid label name {key!r} on {self.name}")
        self.samples.append((tuple(labels), value))


def valid_name(name: str, label: bool = False) -> bool:
    """Whether ``name`` is a valid metric name (or label name: no colons, no ``__`` prefix)."""
    if not name or name[0] not in _NAME_FIRST or any(c not in _NAME_REST for c in name[1:]):
        return False
    return not label or (":" not in name and not name.startswith("__"))


def escape_help(text: str) -> str:
    """HELP text escaping: backslash and line feed."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label(text: str) -> str:
    """Label value escaping: backslash, double quote and line feed."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as Prometheus parses it: integers without a fraction, ``+Inf``, ``NaN``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render(families: Iterable[Family]) -> str:
    """The exposition text: ``# HELP`` and ``# TYPE`` then the samples of each family, in order.

    A family without samples still gets its HELP and TYPE lines (valid, and it documents the
    series); a name used twice is a ValueError, since the format allows each family once.
    """
    lines: list[str] = []
    seen: set[str] = set()
    for family in families:
        if family.name in seen:
            raise ValueError(f"metric family {family.name} given twice")
        seen.add(family.name)
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            if labels:
                text = ",".join(f'{key}="{escape_label(val)}"' for key, val in labels)
                lines.append(f"{family.name}{{{text}}} {format_value(value)}")
            else:
                lines.append(f"{family.name} {format_value(value)}")
    return "\n".join(lines) + "\n" if lines else ""
