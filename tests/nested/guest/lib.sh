# Helpers of the nested bed's guest side (sourced by /init).  busybox sh.
#
# Result lines on the console (parsed by tests/nested/run-nested.sh):
#   TDPW-CHECK <scenario>/<plan> <where> <figure> expected=<kernel> got=<model> PASS|FAIL
#   TDPW-NOTE <scenario>/<plan> <where> <figure> expected= got= not compared: <why>
#   TDPW-FAIL <scenario>/<plan> <reason>          anything that is not a comparison
#   TDPW-SCENARIO <scenario>/<plan> PASS|FAIL ms=<duration>
#   TDPW-DONE pass=<checks> fail=<failures>
# "expected" is always the kernel's own figure, "got" the daemon's.

PASSES=0
FAILS=0
CTX=boot
DAEMON_PID=
STATUS=/tmp/status.json

now_ms() { awk '{printf "%d\n", $1 * 1000}' /proc/uptime; }
# mono_ms: CLOCK_MONOTONIC in ms, to the microsecond (/proc/timer_list's
# "now at N nsecs" is ktime_get(); busybox 1.35's date has no %N and
# /proc/uptime moves in 10 ms steps, so it is only the fallback).
mono_ms() {
  awk '/^now at / { printf "%.3f\n", $3 / 1000000; found = 1; exit }
    END { if (!found) exit 1 }' /proc/timer_list 2>/dev/null ||
    awk '{printf "%.3f\n", $1 * 1000}' /proc/uptime
}
log() { echo "TDPW-LOG $CTX $*"; }
fail() {
  FAILS=$((FAILS + 1))
  echo "TDPW-FAIL $CTX $*"
}

cmdline_param() {
  for w in $(cat /proc/cmdline); do
    case $w in "$1="*) echo "${w#*=}" ;; esac
  done
}

# check WHERE FIGURE KERNEL MODEL
check() {
  if [ "$3" = "$4" ] && [ -n "$3" ]; then
    PASSES=$((PASSES + 1))
    echo "TDPW-CHECK $CTX $1 $2 expected=$3 got=$4 PASS"
  else
    FAILS=$((FAILS + 1))
    echo "TDPW-CHECK $CTX $1 $2 expected=$3 got=$4 FAIL"
  fi
}

# wait_for PATTERN FILE TIMEOUT_S [PID]: 0 once FILE contains PATTERN; 1 on
# timeout or once process PID (the writer) is gone without writing it.
wait_for() {
  local i=0 n=$(($3 * 10))
  while ! grep -q -- "$1" "$2" 2>/dev/null; do
    i=$((i + 1))
    [ $i -ge $n ] && return 1
    if [ -n "$4" ] && ! kill -0 "$4" 2>/dev/null; then
      grep -q -- "$1" "$2" 2>/dev/null
      return
    fi
    sleep 0.1
  done
  return 0
}

# Modules in modules.load order; kvm gets KVM_ARGS, kvm-amd npt=1.
load_modules() {
  local m args t0
  t0=$(now_ms)
  while read -r m; do
    case $m in
      kvm-intel.ko | "") continue ;;
      kvm.ko) args=$KVM_ARGS ;;
      kvm-amd.ko) args="npt=1" ;;
      *) args= ;;
    esac
    # shellcheck disable=SC2086
    insmod "/lib/tdpw/$m" $args || { fail "insmod $m $args failed"; return 1; }
  done </lib/tdpw/modules.load
  [ -c /dev/kvm ] || { fail "no /dev/kvm after loading the modules"; return 1; }
  echo "TDPW-TIME modules ms=$(($(now_ms) - t0))"
  echo "TDPW-KVM tdp_mmu=$(cat /sys/module/kvm/parameters/tdp_mmu 2>/dev/null)" \
    "npt=$(cat /sys/module/kvm_amd/parameters/npt)" \
    "nx_huge_pages=$(cat /sys/module/kvm/parameters/nx_huge_pages)"
}

plan_flags() {
  case $1 in
    fentry) echo "" ;;
    kprobe) echo "--disable-variant fentry,fexit" ;;
    tp) echo "--disable-variant fentry,fexit,kprobe,kretprobe" ;;
    *) echo "bad-plan-$1" ;;
  esac
}

