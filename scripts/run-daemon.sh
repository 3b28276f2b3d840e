#!/usr/bin/env bash
# Builds tdpwatchd and runs it in the foreground on this host (as root).
# Arguments go to tdpwatchd, e.g. --log.level debug.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TDPW_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
exec "$build/bin/tdpwatchd" "$@"
