#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module klp_wait: wait for the running live patch transition with ``klp wait``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: klp_wait
short_description: Wait until no live patch transition is in progress
description:
  - Runs C(klp wait); when the transition is still in progress at the timeout the task fails and
    names the blocking processes (PID and command line).
  - In check mode it only reports what it would wait for.
options:
  timeout: {description: Seconds to wait., type: float, default: 60}
  interval: {description: Seconds between polls., type: float, default: 1}
  revert:
    description: At the timeout reverse the transition (C(klp wait --revert)); the task still fails.
    type: bool
    default: false
  klp_command:
    description: The klp command as an argv list.
    type: list
    elements: str
    default: [klp]
  root: {description: Passed to klp as C(--root)., type: path}
author: zypp-plugin-klp developers
"""

EXAMPLES = r"""
- name: Wait for the live patch transition
  suse.klp.klp_wait:
    timeout: 120
"""

RETURN = r"""
ready: {description: No transition in progress, type: bool, returned: always}
transition:
  description: The patch that was (or still is) transitioning
  type: str
  returned: always
blocking: {description: Blocking processes as C(PID command line), type: list, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.suse.klp.plugins.module_utils.klp_runner import COMMON_ARGS, Klp, KlpError


def main():
    spec = dict(COMMON_ARGS, timeout=dict(type="float", default=60.0),
                interval=dict(type="float", default=1.0), revert=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    klp = Klp(module)
    p = module.params
    try:
        if module.check_mode:
            doc = klp.blocking()
            patch = doc.get("patch")
            module.exit_json(changed=False, ready=patch is None, transition=patch,
                             blocking=doc["processes"],
                             msg="no live patch transition in progress" if patch is None
                             else "would wait up to %gs for the transition of %s" % (
                                 p["timeout"], patch))
        ready, patch, blocking = klp.wait(p["timeout"], p["interval"], p["revert"])
    except KlpError as exc:
        module.fail_json(msg=str(exc))
    if ready:
        module.exit_json(changed=False, ready=True, transition=patch, blocking=[],
                         msg="no live patch transition in progress")
    module.fail_json(changed=p["revert"], ready=False, transition=patch, blocking=blocking,
                     msg="the transition of %s is still in progress after %gs, blocked by: %s%s" % (
                         patch, p["timeout"], "; ".join(blocking) or "no task named",
                         "; the transition was reversed" if p["revert"] else ""))


if __name__ == "__main__":
    main()
