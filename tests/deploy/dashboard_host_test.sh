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
"$(dirname "$0")/dashboard_queries.sh" "http://127.0.0.1:$PROM_PORT" "$dashboard" "$instance" "$vm"
