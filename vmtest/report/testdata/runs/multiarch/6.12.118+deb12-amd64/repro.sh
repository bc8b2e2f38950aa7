#!/bin/sh
# Boots the VM kmodvm ran here again: vmlinux.zst on tcg.
# The console is this terminal (^C ends QEMU); the guest agent's events
# go to repro-events.jsonl beside this script. Pass QEMU options as
# arguments, e.g. -s -S to wait for gdb on port 1234.
set -e
here=$(cd "$(dirname "$0")" && pwd)
command -v zstd >/dev/null || { echo "repro.sh: zstd unpacks the kernel: apt-get install zstd" >&2; exit 1; }
kernel=$(mktemp "${TMPDIR:-/tmp}/kmodvm-repro-kernel.XXXXXX")
trap 'rm -f "$kernel"' EXIT
zstd -dqf /root/.cache/kmodvm/kernels/2d607297a40562e1/vmlinux.zst -o "$kernel"
img=$(mktemp "${TMPDIR:-/tmp}/kmodvm-repro.XXXXXX")
trap 'rm -f "$img" ${kernel:+"$kernel"}' EXIT
cat /root/.cache/kmodvm/initramfs/base-1a51d2587e8da4bb5db1dd54c41d4c8e.cpio /root/.cache/kmodvm/initramfs/tests-mmapdrv-6086d6ae4852b4623f9189b1c3916605.cpio /root/.cache/kmodvm/initramfs/kernel-779ecf9c7aaf1cb07b02e0a09a810a3e.cpio "$here"/initramfs-run.cpio >"$img"
qemu-system-x86_64 \
  -M q35 \
  -nodefaults \
  -no-user-config \
  -display none \
  -no-reboot \
  -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny \
  -m 256 \
  -smp 1 \
  -accel tcg \
  -cpu max \
  -kernel "$kernel" \
  -initrd "$img" \
  -append 'console=ttyS0 quiet panic=-1 nokaslr unknown_nmi_panic panic_print=0x40 sysctl.kernel.hung_task_timeout_secs=10 sysrq_always_enabled kmodvm.events=/dev/ttyS1' \
  -chardev stdio,id=console \
  -serial chardev:console \
  -chardev "file,id=events,path=$here/repro-events.jsonl" \
  -serial chardev:events \
  "$@"
