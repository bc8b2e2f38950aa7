// Package qemu turns a kernel and an initramfs into a running QEMU virtual
// machine and watches it over QMP until it powers off, resets, panics, hangs
// or crashes. It is the one place in kmodvm that builds a QEMU command line;
// what differs by architecture (binary, machine, serial devices, the hang
// diagnosis) comes from package arch.
//
// Start returns a VM: its monitor (QMP, HumanMonitorCommand, Stop, Cont),
// the host ends of its duplex serial ports, Kill and Wait. Run is Start and
// Wait. The serial ports are data (Config.Serial): the first is the kernel
// console, read live and watched for panics; a one-way port copies what the
// guest writes to a writer; a duplex port is a socket the host reads and
// writes, for a channel such as the guest agent's control. A port's Param
// tells the guest, on its command line, which device the port is.
//
// Wait reports how the VM ended as a Result; on a hang it first asks QEMU
// for the registers, symbolizes the instruction pointers with the kernel's
// System.map, and makes the guest print its own backtrace with an NMI.
//
// VM.Save writes a running VM's state to a file (QEMU's migration stream
// with a checksummed trailer, renamed into place) and lets it run on;
// Config.Restore starts a VM from such a file instead of booting, and
// Config.ShareMiB gives the guest memory the host writes files into.
// Snapshots keeps such files, one per Key of everything they depend on.
//
// Panics are read from the console, not from a pvpanic device: Debian's
// kernels have pvpanic only as a module, which a guest may not load.
package qemu
