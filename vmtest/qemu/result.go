package qemu

import "time"

// ExitReason says how a VM ended.
type ExitReason string

// Exit reasons, from the healthiest to the most broken.
const (
	// ExitPoweroff: the guest powered off (QMP SHUTDOWN, guest-shutdown).
	ExitPoweroff ExitReason = "poweroff"
	// ExitReset: the guest reset without a panic on its console, e.g. a
	// triple fault or a reboot; -no-reboot turns it into an exit.
	ExitReset ExitReason = "reset"
	// ExitPanic: the console showed "Kernel panic - not syncing", or QEMU
	// reported GUEST_PANICKED.
	ExitPanic ExitReason = "panic"
	// ExitTimeout: the VM ran past its deadline and was killed.
	ExitTimeout ExitReason = "timeout"
	// ExitStuck: the caller judged the guest stuck (Config.Stuck) and it
	// was killed after a short diagnosis; Result.Cause says why.
	ExitStuck ExitReason = "stuck"
	// ExitCanceled: the caller's context was canceled and the VM killed.
	ExitCanceled ExitReason = "canceled"
	// ExitCrash: QEMU died while the guest ran, e.g. killed by a signal.
	ExitCrash ExitReason = "crash"
	// ExitQEMUError: QEMU failed before the guest started; see Stderr.
	ExitQEMUError ExitReason = "qemu-error"
)

// Result is how one VM run ended.
type Result struct {
	Exit     ExitReason
	Accel    Accel
	Duration time.Duration
	// ShutdownReason is the reason of QMP's SHUTDOWN event, e.g.
	// "guest-shutdown" or "guest-reset"; empty if QEMU sent none.
	ShutdownReason string
	// Panic is the console line announcing a kernel panic, and PanicAt
	// when the host read it, counted from QEMU's start.
	Panic   string
	PanicAt time.Duration
	// On a timeout (and ExitStuck, without Backtrace): Registers is QEMU's "info registers -a", IP the
	// instruction pointer of each CPU (RIP on amd64: IPRegister names it;
	// symbolized when Config.SystemMap is set), sampled a few times
	// (IP[cpu][sample]), and Backtrace the console output of the guest's own panic,
	// forced with an NMI, which names the code the CPU was running. That
	// panic ("Kernel panic - not syncing: NMI: Not continuing") is also in
	// the console log: it is the host's doing, not a finding of its own.
	// SysRq is what the guest printed for SysRq w (blocked tasks) and l
	// (every CPU's backtrace), pressed before the registers were read.
	SysRq      string
	Registers  string
	IP         [][]Location
	IPRegister string
	Backtrace  string
	// Cause is what the caller said when it ended the VM as stuck
	// (ExitStuck), which also fills SysRq, Registers and IP.
	Cause string
	// ExitStatus is QEMU's process state ("exit status 0", "signal:
	// killed"); Stderr the tail of its standard error and output.
	ExitStatus string
	Stderr     string
	// ShareTail is the last Config.ShareTail bytes of the shared memory
	// as the guest left them, read before a VM the host ended (a panic's
	// grace, Stuck, a deadline) was killed; nil otherwise, with
	// ShareTailError saying why when the read failed.
	ShareTail      []byte
	ShareTailError string
}
