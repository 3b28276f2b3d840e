#!/usr/bin/env bash
# Installs what tdpwatch needs to build and test, from Debian 12 packages
# only.  Idempotent: installs nothing when everything is there.
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake ninja-build g++ clang llvm pkg-config libclang-rt-14-dev
  # eBPF: libbpf, skeletons, static link for the nested bed
  libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev
  # libraries
  prometheus-cpp-dev libspdlog-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # kernel images for the CO-RE and nested tests
  kmod xz-utils zstd binutils
  # exporter: civetweb headers (its web server), promtool and a real
  # Prometheus server for the exporter's tests
  libcivetweb-dev prometheus
  # exporter: --web.config.file (exporter-toolkit YAML, TLS, bcrypt from libcrypt)
  libyaml-cpp-dev libssl-dev libcrypt-dev
  # tests/host/web: certificates and the hostile clients
  openssl python3
  # deploy: systemd-analyze, dpkg-shlibdeps (CPack DEB), deb-systemd-helper,
  # and the deploy tests' tools (setpriv/unshare/findmnt, ss, curl, jq)
  systemd dpkg-dev init-system-helpers util-linux mount iproute2 curl jq
  # cli: JSON parsing (nlohmann), tmux to drive `tdpwatch watch` in tests
  nlohmann-json3-dev tmux
  # nested QEMU bed (tests/nested): QEMU/TCG, the initramfs' busybox and cpio
  qemu-system-x86 busybox-static cpio
  # nested Debian host (tests/nested-host): its root file system, packed by mke2fs -d
  debootstrap e2fsprogs
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (sudo $0) or install them with apt-get" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
