#!/bin/sh
# Install what ctrnet needs on a Debian/Ubuntu machine (CI, the Vagrant VM, a learner's laptop).
# Idempotent: packages already present are left alone. Touches no network configuration.
# python3-pyroute2: the example plugin examples/cni-python/bridge-py runs on the system python3
# (its #! line), as a grader's sandboxed plugin does; a virtualenv under /root is not reachable.
set -eu

packages="iproute2 iptables nftables ebtables iputils-ping netcat-openbsd tcpdump conntrack
python3 python3-venv python3-pip tox graphviz vagrant containernetworking-plugins jq uidmap
python3-pyroute2"

if [ "$(id -u)" -ne 0 ]; then
    echo "ci/provision.sh installs system packages: run it as root (sudo ci/provision.sh)" >&2
    exit 1
fi

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi
echo "provisioned: $(echo $packages | tr '\n' ' ')"
