#!/usr/bin/env bash
# build-guest-initramfs.sh KERNEL_DIR OUT
#
# The initramfs of the box's libvirt guests (tests/nested-host/README.md):
# a Linux guest (L2) that boots Debian's kernel, touches memory as a
# workload does and then holds still, so that its host's page tables reach
# a quiescent point.  busybox-static, plus evdev (and the ACPI button driver
# where it is a module) for busybox's acpid: the ACPI power button (`virsh
# shutdown` / `virsh reboot --mode acpi`) powers the guest off, which
# libvirt turns into a reset for a reboot.
#
# On its serial console (the domain's log file), /init writes:
#   TDPW-GUEST boot uptime_s=U id=ID   its /init started (ID: the kernel's boot_id)
#   TDPW-GUEST touched=MiB uptime_s=U  memory written (tmpfs, in 2 MiB runs)
#   TDPW-GUEST smi uptime_s=U          an SMI raised through the APM port
#   TDPW-GUEST ready                   holding still from now on
# Kernel command line: tdpw.touch=MiB (default 48).
set -euo pipefail
die() { echo "build-guest-initramfs: error: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 KERNEL_DIR OUT"
kdir=$1 out=$2
# shellcheck source=initramfs-lib.sh
. "$(dirname "$0")/initramfs-lib.sh"
initramfs_stage "$kdir"
for m in evdev button; do initramfs_add "$m"; done
mkdir -p "$stage/etc/acpi/PWRF" "$stage/mnt"
cat >"$stage/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "TDPW-GUEST power button: poweroff" >/dev/console
poweroff -f
EOF
chmod 0755 "$stage/etc/acpi/PWRF/00000080"

cat >"$stage/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
up() { cut -d' ' -f1 /proc/uptime; }
for m in $(cat /lib/box/load); do insmod "/lib/box/$m" 2>/dev/null; done
touch=48
for a in $(cat /proc/cmdline); do case $a in tdpw.touch=*) touch=${a#tdpw.touch=} ;; esac; done
echo "TDPW-GUEST boot uptime_s=$(up) id=$(cat /proc/sys/kernel/random/boot_id)"
mount -t tmpfs -o size=90% tmpfs /mnt
dd if=/dev/zero of=/mnt/fill bs=2M count=$((touch / 2)) 2>/dev/null
echo "TDPW-GUEST touched=$touch uptime_s=$(up)"
# An SMI, as firmware services raise them: a write to the APM control port
# (0xb2; SeaBIOS enabled APMC SMIs at boot).  KVM enters SMM: the VM's SMM
# address space (as_id 1) gets its own TDP root and tables.
printf '\x42' | dd of=/dev/port bs=1 seek=178 count=1 2>/dev/null &&
  echo "TDPW-GUEST smi uptime_s=$(up)"
acpid -c /etc/acpi -l /dev/null 2>/dev/null
echo "TDPW-GUEST ready"
while :; do sleep 3600; done
EOF
initramfs_pack "$out"
