#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
# The bundle (this folder, zipped with a ctrnet wheel: see make-bundle.sh) is /autograder/source.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# What learners' plugins run (ip, iptables, jq, flock) is simulated or plain POSIX; python3
# runs ctrnet itself. util-linux brings setpriv/unshare for the grader's sandbox.
apt-get install -y -qq --no-install-recommends python3 python3-venv jq util-linux iproute2
python3 -m venv /autograder/ctrnet-venv
/autograder/ctrnet-venv/bin/pip install --quiet /autograder/source/ctrnet-*.whl
# Plugins never run as root: the grade runs as this unprivileged user.
id ctrnet >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ctrnet
chmod -R a+rX /autograder/ctrnet-venv
