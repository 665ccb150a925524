#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module klp_update: the newest live patch for the running kernel via ``klp update``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: klp_update
short_description: Install the newest live patch for the running kernel with klp and zypper
description:
  - Runs C(klp update -n) (C(klp downgrade -n) with I(downgrade)), which finds the package with
    its resolver and installs it with zypper; the result reports the active patch package before
    and after.
  - Check mode uses C(klp update --dry-run).
  - Waiting for the transition is M(suse.klp.klp_wait)'s job.
options:
  version:
    description:
      - Pin C(VERSION-RELEASE); the task fails instead of installing anything else when klp would
        install another version (e.g. a newer one released after your tests).
    type: str
  downgrade: {description: Go back to the previous version instead., type: bool, default: false}
  klp_command:
    description: The klp command as an argv list.
    type: list
    elements: str
    default: [klp]
  root: {description: Passed to klp as C(--root)., type: path}
author: zypp-plugin-klp developers
"""

EXAMPLES = r"""
- name: Newest live patch
  suse.klp.klp_update:
"""

RETURN = r"""
old: {description: Active live patch package before, type: str, returned: always}
new: {description: Active live patch package after, type: str, returned: always}
planned: {description: The version-release klp chose, or null, type: str, returned: always}
rc: {description: klp's exit status (zypper's once zypper ran), type: int, returned: when run}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.suse.klp.plugins.module_utils.klp_runner import (
    COMMON_ARGS, ZYPPER_DONE, Klp, KlpError)


def main():
    spec = dict(COMMON_ARGS, version=dict(type="str"), downgrade=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    klp = Klp(module)
    version = module.params["version"]
    command = "downgrade" if module.params["downgrade"] else "update"
    try:
        old = klp.active_rpm()
        plan = klp.plan(downgrade=command == "downgrade")
    except KlpError as exc:
        module.fail_json(msg=str(exc))
    if version and plan["planned"] not in (None, version):
        module.fail_json(msg="pinned %s, but klp would install %s %s; not installing" % (
            version, plan["package"], plan["planned"]), old=old, new=old, planned=plan["planned"])
    if version and plan["planned"] is None and (old is None or "-%s." % version not in old):
        module.fail_json(msg="pinned %s, but the active live patch is %s: %s" % (
            version, old, plan["message"]), old=old, new=old, planned=None)
    if plan["planned"] is None or module.check_mode:
        module.exit_json(changed=plan["planned"] is not None, old=old, new=old,
                         planned=plan["planned"], msg=plan["message"])
    rc, out, err = klp.run(command, "-n")
    try:
        new = klp.active_rpm()
    except KlpError as exc:
        module.fail_json(msg=str(exc), rc=rc, stdout=out, stderr=err)
    if rc not in ZYPPER_DONE:
        module.fail_json(msg="klp %s exited %d: %s" % (command, rc, (err or out).strip()),
                         rc=rc, old=old, new=new, planned=plan["planned"], stdout=out, stderr=err)
    module.exit_json(changed=old != new, old=old, new=new, planned=plan["planned"], rc=rc,
                     msg="installed %s %s" % (plan["package"], plan["planned"]), stdout=out)


if __name__ == "__main__":
    main()
