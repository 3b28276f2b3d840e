#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every ctest
# label (unit, host, nested).  Extra arguments go to ctest, e.g. -L unit.
# Tests this machine cannot run (no /dev/kvm) are reported as not run, and
# why is listed after ctest's summary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TDPW_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
cd "$build"
status=0
ctest --output-on-failure --timeout 1800 -j"$(nproc)" "$@" || status=$?
# ctest names the tests it did not run but not why; each printed one
# "not run: <why>" line (tests/host/support).
log=Testing/Temporary/LastTest.log
if [ -f "$log" ] && grep -q 'not run: ' "$log"; then
  echo "Why tests did not run (count, reason):"
  grep -o 'not run: .*' "$log" | sort | uniq -c
fi
exit "$status"
