#!/bin/sh
# The README's test command, as CI runs it (as root): lint, the simulator suite and unit tests,
# the suite on the real kernel, the hostile-plugin suite, the state store's crash/concurrency/
# security suites on the kernel; then the kernel suite once more as an
# unprivileged user (rootless, in user namespaces), which must pass the same test ids.
set -eu
cd "$(dirname "$0")/.."
junit=$(mktemp -d /tmp/ctrnet-junit-root.XXXXXX)
trap 'rm -rf "$junit"' EXIT
CTRNET_JUNIT_DIR=$junit tox -e lint,sim,kernel,hostile,state
sh ci/rootless.sh "$junit"
