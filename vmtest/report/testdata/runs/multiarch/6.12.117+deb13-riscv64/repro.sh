#!/bin/sh
# Boots the VM kmodvm ran here again: vmlinux-6.12.117+deb13-riscv64.zst on tcg.
# The console is this terminal (^C ends QEMU); the guest agent's events
# go to repro-events.jsonl beside this script. Pass QEMU options as
# arguments, e.g. -s -S to wait for gdb on port 1234.
set -e
here=$(cd "$(dirname "$0")" && pwd)
command -v zstd >/dev/null || { echo "repro.sh: zstd unpacks the kernel: apt-get install zstd" >&2; exit 1; }
kernel=$(mktemp "${TMPDIR:-/tmp}/kmodvm-repro-kernel.XXXXXX")
trap 'rm -f "$kernel"' EXIT
zstd -dqf /root/.cache/kmodvm/kernels/178b3da2861c4b9b/root/boot/vmlinux-6.12.117+deb13-riscv64.zst -o "$kernel"
img=$(mktemp "${TMPDIR:-/tmp}/kmodvm-repro.XXXXXX")
trap 'rm -f "$img" ${kernel:+"$kernel"}' EXIT
cat /root/.cache/kmodvm/initramfs/base-9d002a9473a21d71dfd6da8bd81648fe.cpio /root/.cache/kmodvm/initramfs/tests-mmapdrv-02e44ecc376155746af7b798c13b3a62.cpio /root/.cache/kmodvm/initramfs/kernel-05c2c499f5574726f7ed45b9d4a056c7.cpio "$here"/initramfs-run.cpio >"$img"
qemu-system-riscv64 \
  -M virt \
  -nodefaults \
  -no-user-config \
  -display none \
  -no-reboot \
  -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny \
  -m 256 \
  -smp 1 \
  -accel tcg \
  -cpu rv64 \
  -kernel "$kernel" \
  -initrd "$img" \
  -append 'console=ttyS0 quiet panic=-1 nokaslr panic_print=0x40 sysctl.kernel.hung_task_timeout_secs=10 sysrq_always_enabled kmodvm.events=/dev/vport0p1' \
  -chardev stdio,id=console \
  -serial chardev:console \
  -chardev "file,id=events,path=$here/repro-events.jsonl" \
  -device virtio-serial-device,id=vser0 \
  -device virtserialport,bus=vser0.0,nr=1,chardev=events,name=events \
  "$@"
