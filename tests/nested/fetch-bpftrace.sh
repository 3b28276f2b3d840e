#!/usr/bin/env bash
# fetch-bpftrace.sh [DIR]
#
# A bpftrace for the nested bed's bench scenario (README.md, "bench"):
# Debian 12's bpftrace package, and those of its libraries' packages that
# the host lacks, downloaded with `apt-get download` (checked against the
# archive's signed index) and unpacked under DIR (default
# $TDPW_BPFTRACE_CACHE, else /var/cache/tdpwatch/bpftrace).  Nothing is
# installed on the host.  Prints the path of the bpftrace binary, for
# run-nested.sh --bpftrace; build-initramfs.sh takes its libraries from
# DIR/root/usr/lib/x86_64-linux-gnu first, then from the host.
set -euo pipefail
die() { echo "fetch-bpftrace: error: $*" >&2; exit 1; }
dir=${1:-${TDPW_BPFTRACE_CACHE:-/var/cache/tdpwatch/bpftrace}}
bin=$dir/root/usr/bin/bpftrace
if [ -x "$bin" ] && LD_LIBRARY_PATH=$dir/root/usr/lib/x86_64-linux-gnu "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
command -v apt-get >/dev/null || die "apt-get not found (a Debian 12 host is assumed)"
mkdir -p "$dir/debs" "$dir/root"
# bpftrace 0.17 (bookworm) and libbpfcc; the rest of its closure (LLVM 14,
# libclang 14, libdw, libbpf) only when the host has not installed it.
pkgs="bpftrace libbpfcc"
for p in libbpf1 libclang1-14 libclang-cpp14 libllvm14 libdw1 libelf1; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs="$pkgs $p"
done
# shellcheck disable=SC2086
(cd "$dir/debs" && apt-get download $pkgs >&2) || die "apt-get download $pkgs failed (apt-get update?)"
for d in "$dir"/debs/*.deb; do dpkg -x "$d" "$dir/root"; done
LD_LIBRARY_PATH=$dir/root/usr/lib/x86_64-linux-gnu "$bin" --version >&2 ||
  die "$bin does not run here: $(LD_LIBRARY_PATH=$dir/root/usr/lib/x86_64-linux-gnu ldd "$bin" | grep 'not found' | tr '\n' ' ')"
echo "$bin"
