#!/usr/bin/env bash
# rules_test.sh SOURCE_DIR: `promtool check rules` on deploy/prometheus's alert
# and recording rules and `promtool test rules` on every deploy/prometheus/tests/*.yml.
# Fails (never skips) without promtool.
set -euo pipefail
src=${1:?usage: rules_test.sh SOURCE_DIR}
command -v promtool >/dev/null || {
  echo "rules_test: promtool not found: install Debian's 'prometheus' package (sudo ./scripts/install-deps.sh)" >&2
  exit 1
}
rules=$src/deploy/prometheus/tdpwatch-rules.yml
recording=$src/deploy/prometheus/tdpwatch-recording-rules.yml
promtool check rules "$rules" "$recording"
# Every recording rule must be evaluated by a promtool test.
for rec in $(sed -n 's/^ *- record: *//p' "$recording"); do
  grep -q "expr: $rec\$" "$src"/deploy/prometheus/tests/*.yml || { echo "rules_test: $rec has no promtool test" >&2; exit 1; }
done
tests=("$src"/deploy/prometheus/tests/*.yml)
# Every alert must have at least one unit test that expects it to fire.
for alert in $(sed -n 's/^ *- alert: *//p' "$rules"); do
  grep -q "alertname: $alert\$" "${tests[@]}" || { echo "rules_test: $alert has no promtool test" >&2; exit 1; }
done
promtool test rules "${tests[@]}"
