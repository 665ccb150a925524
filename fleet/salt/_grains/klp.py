# SPDX-License-Identifier: Apache-2.0
"""Salt grain ``klp``: the live patch state of the minion (from ``klp --json``), never raising.

``klp`` is ``{"status", "active", "rpm", "cves", "expires", "update", "reboot_needed"}``; an
empty dict when klp is absent or fails. Settings ``klp.cmd`` and ``klp.root`` come from the
minion config (grains load before pillar). The ``klp`` beacon refreshes it on every change.
"""

import json
import os
import shutil
import subprocess

TIMEOUT = 20


def _klp(*args):
    opts = globals().get("__opts__") or {}
    cmd = opts.get("klp.cmd") or shutil.which("klp") or shutil.which("kgr")
    if not cmd:
        return None
    argv = [cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
    if opts.get("klp.root"):
        argv += ["--root", str(opts["klp.root"])]
    try:
        done = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def klp():
    """The ``klp`` grain."""
    status = _klp("-v", "status")
    listing = _klp("--json", "patches")
    try:
        found = json.loads(listing)["patches"] if listing else None
    except (ValueError, KeyError, TypeError):
        found = None
    if status is None or not isinstance(found, list):
        return {"klp": {}}
    lines = status.splitlines()
    active = next((p for p in found if isinstance(p, dict) and p.get("active")), {})
    root = (globals().get("__opts__") or {}).get("klp.root") or "/"
    reboot = any(line.startswith("reboot needed: ") for line in lines[1:]) or \
        os.path.isfile(os.path.join(str(root), "run/reboot-needed"))
    return {"klp": {
        "status": lines[0] if lines else "unknown",
        "active": active.get("name"),
        "rpm": active.get("rpm"),
        "cves": active.get("cves") or [],
        "expires": active.get("expires"),
        "update": active.get("update"),
        "reboot_needed": reboot,
    }}
