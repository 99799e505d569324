#!/usr/bin/env bash
# Build the tiny test guest: Debian's cloud kernel booted directly with a
# busybox-static initramfs whose /init prints what the guest sees (and, with
# kvmfleet_ip=ADDR/PREFIX, puts eth0 on the network), then powers off.
#
# With kvmfleet_hold=N it stays up N seconds first; with kvmfleet_tick too, it prints a
# heartbeat line each second (tick count, boot id, uptime): a migration test reads on the
# destination's console that the same boot goes on.
#
# Usage: tools/build-test-image.sh [--devices] [DIR]
#   default DIR /var/lib/kvmfleet/images/test-guest (test-guest-devices with --devices)
# Result: DIR/vmlinuz, DIR/initrd.img, DIR/image.json (the agent's image dict).
# --devices: the device guest.  Debian's generic kernel (the cloud kernel has no AHCI and
# no USB), the virtio-blk, virtio-scsi, AHCI and USB storage drivers, a 1 MiB raw base
# disk that starts with KVMFLEET-DISK (image.json's "disk": the agent puts a qcow2 overlay
# over it), and an /init that also prints the firmware that booted it (efi or bios) and
# whether ACPI has an Intel IOMMU (DMAR) table, waits up to 10 s for a disk, then prints
# each one's sysfs path (which bus) and its first bytes.
# Idempotent: does nothing when DIR/image.json of this IMAGE_VERSION and its files exist.
# The directory must be traversable by libvirt-qemu (so not under /root).
set -euo pipefail

FLAVOR=cloud
if [ "${1:-}" = --devices ]; then FLAVOR=devices; shift; fi
if [ "$FLAVOR" = devices ]; then
  DIR=${1:-/var/lib/kvmfleet/images/test-guest-devices}
  KERNEL_META=linux-image-amd64
else
  DIR=${1:-/var/lib/kvmfleet/images/test-guest}
  KERNEL_META=linux-image-cloud-amd64
fi
DISK_MARKER=KVMFLEET-DISK
CMDLINE='console=ttyS0 panic=-1 quiet'
IMAGE_VERSION=4   # bump when the init script changes: older builds are then rebuilt
DEVICES_VERSION=2 # the same for what --devices adds (so the default image is not rebuilt)

if grep -qs "\"version\": $IMAGE_VERSION," "$DIR/image.json" && [ -s "$DIR/vmlinuz" ] \
    && [ -s "$DIR/initrd.img" ] && { [ "$FLAVOR" = cloud ] || { [ -s "$DIR/disk.raw" ] \
    && grep -qs "\"devices_version\": $DEVICES_VERSION," "$DIR/image.json"; }; }; then
  echo "test image already built in $DIR"
  exit 0
fi

for tool in apt-get dpkg-deb cpio gzip; do
  command -v "$tool" >/dev/null || { echo "build-test-image: $tool is missing" >&2; exit 1; }
done
BUSYBOX=/bin/busybox
# No pipe into head/grep -q here: under pipefail their early exit fails the check at random.
BUSYBOX_BANNER=$("$BUSYBOX" --help 2>&1 || true)
if [[ "$BUSYBOX_BANNER" != BusyBox* ]] || ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "build-test-image: a static $BUSYBOX is needed (apt-get install busybox-static)" >&2
  exit 1
fi

WORK=$(mktemp -d)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DIR"

# The kernel metapackage: download the versioned kernel it depends on.
KPKG=$(apt-cache depends "$KERNEL_META" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$KPKG" ] || { echo "build-test-image: no kernel package behind $KERNEL_META" >&2; exit 1; }
mkdir -p "$WORK/deb" && chmod 777 "$WORK/deb"   # apt's _apt user downloads into it
(cd "$WORK/deb" && apt-get download -qq "$KPKG" >/dev/null)
dpkg-deb -x "$WORK"/deb/"$KPKG"_*.deb "$WORK/kernel"
KVER=${KPKG#linux-image-}
MODDIR="$WORK/kernel/lib/modules/$KVER/kernel"

# Modules in load order: each one's dependencies first (virtio_ring before virtio).
ROOT="$WORK/initramfs"
mkdir -p "$ROOT"/{bin,proc,sys,dev,modules}
cp "$BUSYBOX" "$ROOT/bin/busybox"
MODULES=()
module_depends() {  # the module's "depends=" field (modinfo, or read from its .modinfo section)
  if command -v modinfo >/dev/null; then modinfo -F depends "$1"; return; fi
  tr '\0' '\n' < "$1" | sed -n 's/^depends=//p' | head -n1
}
add_module() {
  local name=$1 file deps dep
  for m in "${MODULES[@]}"; do [ "$m" = "$name" ] && return 0; done
  file=$(find "$MODDIR" -name "$name.ko*" | head -n1)
  [ -n "$file" ] || return 0        # built into the kernel
  case "$file" in
    *.ko.xz) xz -dc "$file" > "$WORK/$name.ko" ;;
    *.ko.zst) zstd -qdc "$file" > "$WORK/$name.ko" ;;
    *) cp "$file" "$WORK/$name.ko" ;;
  esac
  deps=$(module_depends "$WORK/$name.ko" | tr ',' ' ')
  for dep in $deps; do add_module "$dep"; done
  mv "$WORK/$name.ko" "$ROOT/modules/$name.ko"
  MODULES+=("$name")
}
WANTED=(virtio_ring virtio virtio_pci virtio_net)
if [ "$FLAVOR" = devices ]; then
  WANTED+=(virtio_blk virtio_scsi sd_mod ahci uhci-hcd xhci-pci usb-storage)
