"""The simulated kernel wing: pure model, scenarios, the driver over a sysfs/proc tree, its CLI."""
