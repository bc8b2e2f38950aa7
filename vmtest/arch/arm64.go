package arch

import (
	"debug/elf"
	"regexp"
)

func init() { register(arm64) }

// ipPC finds arm64's program counter in "info registers": QEMU prints
// "PC=ffff800008123456" for each CPU.
var ipPC = regexp.MustCompile(`\bPC=([0-9a-fA-F]{16})\b`)

// arm64 is AArch64 on QEMU's virt machine.
func arm64() *Arch {
	return &Arch{
		Name:    "arm64",
		GOARCH:  "arm64",
		Debian:  "arm64",
		Flavour: "arm64",
		// arm64-16k: 16 KiB pages (trixie's 6.12 on), a selector suffix
		// ("6.12-16k").
		Flavours:   []string{"arm64", "arm64-16k", "cloud-arm64", "rt-arm64"},
		Suffixes:   map[string]string{"16k": "arm64-16k", "cloud": "cloud-arm64", "rt": "rt-arm64"},
		PageSize:   4096,
		PageSizes:  map[string]int{"arm64-16k": 16384},
		KernelArch: "arm64",
		Triplet:    "aarch64-linux-gnu",
		TreeImage:  "arch/arm64/boot/Image",
		Image:      ArmImage,
		ELF: ELF{
			Machine: elf.EM_AARCH64,
			Class:   elf.ELFCLASS64,
			Abs64:   []uint32{uint32(elf.R_AARCH64_ABS64)},
			Abs32:   []uint32{uint32(elf.R_AARCH64_ABS32)},
		},
		QEMU:    "qemu-system-aarch64",
		Package: "qemu-system-arm",
		GDB:     "gdb-multiarch",
		GDBLink: true,
		// gic-version=3: GICv2 caps the guest at 8 CPUs and is not
		// what current arm64 hardware has.
		Machine: []string{"-M", "virt,gic-version=3"},
		// pauth-impdef: QEMU's own pointer authentication algorithm
		// instead of the architected QARMA5, which dominates TCG's time
		// on a kernel built with pointer authentication (Debian's is).
		// max, not a named core: it has the 16 KiB translation granule
		// arm64-16k needs, which QEMU 7.2's cortex-a57 and cortex-a72
		// lack (measured: the 16k kernel prints nothing in 25 s on
		// either, spinning in its early check of the granule, and boots
		// on max).
		TCGCPU: "max,pauth-impdef=on",
		KVMCPU: "host",
		Serial: "ttyAMA",
		// virt has one PL011 in QEMU 7.2; the agent's other ports are
		// virtio-serial ports (see Channels).
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
			IPRegister: "PC",
			IPInfo:     ipPC,
			TraceStart: "Call trace:",
			FaultIP:    "pc : ",
			FaultLR:    "lr : ",
		},
	}
}
