# SPDX-License-Identifier: Apache-2.0
"""Salt states ``klp.ready`` and ``klp.patched``: built only on the ``klp`` execution module."""

__virtualname__ = "klp"


def __virtual__():
    if "klp.status" in __salt__:
        return __virtualname__
    return False, "klp state: the klp execution module is not available"


def _ret(name):
    return {"name": name, "result": False, "changes": {}, "comment": ""}


def _blocked(waited, timeout):
    who = "; ".join(waited["blocking"]) or "no task named"
    return (f"the transition of {waited['patch']} is still in progress after {timeout}s, "
            f"blocked by: {who}")


def ready(name, timeout=60, interval=1, revert=False):
    """No live patch transition is in progress; wait up to ``timeout`` seconds for one.

    On timeout the state fails naming the blocking processes (PID and command line); with
    ``revert: True`` the transition is reversed first (``klp wait --revert``). ``test=True``
    says what it would wait for.
    """
    ret = _ret(name)
    if __opts__.get("test"):
        doc = __salt__["klp.blocking"]()
        if doc.get("patch") is None:
            ret.update(result=True, comment="no live patch transition in progress")
        else:
            tasks = "; ".join(doc["processes"]) or "none yet"
            switched = f"{doc.get('tasks_switched')}/{doc.get('tasks_total')} tasks switched"
            ret.update(result=None, comment=f"would wait up to {timeout}s for the transition of "
                       f"{doc['patch']} ({switched}), blocked by: {tasks}")
        return ret
    waited = __salt__["klp.wait"](timeout=timeout, interval=interval, revert=revert)
    if waited["ready"]:
        ret.update(result=True, comment="no live patch transition in progress")
    else:
        ret["comment"] = _blocked(waited, timeout)
        if revert:
            ret["comment"] += "; the transition was reversed"
    return ret


def patched(name, version=None, timeout=60, interval=1):
    """The newest live patch for the running kernel is installed and its transition complete.

    ``version`` (``VERSION-RELEASE``) pins the rollout to the version tested elsewhere: the state
    fails instead of installing anything else when the repositories offer a newer one.
    Changes are ``{old, new}`` (the active live patch package). ``test=True`` uses
    ``klp update --dry-run``.
    """
    ret = _ret(name)
    if not __opts__.get("test") and not __salt__["klp.check"]():
        waited = __salt__["klp.wait"](timeout=timeout, interval=interval)
        if not waited["ready"]:  # the %pre gate would refuse the install anyway
            ret["comment"] = f"not installing: {_blocked(waited, timeout)}"
            return ret
    plan = __salt__["klp.update"](test=True)
    active = plan["old"]
    if plan["planned"] is None:
        if version and (active is None or f"-{version}." not in active):
            ret["comment"] = (f"pinned {version}, but the active live patch is {active}: "
                              f"{plan['comment']}")
            return ret
        if __opts__.get("test"):
            ret.update(result=True, comment=plan["comment"] or "nothing to install")
            return ret
        return _settled(ret, timeout, interval, plan["comment"] or "nothing to install", {})
    if version and plan["planned"] != version:
        ret["comment"] = (f"pinned {version}, but klp would install {plan['package']} "
                          f"{plan['planned']}; not installing")
        return ret
    if __opts__.get("test"):
        ret.update(result=None, comment=plan["comment"],
                   changes={"old": active, "new": f"{plan['package']}-{plan['planned']}"})
        return ret
    done = __salt__["klp.update"]()
    changes = {"old": done["old"], "new": done["new"]} if done["changed"] else {}
    if not done["result"]:
        ret.update(changes=changes,
                   comment=f"klp update exited {done['retcode']}: {done['comment']}")
        return ret
    what = f"installed {plan['package']} {plan['planned']}"
    return _settled(ret, timeout, interval, what, changes)


def _settled(ret, timeout, interval, comment, changes):
    """The transition of what was installed must complete: wait, or fail naming the blockers."""
    waited = __salt__["klp.wait"](timeout=timeout, interval=interval)
    ret["changes"] = changes
    if waited["ready"]:
        ret.update(result=True, comment=comment)
    else:
        ret["comment"] = f"{comment}; {_blocked(waited, timeout)}"
    return ret
