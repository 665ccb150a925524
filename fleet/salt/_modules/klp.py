# SPDX-License-Identifier: Apache-2.0
"""Salt execution module ``klp``: runs the ``klp`` command and maps its JSON and exit codes.

Every decision stays in ``klp``; this module only runs it (argv lists, never a shell) and turns
its ``--json`` documents and exit codes into Salt return values. It imports nothing of
zypp-plugin-klp. Settings, from the minion config or pillar (minion config wins):

    klp.cmd    the command, a string or an argv list (default: ``klp``, else ``kgr``, from PATH)
    klp.root   passed as ``--root`` (images, chroots, simulated kernels; default: none)
"""

import json
import os
import re
import shutil
import subprocess
import time

try:
    from salt.exceptions import CommandExecutionError
except ImportError:  # unit tests without Salt installed
    class CommandExecutionError(Exception):
        """Stand-in for Salt's exception of the same name."""

__virtualname__ = "klp"

# klp's documented exit codes (klp(8)); update/downgrade pass on zypper's own code.
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
# zypper(8): the install happened; 102 reboot needed, 103 restart of zypper suggested.
ZYPPER_DONE = (0, 102, 103)
UYUNI_PREFIXES = ("livepatch", "kgraft")
# The plan klp update/downgrade print first:
# "update PKG from V-R to V-R:" or "update PKG (not installed) to V-R:"
PLAN = re.compile(r"^(?:update|downgrade) (\S+) (?:from \S+|\(not installed\)) to (\S+):$", re.M)


def _setting(name, default=None):
    opts = globals().get("__opts__") or {}
    if name in opts:
        return opts[name]
    pillar = globals().get("__pillar__") or opts.get("pillar") or {}
    return pillar.get(name, default)


