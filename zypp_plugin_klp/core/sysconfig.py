"""Parse /etc/sysconfig files (shell-style ``KEY="value"`` lines) and the live patching policy."""

import shlex
from typing import Dict, Optional

MODES = ("always", "never", "auto")


def parse_sysconfig(text: str) -> Dict[str, str]:
    """Values of ``KEY=value`` lines; comments, blank lines and anything unparsable are skipped."""
    values: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export "):].strip()
        if not key.isidentifier():
            continue
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            continue
        values[key] = words[0] if words else ""
    return values


def livepatch_mode(values: Dict[str, str]) -> str:
    """``LIVEPATCH_KERNEL`` from /etc/sysconfig/livepatching: always, never or auto (default)."""
    mode = values.get("LIVEPATCH_KERNEL", "auto").strip().lower()
    return mode if mode in MODES else "auto"


def mode_warning(values: Dict[str, str]) -> Optional[str]:
    """The warning for an invalid ``LIVEPATCH_KERNEL`` (it is read as the default, ``auto``)."""
    raw = values.get("LIVEPATCH_KERNEL")
    if raw is None or raw.strip().lower() in MODES:
        return None
    shown = "".join(c if c.isprintable() else "?" for c in raw[:40])
    return (f"LIVEPATCH_KERNEL={shown!r} in /etc/sysconfig/livepatching is not always, never or "
            "auto; using the default, auto")


def may_load(mode: str, transactional_update: Optional[str]) -> bool:
    """Whether a live patch may be loaded now: ``auto`` skips inside a transactional update."""
    if mode == "never":
        return False
    if mode == "auto" and transactional_update:
        return False
    return True


def seconds(raw: Optional[str], default: float, cap: float = float("inf")) -> float:
    """A number of seconds from a setting (LIVEPATCH_WAIT, ...): ``default`` when unset or not a
    number, never negative, at most ``cap``."""
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = default
    if value != value:  # NaN
        value = default
    return min(max(value, 0.0), cap)