# daemon_start PLAN [RECORD_FILE]
daemon_start() {
  local t0
  t0=$(now_ms)
  rm -f $STATUS /tmp/daemon.log
  # shellcheck disable=SC2046
  tdpwatchd --interval 0.2 --status-file $STATUS --log.level "${DAEMON_LOG_LEVEL:-info}" \
    $(plan_flags "$1") ${2:+--record "$2"} $DAEMON_ARGS >/tmp/daemon.out 2>/tmp/daemon.log &
  DAEMON_PID=$!
  if ! wait_for "watching;" /tmp/daemon.log 60 $DAEMON_PID ||
    ! wait_for '"model"' $STATUS 10 $DAEMON_PID; then
    fail "tdpwatchd did not start watching"
    sed 's/^/TDPW-DAEMON /' /tmp/daemon.log
    return 1
  fi
  echo "TDPW-TIME $CTX daemon-start ms=$(($(now_ms) - t0))"
  grep -E 'plan:|serving' /tmp/daemon.log | sed "s|^|TDPW-PLAN $CTX |"
  return 0
}

# daemon_stop: SIGTERM, wait; fails on a non-zero exit or any leak line.
daemon_stop() {
  [ -n "$DAEMON_PID" ] || return 0
  kill -TERM "$DAEMON_PID"
  wait "$DAEMON_PID"
  local rc=$?
  DAEMON_PID=
  [ $rc = 0 ] || fail "tdpwatchd exited with status $rc"
  if grep -q 'leak:' /tmp/daemon.log; then
    fail "tdpwatchd reported a leak"
    grep 'leak:' /tmp/daemon.log | sed "s|^|TDPW-DAEMON $CTX |"
    # What the daemon knew of its VMs, for the post-mortem.
    grep -E 'first seen|older than the daemon|unattributed|adopted|resync|drift' /tmp/daemon.log |
      head -n 40 | sed "s|^|TDPW-DAEMON $CTX |"
  fi
  grep -E 'VM (created|destroyed)|events processed|recorded' /tmp/daemon.log | sed "s|^|TDPW-DAEMON $CTX |"
}

# vmm_start NAME ARGS...: starts a VMM holding its VMs until SIGTERM; sets
# VMM_PID and VMM_DIRS (its debugfs directories, pid-fd).
vmm_start() {
  local name=$1 out=/tmp/vmm.$1.out
  shift
  # The shell truncates $out in the forked child, after `&` has returned: a
  # file left by an earlier scenario's VMM of the same name would let
  # wait_for see its stale "vmm holding" and sed read an empty or stale
  # file (an empty tgid).  Remove it first, and take only this pid's lines.
  rm -f "$out"
  if [ -n "$VMM_CGROUP" ]; then
    # Into the cgroup before exec: memory is charged where it is faulted in.
    # shellcheck disable=SC2016
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$VMM_CGROUP" \
      tdpw_test_vmm "$@" --hold-ms -1 >"$out" 2>&1 &
  else
    tdpw_test_vmm "$@" --hold-ms -1 >"$out" 2>&1 &
  fi
  VMM_PID=$!
  eval "VMM_PID_$name=$VMM_PID"
  if ! wait_for "vmm holding" "$out" 120 $VMM_PID; then
    fail "VMM $name did not come up: $(cat "$out")"
    return 1
  fi
  VMM_DIRS=$(sed -n "s/^vm ready pid=$VMM_PID fd=\([0-9]*\) .*/$VMM_PID-\1/p" "$out")
  if [ -z "$VMM_DIRS" ]; then
    fail "VMM $name (pid $VMM_PID) is holding but printed no 'vm ready pid=$VMM_PID': $(cat "$out")"
    return 1
  fi
  eval "VMM_DIRS_$name=\"$VMM_DIRS\""
}

# vmm_step NAME STEP: the VMM applies its next --steps step (SIGUSR1).
vmm_step() {
  local pid
  eval "pid=\$VMM_PID_$1"
  kill -USR1 "$pid"
  wait_for "vmm step $2 done" "/tmp/vmm.$1.out" 60 "$pid" || fail "VMM $1 step $2: $(cat /tmp/vmm.$1.out)"
}

# vmm_stop NAME: SIGTERM, wait for its VMs to be destroyed.
vmm_stop() {
  local pid
  eval "pid=\$VMM_PID_$1"
  kill -TERM "$pid"
  wait "$pid" || fail "VMM $1 exited with status $?: $(cat /tmp/vmm.$1.out)"
  grep -q "vmm done" /tmp/vmm.$1.out || fail "VMM $1 did not finish"
}

# SecPageTables in 4 KiB pages, per-CPU vmstat deltas folded first.
sec_pages() {
  echo 1 >/proc/sys/vm/stat_refresh
  awk '/^SecPageTables:/ {print $2 / 4}' /proc/meminfo
}