def _command():
    cmd = _setting("klp.cmd")
    if cmd:
        return [cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
    for name in ("klp", "kgr"):
        found = shutil.which(name)
        if found:
            return [found]
    return None


def __virtual__():
    if _command() is None:
        return False, "klp: neither klp nor kgr is installed (or set klp.cmd)"
    return __virtualname__


def _run(*args, stdin=None, timeout=None):
    """Run ``klp [--root R] ARGS``; returns (exit code, stdout, stderr)."""
    argv = list(_command() or ["klp"])
    root = _setting("klp.root")
    if root:
        argv += ["--root", str(root)]
    try:
        done = subprocess.run(argv + [str(a) for a in args], capture_output=True, text=True,
                              input=stdin or "", timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandExecutionError(f"klp: cannot run {argv[0]}: {exc}") from exc
    return done.returncode, done.stdout, done.stderr


def _error(rc, err):
    lines = [line for line in err.splitlines() if line.strip()]
    return CommandExecutionError(lines[-1] if lines else f"klp exited {rc}")


def _json(*args):
    rc, out, err = _run("--json", *args)
    if rc != EXIT_OK:
        raise _error(rc, err)
    try:
        doc = json.loads(out)
    except ValueError as exc:
        raise CommandExecutionError(f"klp {args[0]}: unreadable JSON: {exc}") from exc
    return doc


def _optional_json(out):
    """A ``--json`` document when this klp wrote one (newer klp), else None."""
    try:
        doc = json.loads(out)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and "schema" in doc else None


def status():
    """``ready`` or ``in_progress``.

    CLI Example: ``salt '*' klp.status``
    """
    return _json("status")["status"]


def check():
    """True when no transition is in progress (``klp check``).

    CLI Example: ``salt '*' klp.check``
    """
    rc, _, err = _run("check")
    if rc not in (EXIT_OK, EXIT_FAIL):
        raise _error(rc, err)
    return rc == EXIT_OK


def patches():
    """Every live patch module with its state, package, CVEs, expiry and update (klp-patches/1).

    CLI Example: ``salt '*' klp.patches``
    """
    return _json("patches")["patches"]


def blocking():
    """The transitioning patch and the tasks that block it (klp-blocking/1), plus ``processes``:
    one ``PID command line`` per blocking process.

    CLI Example: ``salt '*' klp.blocking``
    """
    doc = _json("blocking")
    doc["processes"] = _blockers(doc)
    return doc


def active():
    """The active live patch (name, rpm, cves, expires, update) or None.

    CLI Example: ``salt '*' klp.active``
    """
    for patch in patches():
        if patch.get("active"):
            return patch
    return None


def _blockers(doc):
    """One line per blocking process: ``PID command``."""
    seen = {}
    for task in doc.get("tasks") or []:
        cmd = " ".join(task.get("cmdline") or []) or f"[{task.get('comm') or '?'}]"
        seen.setdefault(task.get("pid"), f"{task.get('pid')} {cmd}")
    return list(seen.values())


def wait(timeout=60, interval=1, revert=False):
    """Wait for the running transition (``klp wait``).

    Returns ``{"ready": bool, "patch": name or None, "blocking": ["PID command", ...]}``; the
    blocking tasks are read with ``klp --json blocking`` when still in progress.

    CLI Example: ``salt '*' klp.wait timeout=120``
    """
    args = ["wait", "--timeout", str(timeout), "--interval", str(interval)]
    if revert:
        args.append("--revert")
    before = blocking()
    limit = float(timeout) * (2 if revert else 1) + 60
    rc, out, err = _run("--json", *args, timeout=limit)
    if rc == EXIT_USAGE:  # a klp that rejects --json for wait: its exit code says enough
        rc, out, err = _run(*args, timeout=limit)
    if rc not in (EXIT_OK, EXIT_FAIL):
        raise _error(rc, err)
    if rc == EXIT_OK:
        return {"ready": True, "patch": before.get("patch"), "blocking": []}
    doc = _optional_json(out)  # a klp with ``wait --json`` tells what it saw at the timeout
    doc = blocking() if doc is None or "tasks" not in doc else doc
    return {"ready": False, "patch": doc.get("patch") or before.get("patch"),
            "blocking": _blockers(doc), "reverted": bool(revert)}


def _active_rpm():
    patch = active()
    return (patch.get("rpm") or patch.get("name")) if patch else None


def _planned(out):
    plan = PLAN.search(out)
    return {"package": plan.group(1) if plan else None, "planned": plan.group(2) if plan else None}


def _change(command, test):
    """``klp update``/``klp downgrade``: plan, run with ``-n``, compare before and after."""
    old = _active_rpm()
    if test:
        if command == "update":
            rc, out, err = _run("update", "--dry-run")
        else:  # downgrade has no --dry-run: answer its question with "no"
            rc, out, err = _run("downgrade", stdin="n\n")
            if rc == EXIT_FAIL and "cancelled" in err:
                rc = EXIT_OK
        plan = _planned(out)
        if rc != EXIT_OK and plan["planned"] is None:
            raise _error(rc, err or out)
        return {"result": True, "retcode": rc, "old": old, "new": old, "changed": False,
                "comment": out.strip(), **plan}
    rc, out, err = _run(command, "-n")
    new = _active_rpm()
    done = rc in ZYPPER_DONE
    return {"result": done, "retcode": rc, "old": old, "new": new, "changed": old != new,
            "comment": out.strip() if done else (out + err).strip(), **_planned(out)}


def update(test=False):
    """Install the newest live patch for the running kernel (``klp update -n``).

    ``test=True`` runs ``klp update --dry-run``. Returns result, retcode (zypper's once it ran),
    old/new active patch package, changed, the planned version and klp's output.

    CLI Example: ``salt '*' klp.update test=True``
    """
    return _change("update", test)


def downgrade(test=False):
    """Go back to the previous live patch version (``klp downgrade -n``).

    CLI Example: ``salt '*' klp.downgrade``
    """
    return _change("downgrade", test)


def log(limit=20):
    """The newest ``limit`` lines of ``klp log`` (what the zypper commit plugin did).

    CLI Example: ``salt '*' klp.log limit=5``
    """
    rc, out, err = _run("log")
    if rc != EXIT_OK:
        raise _error(rc, err)
    lines = out.splitlines()
    return lines[-int(limit):] if int(limit) > 0 else []


def reboot_needed():
    """Reasons why the running kernel needs a reboot (``klp -v status``, ``/run/reboot-needed``).

    CLI Example: ``salt '*' klp.reboot_needed``
    """
    rc, out, err = _run("-v", "status")
    if rc != EXIT_OK:
        raise _error(rc, err)
    reasons = [line.split(": ", 1)[1] for line in out.splitlines()
               if line.startswith("reboot needed: ")]
    flag = os.path.join(str(_setting("klp.root") or "/"), "run/reboot-needed")
    if not reasons and os.path.isfile(flag):
        reasons.append("/run/reboot-needed exists")
    return reasons


def kernel_live_version(attempts=10):
    """Uyuni's ``mgr_kernel_live_version``: ``{"mgr_kernel_live_version": name}`` or None.

    Like Uyuni's own probe: up to ``attempts`` polls one second apart for ``ready``, then the
    first active patch, named by the last preceding module whose name starts with ``livepatch``
    or ``kgraft``.

    CLI Example: ``salt '*' klp.kernel_live_version``
    """
    for attempt in range(int(attempts)):
        if status() == "ready":
            break
        if attempt + 1 < int(attempts):
            time.sleep(1)
    name = None
    for patch in patches():
        if patch["name"].startswith(UYUNI_PREFIXES):
            name = patch["name"]
        if patch.get("active"):
            return {"mgr_kernel_live_version": name}
    return None
