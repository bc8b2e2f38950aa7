package arch

import (
	"bufio"
	"bytes"
	"debug/elf"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Arch is one architecture. Values are read-only; Lookup returns them.
type Arch struct {
	// Name is kmodvm's name for it: Debian's architecture name, which is
	// also Go's where they agree ("amd64", "arm64").
	Name string
	// GOARCH builds the guest agent and the test binaries, and GOARM,
	// where GOARCH is arm, the instruction set and floating point they
	// use: Go's default depends on the host that built the go command.
	GOARCH string
	GOARM  string
	// Debian is the architecture of Debian's packages and the suffix of
	// its kernel flavours ("amd64", "cloud-amd64").
	Debian string
	// Flavour is the Debian kernel flavour a selector without one names
	// ("6.1" is 6.1.0-N-<Flavour>); Flavours are those kmodvm runs: the
	// plain one (Flavour) and the others Suffixes name.
	Flavour  string
	Flavours []string
	// Suffixes are the selector suffixes naming the other flavours
	// ("6.1-rt" is 6.1.0-N-rt-amd64): Debian names them irregularly
	// ("cloud-amd64", "rt-686-pae", and "686" beside "686-pae"), so each
	// is spelled out.
	Suffixes map[string]string
	// PageSize is the page size, in bytes, of the Flavours' kernels, and
	// PageSizes that of the flavours built for another ("arm64-16k"):
	// the suite of a module with an mmap() path asks for each.
	PageSize  int
	PageSizes map[string]int
	// FirstSeries, where set, is the oldest kernel series Debian builds
	// for the architecture, and why ("6.12", riscv64 is official from
	// trixie): a selector of an older series is an error that says so,
	// instead of only listing the series that exist. Empty: Debian's
	// oldest suite kmodvm reads has its kernels.
	FirstSeries, FirstReason string

	// RunsOn are the GOARCH of the other hosts whose CPUs run this
	// architecture's code and whose compiler builds its kernels'
	// modules: KVM runs its guests there, and no CROSS_COMPILE is given.
	RunsOn []string

	// KernelArch is the kernel build's ARCH, and the SRCARCH Kconfig
	// reads: the directory under arch/ ("x86" covers i386 and x86_64).
	KernelArch string
	// Triplet is the GNU triplet whose "<triplet>-" prefix is
	// CROSS_COMPILE when the host is another architecture.
	Triplet string
	// TreeImage is the boot image in a built kernel tree, relative to it.
	TreeImage string
	// PVHSource is the directory of the PVH entry code in a kernel
	// source tree, which runs before KASAN's shadow memory exists: a
	// KASAN build must leave it uninstrumented. Empty where kernels boot
	// without PVH.
	PVHSource string
	// Image says what the boot image is and how QEMU boots it fastest.
	Image ImageKind
	// ELF is how the kernel's objects name the architecture and the
	// relocations the symbolizer applies to a module's DWARF.
	ELF ELF

	// QEMU is the system emulator and Package the Debian package that
	// ships it (named in the error when it is missing).
	QEMU    string
	Package string
	// GDB is the debugger that reads this architecture's code on an
	// amd64 host: Debian's gdb, or gdb-multiarch (package gdb-multiarch).
	GDB string
	// GDBLink says that GDB cannot place a module's lines from the .ko
	// and section addresses alone (gdb-multiarch 13 leaves an arm64 .ko's
	// debug sections unrelocated): the .ko is linked at its addresses
	// first, with <Triplet>-ld.
	GDBLink bool
	// Machine are QEMU's machine arguments, before the accelerator's.
	Machine []string
	// TCGCPU and KVMCPU are -cpu under each accelerator.
	TCGCPU string
	KVMCPU string
	// KVMFlags are the /proc/cpuinfo flags without which KVM cannot run
	// guests, even when /dev/kvm opens (nested virtualization off).
	KVMFlags []string

	// Serial is the guest's name of its serial ports without the index
	// ("ttyS" for the 16550s: ttyS0 is the first). Ports are numbered in
	// the order the VM declares them; the first is the console.
	Serial string
	// MaxSerial is how many serial ports the kernel drives without a
	// module (Debian's 8250 registers 4 UARTs at run time).
	MaxSerial int
	// Channels is how the VM gives the guest ports beyond MaxSerial:
	// NoChannels, or VirtioSerial.
	Channels ChannelKind
	// ChannelDevice is QEMU's device of the virtio-serial controller,
	// by the transport the machine has: "virtio-serial-device" on
	// virtio-mmio (virt), "virtio-serial-pci" where virtio is on PCI
	// only (pseries). Empty without channels.
	ChannelDevice string
	// ChannelModules are the in-kernel modules (Debian builds them as
	// modules) the guest loads, in order, before it opens a channel.
	ChannelModules []string
	// CommandLine is what every kernel command line starts with, after
	// console=<first serial port>; see amd64's for the reasons.
	CommandLine []string

	// NoSnapshot, where set, is why QEMU cannot restore a saved VM of
	// the architecture so that its guest runs on: every VM boots
	// instead. Empty where snapshots work.
	NoSnapshot string

	// PoweroffExits says the machine's power-off device ends QEMU itself,
	// exit status 0, without the QMP SHUTDOWN event a power-off sends
	// elsewhere (QEMU 7.2's sifive_test on RISC-V's virt calls exit):
	// such an exit is the guest's power-off, not a crash.
	PoweroffExits bool

	// Crash is how the kernel and QEMU describe a crash or a hang on it.
	Crash Crash

	// LibFuzzer is the architecture's name in clang's runtime libraries
	// (libclang_rt.fuzzer-<LibFuzzer>.a), set where kmodvm fuzz builds a
	// harness for it: clang --target=<Triplet>, linked statically with
	// Debian's libclang-rt-16-dev, whose amd64 package ships only the
	// host's libraries. Empty: no fuzzing on this architecture.
	LibFuzzer string
}

// ELF is an architecture's ELF dialect, as far as reading a relocatable
// object's (a .ko's) debug sections needs it.
type ELF struct {
	// Machine is the e_machine of the architecture's objects, and Class
	// their word size (a 32-bit kernel's vmlinux is ELF32).
	Machine elf.Machine
	Class   elf.Class
	// Abs64 and Abs32 are the relocation types that store a symbol's
	// address plus addend as 8 and 4 bytes: the ones DWARF sections use.
	Abs64, Abs32 []uint32
	// Add and Sub are the relocation types that add a symbol's address
	// plus addend to, or subtract it from, the value in place, by the
	// bytes they cover: RISC-V's pairs, which hold the lengths of code
	// in a .ko's DWARF (address advances, high_pc) because linker
	// relaxation could change them. Empty elsewhere.
	Add, Sub map[uint32]int
}

// ImageKind names how a kernel of the architecture is booted.
type ImageKind string

// Image kinds.
const (
	// PVHOrBzImage: an ELF vmlinux with a PVH note, entered directly
	// (fast under TCG: no in-guest decompression), else the bzImage.
	PVHOrBzImage ImageKind = "pvh-vmlinux-or-bzimage"
	// ArmImage: arm64's Image, which QEMU loads as it is. Debian ships it
	// gzip-compressed as vmlinuz, which QEMU does not decompress for
	// arm64 guests: the kernel cache keeps the decompressed Image.
	ArmImage ImageKind = "arm64-image"
	// ZImage: a self-decompressing image, Debian's vmlinuz as it is,
	// which QEMU boots with -kernel: 32-bit Arm's zImage (the virt
	// machine passes its own device tree), s390's bzImage.
	ZImage ImageKind = "arm-zimage"
	// ELFVmlinux: the kernel's ELF vmlinux, which Debian ships as it is
	// for POWER (/boot/vmlinux-<abi>) and QEMU's pseries loads with
	// -kernel; the kernel cache keeps it compressed, as amd64's vmlinux.
	ELFVmlinux ImageKind = "elf-vmlinux"
	// RiscvImage: RISC-V's flat Image, which QEMU's virt machine loads
	// as it is after OpenSBI. Debian ships it gzip-compressed as
	// vmlinuz, which QEMU 7.2 does not decompress for RISC-V: the kernel
	// cache keeps the decompressed Image, as for ArmImage.
	RiscvImage ImageKind = "riscv-image"
)

// ChannelKind names the device behind ports beyond the UARTs.
type ChannelKind string

// Channel kinds.
const (
	// NoChannels: every port is a UART.
	NoChannels ChannelKind = ""
	// VirtioSerial: port i beyond the UARTs is virtio-serial port number
	// i, which the guest sees as /dev/vport0p<i> (one virtio-serial
	// device, the VM's only virtio device, so its index is 0).
	VirtioSerial ChannelKind = "virtio-serial"
)

// Crash is an architecture's crash dialect: what the hang diagnosis reads
// from QEMU and how it makes the guest print its own backtrace.
type Crash struct {
	// IPRegister names the instruction pointer ("RIP"); IPInfo finds each
	// CPU's value in the monitor's "info registers -a" (the hex value is
	// the first group).
	IPRegister string
	IPInfo     *regexp.Regexp
	// NMI says QEMU can inject an NMI into the guest (QMP inject-nmi);
	// NMIParams, on the kernel command line, make it panic the guest,
	// whose panic prints the symbolized backtrace of the CPU it hit. On
	// arm64's virt machine QEMU 7.2 answers inject-nmi with "not
	// supported": the hang diagnosis has each CPU's PC (IPInfo) instead,
	// and SysRq through the agent while it still runs.
	NMI       bool
	NMIParams []string
	// TraceStart begins a call trace in the kernel log, FaultIP the
	// line naming the faulting code ("RIP: 0010:func+0x1/0x2"), and
	// FaultLR, where the architecture has a link register, the line
	// naming its caller ("lr : func+0x1/0x2"). vmtest/dmesg reads every
	// architecture's: a log says which it is. TraceStart is empty where
	// the kernel prints no header before the frames (32-bit Arm).
	TraceStart string
	FaultIP    string
	FaultLR    string
	// TrapAfter says the address a WARN's or BUG's report names (the
	// PSW on s390) is past the trapping instruction: s390's monitor call
	// completes before its interruption, and the kernel itself looks the
	// bug table up at the address minus the instruction's length. The
	// symbolizer then reads it as a return address.
	TrapAfter bool
	// SysRq are the keys (QMP send-key qcodes) that, held with a letter
	// on the guest's keyboard, press that SysRq key: how the host asks a
	// hung guest for its blocked tasks and CPUs when nothing in it
	// answers. Empty where the machine has no keyboard the kernel drives.
	SysRq []string
}

// String returns the architecture's name.
func (a *Arch) String() string { return a.Name }

// SerialDevice is the guest's device of the i-th serial port ("/dev/ttyS2",
// "/dev/vport0p1" for a virtio-serial channel).
func (a *Arch) SerialDevice(i int) string {
	if a.Channel(i) {
		return "/dev/vport0p" + strconv.Itoa(i)
	}
	return "/dev/" + a.Serial + strconv.Itoa(i)
}

// Channel reports whether port i is a channel rather than a UART.
func (a *Arch) Channel(i int) bool { return i >= a.MaxSerial && a.Channels != NoChannels }

// PortModules are the in-kernel modules a guest with n ports loads before
// it opens them: the channels' drivers, when some port is a channel.
func (a *Arch) PortModules(n int) []string {
	if n > a.MaxSerial && a.Channels != NoChannels {
		return append([]string{}, a.ChannelModules...)
	}
	return nil
}

// MaxPorts is how many ports a VM can give the guest.
func (a *Arch) MaxPorts() int {
	if a.Channels == VirtioSerial {
		return 31 // a virtio-serial device's default max_ports, less port 0
	}
	return a.MaxSerial
}

// GoEnv is the go command's environment that selects the guest's code:
// GOARCH, and GOARM where the architecture sets it.
func (a *Arch) GoEnv() []string {
	env := []string{"GOARCH=" + a.GOARCH}
	if a.GOARM != "" {
		env = append(env, "GOARM="+a.GOARM)
	}
	return env
}

// Console is the kernel's console= value: the first serial port.
func (a *Arch) Console() string { return a.Serial + "0" }

// CrossCompile is the kernel build's CROSS_COMPILE on this host: empty when
// the host runs the architecture natively.
func (a *Arch) CrossCompile() string {
	if a.native(runtime.GOARCH) {
		return ""
	}
	return a.Triplet + "-"
}

// native reports whether a host of Go architecture goarch runs the
// architecture's code: its own, or one of RunsOn.
func (a *Arch) native(goarch string) bool {
	return goarch == a.GOARCH || slices.Contains(a.RunsOn, goarch)
}

// FlavourFor is the flavour a selector suffix names ("" the plain one),
// and whether the architecture has it.
func (a *Arch) FlavourFor(suffix string) (string, bool) {
	if suffix == "" {
		return a.Flavour, true
	}
	f, ok := a.Suffixes[suffix]
	return f, ok
}

// SuffixOf is the selector suffix naming flavour, one of Flavours: ""
// for the plain one.
func (a *Arch) SuffixOf(flavour string) string {
	for s, f := range a.Suffixes {
		if f == flavour {
			return s
		}
	}
	return ""
}

// PageSizeOf is the page size, in bytes, of flavour's kernels, one of
// Flavours.
func (a *Arch) PageSizeOf(flavour string) int {
	if n, ok := a.PageSizes[flavour]; ok {
		return n
	}
	return a.PageSize
}

// CompilerPackage is the Debian package of compiler cc ("gcc-12") that
// builds for the architecture on this host: cc itself natively, else its
// cross compiler, named cc-<triplet> with dashes ("gcc-12-aarch64-linux-gnu").
func (a *Arch) CompilerPackage(cc string) string {
	if a.CrossCompile() == "" {
		return cc
	}
	return cc + "-" + strings.ReplaceAll(a.Triplet, "_", "-")
}

// MakeArgs are the make variables that build for the architecture. ARCH is
// always given: a tree's Makefile otherwise assumes the host's.
func (a *Arch) MakeArgs() []string {
	args := []string{"ARCH=" + a.KernelArch}
	if cc := a.CrossCompile(); cc != "" {
		args = append(args, "CROSS_COMPILE="+cc)
	}
	return args
}

// KVMCapable reports whether a /proc/cpuinfo of this host shows the
// virtualization extensions KVM needs for the architecture.
func (a *Arch) KVMCapable(cpuinfo []byte) bool {
	if !a.native(runtime.GOARCH) {
		return false
	}
	if len(a.KVMFlags) == 0 {
		return true
	}
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, value, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok || string(bytes.TrimSpace(name)) != "flags" {
			continue
		}
		for _, flag := range bytes.Fields(value) {
			for _, want := range a.KVMFlags {
				if string(flag) == want {
					return true
				}
			}
		}
	}
	return false
}

// IPs returns each CPU's instruction pointer in the output of the monitor
// command "info registers -a", in CPU order.
func (a *Arch) IPs(registers string) []uint64 {
	var ips []uint64
	for _, m := range a.Crash.IPInfo.FindAllStringSubmatch(registers, -1) {
		if v, err := strconv.ParseUint(m[1], 16, 64); err == nil {
			ips = append(ips, v)
		}
	}
	return ips
}