# jget LINE KEY: the first number after "KEY": in LINE ("none" if absent).
jget() {
  echo "$1" | awk -v k="\"$2\": " '{
    i = index($0, k); if (!i) { print "none"; exit }
    s = substr($0, i + length(k)); sub(/^\[/, "", s)
    if (match(s, /^-?[0-9]+/)) print substr(s, RSTART, RLENGTH); else print substr(s, 1, 4) }'
}

# The status document's model line of the VM whose VMM has tgid $1.
model_line() {
  grep -E "^ *\{\"vm\": [0-9]+, \"tgid\": $1," $STATUS 2>/dev/null | head -n 1
}

# model_figures TGID: "tdp 4k 2m 1g nx_shadow nx_tdp shadow roots incons implicit bpf_tdp"
model_figures() {
  local l
  l=$(model_line "$1")
  [ -n "$l" ] || { echo "absent"; return; }
  echo "$l" | awk '
    function num(key,   i, s) {
      i = index($0, "\"" key "\": "); if (!i) return "none"
      s = substr($0, i + length(key) + 4); if (match(s, /^-?[0-9]+/)) return substr(s, RSTART, RLENGTH)
      if (match(s, /^[a-z]+/)) return substr(s, RSTART, RLENGTH)
      return substr(s, 1, 5) }
    {
    nx = "none none"; i = index($0, "\"possible_nx_huge_pages\": [")
    if (i) { s = substr($0, i + 27); match(s, /^-?[0-9]+, -?[0-9]+/); nx = substr(s, RSTART, RLENGTH); sub(/,/, "", nx) }
    c = index($0, "\"counters\": {"); bpf = "none"
    if (c) { s = substr($0, c); j = index(s, "\"tdp_pages\": "); if (j) { s = substr(s, j + 13); match(s, /^-?[0-9]+/); bpf = substr(s, RSTART, RLENGTH) } }
    print num("tdp_pages"), num("4k"), num("2m"), num("1g"), nx, num("shadow_pages"), num("roots_valid"), num("inconsistencies"), num("implicit"), bpf }'
}

# kernel_figures DIR: "4k 2m 1g nx_lpage_splits" from debugfs
kernel_figures() {
  local d=/sys/kernel/debug/kvm/$1
  echo "$(cat $d/pages_4k) $(cat $d/pages_2m) $(cat $d/pages_1g) $(cat $d/nx_lpage_splits)"
}

# The kernel's tdp_mmu_pages of the VM of tgid $1 (6.2-6.14 keep the atomic;
# -1 or "none" when the kernel has none to read, e.g. 6.1's list), as the
# daemon's VM iterator read it at its last tick (the status document's
# "kernel" view of the VM: a fresh read of struct kvm, not the probes'
# kernel_truth map, which only hooks with a struct kvm refresh).
truth_tdp_mmu_pages() {
  local l
  l=$(model_line "$1")
  case $l in *'"kernel": {'*) ;; *) echo none; return ;; esac
  l=${l#*\"kernel\": \{}
  case $l in '"tdp_pages": null'*) echo none ;; *) jget "{$l" tdp_pages ;; esac
}

