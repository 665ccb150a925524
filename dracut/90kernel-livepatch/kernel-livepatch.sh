#!/bin/sh
# Runs in the initrd (dracut cmdline hook, sourced): load the one live patch module that
# module-setup.sh verified and recorded, before anything else runs the code it replaces. Other
# *.ko files that may be there are never loaded.
klp_module=
[ -r /etc/kernel-livepatch.module ] && read -r klp_module < /etc/kernel-livepatch.module
if [ -n "$klp_module" ] && [ -f "$klp_module" ]; then
    if insmod "$klp_module"; then
        info "kernel-livepatch: loaded ${klp_module##*/}"
    else
        warn "kernel-livepatch: cannot load ${klp_module##*/}"
    fi
fi
unset klp_module
