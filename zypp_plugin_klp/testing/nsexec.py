"""Run one command in a private mount namespace with an overlay of the host's /usr over ROOT/usr.

Usage: ``unshare --mount --propagation private -- python3 -m zypp_plugin_klp.testing.nsexec
ROOT UPPER WORK -- COMMAND...``. The overlay makes the host's programs and Python (with the rpm
bindings) usable inside the chroot ROOT, while every write to ROOT/usr lands in UPPER, never in
the host's /usr. The mount lives only as long as the namespace, i.e. until COMMAND exits.
"""

import os
import subprocess
import sys
from typing import List


def main(argv: List[str]) -> int:
    """Mount the overlay, then exec the command (its exit status is ours)."""
    if "--" not in argv or argv.index("--") != 3 or len(argv) < 5:
        sys.stderr.write("usage: nsexec ROOT UPPER WORK -- COMMAND...\n")
        return 2
    root, upper, work = argv[:3]
    command = argv[4:]
    options = f"lowerdir=/usr,upperdir={upper},workdir={work}"
    mounted = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options,
                              os.path.join(root, "usr")], capture_output=True, text=True)
    if mounted.returncode != 0:
        sys.stderr.write(f"nsexec: cannot mount the /usr overlay: {mounted.stderr.strip()}\n")
        return 125
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
