#!/usr/bin/env bash
# extract-vmlinux.sh BZIMAGE OUT: writes the ELF vmlinux inside an x86
# bzImage to OUT, like the kernel's scripts/extract-vmlinux.
#
# First the boot protocol header (>= 2.08: payload_offset at 0x248,
# payload_length at 0x24c, relative to the protected-mode code at
# (setup_sects + 1) * 512) gives the exact compressed payload, whose last
# 4 bytes are the uncompressed size (not part of the stream).  Failing that,
# every offset where a compression magic appears is tried in turn.  Either
# way the result must start with the ELF magic.
set -eu   # no pipefail: readers that stop early (head, the decompressors) are fine

die() { echo "extract-vmlinux: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 BZIMAGE OUT"
img=$1 out=$2
[ -r "$img" ] || die "cannot read $img"

# rd FILE OFFSET SIZE: unsigned little-endian integer (SIZE 1, 2, 4 or 8).
rd() { od -An -t "u$3" -j "$2" -N "$3" --endian=little "$1" | tr -d ' '; }
# A whole ELF64: the magic, and the section headers (at the end) all there,
# so a truncated stream is not taken for a vmlinux.
is_elf() {
  [ "$(head -c 5 "$1" | od -An -t x1 | tr -d ' ')" = 7f454c4602 ] || return 1
  local end=$(( $(rd "$1" 0x28 8) + $(rd "$1" 0x3a 2) * $(rd "$1" 0x3c 2) ))
  [ "$(stat -c %s "$1")" -ge "$end" ]
}

# name, magic (printf escapes), decompressor reading stdin.
formats=(
  "gzip    \037\213\010       gzip -dc"
  "xz      \3757zXZ\000       xz -dc --single-stream"
  "zstd    (\265/\375         zstd -dcq"
  "lz4     \002!L\030         lz4 -dc"
  "bzip2   BZh                bzip2 -dc"
  "lzma    \135\000\000\000   xz -dc --format=lzma"
  "lzo     \211\114\132       lzop -dc"
)

# The magic's bytes as hex ("fd377a..."); magics are printf formats on purpose.
# shellcheck disable=SC2059
magic_hex() { printf "$1" | od -An -t x1 | tr -d ' \n'; }

tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# try FORMAT-NAME DECOMPRESSOR... < stream: decompress into $tmp, ELF check.
try() {
  local name=$1; shift
  command -v "$1" >/dev/null || { echo "extract-vmlinux: $name payload but no $1" >&2; return 1; }
  "$@" >"$tmp" 2>/dev/null || true   # trailing data makes some tools complain
  is_elf "$tmp"
}

done_with() { mv "$tmp" "$out"; trap - EXIT; echo "extract-vmlinux: $img: $1 -> $out ($(stat -c %s "$out") bytes)"; exit 0; }

# 1. The boot protocol header.
if [ "$(head -c 518 "$img" | tail -c 4)" = HdrS ] && [ "$(rd "$img" 0x206 2)" -ge $((0x208)) ]; then
  setup_sects=$(rd "$img" 0x1f1 1)
  if [ "$setup_sects" -eq 0 ]; then setup_sects=4; fi
  start=$(( (setup_sects + 1) * 512 + $(rd "$img" 0x248 4) ))
  len=$(( $(rd "$img" 0x24c 4) - 4 ))
  head8=$(tail -c +$((start + 1)) "$img" | head -c 8 | od -An -t x1 | tr -d ' \n')
  for f in "${formats[@]}"; do
    read -r name magic cmd <<<"$f"
    hex=$(magic_hex "$magic")
    if [ "${head8:0:${#hex}}" = "$hex" ]; then
      # shellcheck disable=SC2086
      dd if="$img" bs=64K iflag=skip_bytes,count_bytes skip="$start" count="$len" status=none | try "$name" $cmd && done_with "$name payload at $start (boot header)"
      break
    fi
  done
  echo "extract-vmlinux: boot header payload not recognised, scanning for magics" >&2
fi

# 2. Scan for every compression magic.
for f in "${formats[@]}"; do
  read -r name magic cmd <<<"$f"
  pat=$(magic_hex "$magic" | sed 's/../\\x&/g')
  # shellcheck disable=SC2013  # offsets, one word each
  for pos in $(LC_ALL=C grep -obUaP "$pat" "$img" 2>/dev/null | cut -d: -f1); do
    # shellcheck disable=SC2086
    tail -c +$((pos + 1)) "$img" | try "$name" $cmd && done_with "$name payload at $pos (magic scan)"
  done
done
die "$img: no compressed ELF vmlinux found (formats tried: gzip xz zstd lz4 bzip2 lzma lzo)"
