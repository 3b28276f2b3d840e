#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every ctest
# label (unit, host, nested).  Extra arguments go to ctest, e.g. -L unit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TDPW_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure --timeout 1800 -j"$(nproc)" "$@"
