#!/bin/bash
# dracut module "kernel-livepatch" (zypp-plugin-klp): puts the newest installed live patch of the
# kernel the initrd is built for into it, and loads it early at boot, so a rebooted machine keeps
# its live patches until the next kernel update.

# Live patches of the kernel, in both layouts (/usr/lib/modules on usr-merged kernels), one per line.
klp_livepatches() {
    local ko
    for ko in "$dracutsysrootdir"{,/usr}/lib/modules/"$kernel"/livepatch/*.ko; do
        [[ -e $ko ]] && printf '%s\n' "$ko"
    done
}

check() {
    [[ -n $(klp_livepatches) ]] && return 0
    return 255  # no live patch for this kernel: leave the module out unless asked for
}

depends() {
    return 0
}

installkernel() {
    local newest
    # cumulative patches: the newest version is all that is needed (livepatch-<ver>-<rel>.ko)
    newest=$(klp_livepatches | while read -r ko; do printf '%s %s\n' "${ko##*/}" "$ko"; done |
             sort -V -k1,1 | tail -n 1 | cut -d' ' -f2-)
    [[ -e $newest ]] || return 0
    inst_simple "${newest#"$dracutsysrootdir"}"
}

install() {
    inst_multiple insmod
    inst_hook cmdline 01 "$moddir/kernel-livepatch.sh"
}
