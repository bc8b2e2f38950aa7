package arch

import (
	"debug/elf"
	"regexp"
)

func init() { register(riscv64) }

// ipRiscvPC finds RISC-V's program counter in "info registers": QEMU
// prints " pc       ffffffff80123456" on a line of its own for each CPU.
var ipRiscvPC = regexp.MustCompile(`(?m)^ pc +([0-9a-fA-F]{16})\b`)

// riscv64 is 64-bit RISC-V (Debian's riscv64 kernels, official from
// trixie: 6.12 on) on QEMU's virt machine, entered through OpenSBI (QEMU's
// default firmware): the 16550 UART for the console, the other ports on
// virtio-serial over virtio-mmio, the shared memory on virt's PCIe host.
func riscv64() *Arch {
	return &Arch{
		Name:     "riscv64",
		GOARCH:   "riscv64",
		Debian:   "riscv64",
		Flavour:  "riscv64",
		Flavours: []string{"riscv64"},
		PageSize: 4096,
		// bookworm's riscv64 was an unofficial port (debian-ports),
		// outside the archive.
		FirstSeries: "6.12",
		FirstReason: "Debian's riscv64 is official from trixie, whose kernel is 6.12; bookworm's 6.1 has no riscv64 build",
		KernelArch:  "riscv",
		Triplet:     "riscv64-linux-gnu",
		TreeImage:   "arch/riscv/boot/Image",
		Image:       RiscvImage,
		ELF: ELF{
			Machine: elf.EM_RISCV,
			Class:   elf.ELFCLASS64,
			Abs64:   []uint32{uint32(elf.R_RISCV_64)},
			Abs32:   []uint32{uint32(elf.R_RISCV_32)},
			// gcc-14's assembler writes a .ko's line advances as
			// ADD16/SUB16 pairs and its functions' lengths as
			// ADD64/SUB64 (mmapdrv.ko: 514 and 57 of them), -mno-relax
			// notwithstanding.
			Add: map[uint32]int{
				uint32(elf.R_RISCV_ADD8): 1, uint32(elf.R_RISCV_ADD16): 2,
				uint32(elf.R_RISCV_ADD32): 4, uint32(elf.R_RISCV_ADD64): 8,
			},
			Sub: map[uint32]int{
				uint32(elf.R_RISCV_SUB8): 1, uint32(elf.R_RISCV_SUB16): 2,
				uint32(elf.R_RISCV_SUB32): 4, uint32(elf.R_RISCV_SUB64): 8,
			},
		},
		QEMU:    "qemu-system-riscv64",
		Package: "qemu-system-misc",
		GDB:     "gdb-multiarch",
		GDBLink: true,
		// virt's default firmware (-bios default) is OpenSBI, which
		// Debian's opensbi package ships and QEMU finds on its own.
		Machine: []string{"-M", "virt"},
		// rv64: QEMU's generic RV64GC with the extensions it
		// implements on by default, what Debian's kernels require.
		TCGCPU: "rv64",
		KVMCPU: "host",
		Serial: "ttyS",
		// virt has one 16550; the agent's other ports are
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
		// Measured with Sstc on and off (sstc=off: the SBI timer,
		// the ACLINT's): the same either way.
		NoSnapshot: "a guest QEMU 7.2 restores does not run on: the agent's first step after the restore " +
			"logs, then the guest idles with no timer firing, under TCG",
		// OpenSBI powers off through virt's sifive_test device, whose
		// QEMU 7.2 model exits at once.
		PoweroffExits: true,
		Crash: Crash{
			IPRegister: "pc",
			IPInfo:     ipRiscvPC,
			TraceStart: "Call Trace:",
			FaultIP:    "epc : ",
			FaultLR:    "ra : ",
		},
	}
}
