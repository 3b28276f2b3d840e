#!/usr/bin/env bash
# Builds one libFuzzer target of tests/fuzz with clang++ (ASan + UBSan) and
# runs it for a bounded time from its seed corpus (tests/fuzz/corpus/NAME);
# fails on any crash, sanitizer report or invariant violation (abort() in
# the target).  Prints libFuzzer's final stats; `TDPW-FUZZ NAME execs=N`
# is the number of inputs run (stat::number_of_executed_units).
#
# usage: run_fuzz_target.sh SOURCE_DIR OUT_DIR NAME SOURCE...
#   NAME: tests/fuzz/NAME.cc; SOURCE...: the project files it needs, relative
#   to SOURCE_DIR (header-only dependencies need nothing).
# env:   CLANGXX (compiler), TDPW_FUZZ_RUNS (2000000), TDPW_FUZZ_MAX_TIME (60 s),
#        TDPW_FUZZ_EXTRA (more flags: -I, -l)
#
# The main build uses g++ and libFuzzer needs clang: a script run by ctest,
# as run_fuzz_smoke.sh.  A missing clang++ is a failure, not a skip.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 SOURCE_DIR OUT_DIR NAME SOURCE..." >&2
  exit 2
fi
src=$1 out=$2 name=$3
shift 3
runs=${TDPW_FUZZ_RUNS:-2000000}
max_time=${TDPW_FUZZ_MAX_TIME:-60}
cxx=${CLANGXX:-}
if [[ -z $cxx ]]; then
  for candidate in clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
    if command -v "$candidate" >/dev/null 2>&1; then cxx=$candidate; break; fi
  done
fi
if [[ -z $cxx ]] || ! command -v "$cxx" >/dev/null 2>&1; then
  echo "FAIL: clang++ not found; $name needs clang with libFuzzer (Debian: apt-get install clang)," \
    "or set CLANGXX" >&2
  exit 1
fi
sources=()
for s in "$@"; do sources+=("$src/$s"); done
mkdir -p "$out"
bin=$out/$name
echo "building $bin with $cxx"
# shellcheck disable=SC2086
"$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Wall -Wextra -I"$src" -I"$src/bpf" "$src/tests/fuzz/$name.cc" "${sources[@]}" \
  ${TDPW_FUZZ_EXTRA:-} -o "$bin"
rm -rf "$out/$name.corpus"
mkdir -p "$out/$name.corpus"
echo "running $bin: -runs=$runs -max_total_time=$max_time"
[[ -d $src/tests/fuzz/corpus/$name ]] || { echo "FAIL: no seed corpus $src/tests/fuzz/corpus/$name" >&2; exit 1; }
status=0
"$bin" -runs="$runs" -max_total_time="$max_time" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$out/$name-crash-" "$out/$name.corpus" "$src/tests/fuzz/corpus/$name" \
  >"$out/$name.log" 2>&1 || status=$?
grep -v '^#[0-9]' "$out/$name.log" | tail -n 40
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log")
echo "TDPW-FUZZ $name execs=${execs:-none} status=$status"
[[ $status == 0 ]] || exit "$status"
# A run that executed nothing fuzzed nothing.
[[ ${execs:-0} -gt 0 ]] || { echo "FAIL: $name executed no input" >&2; exit 1; }
