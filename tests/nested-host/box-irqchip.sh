#!/bin/bash
# box-irqchip.sh: an investigation, not a test (issue 18 part 3; README.md
# "The in-kernel irqchip").  Runs in the box (run-box.sh --test
# box-irqchip.sh 6.12, with or without a .deb): boots the guest of
# domains/tdpw-guest.xml.in once per configuration and says whether its
# /init got to "TDPW-GUEST ready" within TDPW_IRQ_WAIT seconds (default 120).
# A configuration is "name|kvm_amd parameters|irqchip|guest kernel command
# line extra|vCPUs" (vCPUs default 1): irqchip "off" keeps the domain's
# kernel-irqchip=off, "on" drops it (libvirt's default: the in-kernel
# irqchip), "split" gives kernel-irqchip=split.  TDPW_IRQ_CONFIGS (in
# /tdpw/env: run-box.sh --env) replaces the list; configurations are
# separated by newlines or commas.  kvm_amd is reloaded with the parameters (npt=1
# always) before each boot; in-kernel-pmu0 reloads kvm with enable_pmu=0.
# The guest's kernel logs at loglevel 5 (not quiet), for the hang's last words.  On a hang the guest's vCPU registers (virsh
# qemu-monitor-command info registers) and the console's last lines are kept
# in results/.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
res=/tdpw/results
mkdir -p "$res"
# shellcheck disable=SC1091
[ -f /tdpw/env ] && set -a && . /tdpw/env && set +a
wait_s=${TDPW_IRQ_WAIT:-120}
configs=${TDPW_IRQ_CONFIGS:-"control-off||off|
in-kernel||on|
split||split|
in-kernel-vgif0|vgif=0|on|
in-kernel-notscdeadline||on|lapic=notscdeadline
in-kernel-nolapictimer||on|nolapic_timer
in-kernel-nmiwatchdog0||on|nmi_watchdog=0 nowatchdog
in-kernel-pmu0||on|
in-kernel-smp2||on||2"}
gdir=/var/lib/libvirt/boot/tdpw
mkdir -p $gdir && cp /tdpw/guest/vmlinuz /tdpw/guest/initrd.gz $gdir/
ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }
while IFS='|' read -r name params irqchip extra vcpus; do
  [ -n "$name" ] || continue
  virsh list --name | grep -q . && virsh destroy tdpw-irq >/dev/null 2>&1
  modprobe -r kvm_amd 2>/dev/null
  # shellcheck disable=SC2086
  modprobe kvm_amd npt=1 $params || { echo "TDPW-IRQ $name: modprobe kvm_amd $params failed"; continue; }
  [ "$name" = in-kernel-pmu0 ] && { modprobe -r kvm_amd; modprobe -r kvm; modprobe kvm enable_pmu=0; modprobe kvm_amd npt=1; }
  xml=$res/irq-$name.xml
  sed -e "s|@NAME@|tdpw-irq|g; s|@MEM@|192|g; s|@TOUCH@|32|g; s|@DIR@|$gdir|g" \
      -e "s|tdpw.touch=32|tdpw.touch=32 $extra|; s| quiet | loglevel=5 |" /tdpw/domains/tdpw-guest.xml.in >"$xml"
  case $irqchip in
    on) sed -i '/<qemu:commandline>/,/<\/qemu:commandline>/d' "$xml" ;;
    split) sed -i 's|kernel-irqchip=off|kernel-irqchip=split|' "$xml" ;;
  esac
  sed -i "s|<vcpu>1</vcpu>|<vcpu>${vcpus:-1}</vcpu>|" "$xml"
  rm -f /var/log/libvirt/qemu/tdpw-irq.serial
  virsh define "$xml" >/dev/null && virsh start tdpw-irq >/dev/null || { echo "TDPW-IRQ $name: virsh start failed"; continue; }
  t0=$(ms) ok=hang
  while [ $(($(ms) - t0)) -lt $((wait_s * 1000)) ]; do
    grep -q 'TDPW-GUEST ready' /var/log/libvirt/qemu/tdpw-irq.serial 2>/dev/null && { ok=boots; break; }
    sleep 1
  done
  echo "TDPW-IRQ $name kvm_amd=[$params] irqchip=$irqchip cmdline=[$extra] vcpus=${vcpus:-1}: $ok after $(($(ms) - t0)) ms;" \
    "qemu: $(grep -o -- '-machine [^ ]*' /var/log/libvirt/qemu/tdpw-irq.log | tail -n 1)"
  if [ $ok = hang ]; then
    virsh qemu-monitor-command --hmp tdpw-irq 'info registers -a' >"$res/irq-$name.regs" 2>&1
    grep -E '^(RIP|RFL|CPU#)' "$res/irq-$name.regs" | tr '\n' ' ' | sed 's/^/TDPW-IRQ   regs: /'; echo
    tail -n 5 /var/log/libvirt/qemu/tdpw-irq.serial | tr -d '\r' | sed 's/^/TDPW-IRQ   console: /'
  fi
  cp /var/log/libvirt/qemu/tdpw-irq.serial "$res/irq-$name.serial" 2>/dev/null
  virsh destroy tdpw-irq >/dev/null 2>&1
  virsh undefine tdpw-irq >/dev/null 2>&1
done < <(tr ',' '\n' <<<"$configs")
echo "TDPW-BOX-DONE pass=0 fail=0"
