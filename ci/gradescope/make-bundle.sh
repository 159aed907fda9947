#!/usr/bin/env bash
# Build the Gradescope autograder bundle: autograder.zip with setup.sh, run_autograder and a
# ctrnet wheel, ready to upload ("Zip file upload" in the assignment's autograder settings).
#   ci/gradescope/make-bundle.sh [OUT_DIR]      (run from anywhere; needs python3 -m pip, zip)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
out=${1:-$project/build/gradescope}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
python3 -m pip wheel --quiet --no-deps --wheel-dir "$stage" "$project"
cp "$here/setup.sh" "$here/run_autograder" "$stage/"
mkdir -p "$out"
rm -f "$out/autograder.zip"
(cd "$stage" && zip -q "$out/autograder.zip" setup.sh run_autograder ctrnet-*.whl)
echo "$out/autograder.zip"
