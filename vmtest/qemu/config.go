package qemu

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// Defaults for the zero Config.
const (
	DefaultMemoryMiB = kernel.StockMemoryMiB
	DefaultCPUs      = 1
	DefaultTimeout   = 10 * time.Minute
	// DefaultPanicGrace is how long a VM may keep running after its console
	// showed a kernel panic. With panic=-1 the guest resets within
	// milliseconds; the grace only matters when the caller overrides it.
	DefaultPanicGrace = 2 * time.Second
)

// ErrNoQEMU is returned (wrapped) when the QEMU binary cannot be found.
var ErrNoQEMU = errors.New("qemu binary not found")

// Config describes one VM. The zero value plus Kernel and Initrd is a
// working configuration.
type Config struct {
	// Arch names the guest's architecture (see package arch); empty means
	// arch.Default. It chooses the QEMU binary, the machine, the serial
	// devices, the kernel command line's defaults and the hang diagnosis.
	Arch string
	// Kernel is the boot image in the architecture's format (on amd64 an
	// ELF vmlinux with a PVH note, fast under TCG, or a bzImage).
	Kernel string
	// Initrd is the initramfs (newc cpio, possibly several concatenated).
	Initrd string
	// Append holds extra kernel parameters, added after the defaults (see
	// CommandLine), so that a later parameter overrides an earlier one.
	Append []string
	// MemoryMiB is the guest RAM; 0 means DefaultMemoryMiB.
	MemoryMiB int
	// CPUs is the number of virtual CPUs; 0 means DefaultCPUs.
	CPUs int
	// Accel selects KVM or TCG; empty means AccelAuto.
	Accel Accel
	// Binary is the QEMU executable, looked up in PATH; empty means the
	// architecture's (qemu-system-x86_64).
	Binary string
	// Dir holds the QMP socket. Empty means a temporary directory that
	// Wait removes.
	Dir string
	// Serial lists the VM's serial ports in the guest's order (ttyS0,
	// ttyS1, ... on amd64). The first is the kernel console, watched for
	// panics. Nil means one console port whose output is discarded.
	Serial []Port
	// SystemMap is the kernel's System.map, used to symbolize the
	// instruction pointer when the VM hangs. Empty leaves it unsymbolized.
	SystemMap string
	// Timeout bounds the VM's run time in addition to the context's
	// deadline; 0 means DefaultTimeout.
	Timeout time.Duration
	// OnPanic, if set, is called once, from the console reader, as soon as
	// the console shows "Kernel panic - not syncing".
	OnPanic func(line string)
	// PanicGrace bounds how long the VM may run after a panic was seen;
	// 0 means DefaultPanicGrace.
	PanicGrace time.Duration
	// Stuck, if set, ends the VM when a cause arrives on it: the caller
	// judged the guest stuck (a kernel fault, then silence) and wants it
	// ended soon, with what the host can learn of it. The console's
	// SysRq dumps and the CPUs' registers are taken (StuckDiagnosisTime at
	// most; no NMI), then QEMU is killed; Wait's Result says ExitStuck
	// and holds the cause.
	Stuck <-chan string
	// GDB, if set, starts QEMU's gdb stub on this chardev ("tcp:127.0.0.1:1234",
	// "unix:/path,server=on,wait=off"). The guest is not stopped: the
	// caller decides when a debugger matters.
	GDB string
	// Restore, if set, is a state written by VM.Save: the VM resumes from
	// it instead of booting. Kernel and Initrd must still be the ones it
	// booted with, and every other field but the ports' ends the same.
	// Start checks the file's checksum before the guest runs and returns
	// ErrRestore if it cannot be used.
	Restore string
	// Saveable gives the VM its RAM as a file QEMU maps shared (on
	// /dev/shm where there is one), which VM.Save needs: the state it
	// writes keeps the RAM apart, and a restore maps it instead of loading
	// it. Restore implies a RAM file of its own.
	Saveable bool
	// ShareMiB, if positive, gives the guest this much memory shared with
	// the host: a file QEMU maps as an ivshmem-plain PCI device's BAR 2,
	// which the guest maps through sysfs without a driver, and the host
	// writes through VM.Share. It is how a restored guest receives files
	// fast (a 16550 moves about 100 KB/s under TCG).
	ShareMiB int
	// SharePath is the file behind ShareMiB, created and removed by the
	// VM; empty means one in Dir. A caller's own directory in it names
	// the VM's QEMU on the host (ps, /proc) as the caller's.
	SharePath string
	// ShareTail, if positive, asks for the last ShareTail bytes of the
	// shared memory as the guest left them in Result.ShareTail when the
	// host ends the VM (after a panic's grace, Stuck, a deadline): the
	// guest's writes to it, which a restored VM keeps in QEMU's memory.
	ShareTail int

	sharePath  string  // the shared memory's file, set by Start
	ram        ramFile // the guest RAM's file, set by Start
	kernelPath string  // the decompressed kernel, set by Start
}

