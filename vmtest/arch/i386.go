package arch

import (
	"debug/elf"
	"regexp"
)

func init() { register(i386) }

// ipEIP finds 32-bit x86's instruction pointer in "info registers": QEMU
// prints "EIP=c1234567" for each CPU of a 32-bit guest.
var ipEIP = regexp.MustCompile(`\bEIP=([0-9a-fA-F]{8})\b`)

// i386 is 32-bit x86 (Debian's 686 and 686-pae kernels) on QEMU's q35
// machine, set up as amd64 is (see amd64 for the command line's reasons).
func i386() *Arch {
	return &Arch{
		Name:   "i386",
		GOARCH: "386",
		Debian: "i386",
		// 686-pae: what Debian installs on a CPU with PAE, as QEMU's max
		// CPU is (686 is for CPUs without it, and has no NX).
		Flavour:  "686-pae",
		Flavours: []string{"686-pae", "686", "rt-686-pae"},
		Suffixes: map[string]string{"686": "686", "rt": "rt-686-pae"},
		PageSize: 4096,
		// RunsOn: an amd64 CPU runs i386 code, so KVM runs its guests,
		// and amd64's gcc builds its modules: the kernel's Makefile
		// passes -m32 for CONFIG_X86_32, and the compiler then names
		// itself as Debian's i386 kernels record it
		// (CONFIG_CC_VERSION_TEXT "gcc-12 (Debian ...)"), which the
		// i686 cross compiler does not.
		RunsOn:     []string{"amd64"},
		KernelArch: "x86",
		Triplet:    "i686-linux-gnu",
		TreeImage:  "arch/x86/boot/bzImage",
		PVHSource:  "arch/x86/platform/pvh",
		Image:      PVHOrBzImage,
		ELF: ELF{
			Machine: elf.EM_386,
			Class:   elf.ELFCLASS32,
			Abs32:   []uint32{uint32(elf.R_386_32)},
		},
		QEMU:      "qemu-system-i386",
		Package:   "qemu-system-x86",
		GDB:       "gdb",
		Machine:   []string{"-M", "q35"},
		TCGCPU:    "max",
		KVMCPU:    "host",
		KVMFlags:  []string{"vmx", "svm"},
		Serial:    "ttyS",
		MaxSerial: 4,
		CommandLine: []string{
			"quiet",
			"panic=-1",
			"nokaslr",
			"unknown_nmi_panic",
			"panic_print=0x40",
			"sysctl.kernel.hung_task_timeout_secs=10",
			"sysrq_always_enabled",
		},
		Crash: Crash{
			IPRegister: "EIP",
			IPInfo:     ipEIP,
			NMI:        true,
			NMIParams:  []string{"unknown_nmi_panic"},
			TraceStart: "Call Trace:",
			FaultIP:    "EIP: ",
			SysRq:      []string{"alt", "sysrq"},
		},
	}
}
