"""The monitoring tools the tests drive (Debian's promtool and node_exporter): found or skipped,
except under CI=true where a missing tool fails loudly."""

import os
import shutil

from zypp_plugin_klp.testing import capabilities

PROMTOOL = shutil.which("promtool")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or \
    (os.path.exists("/usr/bin/prometheus-node-exporter") and "/usr/bin/prometheus-node-exporter") or None


def need(path, package: str) -> str:
    """``path`` when the tool is installed; otherwise skip (fail under CI=true)."""
    if path:
        return path
    capabilities.unavailable(f"{package} is not installed (make test installs it)")

NEGATE = "/usr/lib/nagios/plugins/negate" if os.access("/usr/lib/nagios/plugins/negate", os.X_OK) \
    else None
