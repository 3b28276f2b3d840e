#!/usr/bin/env bash
# promtool check metrics on the exporter's output for every fixture.  Fails
# (never skips) when promtool is missing: it comes with Debian's `prometheus`
# package (scripts/install-deps.sh).
set -euo pipefail
render="$1"
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool_check: promtool not found: install Debian's 'prometheus' package" \
       "(sudo ./scripts/install-deps.sh)" >&2
  exit 1
fi
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$render" "$dir"
status=0
for f in "$dir"/*.prom; do
  if out="$(promtool check metrics < "$f" 2>&1)"; then
    echo "promtool_check: $(basename "$f"): ok"
  else
    echo "promtool_check: $(basename "$f"): FAILED" >&2
    echo "$out" >&2
    status=1
  fi
done
exit $status
