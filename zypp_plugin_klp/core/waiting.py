"""The one wait policy for live patch transitions: its values, its defaults, and its pure step."""

from __future__ import annotations

from dataclasses import dataclass

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


SCRIPTLET_CAP = 600.0   # seconds: the longest LIVEPATCH_WAIT/KLP_WAIT honoured
SCRIPTLET_LOCK = 2 * SCRIPTLET_CAP + 60.0  # a holder's two waits (before loading, after) and more
PLUGIN_LOCK = 3.0       # the plugin's whole answer stays well inside libzypp's 30 s

# Every waiter and its defaults, written once.
DEFAULTS: dict[str, Default] = {
    # rpm scriptlets (%posttrans): before loading and for the new patch's transition; capped so
    # that LIVEPATCH_WAIT=inf cannot hold the rpm transaction (and the lock) forever
    "scriptlet": Default(15.0, 0.5, "LIVEPATCH_WAIT", "KLP_WAIT", cap=SCRIPTLET_CAP,
                         lock=SCRIPTLET_LOCK),
    # the commit plugin: libzypp drops a plugin that takes 30 s to answer; a busy lock means a
    # scriptlet or klp is loading right now: the plugin leaves the load to it
    "plugin": Default(20.0, 0.5, "LIVEPATCH_PLUGIN_WAIT", cap=25.0, lock=PLUGIN_LOCK),
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
