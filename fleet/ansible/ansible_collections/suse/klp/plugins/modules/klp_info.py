#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module klp_info: the host's live patch state as ``klp --json`` reports it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: klp_info
short_description: Live patch status, patches and blocking tasks from klp
description:
  - Runs the host's C(klp) with C(--json) (status, patches, blocking) and C(klp -v status).
  - Read only; supports check mode.
options:
  klp_command:
    description: The klp command as an argv list.
    type: list
    elements: str
    default: [klp]
  root:
    description: Passed to klp as C(--root) (chroots, images, simulated kernels).
    type: path
author: zypp-plugin-klp developers
"""

EXAMPLES = r"""
- name: Live patch state
  suse.klp.klp_info:
  register: klp
"""

RETURN = r"""
status: {description: C(ready) or C(in_progress), type: str, returned: always}
active: {description: The active patch (klp-patches/1 entry) or null, type: dict, returned: always}
patches: {description: Every live patch module (klp-patches/1), type: list, returned: always}
blocking: {description: Blocking processes as C(PID command line), type: list, returned: always}
transition: {description: The transitioning patch or null, type: str, returned: always}
reboot_needed: {description: Why the running kernel needs a reboot, type: list, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.suse.klp.plugins.module_utils.klp_runner import COMMON_ARGS, Klp, KlpError


def main():
    module = AnsibleModule(argument_spec=dict(COMMON_ARGS), supports_check_mode=True)
    klp = Klp(module)
    try:
        patches = klp.patches()
        blocking = klp.blocking()
        result = dict(changed=False, status=klp.status(), patches=patches,
                      active=next((p for p in patches if p.get("active")), None),
                      blocking=blocking["processes"], transition=blocking.get("patch"),
                      reboot_needed=klp.reboot_needed())
    except KlpError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
