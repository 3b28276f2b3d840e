#!/usr/bin/env bash
# Times one VM workload with nothing attached, with tdpwatchd's probes
# attached, and with a bpftrace one-liner counting the same tracepoints per
# pid, in the same run (hyperfine).  Needs root, bpftrace and hyperfine
# (Debian packages).  Usage: compare_bpftrace.sh BUILD_DIR [RUNS]
set -euo pipefail
build="${1:?usage: $0 BUILD_DIR [RUNS]}"
runs="${2:-20}"
vmm="$build/bin/tdpw_test_vmm"
daemon="$build/bin/tdpwatchd"
for tool in bpftrace hyperfine; do
  command -v "$tool" >/dev/null || { echo "$0: $tool missing (apt-get install $tool)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (BPF)" >&2; exit 1; }
workload="$vmm --mem-mib 256 --touch-pages 65535 --vms 4"

tmp="$(mktemp -d)"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# Starts an attacher in the background and waits until it says it is attached.
attach() {
  local ready="$1"; shift
  "$@" >"$tmp/attacher.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "$ready" "$tmp/attacher.log" && return 0
    sleep 0.1
  done
  echo "$0: attacher did not come up:" >&2; cat "$tmp/attacher.log" >&2; exit 1
}
detach() { kill -INT "$pid"; wait "$pid" || true; pid=; }

hyperfine --warmup 2 --runs "$runs" -N --export-json "$tmp/none.json" -n none "$workload"

attach "tp_btf" "$daemon" --log.level info
hyperfine --warmup 2 --runs "$runs" -N --export-json "$tmp/tdpwatchd.json" -n tdpwatchd "$workload"
detach
grep -E "events processed|clean teardown" "$tmp/attacher.log" | tail -3 || true

attach "Attaching" bpftrace -e '
  tracepoint:kvmmmu:kvm_mmu_get_page,
  tracepoint:kvmmmu:kvm_mmu_prepare_zap_page,
  tracepoint:kvmmmu:kvm_tdp_mmu_spte_changed { @[probe, pid] = count(); }'
hyperfine --warmup 2 --runs "$runs" -N --export-json "$tmp/bpftrace.json" -n bpftrace "$workload"
detach
tail -8 "$tmp/attacher.log"

for n in none tdpwatchd bpftrace; do
  python3 - "$tmp/$n.json" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%-10s mean %8.2f ms  stddev %6.2f ms" % (sys.argv[2], r["mean"] * 1e3, r["stddev"] * 1e3))
PY
done
