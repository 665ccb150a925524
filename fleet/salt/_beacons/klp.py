# SPDX-License-Identifier: Apache-2.0
"""Salt beacon ``klp``: an event when the live patch status, the active patch or the need for a
reboot changes; it refreshes the ``klp`` grain so the master's view never goes stale.

Configuration (minion config or pillar)::

    beacons:
      klp:
        - interval: 10

Events are tagged ``salt/beacon/<minion>/klp/<what>`` (``what`` is ``status``, ``active`` or
``reboot``, the first that changed) and carry the old and new values (``active`` is the active
patch module's name, ``rpm`` its package).
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "klp"
WATCHED = ("status", "active", "reboot")
_LAST = {}


def __virtual__():
    return __virtualname__


def validate(config):
    """The beacon takes only ``interval`` (handled by Salt)."""
    if not isinstance(config, list):
        return False, "klp beacon: configuration must be a list"
    return True, "valid"


def _snapshot():
    patch = __salt__["klp.active"]()
    return {"status": __salt__["klp.status"](),
            "active": patch.get("name") if patch else None,
            "rpm": patch.get("rpm") if patch else None,
            "reboot": bool(__salt__["klp.reboot_needed"]())}


def beacon(config):
    """Compare with the previous poll; the first poll only sets the baseline."""
    try:
        now = _snapshot()
    except CommandExecutionError as exc:
        return [{"tag": "error", "error": str(exc)}]
    before = _LAST.get("state")
    _LAST["state"] = now
    changed = [key for key in WATCHED if before is not None and before[key] != now[key]]
    if not changed:
        return []
    __salt__["saltutil.refresh_grains"]()
    return [{"tag": changed[0], "changed": changed, "old": before, "new": now}]
