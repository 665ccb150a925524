#!/bin/bash
# dracut module "kernel-livepatch" (zypp-plugin-klp): puts the live patch the runtime loader would
# load for the kernel the initrd is built for into it, and loads it early at boot, so a rebooted
# machine keeps its live patches until the next kernel update.

# The product's verdict, by absolute path: the newest installed package's module, verified like a
# runtime load (root-owned, not group/other-writable, the digest rpm recorded), or nothing.
# (klp_hook in a dracut.conf file names another one: the tests' stand-in.)
KLP_HOOK=${klp_hook:-/usr/lib/zypp-plugin-klp/klp-hook}
# In the initrd: the one module file to load (its path, one line)
KLP_BOOT_LIST=/etc/kernel-livepatch.module

# Live patch files of the kernel, in both layouts (/usr/lib/modules on usr-merged kernels).
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
    local module
    if [[ ! -x $KLP_HOOK ]]; then
        dwarn "kernel-livepatch: $KLP_HOOK is missing: no live patch goes into the initrd"
        return 0
    fi
    # a refusal is one 'klp: ...' line on stderr, which dracut shows; the initrd then has none
    module=$("$KLP_HOOK" initrd-module "$kernel" --root "${dracutsysrootdir:-/}") || return 0
    [[ $module == /*.ko && $module != *$'\n'* ]] || return 0
    inst_simple "$module" || return 1
    mkdir -p "$initdir/${KLP_BOOT_LIST%/*}"
    printf '%s\n' "$module" > "$initdir$KLP_BOOT_LIST"
}

install() {
    inst_multiple insmod
    inst_hook cmdline 01 "$moddir/kernel-livepatch.sh"
}
