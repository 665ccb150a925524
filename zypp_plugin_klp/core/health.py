"""``check_klp``'s verdict: Monitoring Plugins ranges, states and the one status line.

Follows the Monitoring Plugins development guidelines: exit 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN; one line ``KLP <STATE> - text | perfdata``; thresholds are ranges ``[@]start:end``
(``start`` defaults to 0, ``~`` is minus infinity, an empty end is infinity; alert when the value
is outside the range, or inside it with ``@``). Pure: values in, values out.
"""

from __future__ import annotations

from .metrics import LOAD_FAILED, Observation

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
DEFAULT_WARNING = "300,30:"   # transition age in seconds, days to the stream's expiry
DEFAULT_CRITICAL = "1800,7:"
_INF = float("inf")


class Range:
    """One threshold range; ``text`` is kept verbatim for the performance data."""

    __slots__ = ("text", "start", "end", "inside")

    def __init__(self, text: str) -> None:
        """Parse ``[@][start:][end]``; ValueError with a one-line reason otherwise."""
        self.text = text
        body = text[1:] if text.startswith("@") else text
        self.inside = text.startswith("@")
        if ":" in body:
            start, end = body.split(":", 1)
        else:
            start, end = "0", body
        if not body or body == ":" or (":" not in body and not end):
            raise ValueError(f"empty threshold {text!r}")
        try:
            self.start = -_INF if start == "~" else float(start or 0)
            self.end = _INF if end == "" else float(end)
        except ValueError:
            raise ValueError(f"invalid threshold {text!r} (expected [@]start:end)") from None
        if self.start > self.end:
            raise ValueError(f"invalid threshold {text!r}: start is above end")

    def alerts(self, value: float) -> bool:
        """Whether ``value`` raises this threshold's state."""
        outside = value < self.start or value > self.end
        return not outside if self.inside else outside


def parse_thresholds(text: str) -> tuple[Range | None, Range | None]:
    """``AGE[,DAYS]`` -> (transition age range, days-to-expiry range); an empty part is no
    threshold. ValueError for anything else."""
    parts = text.split(",")
    if len(parts) > 2:
        raise ValueError(f"too many thresholds in {text!r} (expected AGE,DAYS)")
    parts += [""] * (2 - len(parts))
    ranges = [Range(p) if p else None for p in parts]
    return ranges[0], ranges[1]


def _level(value: float, warning: Range | None, critical: Range | None) -> int:
    if critical is not None and critical.alerts(value):
        return CRITICAL
    if warning is not None and warning.alerts(value):
        return WARNING
    return OK


def _perf(label: str, value: float | None, unit: str, warning: Range | None,
          critical: Range | None, minimum: str = "") -> str:
    shown = "U" if value is None else f"{value:g}"
    return (f"{label}={shown}{unit if value is not None else ''};"
            f"{warning.text if warning else ''};{critical.text if critical else ''};{minimum};")


def verdict(obs: Observation, now: int, warning: str = DEFAULT_WARNING,
            critical: str = DEFAULT_CRITICAL) -> tuple[int, str]:
    """(state, status line) for one observation; ValueError for bad thresholds."""
    age_w, days_w = parse_thresholds(warning)
    age_c, days_c = parse_thresholds(critical)
    if not obs.supported:
        return UNKNOWN, ("KLP UNKNOWN - the running kernel has no live patching "
                         "(/sys/kernel/livepatch)")
    state = OK
    texts: list[str] = []

    age: float | None = 0.0
    if obs.transition is not None:
        module = obs.transition[0]
        blocking = "" if obs.blocking is None else f", {obs.blocking} blocking tasks"
        if obs.transition_since is None:
            age = None
            state = max(state, WARNING)
            texts.append(f"transition of {module} in progress since an unknown time{blocking}")
        else:
            age = max(0, now - obs.transition_since)
            state = max(state, _level(age, age_w, age_c))
            texts.append(f"transition of {module} in progress for {age:g}s{blocking}")
    elif obs.enabled:
        texts.append(f"{obs.enabled[-1]} active")
    else:
        texts.append("no live patch active")

    days: float | None = None
    streams = obs.streams()
    if obs.facts.expiry is not None and streams:
        days = (obs.facts.expiry - now) // 86400
        state = max(state, _level(days, days_w, days_c))
        if obs.facts.expiry <= now:
            texts.append(f"stream {streams[-1].name} expired")
        else:
            texts.append(f"stream {streams[-1].name} expires in {days:g} days")

    missing = obs.not_loaded()
    if missing:
        state = max(state, WARNING)
        texts.append("installed but not loaded: " +
                     " ".join(f"{p.name}-{p.edition}" for p in missing))
    last = obs.facts.last_load
    if last is not None and last[0] == LOAD_FAILED:
        state = max(state, CRITICAL)
        texts.append("the last live patch load failed (see 'klp -v status')")
    reasons = [r for r, on in (("a live patch was removed", obs.facts.livepatch_removed),
                               ("zypp flagged one", obs.zypp_reboot)) if on]
    if reasons:
        state = max(state, WARNING)
        texts.append("reboot needed (" + ", ".join(reasons) + ")")

    perf = [_perf("transition_age", age, "s", age_w, age_c, "0"),
            _perf("blocking_tasks", obs.blocking if obs.transition else 0, "", None, None, "0"),
            _perf("active_patches", len(obs.enabled), "", None, None, "0")]
    if days is not None:
        perf.append(_perf("expiry_days", days, "", days_w, days_c))
    return state, f"KLP {STATE_NAMES[state]} - {'; '.join(texts)} | {' '.join(perf)}"