# check_vm WHERE TGID DIR [IMPLICIT]: at a quiescent point, the daemon's
# figures of one VM equal the kernel's (IMPLICIT=true: a VM older than the
# daemon, adopted from the kernel's live tables).  The daemon may lag one status interval: wait up to
# 5 s for the model to reach the kernel's figures, then compare exactly (and
# re-read the kernel's to prove the point was quiescent).
check_vm() {
  local where=$1 tgid=$2 dir=$3 implicit=${4:-false} k m t=0 k2
  if [ -z "$tgid" ] || [ ! -d "/sys/kernel/debug/kvm/$dir" ]; then
    fail "$where: bed bug: no VM to check (tgid '$tgid', debugfs dir '$dir')"
    return
  fi
  # Quiescent: the kernel's figures stable over 0.4 s (zaps of invalidated
  # roots and RCU frees may still be running after a memslot change).
  k=$(kernel_figures "$dir")
  while :; do
    sleep 0.4
    k2=$(kernel_figures "$dir")
    [ "$k" = "$k2" ] && break
    k=$k2
    t=$((t + 1))
    [ $t -ge 25 ] && break
  done
  t=0
  while :; do
    m=$(model_figures "$tgid")
    # shellcheck disable=SC2086
    set -- $m
    [ "$2 $3 $4 $6" = "$k" ] && break
    t=$((t + 1))
    [ $t -ge 25 ] && break
    sleep 0.2
  done
  k2=$(kernel_figures "$dir")
  [ "$k" = "$k2" ] || fail "$where: kernel figures moved during the check: '$k' then '$k2' (not quiescent)"
  # shellcheck disable=SC2086
  set -- $k
  local k4=$1 k2m=$2 k1g=$3 knx=$4
  # shellcheck disable=SC2086
  set -- $m
  if [ "$1" = absent ]; then
    fail "$where: the daemon's model has no VM with tgid $tgid"
    sed 's/^/TDPW-STATUS /' $STATUS
    return
  fi
  check "$where" pages_4k "$k4" "$2"
  check "$where" pages_2m "$k2m" "$3"
  check "$where" pages_1g "$k1g" "$4"
  check "$where" nx_lpage_splits "$knx" "$6"
  check "$where" possible_nx_shadow 0 "$5"
  check "$where" shadow_pages 0 "$7"
  check "$where" inconsistencies 0 "${9}"
  [ "${9}" = 0 ] || metrics | grep "^tdpwatch_vm_inconsistencies_total.*pid=\"$tgid\"" |
    sed "s|^|TDPW-METRICS $CTX $where |"
  check "$where" implicit "$implicit" "${10}"
  # The probes' lossless counters start at load: only a VM watched from its
  # creation has all of its pages in them.
  [ "${11}" = none ] || [ "$implicit" = true ] || check "$where" bpf_tdp_pages "$1" "${11}"
  local tr
  tr=$(truth_tdp_mmu_pages "$tgid")
  case $tr in
    none | -1) log "$where: kernel tdp_mmu_pages unavailable ($tr); model tdp_pages=$1" ;;
    *) check "$where" kernel.tdp_mmu_pages "$tr" "$1" ;;
  esac
  case $tr in
    none | -1) check_metrics "$where" "$tgid" "$k4" "$k2m" "$k1g" "$knx" "$1" model "$8" ;;
    *) check_metrics "$where" "$tgid" "$k4" "$k2m" "$k1g" "$knx" "$tr" kernel "$8" ;;
  esac
  check_audit "$where" "$tgid" 0
  echo "TDPW-FIG $CTX $where tgid=$tgid debugfs=$dir kernel[4k 2m 1g nx]=$k model[tdp 4k 2m 1g nxS nxT shadow roots incons implicit bpf_tdp]=$m"
}

# check_audit WHERE TGID MISSING: `tdpwatch audit` of the VM (a fresh walk of
# the kernel's live tables against the model, daemon/reconcile/audit.h) finds
# MISSING tables missing from the model and none the kernel does not have;
# exit status 0 when MISSING is 0, else 6.
check_audit() {
  local out rc n u
  out=$(timeout 60 tdpwatch audit "$2" -o json 2>&1)
  rc=$?
  n=$(echo "$out" | tr -d '\n ' | sed -n 's/.*"missing_from_model":{"pages":\[[^]]*\],"total":\([0-9]*\)}.*/\1/p')
  u=$(echo "$out" | tr -d '\n ' | sed -n 's/.*"unknown_to_kernel":{"pages":\[[^]]*\],"total":\([0-9]*\)}.*/\1/p')
  check "$1" audit:missing_from_model "$3" "${n:-none}"
  check "$1" audit:unknown_to_kernel 0 "${u:-none}"
  check "$1" audit:exit "$([ "$3" = 0 ] && echo 0 || echo 6)" "$rc"
  [ "${n:-x} ${u:-x} $rc" = "$3 0 $([ "$3" = 0 ] && echo 0 || echo 6)" ] ||
    echo "$out" | head -n 40 | sed "s|^|TDPW-AUDIT $CTX $1 |"
}

# check_sec WHERE: the model's TDP+shadow page total equals SecPageTables,
# in the status document and in /metrics (sum of every VM's
# tdpwatch_vm_tdp_pages and tdpwatch_vm_shadow_pages: TDP roots are not in
# SecPageTables, the kernel accounts a TDP page when it links it).
check_sec() {
  local sec m x t=0
  while :; do
    sec=$(sec_pages)
    m=$(jget "$(grep '"model": {' $STATUS)" tdp_pages_total)
    x=$(metrics_sec_pages)
    [ "$sec" = "$m" ] && [ "$sec" = "$x" ] && break
    t=$((t + 1))
    [ $t -ge 25 ] && break
    sleep 0.2
  done
  check "$1" SecPageTables_pages "$sec" "$m"
  check "$1" metrics:SecPageTables_pages "$sec" "$x"
}

