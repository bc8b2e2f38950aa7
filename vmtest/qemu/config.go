package qemu

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Defaults for the zero Config.
const (
	DefaultBinary    = "qemu-system-x86_64"
	DefaultMemoryMiB = 256
	DefaultCPUs      = 1
	DefaultTimeout   = 10 * time.Minute
	// DefaultPanicGrace is how long a VM may keep running after its console
	// showed a kernel panic. With panic=-1 the guest resets within
	// milliseconds; the grace only matters when the caller overrides it.
	DefaultPanicGrace = 2 * time.Second
)

// defaultAppend is the kernel command line every VM starts with (see
// Config.CommandLine); Config.Append comes after it, so a later parameter
// overrides an earlier one.
//
//   - quiet: the 16550 UART is slow under TCG; warnings still reach the host
//     through /dev/kmsg.
//   - panic=-1: reset at once on a panic; with -no-reboot QEMU then exits.
//     An Oops does not panic (no oops=panic): later tests may still run.
//   - nokaslr: register dumps from QMP symbolize directly with System.map.
//   - unknown_nmi_panic: on a hang the host injects an NMI, and the panic
//     it causes prints the guest's own symbolized backtrace.
//   - panic_print=0x40: a panic prints every CPU's backtrace (6.1 and
//     later; older kernels ignore the bit), so a hang diagnosed on an SMP
//     guest shows each CPU, not only the one that took the NMI.
//   - hung_task_timeout_secs=10: the detector reports a task stuck in D
//     state within 10-20 s instead of 120-240 s, well inside test timeouts.
var defaultAppend = []string{
	"console=ttyS0",
	"quiet",
	"panic=-1",
	"nokaslr",
	"unknown_nmi_panic",
	"panic_print=0x40",
	"sysctl.kernel.hung_task_timeout_secs=10",
}

// tcgCPU is the CPU model under TCG.
const tcgCPU = "max"

// ErrNoQEMU is returned (wrapped) when the QEMU binary cannot be found.
var ErrNoQEMU = errors.New("qemu binary not found")

// Config describes one VM. The zero value plus Kernel and Initrd is a
// working configuration.
type Config struct {
	// Kernel is an ELF vmlinux with a PVH note (fast under TCG) or a bzImage.
	Kernel string
	// Initrd is the initramfs (newc cpio, possibly several concatenated).
	Initrd string
	// Append holds extra kernel parameters, added after the defaults:
	// "console=ttyS0 quiet panic=-1 nokaslr unknown_nmi_panic
	// panic_print=0x40 sysctl.kernel.hung_task_timeout_secs=10".
	Append []string
	// MemoryMiB is the guest RAM; 0 means DefaultMemoryMiB.
	MemoryMiB int
	// CPUs is the number of virtual CPUs; 0 means DefaultCPUs.
	CPUs int
	// Accel selects KVM or TCG; empty means AccelAuto.
	Accel Accel
	// Binary is the QEMU executable, looked up in PATH; empty means
	// DefaultBinary.
	Binary string
	// Dir holds the QMP socket. Empty means a temporary directory that Run
	// removes before it returns.
	Dir string
	// Console receives the raw bytes of ttyS0 (the kernel console) as the
	// guest writes them. Nil discards them.
	Console io.Writer
	// Events receives the raw bytes of ttyS1 (the guest agent's event
	// stream) as the guest writes them. Nil discards them.
	Events io.Writer
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
}

// binary resolves the QEMU executable.
func (c *Config) binary() (string, error) {
	name := c.Binary
	if name == "" {
		name = DefaultBinary
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s: install it with `apt-get install qemu-system-x86` or `make deps`: %v",
			ErrNoQEMU, name, err)
	}
	return path, nil
}

// CommandLine returns the kernel command line the VM boots with.
func (c *Config) CommandLine() string {
	params := append(append([]string(nil), defaultAppend...), c.Append...)
	return strings.Join(params, " ")
}

// Args returns QEMU's arguments for the resolved accelerator. Serial port
// backends are inherited file descriptors: fd 3 is ttyS0 and fd 4 ttyS1.
func (c *Config) Args(accel Accel, qmpSocket string) []string {
	mem, cpus := c.MemoryMiB, c.CPUs
	if mem <= 0 {
		mem = DefaultMemoryMiB
	}
	if cpus <= 0 {
		cpus = DefaultCPUs
	}
	args := []string{
		// q35 (or pc): microvm fails TSC calibration under TCG about
		// half of the time. -display none, not -nographic, which would
		// add a serial port of its own.
		"-M", "q35", "-nodefaults", "-no-user-config", "-display", "none",
		"-no-reboot",
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
	}
	switch accel {
	case AccelKVM:
		args = append(args, "-accel", "kvm", "-cpu", "host")
	default:
		args = append(args, "-accel", "tcg", "-cpu", tcgCPU)
	}
	return append(args,
		"-kernel", c.Kernel,
		"-initrd", c.Initrd,
		"-append", c.CommandLine(),
		"-chardev", "file,id=console,path=/dev/fd/3",
		"-serial", "chardev:console",
		"-chardev", "file,id=events,path=/dev/fd/4",
		"-serial", "chardev:events",
		"-qmp", "unix:"+qmpSocket+",server=on,wait=on",
	)
}
