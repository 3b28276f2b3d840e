#!/usr/bin/env bash
# Builds the replay reader's libFuzzer target with clang++ and runs it for a
# bounded time from a generated seed corpus; fails on any crash, sanitizer
# report or reader invariant violation (see replay_reader_fuzz.cc).
#
# usage: run_fuzz_smoke.sh SOURCE_DIR OUT_DIR SEED_GENERATOR
# env:   CLANGXX (compiler), TDPW_FUZZ_RUNS (200000), TDPW_FUZZ_MAX_TIME (60 s)
#
# The main build uses g++, and libFuzzer needs clang: that is why this is a
# script run by ctest rather than a CMake target.  A missing clang++ is a
# failure, not a skip: CI installs clang, and a skipped fuzzer is no fuzzer.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 SOURCE_DIR OUT_DIR SEED_GENERATOR" >&2
  exit 2
fi
src=$1
out=$2
seedgen=$3
runs=${TDPW_FUZZ_RUNS:-200000}
max_time=${TDPW_FUZZ_MAX_TIME:-60}

cxx=${CLANGXX:-}
if [[ -z $cxx ]]; then
  for candidate in clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
    if command -v "$candidate" >/dev/null 2>&1; then
      cxx=$candidate
      break
    fi
  done
fi
if [[ -z $cxx ]] || ! command -v "$cxx" >/dev/null 2>&1; then
  echo "FAIL: clang++ not found; the replay fuzz smoke test needs clang with libFuzzer" \
    "(Debian: apt-get install clang), or set CLANGXX" >&2
  exit 1
fi

mkdir -p "$out"
bin=$out/replay_reader_fuzz
echo "building $bin with $cxx"
# -fno-sanitize-recover: a UBSan finding must stop the run, not scroll past.
"$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Wall -Wextra -I"$src" -I"$src/bpf" \
  "$src/tests/fuzz/replay_reader_fuzz.cc" "$src"/daemon/replay/*.cc -o "$bin"

rm -rf "$out/seeds" "$out/corpus"
mkdir -p "$out/seeds" "$out/corpus"
"$seedgen" "$out/seeds"

# New inputs go to corpus/ (first dir); seeds/ stays as generated.
echo "running $bin: -runs=$runs -max_total_time=$max_time"
"$bin" -runs="$runs" -max_total_time="$max_time" -max_len=4096 \
  -artifact_prefix="$out/crash-" "$out/corpus" "$out/seeds"
