# Scenarios of the nested bed (sourced by /init after lib.sh).  Each runs
# with the daemon watching from before its first VM starts, in the attach
# plan $PLAN, and compares at quiescent points (tests/nested/README.md).

# basic: one 256 MiB VM (first half 4K-backed, second half THP) touches all
# of its memory; figures while it lives; teardown clean.
sc_basic() {
  daemon_start "$PLAN" "/tmp/rec.basic.$PLAN" || return
  vmm_start basic --mem-mib 256 --touch-pages 65535 --thp || { daemon_stop; return; }
  local dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
  check_vm live "$tgid" "$dir"
  check_sec live
  vmm_stop basic
  wait_destroyed 1
  [ -d "/sys/kernel/debug/kvm/$dir" ] && fail "debugfs $dir still there after the VMM exited"
  [ -n "$(model_line "$tgid")" ] && fail "model still lists VM tgid $tgid after teardown: $(model_line "$tgid")"
  check_sec teardown
  check_probes teardown
  daemon_stop
}

# multi: three VMMs of different sizes alive at once, destroyed in another
# order than created (B, C, A); every remaining VM checked after each step.
sc_multi() {
  daemon_start "$PLAN" || return
  vmm_start A --mem-mib 64 --touch-pages 16383 --thp || { daemon_stop; return; }
  vmm_start B --mem-mib 192 --touch-pages 49151 || { daemon_stop; return; }
  vmm_start C --mem-mib 32 --touch-pages 4000 --thp || { daemon_stop; return; }
  local v d live="A B C" n=0
  for step in none B C A; do
    if [ "$step" != none ]; then
      vmm_stop "$step"
      n=$((n + 1))
      wait_destroyed $n
      live=$(echo " $live " | sed "s/ $step / /")
    fi
    for v in $live; do
      eval "d=\$VMM_DIRS_$v"
      check_vm "after-$step:$v" "${d%-*}" "$d"
    done
    check_sec "after-$step"
  done
  check_probes end
  daemon_stop
}

# live: the daemon's figures of one VM while it lives; the daemon is stopped
# before the VM, so no teardown is judged (not in the registered runs: basic
# covers it, with its teardown).
sc_live() {
  daemon_start "$PLAN" || return
  vmm_start live --mem-mib 256 --touch-pages 65535 --thp || { daemon_stop; return; }
  check_vm live "${VMM_DIRS%-*}" "$VMM_DIRS"
  check_sec live
  check_probes live
  daemon_stop
  vmm_stop live
}

# nx: nx_huge_pages=force; the guest executes from every 2 MiB frame of its
# THP half (one NX split each); then NX recovery (ratio 1, short period)
# zaps every possible-NX page: the list rises and falls with the kernel's.
sc_nx() {
  local p=/sys/module/kvm/parameters nx0 ratio0 period0 t=0
  nx0=$(cat $p/nx_huge_pages) ratio0=$(cat $p/nx_huge_pages_recovery_ratio)
  period0=$(cat $p/nx_huge_pages_recovery_period_ms)
  echo 0 >$p/nx_huge_pages_recovery_ratio
  echo force >$p/nx_huge_pages || fail "cannot set nx_huge_pages=force"
  local mib=${NX_MIB:-64}
  local frames=$((mib / 4))
  if daemon_start "$PLAN" $NX_RECORD &&
    vmm_start nx --mem-mib "$mib" --touch-pages $((mib * 256 - 1)) --thp --exec-huge; then
    local dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
    check split frames_executed $frames "$(sed -n 's/^vm exec .*frames=//p' /tmp/vmm.nx.out)"
    check split kernel_nx_lpage_splits $frames "$(cat /sys/kernel/debug/kvm/$dir/nx_lpage_splits)"
    check_vm split "$tgid" "$dir"
    check_sec split
    echo 200 >$p/nx_huge_pages_recovery_period_ms
    echo 1 >$p/nx_huge_pages_recovery_ratio
    while [ "$(cat /sys/kernel/debug/kvm/$dir/nx_lpage_splits)" != 0 ] && [ $t -lt 50 ]; do
      t=$((t + 1))
      sleep 0.2
    done
    echo 0 >$p/nx_huge_pages_recovery_ratio
    check recovered kernel_nx_lpage_splits 0 "$(cat /sys/kernel/debug/kvm/$dir/nx_lpage_splits)"
    check_vm recovered "$tgid" "$dir"
    check_sec recovered
    vmm_stop nx
    wait_destroyed 1
    check_sec teardown
    check_probes teardown
  fi
  daemon_stop
  echo "$nx0" >$p/nx_huge_pages
  echo "$period0" >$p/nx_huge_pages_recovery_period_ms
  echo "$ratio0" >$p/nx_huge_pages_recovery_ratio
}

