#!/bin/sh
# Runs in the initrd (dracut cmdline hook): load the live patch dracut put there, before anything
# else runs the code it replaces.
for ko in /lib/modules/"$(uname -r)"/livepatch/*.ko /usr/lib/modules/"$(uname -r)"/livepatch/*.ko; do
    # usr-merged initrds see the same file through both paths: load it once
    [ "${ko#/usr}" != "$ko" ] && [ /usr/lib/modules -ef /lib/modules ] && continue
    [ -e "$ko" ] || continue
    if insmod "$ko"; then
        info "kernel-livepatch: loaded ${ko##*/}"
    else
        warn "kernel-livepatch: cannot load ${ko##*/}"
    fi
done
