#!/usr/bin/env bash
# Run a command on a real cgroup v2 kernel: a throwaway QEMU virtual machine (software emulation;
# VM_ACCEL=kvm for KVM) booting Debian's kernel with only the unified hierarchy
# mounted, so the memory and cpu controllers belong to cgroup v2. It shares this machine's root
# file system read-only (node, perl, node_modules) and this repository read-write, and gives the
# command a fresh /tmp on a disk of its own (ext4, as on a real host: a run's files are page cache
# the kernel can reclaim; on tmpfs they would be shared memory, which it cannot without swap).
# For hosts whose own cgroup v2 lacks the memory controller (bound to v1), where the cgroup2
# backend cannot otherwise be tested.
#
#   scripts/cgroup2-vm.sh                  the cgroup2 variants of the execution tests (required)
#   scripts/cgroup2-vm.sh CMD [ARG...]     any command, run from the repository as root
#   scripts/cgroup2-vm.sh --check          only whether this host can boot the VM (exit 0, or 2
#                                          and what to install)
#   VM_CGROUP=smart-cron.service ...       run it in that cgroup (controllers delegated to it, as
#                                          systemd's Delegate=yes does), not in the root cgroup
#
# Needs (Debian): qemu-system-x86 linux-image-amd64 busybox-static cpio e2fsprogs. Exits with the
# command's code.
set -euo pipefail
# All in one function: bash parses it whole before running it, so an edit of this file while a VM
# runs (a checkout shared with it) cannot change what the running script does next.
main() {
REPO=$(cd "$(dirname "$0")/.." && pwd)
# The newest kernel in /boot whose modules are installed (KVER=... to choose).
KVER=${KVER:-$(for v in $(ls /boot | sed -n 's/^vmlinuz-//p' | sort -V); do [ -f "/lib/modules/$v/modules.dep" ] && echo "$v"; done | tail -n 1)}
KERNEL=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
BUSYBOX=$(command -v busybox || true)
QEMU=$(command -v qemu-system-x86_64 || true)
CPIO=$(command -v cpio || true)
MKFS=$(PATH=$PATH:/usr/sbin:/sbin command -v mkfs.ext4 || true)
lacking=()
for need in "$KERNEL:linux-image-amd64" "$MODDIR/modules.dep:linux-image-amd64" "${BUSYBOX:-busybox}:busybox-static" "${QEMU:-qemu-system-x86_64}:qemu-system-x86" "${CPIO:-cpio}:cpio" "${MKFS:-mkfs.ext4}:e2fsprogs"; do
  [ -e "${need%%:*}" ] || lacking+=("${need%%:*} (apt-get install ${need#*:})")
done
if [ ${#lacking[@]} -gt 0 ]; then
  (IFS=','; echo "cgroup2-vm: missing${lacking[*]/#/ }" >&2)
  exit 2
fi
if [ "${1:-}" = --check ]; then exit 0; fi
# Software emulation runs node ~10x slower: the tests' time bounds stretch by SMART_CRON_TEST_TIME_SCALE.
if [ $# -eq 0 ]; then set -- env SMART_CRON_REQUIRE_CGROUP2=1 SMART_CRON_TEST_TIME_SCALE=4 node scripts/test.mjs test/execution/runner.test.ts test/execution/spawn-helper.test.ts test/execution/enforcement.test.ts test/execution/memcg-reaper.test.ts --test-name-pattern=cgroup2; fi

WORK=$(mktemp -d /tmp/cgroup2-vm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/root/bin" "$WORK/root/m" "$WORK/root/proc" "$WORK/root/sys" "$WORK/root/dev" "$WORK/root/newroot"
cp "$BUSYBOX" "$WORK/root/bin/busybox"

# The modules for virtio-pci, 9p and the ext4 disk (crc32c: ext4's metadata checksums), in
# dependency order.
declare -A seen=()
order=()
add_module() {
  local line path dep
  line=$(grep -E "(^|/)$1\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" || true)
  [ -n "$line" ] || return 0 # built in
  path=${line%%:*}
  [ -z "${seen[$path]:-}" ] || return 0
  seen[$path]=1
  for dep in ${line#*:}; do add_module "$(basename "$dep" | sed -E 's/\.ko(\.xz|\.zst|\.gz)?$//')"; done
  order+=("$path")
}
for m in virtio_pci 9pnet_virtio 9p virtio_blk crc32c_generic ext4; do add_module "$m"; done
for p in "${order[@]}"; do
  case $p in
    *.xz) xz -dc "$MODDIR/$p" > "$WORK/root/m/$(basename "${p%.xz}")" ;;
    *.zst) zstd -qdc "$MODDIR/$p" > "$WORK/root/m/$(basename "${p%.zst}")" ;;
    *.gz) gzip -dc "$MODDIR/$p" > "$WORK/root/m/$(basename "${p%.gz}")" ;;
    *) cp "$MODDIR/$p" "$WORK/root/m/" ;;
  esac
  basename "${p%.*}" | sed -E 's/\.ko$//' >> "$WORK/root/modules"
done

# The command, as a script of its own (no quoting of it inside the init script's quotes).
{
  echo "cd $(printf '%q' "$REPO") || exit 1"
  echo "exec $(printf '%q ' "$@")"
} > "$WORK/root/cmd"
cat > "$WORK/root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in \$(cat /modules); do insmod /m/\$m.ko || echo "cgroup2-vm: insmod \$m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,msize=512000,ro hostroot /newroot
i=0; while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do usleep 50000; i=\$((i + 1)); done # probed asynchronously
mount -t ext4 /dev/vda /newroot/tmp && chmod 1777 /newroot/tmp || { echo "cgroup2-vm: no disk for /tmp, tmpfs instead"; mount -t tmpfs -o mode=1777 tmp /newroot/tmp; }
mkdir -p /newroot$REPO
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 repo /newroot$REPO
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/shm /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
mount -t devpts pts /newroot/dev/pts
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /newroot/sys/fs/cgroup
echo "+memory +cpu +pids +io" > /newroot/sys/fs/cgroup/cgroup.subtree_control
hostname cgroup2-vm
echo "cgroup2-vm: kernel \$(uname -r), cgroup2 controllers: \$(cat /newroot/sys/fs/cgroup/cgroup.controllers)"
if [ -n "${VM_CGROUP:-}" ]; then
  mkdir -p /newroot/sys/fs/cgroup/${VM_CGROUP:-}
  echo \$\$ > /newroot/sys/fs/cgroup/${VM_CGROUP:-}/cgroup.procs
  echo "cgroup2-vm: running in /${VM_CGROUP:-}"
fi
cp /cmd /newroot/tmp/.cgroup2-vm-cmd
chroot /newroot /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp TERM=dumb /bin/bash /tmp/.cgroup2-vm-cmd
echo "cgroup2-vm: exit \$?"
poweroff -f
EOF
chmod +x "$WORK/root/init"
(cd "$WORK/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz"
# The VM's /tmp: a sparse disk image, gone with $WORK.
truncate -s "${VM_TMP_MB:-1024}M" "$WORK/tmp.img"
"$MKFS" -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$WORK/tmp.img"

# Software emulation by default: nested KVM on the machines this was written on accepts the VM
# and then never starts its kernel. VM_ACCEL=kvm tries it.
ACCEL=(-accel tcg,thread=multi -cpu max)
if [ "${VM_ACCEL:-}" = kvm ]; then ACCEL=(-enable-kvm -cpu host,-arch-capabilities); fi
"$QEMU" "${ACCEL[@]}" -m "${VM_MEMORY_MB:-3072}" -smp "${VM_CPUS:-2}" -nographic -no-reboot \
  -kernel "$KERNEL" -initrd "$WORK/initrd.gz" -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs local,path="$REPO",mount_tag=repo,security_model=passthrough,multidevs=remap \
  -drive file="$WORK/tmp.img",if=virtio,format=raw \
  -nic none | tee "$WORK/console.log"
code=$(sed -n 's/^cgroup2-vm: exit \([0-9]*\).*/\1/p' "$WORK/console.log" | tail -n 1)
[ -n "$code" ] || { echo "cgroup2-vm: the VM ended without the command's exit code" >&2; exit 3; }
exit "$code"
}
main "$@"
exit $?
