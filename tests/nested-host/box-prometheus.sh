#!/bin/bash
# box-prometheus.sh start | check DOMAIN   (in the box; box-test.sh runs it)
#
# Debian's Prometheus (prometheus.service) as a hypervisor host's would
# scrape tdpwatchd: every second, with the alert and recording rules the
# tdpwatch package installed in /usr/share/tdpwatch/prometheus (evaluated
# every second here, so that `for:` windows and recording rules have data).
#   start   writes /etc/prometheus/prometheus.yml, restarts the service,
#           waits until it is ready and has scraped tdpwatchd
#   check   the dashboard the package installed answers every query with
#           data for the libvirt guest DOMAIN (tests/deploy/
#           dashboard_queries.sh), the rules loaded without error, and no
#           alert is firing or pending: a healthy host raises no alarm
set -u
prom=http://127.0.0.1:9090
rules=/usr/share/tdpwatch/prometheus
q() { curl -s --get "$prom/api/v1/query" --data-urlencode "query=$1"; }
eventually() { local n=$(($1 * 2)); shift; until "$@" >/dev/null 2>&1; do n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.5; done; }

case ${1:-} in
  start)
    ls "$rules"/*.yml >/dev/null 2>&1 || { echo "no rule files in $rules (package not installed?)"; exit 1; }
    mkdir -p /etc/prometheus/tdpwatch
    for r in "$rules"/*.yml; do
      sed 's/^\( *\)interval: .*/\1interval: 1s/' "$r" >/etc/prometheus/tdpwatch/"$(basename "$r")"
    done
    cat >/etc/prometheus/prometheus.yml <<'YML'
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['/etc/prometheus/tdpwatch/*.yml']
scrape_configs:
  - job_name: tdpwatch
    static_configs:
      - targets: ['127.0.0.1:9977']
YML
    promtool check config /etc/prometheus/prometheus.yml || exit 1
    systemctl restart prometheus || { journalctl -u prometheus -b --no-pager | tail -n 5; exit 1; }
    eventually 120 curl -sf "$prom/-/ready" || { echo "prometheus not ready after 120 s"; exit 1; }
    eventually 60 sh -c "curl -s --get $prom/api/v1/query --data-urlencode 'query=up{job=\"tdpwatch\"} == 1' | jq -e '.data.result | length == 1'" ||
      { echo "prometheus has not scraped tdpwatchd: $(q 'up')"; exit 1; }
    echo "prometheus $(prometheus --version 2>&1 | head -n 1 | awk '{print $3}') ready, scraping tdpwatchd every second"
    ;;
  check)
    dom=${2:?usage: box-prometheus.sh check DOMAIN}
    fails=0
    # A guest's series, and the vm label the dashboard's $vm variable takes.
    vm=$(q "tdpwatch_vm_info{libvirt_domain=\"$dom\"}" | jq -r '.data.result[0].metric.vm // empty')
    inst=$(q "tdpwatch_vm_info{libvirt_domain=\"$dom\"}" | jq -r '.data.result[0].metric.instance // empty')
    [ -n "$vm" ] || { echo "FAIL no tdpwatch_vm_info for libvirt_domain=$dom: $(q tdpwatch_vm_info | head -c 300)"; exit 1; }
    bash /tdpw/dashboard_queries.sh "$prom" /usr/share/tdpwatch/grafana/tdpwatch.json "$inst" "$vm" || fails=$((fails + 1))
    bad=$(curl -s "$prom/api/v1/rules" | jq -r '.data.groups[].rules[] | select(.health != "ok") | "\(.name): \(.lastError)"')
    [ -z "$bad" ] || { echo "FAIL rules not healthy: $bad"; fails=$((fails + 1)); }
    nrules=$(curl -s "$prom/api/v1/rules" | jq '[.data.groups[].rules[]] | length')
    alerts=$(q 'ALERTS' | jq -r '.data.result[] | "\(.metric.alertname){\(.metric.alertstate)} \(.metric.libvirt_domain // .metric.vm // "")"')
    [ -z "$alerts" ] || { echo "FAIL alerts on a healthy host: $alerts"; fails=$((fails + 1)); }
    echo "$nrules rules, $([ -z "$bad" ] && echo all healthy || echo NOT all healthy); alerts firing or pending: ${alerts:-none}; dashboard for $dom (vm=$vm); $fails failures"
    [ $fails = 0 ]
    ;;
  *) echo "usage: $0 start | check DOMAIN" >&2; exit 2 ;;
esac
