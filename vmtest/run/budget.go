package run

import (
	"context"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// The run's durations, each once: how long a part may take and what is
// kept back for what comes after it. A kernel's time goes from its
// deadline (budget) to each VM (budget.vmTimeout), each test binary
// (machine.testTimeout, which the agent gets as event.TestBinary.Timeout)
// and the dumps after a binary's timeout. The kernel's profile scales the
// test defaults by its slowdown (machineFor).
const (
	// kvmTestTimeout bounds each test binary under KVM when the run names
	// no TestTimeout. Under TCG the bound is event.DefaultTestTimeout, the
	// agent's own default: emulation runs kernel code tens of times
	// slower, and a suite must not time out for it; under KVM a hung test
	// is found sooner.
	kvmTestTimeout = 3 * time.Minute
	// tcgFaultGrace and kvmFaultGrace are how long a test binary may make
	// no progress after the kernel reported a fault while it ran, when the
	// run names no FaultGrace: a test left waiting for a lock the faulting
	// task held never progresses again, and a live one under TCG may be
	// slow to show it is.
	tcgFaultGrace = 20 * time.Second
	kvmFaultGrace = 10 * time.Second
	// runReserve is what the agent needs, after its fault grace ended a
	// silent test binary, to say so (its blocked-task dump, the kill,
	// the agent's 5 s wait for the binary to die, the binary's end): a run
	// that sends nothing for the grace and this after a fault does not
	// move (stuckPolicy).
	runReserve = 15 * time.Second
	// binaryReserve is each test binary's share of a VM's timeout beyond
	// the binary's own: the agent's blocked-task dump after a timeout,
	// its kill and the wait for it, the results' way out of the guest.
	binaryReserve = 30 * time.Second
	// dumpReserve is what fitTests keeps after a binary's timeout inside a
	// VM that must end by the deadline: the agent's blocked-task dump, the
	// kill and the wait for it, the report.
	dumpReserve = 10 * time.Second
	// minTestTimeout is the shortest test timeout fitTests sets.
	minTestTimeout = time.Second
	// guestMinTime is what a guest needs at least besides the VM's hang
	// diagnosis: the time to boot and report anything at all.
	guestMinTime = 10 * time.Second
	// minVMTime is the least time before the deadline in which a VM is
	// started, for a kernel's first boot as for a reboot: a VM started
	// with less would end, hang diagnosis included, after the deadline,
	// and go test's -timeout would panic and lose the report.
	minVMTime = qemu.DiagnosisTime + guestMinTime
	// interactiveTimeout bounds a VM that waits for a person (a shell, a
	// debugger) instead of the deadline.
	interactiveTimeout = 24 * time.Hour
	// idleEndWait is how long a snapshot's VM whose control port failed
	// is given to end by itself (the guest reset) before it is killed.
	idleEndWait = 2 * time.Second
	// cacheMaxAge is how long unused image layers, module builds and
	// snapshots are kept.
	cacheMaxAge = 7 * 24 * time.Hour
)

// testTimeout is c's TestTimeout, or its default under accel.
func testTimeout(c *runcfg.Config, accel qemu.Accel) time.Duration {
	if c.TestTimeout > 0 {
		return c.TestTimeout
	}
	if accel == qemu.AccelKVM {
		return kvmTestTimeout
	}
	return event.DefaultTestTimeout
}

// faultGrace is the fault grace under accel when the run names none,
// before the kernel's slowdown.
func faultGrace(accel qemu.Accel) time.Duration {
	if accel == qemu.AccelKVM {
		return kvmFaultGrace
	}
	return tcgFaultGrace
}

// budget is the time one kernel's run has: until the deadline of its
// context (Config.Timeout, or go test's -timeout through vmtest.Run),
// none when it has no deadline.
type budget struct{ deadline time.Time }

// budgetOf is the budget of a kernel whose run is bounded by ctx.
func budgetOf(ctx context.Context) budget {
	d, _ := ctx.Deadline()
	return budget{deadline: d}
}

// bootable says whether a VM may start now: whether minVMTime is left
// before the deadline. left is what is left.
func (b budget) bootable() (left time.Duration, ok bool) {
	if b.deadline.IsZero() {
		return 0, true
	}
	left = time.Until(b.deadline)
	return left, left >= minVMTime
}

// vmTime is what a VM may take of left, the time before the deadline:
// all but the hang diagnosis, and at least half.
func vmTime(left time.Duration) time.Duration {
	return max(left-qemu.DiagnosisTime, left/2)
}

// vmTimeout bounds one VM of m running binaries test binaries: boot, every
// binary's timeout, power-off; and, when the run has a deadline, ends early
// enough for the hang diagnosis (the guest's blocked tasks and CPUs) to be
// done by then.
func (b budget) vmTimeout(m machine, binaries int) time.Duration {
	d := m.bootTimeout + time.Duration(max(binaries, 1))*(m.testTimeout+binaryReserve)
	if !b.deadline.IsZero() {
		d = min(d, vmTime(time.Until(b.deadline)))
	}
	return d
}

// fitTests shortens m's test timeout to expire inside a VM that must end
// by the deadline: otherwise the VM's end comes first, and the test
// timeout's blocked-task dump never happens. What is left after the VM's
// own diagnosis time is shared: a quarter (at most the boot timeout) for
// the boot, dumpReserve for the dump.
func (b budget) fitTests(m *machine) {
	if b.deadline.IsZero() {
		return
	}
	vm := vmTime(time.Until(b.deadline))
	fit := vm - min(m.bootTimeout, vm/4) - dumpReserve
	m.testTimeout = min(m.testTimeout, max(fit, vm/3, minTestTimeout))
}
