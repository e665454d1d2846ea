#!/bin/sh
# /init of the recording initramfs (docs/recording.md): runs as PID 1 under
# busybox, drives DMA through the SMMU in phases, and prints markers the host
# harness (record.mjs) acts on:
#   @@STEP <name>@@     before each step (for reading console.log)
#   @@SNAP <name>@@     phase boundary: the harness stops the VM, notes the
#                       trace-log size and saves guest RAM, then continues
#   @@RESUMED <name>@@  after the pause
# Devices (record.mjs): 00:01.0 virtio-blk (StreamID 0x8), 00:02.0 virtio-net
# (0x10), 00:03.0 edu (0x18).  Change the steps to exercise your own driver;
# keep a snapshot after anything whose STEs, CDs or commands you want imported.

/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

step() { echo "@@STEP $*@@"; }
# Guest time stands still while the VM is stopped: 2 s only has to cover the
# harness noticing the marker (it polls every 50 ms).
snap() { echo "@@SNAP $1@@"; sleep 2; echo "@@RESUMED $1@@"; }
group_of() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
# Unbind a PCI device, set its IOMMU group's default domain type, bind it again.
retype() { # <bdf> <driver> <identity|DMA|DMA-FQ>
  echo "$1" > "/sys/bus/pci/drivers/$2/unbind"
  echo "$3" > "/sys/kernel/iommu_groups/$(group_of "$1")/type"
  echo "$1" > "/sys/bus/pci/drivers/$2/bind"
}

uname -a
snap boot

step insmod
K=/lib/modules/$(uname -r)/kernel
for m in drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci_legacy_dev \
         drivers/virtio/virtio_pci drivers/block/virtio_blk net/core/failover \
         drivers/net/net_failover drivers/net/virtio_net drivers/pci/pci-stub; do
  insmod "$K/$m.ko"
done
sleep 1
snap loaded

step strict-dma
dd if=/dev/vda bs=64k count=16 2>/dev/null | sha256sum
# 64 KiB of a fixed pattern written and read back (the disk is snapshot=on: the file never changes).
yes 'smmu-replay recording pattern' | head -c 65536 > /tmp/pattern
dd if=/tmp/pattern of=/dev/vda bs=64k seek=64 count=1 conv=fsync 2>/dev/null
dd if=/dev/vda bs=64k skip=64 count=1 2>/dev/null | sha256sum
sha256sum /tmp/pattern
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ping -c 3 10.0.2.2
snap strict-dma

step edu-faults
EDU=0000:00:03.0
echo "1234 11e8" > /sys/bus/pci/drivers/pci-stub/new_id
# Memory decode and bus mastering on (COMMAND = 0x6); pci-stub does not enable the device.
printf '\006' | dd of=/sys/bus/pci/devices/$EDU/config bs=1 seek=4 conv=notrunc 2>/dev/null
BAR=$(head -n1 /sys/bus/pci/devices/$EDU/resource | cut -d' ' -f1)
# edu's DMA engine: source 0x80, destination 0x88, count 0x90, command 0x98
# (bit 0 start, bit 1 direction: 1 = device to RAM); its buffer is at 0x40000.
edu_dma() { # <src> <dst> <count> <cmd>
  devmem $((BAR + 0x80)) 32 "$1"; devmem $((BAR + 0x88)) 32 "$2"
  devmem $((BAR + 0x90)) 32 "$3"; devmem $((BAR + 0x98)) 32 "$4"
  sleep 0.3 # edu starts a transfer from a 100 ms timer
}
edu_dma 0x0dead000 0x40000 0x20 1   # read 32 bytes from an unmapped IOVA
edu_dma 0x40000 0x0abc0000 0x10 3   # write 16 bytes to an unmapped IOVA
sleep 1
snap edu-faults

step edu-identity
retype $EDU pci-stub identity
printf '\006' | dd of=/sys/bus/pci/devices/$EDU/config bs=1 seek=4 conv=notrunc 2>/dev/null
edu_dma 0x40000000 0x40000 0x20 1   # identity domain: IOVA = PA
snap edu-identity

step blk-identity
retype $EDU pci-stub DMA
retype 0000:00:01.0 virtio-pci identity
sleep 1
dd if=/dev/vda bs=64k skip=32 count=1 2>/dev/null | sha256sum
snap blk-identity

step blk-dma-fq
retype 0000:00:01.0 virtio-pci DMA-FQ
sleep 1
dd if=/dev/vda bs=64k count=16 2>/dev/null | sha256sum
snap blk-dma-fq

dmesg | grep -i smmu
snap final
echo DONE
poweroff -f
