#!/bin/bash
# dracut module "kernel-livepatch" (zypp-plugin-klp): puts the newest installed live patch of the
# kernel the initrd is built for into it, and loads it early at boot, so a rebooted machine keeps
# its live patches until the next kernel update.

check() {
    local ko
    for ko in "$dracutsysrootdir/lib/modules/$kernel/livepatch/"*.ko; do
        [[ -e $ko ]] && return 0
    done
    return 255  # no live patch for this kernel: leave the module out unless asked for
}

depends() {
    return 0
}

installkernel() {
    local newest
    # cumulative patches: the newest version is all that is needed (livepatch-<ver>-<rel>.ko)
    newest=$(printf '%s\n' "$dracutsysrootdir/lib/modules/$kernel/livepatch/"*.ko | sort -V | tail -n 1)
    [[ -e $newest ]] || return 0
    inst_simple "/lib/modules/$kernel/livepatch/${newest##*/}"
}

install() {
    inst_multiple insmod
    inst_hook cmdline 01 "$moddir/kernel-livepatch.sh"
}
