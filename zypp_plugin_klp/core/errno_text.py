"""Clear one-line messages for the errno values the kernel returns to live patch operations."""

import errno as E
from typing import List, Optional

_LOAD = {
    E.EEXIST: "{name} is already loaded",
    E.EBUSY: "another live patch transition is in progress; wait for 'klp status' to say ready",
    E.ENOEXEC: "{name} does not fit the running kernel (bad ELF, or vermagic/symbol versions differ)",
    E.EKEYREJECTED: "{name} was rejected: its signature is not trusted by the kernel",
    E.EPERM: "{name} was refused: module loading is not permitted (lockdown, signature policy or "
             "missing CAP_SYS_MODULE)",
    E.ENOENT: "{name} needs symbols the running kernel does not have",
    E.ENOMEM: "not enough memory to load {name}",
    E.EINVAL: "{name} was refused as invalid by the kernel",
    E.ENOSYS: "this kernel cannot load modules",
    E.EACCES: "{name} cannot be read",
}

_UNLOAD = {
    E.EBUSY: "{name} is still in use: disable its patch and let the transition finish first",
    E.ENOENT: "{name} is not loaded",
    E.EPERM: "unloading {name} is not permitted",
    E.EWOULDBLOCK: "{name} is still in use (its patch is still enabled or in transition, a "
                   "forced transition pinned it until reboot, or another module needs it)",
}

_SYSFS = {
    E.EINVAL: "the kernel refused the change for {name} (not in this state)",
    E.EBUSY: "another live patch transition is in progress",
    E.ENOENT: "{name} is not a live patch in sysfs",
    E.EACCES: "permission denied writing to {name}'s sysfs attribute",
    E.EPERM: "permission denied writing to {name}'s sysfs attribute",
}


def describe(operation: str, err: int, name: str) -> str:
    """The message for ``err`` from ``operation`` (``load``, ``unload`` or ``sysfs``) on ``name``."""
    table = {"load": _LOAD, "unload": _UNLOAD}.get(operation, _SYSFS)
    template = table.get(err)
    text = template.format(name=name) if template else f"{operation} of {name} failed"
    symbol = E.errorcode.get(err, str(err))
    return f"{text} ({symbol})"


CALLBACK_FAILED = "pre-patch callback failed"
INCOMPATIBLE = "is not compatible with the already installed livepatches"
_USUAL = set(_LOAD) - {E.EINVAL, E.EBUSY}


def describe_load_refusal(err: int, name: str, transition: Optional[str],
                          ftrace_enabled: Optional[bool], log: Optional[List[str]]) -> str:
    """The kernel's real reason for refusing to load live patch ``name`` with ``err``.

    Args:
        transition: the patch in transition right after the refusal, if any.
        ftrace_enabled: ``kernel.ftrace_enabled`` (None when unknown).
        log: the kernel's log lines since the load started (None when not readable).
    """
    symbol = E.errorcode.get(err, str(err))
    said = "; the kernel log says: " + " | ".join(log[-4:]) if log else \
        "; see the kernel log ('dmesg')" if log is None else ""
    if err == E.EBUSY and transition is not None:
        return f"another live patch transition is in progress ({transition}); wait for " \
               f"'klp status' to say ready ({symbol})"
    if err == E.EBUSY and ftrace_enabled is False:
        return f"{name} was refused: ftrace is disabled (sysctl kernel.ftrace_enabled=0), and live " \
               f"patches need it; enable it with 'sysctl kernel.ftrace_enabled=1' ({symbol})"
    if log and any(CALLBACK_FAILED in line for line in log):
        return f"{name}'s own pre-patch callback refused to patch ({symbol}){said}"
    if log and any(INCOMPATIBLE in line for line in log) or (err == E.EINVAL and log is None):
        why = "is incompatible with the system states (klp_state) of the installed live patches" \
            if log else "was refused as invalid by the kernel: for a live patch most likely an " \
                        "incompatible system state (klp_state) of an installed live patch"
        return f"{name} {why} ({symbol}){said}"
    if err == E.EBUSY:
        return f"{name} was refused as busy although no transition is in progress ({symbol}){said}"
    if err not in _USUAL:
        return f"{name} was refused ({symbol}), most likely by its own pre-patch callback{said}"
    return describe("load", err, name) + (said if log else "")
