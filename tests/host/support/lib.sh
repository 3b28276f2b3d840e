# shellcheck shell=bash
# Shared by the shell host tests (sourced): what the machine must offer
# (root fails without it; /dev/kvm skips, exit 77, which ctest reports as not
# run), child processes that are killed on exit, waiting helpers, and a
# Prometheus instant query.  Needs curl and jq.

TDPW_PIDS=()
tdpw_cleanup() {
  local p
  for p in "${TDPW_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${TDPW_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "${TDPW_TMP:-}" ]; then rm -rf "$TDPW_TMP"; fi
  return 0
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# not_run WHY: the test cannot run on this machine (ctest: SKIP_RETURN_CODE 77).
# The "not run: " prefix is what scripts/test.sh lists after ctest's summary.
not_run() {
  echo "not run: $*"
  exit 77
}

# require_dev_kvm: skips unless /dev/kvm is here (a test that runs a real VM).
require_dev_kvm() {
  [ -c /dev/kvm ] && return 0
  local why="KVM is not loaded"
  [ -d /sys/module/kvm ] && why="KVM is loaded but registered no device"
  not_run "needs /dev/kvm to run a real VM, and this machine has none ($why); it runs where" \
    "/dev/kvm exists, and real VMs run everywhere in the nested bed (ctest -L nested)"
}

# require_host TOOL...: root (fails without) and each tool on PATH.
require_host() {
  [ "$(id -u)" -eq 0 ] || fail "needs root (BPF, debugfs)"
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || fail "$t not found on PATH: run sudo ./scripts/install-deps.sh"
  done
}

# eventually SECONDS CMD...: retries CMD every 0.25 s until it succeeds.
eventually() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.25
  done
}

# daemon_port LOGFILE: the port of "serving http://127.0.0.1:PORT/" in the log.
daemon_port() {
  sed -n 's|.*serving http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$1" | head -1
}

# A loopback TCP port nobody listens on (a race with other users is possible
# but harmless: prometheus then fails to start, with the reason).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    [ -z "$(ss -Hltn "sport = :$p")" ] && { echo "$p"; return; }
  done
}

# start_prometheus DIR TARGET_PORT [RULE_FILE...]: Debian's prometheus
# scraping 127.0.0.1:TARGET_PORT every second as job "tdpwatch", with the
# rule files given (their groups evaluated every second here, whatever
# interval they set); sets PROM_PORT.
start_prometheus() {
  local dir=$1 target=$2 rules="" r i=0
  shift 2
  mkdir -p "$dir/data"
  for r in "$@"; do
    i=$((i + 1))
    sed 's/^\( *\)interval: .*/\1interval: 1s/' "$r" > "$dir/rules$i.yml"
    rules="$rules, '$dir/rules$i.yml'"
  done
  cat > "$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [${rules#, }]
scrape_configs:
  - job_name: tdpwatch
    static_configs:
      - targets: ['127.0.0.1:$target']
YML
  PROM_PORT=$(free_port)
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn 2>"$dir/prometheus.log" &
  TDPW_PIDS+=("$!")
  eventually 30 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" -o /dev/null ||
    fail "prometheus not ready: $(cat "$dir/prometheus.log")"
}

# promql EXPR: the JSON answer of an instant query (status checked by callers).
promql() {
  curl -s --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"
}

# prom_has EXPR: true when EXPR's instant query returns at least one sample.
prom_has() {
  promql "$1" | jq -e '.status == "success" and (.data.result | length) > 0' >/dev/null
}
