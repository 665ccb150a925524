"""Where klp keeps its state inside a root, and where the simulator marks its tree (no imports: hot paths)."""

LAST_LOAD = "var/lib/klp/last-load.json"           # outcome of the last load from a transaction
NOTICES = "var/lib/klp/reboot-needed.json"         # why a reboot is needed, per removed patch
RECORDS = "var/lib/klp/transactions"               # one JSON record per zypper commit (plugin)
REBOOT_NEEDED = "run/reboot-needed"                # libzypp's flag, read by 'zypper needs-rebooting'
INITRD_FLAGS = "run/regenerate-initrd"             # suse-module-tools' flags, one per kernel
LOCK_DIR = "run/klp"                               # holds the lock serialising klp's mutations

FAILED = "failed"                                  # last-load result when the kernel refused
SIMULATOR_STATE = "sys/kernel/.klp-simulator.json"  # a real sysfs can never contain this file
