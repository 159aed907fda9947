#!/bin/sh
# Load the kernel modules the kernel suite needs and that nothing loads on demand, now and at
# every boot. For the Vagrant VM only (Debian 12, kernel 6.1): br_netfilter is a module there,
# and without it bridged frames never reach iptables FORWARD (the br_netfilter tests fail).
# Not for CI machines or laptops: loading br_netfilter changes how every bridge of the host
# is filtered, which is the machine owner's decision, not ours.
set -eu

modules="br_netfilter"
conf_dir="${CTRNET_MODULES_LOAD_DIR:-/etc/modules-load.d}"

if [ "$(id -u)" -ne 0 ]; then
    echo "ci/vm-modules.sh loads kernel modules: run it as root" >&2
    exit 1
fi

mkdir -p "$conf_dir"
: > "$conf_dir/ctrnet.conf.tmp"
for m in $modules; do
    modprobe "$m"
    echo "$m" >> "$conf_dir/ctrnet.conf.tmp"
done
mv "$conf_dir/ctrnet.conf.tmp" "$conf_dir/ctrnet.conf"
echo "kernel modules loaded and kept across boots: $modules"
