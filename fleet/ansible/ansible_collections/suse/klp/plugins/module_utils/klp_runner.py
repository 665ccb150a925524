# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the host's ``klp`` (argv lists only) and read its ``--json`` documents and exit codes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

EXIT_OK, EXIT_FAIL = 0, 1
ZYPPER_DONE = (0, 102, 103)  # zypper(8): installed; 102 reboot needed, 103 restart suggested
PLAN = re.compile(r"^(?:update|downgrade) (\S+) (?:from \S+|\(not installed\)) to (\S+):$", re.M)

COMMON_ARGS = dict(
    klp_command=dict(type="list", elements="str", default=["klp"]),
    root=dict(type="path"),
)


class KlpError(Exception):
    """klp failed: the message is klp's own last line on stderr."""


class Klp(object):
    """The host's klp as configured by the module's ``klp_command`` and ``root``."""

    def __init__(self, module):
        self.module = module
        self.argv = list(module.params["klp_command"])
        if module.params.get("root"):
            self.argv += ["--root", module.params["root"]]

    def run(self, *args, **kw):
        rc, out, err = self.module.run_command(self.argv + [str(a) for a in args],
                                               data=kw.get("data"), binary_data=True)
        return rc, out, err

    @staticmethod
    def error(rc, err):
        lines = [line for line in (err or "").splitlines() if line.strip()]
        return KlpError(lines[-1] if lines else "klp exited %d" % rc)

    def json(self, *args):
        rc, out, err = self.run("--json", *args)
        if rc != EXIT_OK:
            raise self.error(rc, err)
        try:
            return json.loads(out)
        except ValueError as exc:
            raise KlpError("klp %s: unreadable JSON: %s" % (args[0], exc))

    def status(self):
        return self.json("status")["status"]

    def patches(self):
        return self.json("patches")["patches"]

    def active(self):
        return next((p for p in self.patches() if p.get("active")), None)

    def active_rpm(self):
        patch = self.active()
        return (patch.get("rpm") or patch.get("name")) if patch else None

    def blocking(self):
        doc = self.json("blocking")
        seen = {}
        for task in doc.get("tasks") or []:
            cmd = " ".join(task.get("cmdline") or []) or "[%s]" % (task.get("comm") or "?")
            seen.setdefault(task.get("pid"), "%s %s" % (task.get("pid"), cmd))
        doc["processes"] = list(seen.values())
        return doc

    def reboot_needed(self):
        rc, out, err = self.run("-v", "status")
        if rc != EXIT_OK:
            raise self.error(rc, err)
        return [line.split(": ", 1)[1] for line in out.splitlines()
                if line.startswith("reboot needed: ")]

    def plan(self, downgrade=False):
        """What ``klp update --dry-run`` (or a declined ``klp downgrade``) would do."""
        if downgrade:
            rc, out, err = self.run("downgrade", data="n")
            rc = EXIT_OK if rc == EXIT_FAIL and "cancelled" in err else rc
        else:
            rc, out, err = self.run("update", "--dry-run")
        found = PLAN.search(out)
        if rc != EXIT_OK and found is None:
            raise self.error(rc, err or out)
        return {"package": found.group(1) if found else None,
                "planned": found.group(2) if found else None, "message": out.strip()}

    def wait(self, timeout, interval, revert=False):
        """``klp wait``: (ready, transitioning patch, blocking processes)."""
        args = ["wait", "--timeout", str(timeout), "--interval", str(interval)]
        if revert:
            args.append("--revert")
        patch = self.blocking().get("patch")
        rc, out, err = self.run(*args)
        if rc not in (EXIT_OK, EXIT_FAIL):
            raise self.error(rc, err)
        if rc == EXIT_OK:
            return True, patch, []
        doc = self.blocking()
        return False, doc.get("patch") or patch, doc["processes"]
