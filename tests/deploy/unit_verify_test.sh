#!/usr/bin/env bash
# unit_verify_test.sh SOURCE_DIR TDPWATCHD [MAX_EXPOSURE]: systemd-analyze
# verify and `security --offline=true` on deploy/tdpwatchd.service, whose
# ExecStart= is pointed at the built binary (verify checks it is executable).
# Prints the exposure score; fails if it is above MAX_EXPOSURE (default 3.0),
# or if the unit lost the settings the daemon's hardening relies on.
set -euo pipefail
src=${1:?usage: unit_verify_test.sh SOURCE_DIR TDPWATCHD [MAX_EXPOSURE]}
daemon=${2:?usage: unit_verify_test.sh SOURCE_DIR TDPWATCHD [MAX_EXPOSURE]}
max=${3:-3.0}
command -v systemd-analyze >/dev/null || {
  echo "unit_verify_test: systemd-analyze not found: install Debian's 'systemd' package" >&2
  exit 1
}
unit=$src/deploy/tdpwatchd.service
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=/usr/bin/tdpwatchd |ExecStart=$daemon |" "$unit" > "$dir/tdpwatchd.service"
grep -q "^ExecStart=$daemon --config.file=/etc/tdpwatch/tdpwatchd.conf\$" "$dir/tdpwatchd.service" || {
  echo "unit_verify_test: ExecStart= is not '/usr/bin/tdpwatchd --config.file=/etc/tdpwatch/tdpwatchd.conf'" >&2
  exit 1
}

# verify prints problems and exits non-zero on errors; warnings fail too.
out=$(systemd-analyze verify "$dir/tdpwatchd.service" 2>&1) || { echo "$out" >&2; exit 1; }
[ -z "$out" ] || { echo "unit_verify_test: systemd-analyze verify warns:" >&2; echo "$out" >&2; exit 1; }

for setting in Type=notify Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict \
                ProtectHome=yes PrivateTmp=yes "Before=libvirtd.service"; do
  grep -q "^$setting" "$unit" || { echo "unit_verify_test: $setting missing" >&2; exit 1; }
done
filter=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$unit")
for call in bpf perf_event_open; do
  [[ " $filter " == *" $call "* ]] || { echo "unit_verify_test: SystemCallFilter= does not allow $call" >&2; exit 1; }
done

report=$(systemd-analyze security --offline=true "$dir/tdpwatchd.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for tdpwatchd.service: \([0-9.]*\).*/\1/p' <<<"$report")
[ -n "$score" ] || { echo "$report" >&2; echo "unit_verify_test: no exposure score" >&2; exit 1; }
echo "systemd-analyze security: exposure $score (max $max)"
grep '✗' <<<"$report" || true
awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }' || {
  echo "unit_verify_test: exposure $score is above $max" >&2
  exit 1
}
