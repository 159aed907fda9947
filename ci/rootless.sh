#!/bin/sh
# The kernel suite once more, as an unprivileged user: rootless, in user namespaces
# (ctrnet.backends.kernel.userns). Then the check that the same test ids passed as in the root
# run, whose junit files are in $1 (CTRNET_JUNIT_DIR of that run). Run as root by .ci/run.
set -eu
cd "$(dirname "$0")/.."
root_results=$1
user=ctrnet-ci
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
# Subordinate ids, so the sandbox maps uids 0-65535 (newuidmap): tcpdump can then drop to its
# own user, as it does as root.
grep -q "^$user:" /etc/subuid 2>/dev/null || usermod --add-subuids 200000-265535 "$user"
grep -q "^$user:" /etc/subgid 2>/dev/null || usermod --add-subgids 200000-265535 "$user"
home=$(getent passwd "$user" | cut -d: -f6)
# The user builds and tests its own copy: the checkout is root's.
rm -rf "$home/ctrnet" "$home/junit"
mkdir -p "$home/ctrnet"
tar --exclude=./.tox --exclude=./.git --exclude=./build -cf - . | tar -C "$home/ctrnet" -xf -
chown -R "$user:" "$home/ctrnet"
runuser -u "$user" -- env -i HOME="$home" LANG=C.UTF-8 \
    PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin CTRNET_JUNIT_DIR="$home/junit" \
    sh -c 'cd "$HOME/ctrnet" && tox -e kernel'
python3 ci/same_passed.py "$root_results" "$home/junit"
