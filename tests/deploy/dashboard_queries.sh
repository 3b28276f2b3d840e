#!/usr/bin/env bash
# dashboard_queries.sh PROMETHEUS_URL DASHBOARD INSTANCE VM
#
# Every PromQL query of a Grafana dashboard (deploy/grafana/tdpwatch.json:
# template variables and panel targets), with Grafana's variables
# substituted ($instance, $vm, $__rate_interval...), against a Prometheus
# that scrapes tdpwatchd: each must parse and return data, and the $vm
# variable must list VM.  One line per query; exits 1 if any failed.
# Used by dashboard_host_test.sh (tdpwatchd and the test VMM) and by the
# nested Debian host (tests/nested-host/box-prometheus.sh: the packaged
# daemon and dashboard, libvirt guests).  Needs curl and jq.
set -euo pipefail
prom=${1:?usage: dashboard_queries.sh PROMETHEUS_URL DASHBOARD INSTANCE VM}
dashboard=${2:?}
instance=${3:?}
vm=${4:?}
promql() { curl -s --get "$prom/api/v1/query" --data-urlencode "query=$1"; }

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
  [[ "$query" =~ ^label_values\((.*),\ *([a-z_]+)\)$ ]] || { echo "FAIL variable $name: unexpected query $query"; exit 1; }
  selector=${BASH_REMATCH[1]}
  label=${BASH_REMATCH[2]}
  values=$(promql "$(subst "$selector")" | jq -r --arg l "$label" '.data.result[]?.metric[$l] // empty')
  [ -n "$values" ] || { echo "FAIL variable $name: no $label values from $selector"; failures=$((failures + 1)); continue; }
  echo "ok   variable $name: $(tr '\n' ' ' <<<"$values")"
done < <(jq -r '.templating.list[] | select(.type == "query") | [.name, (.query.query // .query)] | @tsv' "$dashboard")
grep -qx "$vm" < <(promql 'tdpwatch_vm_info' | jq -r '.data.result[].metric.vm') || { echo "FAIL vm variable lacks $vm"; exit 1; }

total=0
while IFS=$'\t' read -r title expr; do
  total=$((total + 1))
  check "$title" "$expr"
done < <(jq -r '.. | objects | select(has("targets")) | .title as $t | .targets[] | [$t, .expr] | @tsv' "$dashboard")
[ "$total" -gt 0 ] || { echo "FAIL no queries found in $dashboard"; exit 1; }
echo "$total queries, $failures failed"
[ "$failures" -eq 0 ]