# dirty: dirty logging on (eager split of the THP half), off (huge pages
# recovered by zapping the collapsible tables), then the memslot deleted.
sc_dirty() {
  daemon_start "$PLAN" || return
  vmm_start dirty --mem-mib 64 --touch-pages 16383 --thp --steps dirty-on,dirty-off,delete-slot ||
    { daemon_stop; return; }
  local dir=$VMM_DIRS tgid=${VMM_DIRS%-*} step
  check_vm touched "$tgid" "$dir"
  for step in dirty-on dirty-off delete-slot; do
    kill -USR1 "$VMM_PID_dirty"
    wait_for "vmm step $step done" /tmp/vmm.dirty.out 30 "$VMM_PID_dirty" || fail "VMM step $step"
    check_vm "$step" "$tgid" "$dir"
    check_sec "$step"
  done
  vmm_stop dirty
  wait_destroyed 1
  check_sec teardown
  check_probes teardown
  daemon_stop
}

# fixture: a small VM (8 MiB, THP half) recorded with --record, dumped to
# the console for tests/nested/fixtures/ (run-nested.sh --fixtures DIR).
sc_fixture() {
  local rec=/tmp/fixture-$(uname -r | cut -d. -f1-2)-$PLAN.tdpwrec
  daemon_start "$PLAN" "$rec" || return
  vmm_start fixture --mem-mib 8 --touch-pages 2047 --thp || { daemon_stop; return; }
  check_vm live "${VMM_DIRS%-*}" "$VMM_DIRS"
  check_sec live
  vmm_stop fixture
  wait_destroyed 1
  daemon_stop
  echo "TDPW-FILE-BEGIN $(basename "$rec")"
  gzip -9c "$rec" | base64
  echo "TDPW-FILE-END"
}

# nxfixture: sc_nx on an 8 MiB VM (2 NX splits), recorded and dumped like
# sc_fixture.
sc_nxfixture() {
  local rec=/tmp/fixture-nx-$(uname -r | cut -d. -f1-2)-$PLAN.tdpwrec
  NX_MIB=8 NX_RECORD=$rec sc_nx
  echo "TDPW-FILE-BEGIN $(basename "$rec")"
  gzip -9c "$rec" | base64
  echo "TDPW-FILE-END"
}

tdpw_main() {
  local t0 runs run sc before r w
  echo "TDPW-BOOTED kernel=$(uname -r) uptime_ms=$(now_ms)"
  KVM_ARGS=$(cmdline_param tdpw.kvm | tr ';' ' ')
  DAEMON_ARGS=$(cmdline_param tdpw.daemon_args | tr ';' ' ')
  DAEMON_LOG_LEVEL=$(cmdline_param tdpw.log)
  # PLAN/SCENARIO pairs, e.g. fentry/basic,kprobe/multi,tp/live
  runs=$(cmdline_param tdpw.runs | tr ',' ' ')
  load_modules || { echo "TDPW-DONE pass=$PASSES fail=$FAILS"; return; }
  # THP only where the VMM asks (MADV_HUGEPAGE): a 4K-backed half and a huge half.
  echo madvise >/sys/kernel/mm/transparent_hugepage/enabled
  for run in ${runs:-fentry/basic}; do
    PLAN=${run%%/*} sc=${run#*/}
    CTX=$sc/$PLAN
    t0=$(now_ms)
    before=$FAILS
    echo "TDPW-BEGIN $CTX"
    "sc_$sc"
    [ -n "$DAEMON_PID" ] && daemon_stop
    for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
    wait
    if [ "$FAILS" = "$before" ]; then r=PASS; else r=FAIL; fi
    echo "TDPW-SCENARIO $CTX $r ms=$(($(now_ms) - t0))"
  done
  CTX=end
  w=$(dmesg_warnings)
  check kernel dmesg_warnings 0 "$w"
  [ "$w" = 0 ] || dmesg | grep -A30 -E 'cut here|BUG:|Oops' | sed 's/^/TDPW-DMESG /' | head -n 80
  echo "TDPW-DONE pass=$PASSES fail=$FAILS uptime_ms=$(now_ms)"
}
