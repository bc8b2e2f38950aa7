package arch

import (
	"debug/elf"
	"regexp"
)

func init() { register(s390x) }

// ipPSW finds s390's program counter in "info registers": QEMU prints the
// PSW's two halves, "PSW=mask 0704c00180000000 addr 00000000001234ab",
// at the head of each CPU's registers.
var ipPSW = regexp.MustCompile(`\bPSW=mask [0-9a-fA-F]{16} addr ([0-9a-fA-F]{16})\b`)

// s390x is 64-bit big-endian z/Architecture (Debian's s390x kernels) on
// QEMU's s390-ccw-virtio machine: the SCLP's ASCII console (ttysclp0) for
// the first port, the others on virtio-serial over the channel subsystem.
func s390x() *Arch {
	return &Arch{
		Name:       "s390x",
		GOARCH:     "s390x",
		Debian:     "s390x",
		Flavour:    "s390x",
		Flavours:   []string{"s390x"},
		PageSize:   4096,
		KernelArch: "s390",
		Triplet:    "s390x-linux-gnu",
		TreeImage:  "arch/s390/boot/bzImage",
		// Debian's vmlinuz is the self-decompressing bzImage, which
		// QEMU's s390-ccw-virtio loads with -kernel as it is, the
		// initrd and command line placed where its head reads them.
		Image: ZImage,
		ELF: ELF{
			Machine: elf.EM_S390,
			Class:   elf.ELFCLASS64,
			Abs64:   []uint32{uint32(elf.R_390_64)},
			Abs32:   []uint32{uint32(elf.R_390_32)},
		},
		QEMU:    "qemu-system-s390x",
		Package: "qemu-system-misc",
		GDB:     "gdb-multiarch",
		GDBLink: true,
		Machine: []string{"-M", "s390-ccw-virtio"},
		TCGCPU:  "qemu",
		KVMCPU:  "host",
		// The first -serial is the SCLP's VT220 console, which the
		// kernel drives built in; the agent's other ports are
		// virtio-serial ports on virtio-ccw, the machine's only
		// virtio transport besides zPCI.
		Serial:         "ttysclp",
		MaxSerial:      1,
		Channels:       VirtioSerial,
		ChannelDevice:  "virtio-serial-ccw",
		ChannelModules: []string{"virtio_console"},
		CommandLine: []string{
			"quiet",
			"panic=-1",
			"nokaslr",
			"panic_print=0x40",
			"sysctl.kernel.hung_task_timeout_secs=10",
			"sysrq_always_enabled",
		},
		// Measured: with it cleared, the idle VM's QEMU exits at once
		// ("'ivshmem-plain' is not a valid device model name") and the
		// run boots anyway, after the failed attempt.
		NoSnapshot: "Debian's qemu-system-s390x 7.2 has no ivshmem-plain device, " +
			"the shared memory a snapshot's guest receives its files through",
		Crash: Crash{
			IPRegister: "PSW",
			IPInfo:     ipPSW,
			TraceStart: "Call Trace:",
			FaultIP:    "Krnl PSW : ",
			TrapAfter:  true,
		},
	}
}