fi
for module in "${WANTED[@]}"; do add_module "$module"; done

cat > "$ROOT/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in ${MODULES[*]}; do insmod /modules/\$m.ko 2>/dev/null; done
sleep 0.2
echo "KVMFLEET nproc=\$(nproc)"
for node in /sys/devices/system/node/node*; do
  [ -d "\$node" ] || continue
  id=\${node##*node}
  kb=\$(awk '/MemTotal/ {print \$4}' "\$node/meminfo")
  echo "KVMFLEET node=\$id cpus=\$(cat \$node/cpulist) memtotal_kb=\$kb"
done
if [ -d /sys/class/net/eth0/queues ]; then
  echo "KVMFLEET eth0_queues=\$(ls /sys/class/net/eth0/queues | tr '\n' ' ')"
  echo "KVMFLEET eth0_rx_queues=\$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)"
else
  echo "KVMFLEET eth0_queues=none"
fi
# kvmfleet_ip=ADDR/PREFIX on the kernel command line puts eth0 on the network (ping tests).
ip_addr=\$(sed -n 's/.*kvmfleet_ip=\([0-9./]*\).*/\1/p' /proc/cmdline)
if [ -n "\$ip_addr" ] && [ -d /sys/class/net/eth0 ]; then
  ip link set eth0 up && ip addr add "\$ip_addr" dev eth0
  echo "KVMFLEET eth0_ip=\$(ip -o -4 addr show dev eth0 | awk '{print \$4}')"
fi
EOF
if [ "$FLAVOR" = devices ]; then
  cat >> "$ROOT/init" <<'EOF'
if [ -d /sys/firmware/efi ]; then echo "KVMFLEET firmware=efi"; else echo "KVMFLEET firmware=bios"; fi
if [ -e /sys/firmware/acpi/tables/DMAR ]; then echo "KVMFLEET acpi_dmar=yes"; else echo "KVMFLEET acpi_dmar=no"; fi
# Each disk: its sysfs path names the bus (virtio, scsi host, ata, usb); its first bytes the image.
tries=0
while [ $tries -lt 100 ] && ! ls /sys/block | grep -qv -e '^ram' -e '^loop'; do
  sleep 0.1; tries=$((tries + 1))
done
for dev in /sys/block/*; do
  [ -e "$dev" ] || continue
  name=${dev##*/}
  case $name in ram*|loop*) continue ;; esac
  echo "KVMFLEET disk=$name path=$(readlink -f "$dev") marker=$(head -c 13 "/dev/$name")"
done
EOF
fi
cat >> "$ROOT/init" <<EOF
echo "KVMFLEET done"
# kvmfleet_hold=N on the kernel command line keeps the guest up N seconds (host-side checks).
hold=\$(sed -n 's/.*kvmfleet_hold=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "\$hold" ] && grep -q kvmfleet_tick /proc/cmdline; then
  boot=\$(cat /proc/sys/kernel/random/boot_id)
  tick=0
  while [ "\$tick" -lt "\$hold" ]; do
    tick=\$((tick + 1))
    echo "KVMFLEET tick=\$tick boot_id=\$boot uptime=\$(cut -d' ' -f1 /proc/uptime)"
    sleep 1
  done
elif [ -n "\$hold" ]; then
  sleep "\$hold"
fi
poweroff -f
EOF
chmod 755 "$ROOT/init"

(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -9) > "$DIR/initrd.img.tmp"
cp "$WORK"/kernel/boot/vmlinuz-"$KVER" "$DIR/vmlinuz.tmp"
mv "$DIR/initrd.img.tmp" "$DIR/initrd.img"
mv "$DIR/vmlinuz.tmp" "$DIR/vmlinuz"
chmod 644 "$DIR/vmlinuz" "$DIR/initrd.img"
DISK_JSON=
if [ "$FLAVOR" = devices ]; then
  printf '%s' "$DISK_MARKER" > "$DIR/disk.raw.tmp"
  truncate -s 1M "$DIR/disk.raw.tmp"
  chmod 644 "$DIR/disk.raw.tmp"
  mv "$DIR/disk.raw.tmp" "$DIR/disk.raw"
  DISK_JSON=", \"devices_version\": $DEVICES_VERSION, \"disk\": \"$DIR/disk.raw\", \"disk_format\": \"raw\", \"disk_marker\": \"$DISK_MARKER\""
fi
cat > "$DIR/image.json" <<EOF
{"version": $IMAGE_VERSION, "name": "test-guest", "kernel": "$DIR/vmlinuz", "initrd": "$DIR/initrd.img",
 "cmdline": "$CMDLINE", "kernel_package": "$KPKG", "modules": "${MODULES[*]}"$DISK_JSON}
EOF
# QEMU (libvirt-qemu) must traverse every directory up to the files.
d=$DIR
while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
echo "test image built in $DIR ($KPKG; modules: ${MODULES[*]})"
