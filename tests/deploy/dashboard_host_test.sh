#!/usr/bin/env bash
# dashboard_host_test.sh SOURCE_DIR TDPWATCHD TEST_VMM
#
# Every PromQL query of deploy/grafana/tdpwatch.json (panel targets and
# template variables), with the variables substituted, against a real
# Prometheus scraping the real tdpwatchd while a real VM (tdpw_test_vmm)
# runs: each must parse and return data.  Needs root, prometheus, curl and jq
# (FAILS without them) and /dev/kvm (not run without it).
set -euo pipefail
src=${1:?usage: dashboard_host_test.sh SOURCE_DIR TDPWATCHD TEST_VMM}
daemon=${2:?}
vmm=${3:?}
# shellcheck source=../host/support/lib.sh
. "$(dirname "$0")/../host/support/lib.sh"
require_host prometheus curl jq ss
require_dev_kvm
dashboard=$src/deploy/grafana/tdpwatch.json
jq -e . "$dashboard" >/dev/null || fail "$dashboard is not JSON"

TDPW_TMP=$(mktemp -d)
trap tdpw_cleanup EXIT

# Importable: a datasource variable every panel and target uses, unique ids.
jq -e '[.templating.list[] | select(.type == "datasource" and .query == "prometheus")] | length == 1' \
  "$dashboard" >/dev/null || fail "no prometheus datasource variable"
bad=$(jq -r '.panels[] | select(.type != "row") | select(.datasource.uid != "${datasource}"
        or ([.targets[]? | select(.datasource.uid != "${datasource}")] | length) > 0) | .title' "$dashboard")
[ -z "$bad" ] || fail "panels not on \${datasource}: $bad"
jq -e '[.panels[].id] | length == (unique | length)' "$dashboard" >/dev/null || fail "duplicate panel ids"

"$daemon" --web.listen-address 127.0.0.1:0 --interval 0.5 2>"$TDPW_TMP/daemon.log" &
TDPW_PIDS+=("$!")
eventually 30 grep -qs "watching;" "$TDPW_TMP/daemon.log" || fail "tdpwatchd: $(cat "$TDPW_TMP/daemon.log")"
port=$(daemon_port "$TDPW_TMP/daemon.log")
"$vmm" --mem-mib 64 --touch-pages 256 --hold-ms 90000 >"$TDPW_TMP/vmm.out" 2>&1 &
vmm_pid=$!
TDPW_PIDS+=("$vmm_pid")
eventually 20 grep -qs "vmm holding" "$TDPW_TMP/vmm.out" || fail "tdpw_test_vmm: $(cat "$TDPW_TMP/vmm.out")"

start_prometheus "$TDPW_TMP/prom" "$port" "$src/deploy/prometheus/tdpwatch-recording-rules.yml"
eventually 30 prom_has "tdpwatch_vm_info{pid=\"$vmm_pid\"}" || fail "Prometheus has no series of the VM"
# Enough samples for every rate() window below.
sleep 6

instance=127.0.0.1:$port
vm=$(promql "tdpwatch_vm_info{pid=\"$vmm_pid\"}" | jq -r '.data.result[0].metric.vm')
echo "instance=$instance vm=$vm"
# As Grafana formats a variable for Prometheus: regex metacharacters escaped
# with a backslash, itself escaped inside the PromQL string ("127\\.0...").
# (Four here: sed's replacement below halves them again.)
regex_escape() { sed 's/[][\.*^$()+?{}|]/\\\\\\\\&/g' <<<"$1"; }
subst() {
  sed -e "s/\$__rate_interval/4s/g; s/\$__interval/1s/g; s/\$__range/60s/g" \
      -e "s/\$instance/$(regex_escape "$instance")/g; s/\$vm/$(regex_escape "$vm")/g" <<<"$1"
}

failures=0
check() {  # check WHAT EXPR
  local q answer n
  q=$(subst "$2")
  [[ "$q" != *'$'* ]] || { echo "FAIL $1: variable left in: $q"; failures=$((failures + 1)); return; }
  answer=$(promql "$q")
  if ! jq -e '.status == "success"' >/dev/null <<<"$answer"; then
    echo "FAIL $1: $q: $(jq -r '.error // .' <<<"$answer")"
    failures=$((failures + 1))
    return
  fi
  n=$(jq '.data.result | length' <<<"$answer")
  if [ "$n" -eq 0 ]; then
    echo "FAIL $1: no data: $q"
    failures=$((failures + 1))
  else
    echo "ok   $1: $n series: $q"
  fi
}

# Template variables: label_values(SELECTOR, LABEL) is Grafana's, not PromQL:
# SELECTOR must return series carrying LABEL, and $vm must list the VM.
while IFS=$'\t' read -r name query; do
  [[ "$query" =~ ^label_values\((.*),\ *([a-z_]+)\)$ ]] || fail "variable $name: unexpected query $query"
  selector=${BASH_REMATCH[1]}
  label=${BASH_REMATCH[2]}
  values=$(promql "$(subst "$selector")" | jq -r --arg l "$label" '.data.result[]?.metric[$l] // empty')
  [ -n "$values" ] || { echo "FAIL variable $name: no $label values from $selector"; failures=$((failures + 1)); continue; }
  echo "ok   variable $name: $(tr '\n' ' ' <<<"$values")"
done < <(jq -r '.templating.list[] | select(.type == "query") | [.name, (.query.query // .query)] | @tsv' "$dashboard")
grep -qx "$vm" < <(promql 'tdpwatch_vm_info' | jq -r '.data.result[].metric.vm') || fail "vm variable lacks $vm"

total=0
while IFS=$'\t' read -r title expr; do
  total=$((total + 1))
  check "$title" "$expr"
done < <(jq -r '.. | objects | select(has("targets")) | .title as $t | .targets[] | [$t, .expr] | @tsv' "$dashboard")
[ "$total" -gt 0 ] || fail "no queries found in $dashboard"
echo "$total queries, $failures failed"
[ "$failures" -eq 0 ]
