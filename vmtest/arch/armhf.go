package arch

import (
	"debug/elf"
	"regexp"
)

func init() { register(armhf) }

// ipR15 finds 32-bit Arm's program counter in "info registers": QEMU
// prints the sixteen core registers of each CPU as R00= to R15=, and R15
// is the PC.
var ipR15 = regexp.MustCompile(`\bR15=([0-9a-fA-F]{8})\b`)

// armhf is 32-bit Arm (Debian's armmp and armmp-lpae kernels) on QEMU's
// virt machine, set up as arm64 is: one PL011, the other ports on
// virtio-serial over virtio-mmio, the shared memory on virt's PCIe.
func armhf() *Arch {
	// No Crash.TraceStart: 6.1's unwinder prints its frames ("callee
	// from caller+0x1/0x2") without a header.
	return &Arch{
		Name:   "armhf",
		GOARCH: "arm",
		// GOARM 7: Debian's armhf is ARMv7 with VFPv3-D16, which Go's
		// GOARM=7 (hardware floating point, v7 atomics) targets.
		GOARM:  "7",
		Debian: "armhf",
		// armmp: what Debian installs on any ARMv7 board; armmp-lpae is
		// for CPUs with the large physical address extension (QEMU's
		// cortex-a15 has it), a selector suffix.
		Flavour:    "armmp",
		Flavours:   []string{"armmp", "armmp-lpae", "rt-armmp"},
		Suffixes:   map[string]string{"lpae": "armmp-lpae", "rt": "rt-armmp"},
		PageSize:   4096,
		KernelArch: "arm",
		Triplet:    "arm-linux-gnueabihf",
		TreeImage:  "arch/arm/boot/zImage",
		Image:      ZImage,
		ELF: ELF{
			Machine: elf.EM_ARM,
			Class:   elf.ELFCLASS32,
			Abs32:   []uint32{uint32(elf.R_ARM_ABS32)},
		},
		QEMU:    "qemu-system-arm",
		Package: "qemu-system-arm",
		GDB:     "gdb-multiarch",
		GDBLink: true,
		// highmem=off: the armmp kernel, without LPAE, addresses 4 GiB,
		// and virt would otherwise place its PCIe window (the shared
		// memory's BAR) above it.
		Machine: []string{"-M", "virt,highmem=off"},
		TCGCPU:  "cortex-a15",
		KVMCPU:  "host",
		Serial:  "ttyAMA",
		// virt's one PL011, as on arm64; see there.
		MaxSerial:      1,
		Channels:       VirtioSerial,
		ChannelDevice:  "virtio-serial-device",
		ChannelModules: []string{"virtio_mmio", "virtio_console"},
		CommandLine: []string{
			"quiet",
			"panic=-1",
			"nokaslr",
			"panic_print=0x40",
			"sysctl.kernel.hung_task_timeout_secs=10",
			"sysrq_always_enabled",
		},
		Crash: Crash{
			IPRegister: "R15",
			IPInfo:     ipR15,
			FaultIP:    "PC is at ",
			FaultLR:    "LR is at ",
		},
	}
}
