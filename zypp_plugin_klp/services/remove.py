"""After a live patch package is erased: initrd rebuild and a reboot notice naming the patch."""

import json
import time
from typing import Any, Dict, List

from ..drivers import host
from . import initrd

from ..paths import NOTICES, REBOOT_NEEDED  # noqa: F401  (re-exported for callers)


def notices(root: str) -> List[Dict[str, Any]]:
    """The recorded reasons for a reboot (newest last); empty when none or unreadable."""
    text = host.read_file(root, NOTICES)
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        return []
    items = doc.get("notices") if isinstance(doc, dict) else None
    return [n for n in items if isinstance(n, dict)] if isinstance(items, list) else []


def after_erase(root: str, package: str, kernel_release: str, now: float = 0.0) -> Dict[str, Any]:
    """Schedule the initrd rebuild and leave the reboot notice; return the notice recorded."""
    initrd.schedule(root, kernel_release)
    notice = {
        "package": package,
        "kernel": kernel_release,
        "reason": f"live patch package {package} was removed; the running kernel keeps its code "
                  "until a reboot",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now or time.time())),
    }
    kept = [n for n in notices(root) if n.get("package") != package]
    doc = {"schema": "klp-reboot-needed/1", "notices": kept + [notice]}
    host.write_file(root, NOTICES, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    host.write_file(root, REBOOT_NEEDED, b"")
    return notice
