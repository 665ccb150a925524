"""Where klp keeps its state inside a root, and where the simulator marks its tree (no imports: hot paths)."""

LAST_LOAD = "var/lib/klp/last-load.json"           # outcome of the last load from a transaction
PATCH_RECORDS = "var/lib/klp/patches.json"         # which package each loaded patch came from, forcing
NOTICES = "var/lib/klp/reboot-needed.json"         # why a reboot is needed, per removed patch
RECORDS = "var/lib/klp/transactions"               # one JSON record per zypper commit (plugin)
REBOOT_NEEDED = "run/reboot-needed"                # libzypp's flag, read by 'zypper needs-rebooting'
INITRD_FLAGS = "run/regenerate-initrd"             # suse-module-tools' flags, one per kernel
LOCK_DIR = "run/klp"                               # holds the lock serialising klp's mutations

FAILED = "failed"                                  # last-load result when the kernel refused
SIMULATOR_STATE = "sys/kernel/.klp-simulator.json"  # a real sysfs can never contain this file
SIMULATOR_KMSG = "sys/kernel/.klp-simulator.kmsg"  # the simulated kernel's log (/dev/kmsg records)

# Read by 'klp metrics' to tell whether its cached facts are still current (see services/metrics).
RPMDB_DIRS = ("usr/lib/sysimage/rpm", "var/lib/rpm")  # where rpm keeps its database, SUSE's first
LIFECYCLE_DIRS = ("var/lib/lifecycle/data", "usr/lib/lifecycle/data", "usr/share/lifecycle/data")
METRICS_FACTS = "run/klp/metrics-facts"            # klp metrics' cache (core.metrics.CACHE_SCHEMA)
TRANSITION_SEEN = "run/klp/transition-seen"        # first sighting of a transition (SEEN_SCHEMA)
METRICS_FILE = "klp.prom"                          # the file written into the textfile directory
