"""zypp-plugin-klp: kernel live patching through zypper and rpm."""

__version__ = "0.1.0"
