// Package qemu turns a kernel and an initramfs into a running QEMU virtual
// machine and watches it over QMP until it powers off, resets, panics, hangs
// or crashes. It is the one place in kmodvm that builds a QEMU command line.
//
// A VM has two serial ports: ttyS0 carries the kernel console and ttyS1 the
// guest agent's event stream; both are read live by the host. Run reports how
// the VM ended as a Result; on a hang it first asks QEMU for the registers
// and symbolizes the instruction pointer with the kernel's System.map.
//
// Panics are read from the console, not from a pvpanic device: Debian's
// kernels have pvpanic only as a module, which a guest may not load.
package qemu