# The exporter's /metrics (tdpwatchd --web.listen-address, default).
METRICS_URL=http://127.0.0.1:9977/metrics
# No wget -T: Debian 12's busybox 1.35 wget segfaults with it.
metrics() { timeout 10 wget -q -O - "$METRICS_URL" 2>/tmp/wget.err; }

# metric_figures TGID: the series of the VM labelled pid="TGID" in /metrics:
# "4k 2m 1g nx_shadow nx_tdp shadow tdp roots_valid" (tdp: tdpwatch_vm_tdp_pages
# summed over level and as_id), "absent" when it has none.
metric_figures() {
  metrics | awk -v pid="pid=\"$1\"" '
    function f(x) { return x == "" ? "none" : sprintf("%d", x) }
    /^#/ || !index($0, pid) { next }
    { v = $NF; found = 1 }
    /^tdpwatch_vm_leaf_mappings\{/ {
      if (index($0, "size=\"4k\"")) l4 = v; else if (index($0, "size=\"2m\"")) l2 = v; else if (index($0, "size=\"1g\"")) l1 = v }
    /^tdpwatch_vm_possible_nx_huge_pages\{/ {
      if (index($0, "mmu_type=\"shadow\"")) nxs = v; else if (index($0, "mmu_type=\"tdp\"")) nxt = v }
    /^tdpwatch_vm_shadow_pages\{/ { sh = v }
    /^tdpwatch_vm_tdp_pages\{/ { tdp += v; ntdp++ }
    /^tdpwatch_vm_tdp_roots\{/ { if (index($0, "state=\"valid\"")) rv = v }
    END {
      if (!found) { print "absent"; exit }
      print f(l4), f(l2), f(l1), f(nxs), f(nxt), f(sh), (ntdp ? sprintf("%d", tdp) : "none"), f(rv) }'
}

# metrics_sec_pages: every VM's tdpwatch_vm_tdp_pages + tdpwatch_vm_shadow_pages
# (0 without VMs; "none" when the scrape failed).
metrics_sec_pages() {
  metrics | awk '/^tdpwatch_vm_(tdp|shadow)_pages\{/ { n += $NF }
    END { if (NR) printf "%d\n", n; else print "none" }'
}

# check_metrics WHERE TGID K4 K2M K1G KNX TDP TDP_FROM ROOTS: the VM's series
# in /metrics equal the kernel's figures (TDP: the kernel's tdp_mmu_pages
# when the probes read it, else the model's, TDP_FROM says which; ROOTS: the
# model's, the kernel has no count).  A scrape may lag the status document
# by one snapshot: wait up to 5 s.
check_metrics() {
  local where=$1 tgid=$2 k4=$3 k2m=$4 k1g=$5 knx=$6 tdp=$7 from=$8 roots=$9 x t=0
  while :; do
    x=$(metric_figures "$tgid")
    # shellcheck disable=SC2086
    [ -n "$x" ] && [ "$x" != absent ] && set -- $x &&
      [ "$1 $2 $3 $4 $5 $6 $7 $8" = "$k4 $k2m $k1g 0 $knx 0 $tdp $roots" ] && break
    t=$((t + 1))
    [ $t -ge 25 ] && break
    sleep 0.2
  done
  if [ "$x" = absent ]; then
    fail "$where: /metrics has no series with pid=\"$tgid\" ($(metrics | grep -c '^tdpwatch_vm_') tdpwatch_vm_ lines; wget: $(cat /tmp/wget.err))"
    return
  fi
  # shellcheck disable=SC2086
  set -- $x
  [ "$1 $2 $3" = "$k4 $k2m $k1g" ] ||
    metrics | grep -E "^tdpwatch_vm_(leaf_mappings|info)\{.*pid=\"$tgid\"" | sed "s|^|TDPW-METRICS $CTX $where |"
  check "$where" metrics:leaf_mappings_4k "$k4" "$1"
  check "$where" metrics:leaf_mappings_2m "$k2m" "$2"
  check "$where" metrics:leaf_mappings_1g "$k1g" "$3"
  check "$where" metrics:possible_nx_tdp "$knx" "$5"
  check "$where" metrics:possible_nx_shadow 0 "$4"
  check "$where" metrics:shadow_pages 0 "$6"
  check "$where" "metrics:tdp_pages($from)" "$tdp" "$7"
  check "$where" "metrics:tdp_roots_valid(model)" "$roots" "$8"
}

# check_probes WHERE: nothing lost or malformed.
check_probes() {
  local l
  l=$(grep '"probes": {' $STATUS)
  check "$1" events_lost 0 "$(jget "$l" events_lost)"
  check "$1" malformed 0 "$(jget "$l" malformed)"
  check "$1" leaky_teardowns 0 "$(jget "$l" leaky_teardowns)"
}

# check_vms WHERE PIDS: the daemon's VMs are exactly those of the VMMs PIDS
# ("none": no VM), in the status document and in /metrics
# (tdpwatch_vm_info): a kernel thread or a shell that changed SPTEs is no VM.
check_vms() {
  local want got_json got_metrics t=0
  want=$(echo "$2" | tr ' ' '\n' | grep -vE '^(none)?$' | sort -n | tr '\n' ',')
  while :; do
    got_json=$(grep -oE '^ *\{"vm": [0-9]+, "tgid": [0-9]+' $STATUS | sed 's/.*"tgid": //' |
      sort -n | tr '\n' ',')
    got_metrics=$(metrics | sed -n 's/^tdpwatch_vm_info{.*pid="\([0-9]*\)".*/\1/p' | sort -n |
      tr '\n' ',')
    [ "$want" = "$got_json" ] && [ "$want" = "$got_metrics" ] && break
    t=$((t + 1))
    [ $t -ge 25 ] && break
    sleep 0.2
  done
  check "$1" model_vm_pids "${want:-none}" "${got_json:-none}"
  check "$1" metrics_vm_pids "${want:-none}" "${got_metrics:-none}"
}

# check_tracking WHERE TGID WANT: the VM's tracking label in /metrics
# (tdpwatch_vm_info: full, adopted, since_seen, ...), waiting up to 10 s.
check_tracking() {
  local got t=0
  while :; do
    got=$(metrics | sed -n "s/^tdpwatch_vm_info{.*pid=\"$2\".*tracking=\"\([a-z_]*\)\".*/\1/p" | head -n 1)
    [ "$got" = "$3" ] && break
    t=$((t + 1))
    [ $t -ge 50 ] && break
    sleep 0.2
  done
  check "$1" tracking "$3" "${got:-none}"
}

# check_unattributed WHERE MUST_SEE: SPTE changes of tasks that are no VMM.
# Plans with the VM-context hooks attribute every one of them (0); the
# tracepoint plan counts them, and with MUST_SEE=1 (a foreign change that
# surely happened) must have counted some, in the status document and in
# /metrics (tdpwatch_unattributed_events_total).
check_unattributed() {
  local n m t=0
  while :; do
    n=$(jget "$(grep '"probes": {' $STATUS)" unattributed_events)
    m=$(metrics | awk '/^tdpwatch_unattributed_events_total\{/ { n += $NF } END { printf "%d\n", n }')
    if [ "$n" = "$m" ]; then
      [ "$PLAN" != tp ] || [ "$2" != 1 ] || [ "$n" -gt 0 ] 2>/dev/null && break
    fi
    t=$((t + 1))
    [ $t -ge 25 ] && break
    sleep 0.2
  done
  if [ "$PLAN" = tp ]; then
    log "$1: unattributed SPTE events $n (metrics $m): $(grep -o '"unattributed_by_cause": {[^}]*}' $STATUS)"
    if [ "$2" = 1 ]; then
      if [ "$n" -gt 0 ] 2>/dev/null; then check "$1" unattributed_counted yes yes; else check "$1" unattributed_counted yes "$n"; fi
    fi
    check "$1" metrics:unattributed_events "$n" "$m"
  else
    check "$1" unattributed_events 0 "$n"
    check "$1" metrics:unattributed_events 0 "$m"
  fi
}

# wait_destroyed N: until the daemon has torn down N VMs (status document).
wait_destroyed() {
  local t=0
  while [ "$(jget "$(grep '"probes": {' $STATUS)" vms_destroyed)" != "$1" ]; do
    t=$((t + 1))
    [ $t -ge 50 ] && { fail "daemon saw $(jget "$(grep '"probes": {' $STATUS)" vms_destroyed) VM teardowns, expected $1"; return 1; }
    sleep 0.2
  done
}

# dmesg_warnings: kernel WARNs (e.g. kvm_mmu_uninit_tdp_mmu's leak check).
dmesg_warnings() {
  dmesg | grep -c -E 'cut here|WARNING: CPU|BUG:|Oops|leaked' || true
}
