"""Clear one-line messages for the errno values the kernel returns to live patch operations."""

import errno as E

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
    E.EWOULDBLOCK: "{name} is still in use",
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
