package arch

import (
	"debug/elf"
	"regexp"
)

func init() { register(ppc64el) }

// ipNIP finds POWER's program counter in "info registers": QEMU prints
// "NIP c000000000123456" (a space, no "=") at the head of each CPU's
// registers.
var ipNIP = regexp.MustCompile(`\bNIP ([0-9a-fA-F]{16})\b`)

// ppc64el is 64-bit little-endian POWER (Debian's powerpc64le kernels) on
// QEMU's pseries machine: the hypervisor console (spapr-vty, hvc0) for
// the first port, the others on virtio-serial over PCI, the shared memory
// on pseries' PCI host bridge.
func ppc64el() *Arch {
	return &Arch{
		Name:    "ppc64el",
		GOARCH:  "ppc64le",
		Debian:  "ppc64el",
		Flavour: "powerpc64le",
		// powerpc64le-64k: 64 KiB pages where the plain flavour has 4
		// KiB (6.12 on), a selector suffix ("6.12-64k").
		Flavours: []string{"powerpc64le", "powerpc64le-64k"},
		Suffixes: map[string]string{"64k": "powerpc64le-64k"},
		// 64 KiB: bookworm's 6.1 (CONFIG_PPC_64K_PAGES), and the -64k
		// flavour. Debian's 6.12 and later powerpc64le kernels have 4
		// KiB pages; the field cannot say both.
		PageSize:   65536,
		KernelArch: "powerpc",
		Triplet:    "powerpc64le-linux-gnu",
		TreeImage:  "arch/powerpc/boot/zImage",
		Image:      ELFVmlinux,
		ELF: ELF{
			Machine: elf.EM_PPC64,
			Class:   elf.ELFCLASS64,
			Abs64:   []uint32{uint32(elf.R_PPC64_ADDR64)},
			Abs32:   []uint32{uint32(elf.R_PPC64_ADDR32)},
		},
		QEMU:    "qemu-system-ppc64",
		Package: "qemu-system-ppc",
		GDB:     "gdb-multiarch",
		GDBLink: true,
		// x-vof: QEMU's own minimal firmware instead of SLOF, which
		// probes every device under TCG before it enters the kernel;
		// QEMU writes the device tree, PCI devices included, itself.
		// The caps: what TCG emulates, said so, instead of QEMU's
		// defaults, which it warns it cannot give.
		Machine: []string{"-M", "pseries,x-vof=on,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off"},
		TCGCPU:  "power9",
		KVMCPU:  "host",
		Serial:  "hvc",
		// One spapr-vty, the console the kernel drives built in; the
		// agent's other ports are virtio-serial ports.
		MaxSerial:      1,
		Channels:       VirtioSerial,
		ChannelDevice:  "virtio-serial-pci",
		ChannelModules: []string{"virtio_pci", "virtio_console"},
		// No nokaslr: ppc64 kernels place themselves where they are
		// loaded.
		CommandLine: []string{
			"quiet",
			"panic=-1",
			"panic_print=0x40",
			"sysctl.kernel.hung_task_timeout_secs=10",
			"sysrq_always_enabled",
		},
		NoSnapshot: "QEMU 7.2 migrates POWER's timebase as an offset from the host's TSC, " +
			"which a TCG guest's timebase is not: a restored guest's clock jumps and its timers stop",
		Crash: Crash{
			IPRegister: "NIP",
			IPInfo:     ipNIP,
			TraceStart: "Call Trace:",
			FaultIP:    "NIP ",
			FaultLR:    "LR ",
		},
	}
}
