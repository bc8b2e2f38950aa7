package arch

import (
	"debug/elf"
	"regexp"
)

func init() { register(amd64) }

// ipRIP finds x86-64's instruction pointer in "info registers".
var ipRIP = regexp.MustCompile(`\bRIP=([0-9a-fA-F]{16})\b`)

// amd64 is x86-64 on QEMU's q35 machine.
func amd64() *Arch {
	return &Arch{
		Name:       "amd64",
		GOARCH:     "amd64",
		Debian:     "amd64",
		Flavour:    "amd64",
		Flavours:   []string{"amd64", "cloud-amd64", "rt-amd64"},
		Suffixes:   map[string]string{"cloud": "cloud-amd64", "rt": "rt-amd64"},
		PageSize:   4096,
		KernelArch: "x86",
		Triplet:    "x86_64-linux-gnu",
		TreeImage:  "arch/x86/boot/bzImage",
		PVHSource:  "arch/x86/platform/pvh",
		Image:      PVHOrBzImage,
		ELF: ELF{
			Machine: elf.EM_X86_64,
			Class:   elf.ELFCLASS64,
			Abs64:   []uint32{uint32(elf.R_X86_64_64)},
			Abs32:   []uint32{uint32(elf.R_X86_64_32), uint32(elf.R_X86_64_32S)},
		},
		QEMU:    "qemu-system-x86_64",
		Package: "qemu-system-x86",
		GDB:     "gdb",
		// q35 (or pc): microvm fails TSC calibration under TCG about half of
		// the time.
		Machine:   []string{"-M", "q35"},
		TCGCPU:    "max",
		KVMCPU:    "host",
		KVMFlags:  []string{"vmx", "svm"},
		Serial:    "ttyS",
		MaxSerial: 4,
		// quiet: the 16550 UART is slow under TCG; warnings still reach the
		// host through /dev/kmsg. panic=-1: reset at once on a panic; with
		// -no-reboot QEMU then exits (an Oops does not panic: later tests may
		// still run). nokaslr: register dumps from QMP symbolize directly with
		// System.map. panic_print=0x40: a panic prints every CPU's backtrace
		// (6.1 and later; older kernels ignore the bit), so a hang diagnosed
		// on an SMP guest shows each CPU. hung_task_timeout_secs=10: a task
		// stuck in D state is reported within 10-20 s instead of 120-240 s,
		// well inside test timeouts. sysrq_always_enabled: Debian's default
		// mask (438) leaves out the task and CPU dumps the host asks for
		// on a hang, before any agent could change it.
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
			IPRegister: "RIP",
			IPInfo:     ipRIP,
			NMI:        true,
			NMIParams:  []string{"unknown_nmi_panic"},
			TraceStart: "Call Trace:",
			FaultIP:    "RIP: 0010:",
			// q35's i8042 keyboard; QEMU turns Alt+SysRq into the
			// scancode atkbd reports as SysRq.
			SysRq: []string{"alt", "sysrq"},
		},
		LibFuzzer: "x86_64",
	}
}
