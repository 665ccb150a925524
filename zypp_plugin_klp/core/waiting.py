"""The one wait policy for live patch transitions: its values, its defaults, and its pure step."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .sysconfig import seconds


@dataclass(frozen=True)
class WaitResult:
    """How waiting for a transition ended."""

    completed: bool
    patch: str | None
    elapsed: float


@dataclass(frozen=True)
class WaitPolicy:
    """How long to wait for a transition, how often to look, and when to signal blocking tasks."""

    timeout: float
    interval: float = 1.0
    signal_after: float | None = None  # signal blocking tasks once, this far into the wait
    cap: float | None = None           # the timeout never exceeds this (libzypp's plugin limit)
    lock: float = 0.0                  # how long to wait for /run/klp/lock before giving up


@dataclass(frozen=True)
class Default:
    """Where a waiter's timeout comes from: environment, then sysconfig, then the default."""

    timeout: float
    interval: float
    sysconfig_key: str | None = None   # in /etc/sysconfig/livepatching
    env_key: str | None = None         # wins over the sysconfig value
    cap: float | None = None           # no setting makes the timeout longer than this
    signal_after: float | None = None
    lock: float = 0.0                  # deadline for taking /run/klp/lock
    answer: float | None = None        # the whole answer to one libzypp message (see below)


SCRIPTLET_CAP = 600.0   # seconds: the longest LIVEPATCH_WAIT/KLP_WAIT honoured
SCRIPTLET_LOCK = 2 * SCRIPTLET_CAP + 60.0  # a holder's two waits (before loading, after) and more
PLUGIN_LOCK = 3.0       # the plugin's whole answer stays well inside libzypp's 30 s
LIBZYPP_TIMEOUT = 30.0  # libzypp drops a plugin that answers later (PluginScript.cc's default)

# Every waiter and its defaults, written once.
DEFAULTS: dict[str, Default] = {
    # rpm scriptlets (%posttrans): before loading and for the new patch's transition; capped so
    # that LIVEPATCH_WAIT=inf cannot hold the rpm transaction (and the lock) forever
    "scriptlet": Default(15.0, 0.5, "LIVEPATCH_WAIT", "KLP_WAIT", cap=SCRIPTLET_CAP,
                         lock=SCRIPTLET_LOCK),
    # the commit plugin: libzypp drops a plugin that takes 30 s to answer; a busy lock means a
    # scriptlet or klp is loading right now: the plugin leaves the load to it.
    # answer: ONE deadline per libzypp message, set when the message arrives, shared by the lock
    # and every wait (each takes only what is left), so lock + wait before loading + the new
    # patch's wait can never add up past libzypp's limit (they could reach 3 + 25 + 25 s).
    # 25 s leaves 5 s of libzypp's 30 s for what is not a wait: Python's start, the rpm
    # database, the load itself and the record. Where ZYPP_PLUGIN_RECEIVE_TIMEOUT or
    # ZYPP_PLUGIN_TIMEOUT change libzypp's limit, the budget keeps the same share of it.
    "plugin": Default(20.0, 0.5, "LIVEPATCH_PLUGIN_WAIT", cap=25.0, lock=PLUGIN_LOCK, answer=25.0),
    # 'klp wait' (--timeout and --interval override)
    "cli": Default(60.0, 1.0),
}


def policy(waiter: str, sysconfig: dict[str, str], environ: dict[str, str]) -> WaitPolicy:
    """The policy of ``waiter`` (a key of DEFAULTS) given the settings and the environment."""
    d = DEFAULTS[waiter]
    raw = (environ.get(d.env_key) if d.env_key else None) or \
        (sysconfig.get(d.sysconfig_key) if d.sysconfig_key else None)
    timeout = seconds(raw, d.timeout, d.cap if d.cap is not None else float("inf"))
    return WaitPolicy(timeout, d.interval, d.signal_after, d.cap, d.lock)


def within(policy: WaitPolicy, left: float) -> WaitPolicy:
    """``policy`` shortened to the ``left`` seconds of a shared deadline (never lengthened)."""
    return policy if left >= policy.timeout else replace(policy, timeout=max(0.0, left))


def answer_budget(environ: dict[str, str]) -> float:
    """Seconds the commit plugin may spend answering one libzypp message: DEFAULTS' ``answer``,
    scaled to libzypp's receive timeout as libzypp reads it from the environment (the plugin
    inherits it): ZYPP_PLUGIN_RECEIVE_TIMEOUT, else ZYPP_PLUGIN_TIMEOUT, each only if positive."""
    limit = LIBZYPP_TIMEOUT
    for key in ("ZYPP_PLUGIN_RECEIVE_TIMEOUT", "ZYPP_PLUGIN_TIMEOUT"):
        value = _strtol(environ[key]) if key in environ else 0
        if value > 0:
            limit = float(value)
            break
    answer = DEFAULTS["plugin"].answer
    assert answer is not None
    return answer * limit / LIBZYPP_TIMEOUT


def _strtol(text: str) -> int:
    """C's ``strtol(text, NULL, 0)`` as libzypp applies it to its timeout variables: leading
    blanks, a sign, 0x for hex, a leading 0 for octal; stops at the first other character."""
    import re

    match = re.match(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if match is None:
        return 0
    sign, digits = match.groups()
    base = 16 if digits[:2] in ("0x", "0X") else 8 if digits.startswith("0") else 10
    value = int(digits, base)
    return -value if sign == "-" else value


# What the waiting loop does next
DONE = "done"
GIVE_UP = "give_up"
SIGNAL = "signal"
PAUSE = "pause"


def step(policy: WaitPolicy, elapsed: float, in_transition: bool,
         signalled: bool) -> tuple[str, float]:
    """The next move of a wait ``elapsed`` seconds old: (DONE|GIVE_UP|SIGNAL|PAUSE, seconds)."""
    timeout = policy.timeout if policy.cap is None else min(policy.timeout, policy.cap)
    if not in_transition:
        return DONE, 0.0
    if elapsed >= timeout:
        return GIVE_UP, 0.0
    if policy.signal_after is not None and not signalled and elapsed >= policy.signal_after:
        return SIGNAL, 0.0
    return PAUSE, min(policy.interval, max(0.0, timeout - elapsed)) or policy.interval