// memoryMiB is the guest RAM's size.
func (c *Config) memoryMiB() int {
	if c.MemoryMiB <= 0 {
		return DefaultMemoryMiB
	}
	return c.MemoryMiB
}

// kernelFile is the kernel QEMU reads: Kernel, or the file Start
// decompressed it to.
func (c *Config) kernelFile() string {
	if c.kernelPath != "" {
		return c.kernelPath
	}
	return c.Kernel
}

// Port is one serial port of a VM, described as data so that a caller
// adds a channel (an interactive shell, the agent's control) without a new
// code path here.
type Port struct {
	// Name identifies the port: QEMU's chardev id, and the key of
	// VM.Port for a duplex port.
	Name string
	// Output receives the bytes the guest writes, as it writes them. Nil
	// discards them. A failing Output never stalls the guest: the port is
	// always drained. Unused for a duplex port.
	Output io.Writer
	// Duplex connects the port to a socket whose host end VM.Port returns,
	// for a channel the host also writes to. QEMU reads from it only as
	// fast as the guest's UART takes bytes, so nothing written is lost.
	Duplex bool
	// Param, if set, is a kernel parameter that tells the guest this
	// port's device: Param=/dev/ttyS2 is added to the command line, so
	// the guest finds its channels without hard-coding device names.
	Param string
}

// virtioSerialID is the QEMU id of the virtio-serial device that carries the
// ports beyond the UARTs where the architecture uses channels, on the
// transport its Arch.ChannelDevice names.
const virtioSerialID = "vser0"

// arch resolves Config.Arch.
func (c *Config) arch() (*arch.Arch, error) {
	a, err := arch.Lookup(c.Arch)
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	return a, nil
}

// ports returns the serial ports, checked against what the guest's kernel
// drives without a module.
func (c *Config) ports(a *arch.Arch) ([]Port, error) {
	ports := c.Serial
	if len(ports) == 0 {
		ports = []Port{{Name: "console"}}
	}
	if len(ports) > a.MaxPorts() {
		return nil, fmt.Errorf("qemu: %d serial ports, but %s guests have only %d", len(ports), a, a.MaxPorts())
	}
	seen := map[string]bool{}
	for _, p := range ports {
		if p.Name == "" || seen[p.Name] || strings.ContainsAny(p.Name, ",= ") {
			return nil, fmt.Errorf("qemu: serial port name %q is empty, repeated or not a QEMU id", p.Name)
		}
		seen[p.Name] = true
	}
	return ports, nil
}

// binary resolves the QEMU executable.
func (c *Config) binary(a *arch.Arch) (string, error) {
	name := c.Binary
	if name == "" {
		name = a.QEMU
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s: install it with `apt-get install %s` or `make deps`: %v",
			ErrNoQEMU, name, a.Package, err)
	}
	return path, nil
}

// CommandLine returns the kernel command line the VM boots with: the
// console (the first serial port), the architecture's defaults (see
// package arch: quiet, panic=-1, nokaslr, the NMI that diagnoses a hang,
// ...), each Port's Param, then Append.
func (c *Config) CommandLine() string {
	a, err := c.arch()
	if err != nil {
		return strings.Join(c.Append, " ")
	}
	params := append([]string{"console=" + a.Console()}, a.CommandLine...)
	ports, _ := c.ports(a)
	for i, p := range ports {
		if p.Param != "" {
			params = append(params, p.Param+"="+a.SerialDevice(i))
		}
	}
	return strings.Join(append(params, c.Append...), " ")
}

// Args returns QEMU's arguments for the resolved accelerator. Serial port
// backends are inherited file descriptors, from fd 3 on in Serial's order:
// a pipe QEMU writes to (/dev/fd/N), or for a duplex port its end of a
// socket pair.
func (c *Config) Args(accel Accel, qmpSocket string) []string {
	args := c.args(accel, func(i int, p Port) string {
		fd := strconv.Itoa(3 + i)
		if p.Duplex {
			return "socket,id=" + p.Name + ",fd=" + fd
		}
		return "file,id=" + p.Name + ",path=/dev/fd/" + fd
	})
	if c.Saveable || c.Restore != "" {
		path := c.ram.path
		if path == "" {
			path = "ram.mem" // Start names the file
		}
		share := "off"
		if c.ram.shared || c.Restore == "" {
			share = "on"
		}
		args = append(args, "-machine", "memory-backend="+ramID,
			"-object", fmt.Sprintf("memory-backend-file,id=%s,mem-path=%s,size=%dM,share=%s", ramID, path, c.memoryMiB(), share))
	}
	if c.Restore != "" {
		args = append(args, incomingArgs()...)
	}
	return append(args, "-qmp", "unix:"+qmpSocket+",server=on,wait=on")
}

// args returns QEMU's arguments but the monitor's, with each serial port's
// chardev as backend says.
func (c *Config) args(accel Accel, backend func(i int, p Port) string) []string {
	a, err := c.arch()
	if err != nil {
		a = arch.Must(arch.Default)
	}
	mem, cpus := c.memoryMiB(), c.CPUs
	if cpus <= 0 {
		cpus = DefaultCPUs
	}
	// -display none, not -nographic, which would add a serial port of
	// its own.
	args := append(append([]string{}, a.Machine...), "-nodefaults", "-no-user-config", "-display", "none",
		"-no-reboot", "-sandbox", Sandbox,
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
	)
	switch accel {
	case AccelKVM:
		args = append(args, "-accel", "kvm", "-cpu", a.KVMCPU)
	default:
		args = append(args, "-accel", "tcg", "-cpu", a.TCGCPU)
	}
	args = append(args,
		"-kernel", c.kernelFile(),
		"-initrd", c.Initrd,
		"-append", c.CommandLine(),
	)
	ports, _ := c.ports(a)
	for i, p := range ports {
		args = append(args, "-chardev", backend(i, p))
		if !a.Channel(i) {
			args = append(args, "-serial", "chardev:"+p.Name)
			continue
		}
		if i == a.MaxSerial {
			args = append(args, "-device", a.ChannelDevice+",id="+virtioSerialID)
		}
		args = append(args, "-device", fmt.Sprintf("virtserialport,bus=%s.0,nr=%d,chardev=%s,name=%s", virtioSerialID, i, p.Name, p.Name))
	}
	if c.ShareMiB > 0 {
		path := c.sharePath
		if path == "" {
			path = c.SharePath
		}
		if path == "" {
			path = "share.mem"
		}
		// A restored VM maps it privately: the saved VM's was mapped
		// shared, so its state left it out (x-ignore-shared), and QEMU
		// refuses a shared block the guest had mapped at another address
		// than the new VM's (none yet). The guest only reads it, so its
		// pages stay the file's, and the host's writes show at once.
		share := "on"
		if c.Restore != "" {
			share = "off"
		}
		args = append(args,
			"-object", fmt.Sprintf("memory-backend-file,id=%s,mem-path=%s,size=%dM,share=%s", shareID, path, c.ShareMiB, share),
			"-device", "ivshmem-plain,master=on,memdev="+shareID)
	}
	if c.GDB != "" {
		args = append(args, "-gdb", c.GDB)
	}
	return args
}

// Sandbox is QEMU's -sandbox argument on every command line, repro.sh's
// too: a seccomp filter that kills QEMU if it calls what a VM of kmodvm's
// never needs (QEMU 7.2 knows each option): obsolete system calls,
// set*uid and set*gid (elevateprivileges), fork and exec (spawn: so no
// exec: migration; VM.Save migrates to a socket), and scheduler and
// priority changes (resourcecontrol). A guest that broke out of the
// emulator could then not start a program or gain privileges through it.
const Sandbox = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

// ReplayCommand returns a command line (QEMU's binary first) that boots
// the VM again by hand: the console on the caller's terminal (stdio; ^C
// ends QEMU), every other one-way port to the file path(p) names, a duplex
// port on a pseudo-terminal QEMU announces, no monitor.
func (c *Config) ReplayCommand(accel Accel, path func(p Port) string) []string {
	bin := c.Binary
	if bin == "" {
		a, err := c.arch()
		if err != nil {
			a = arch.Must(arch.Default)
		}
		bin = a.QEMU
	}
	return append([]string{bin}, c.args(accel, func(i int, p Port) string {
		switch {
		case i == 0:
			return "stdio,id=" + p.Name
		case p.Duplex:
			return "pty,id=" + p.Name
		}
		return "file,id=" + p.Name + ",path=" + path(p)
	})...)
}
