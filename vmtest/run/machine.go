package run

import (
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
)

// testTimeout is c's TestTimeout, or its default under accel.
func testTimeout(c *runcfg.Config, accel qemu.Accel) time.Duration {
	if c.TestTimeout > 0 {
		return c.TestTimeout
	}
	if accel == qemu.AccelKVM {
		return 3 * time.Minute
	}
	return event.DefaultTestTimeout
}

// machine is how one kernel's VM runs: its profile with the run's
// explicit settings on top.
type machine struct {
	// image is what QEMU boots: the PVH vmlinux where there is one.
	image           string
	memoryMiB, cpus int
	testTimeout     time.Duration
	faultGrace      time.Duration
	bootTimeout     time.Duration
	append          []string
	profile         kernel.Profile
}

// machineFor returns the settings of k's VM under c.
func machineFor(c *runcfg.Config, k *kernel.Kernel, accel qemu.Accel) machine {
	p := k.Profile()
	m := machine{image: k.BootImage(), memoryMiB: c.MemoryMiB, cpus: c.CPUs, testTimeout: c.TestTimeout, bootTimeout: p.BootTimeout, profile: p}
	if m.memoryMiB <= 0 {
		m.memoryMiB = max(p.MemoryMiB, qemu.DefaultMemoryMiB)
	}
	if m.testTimeout <= 0 {
		m.testTimeout = time.Duration(float64(testTimeout(c, accel)) * p.Slowdown)
	}
	m.faultGrace = c.FaultGrace
	if m.faultGrace == 0 {
		m.faultGrace = 20 * time.Second
		if accel == qemu.AccelKVM {
			m.faultGrace = 10 * time.Second
		}
		m.faultGrace = time.Duration(float64(m.faultGrace) * p.Slowdown)
	}
	m.faultGrace = max(m.faultGrace, 0)
	m.append = append(append([]string{}, p.Append...), c.Append...)
	return m
}

// vmTimeout bounds one VM: boot, every binary's timeout, power-off; and,
// when the run has a deadline, ends early enough for the hang diagnosis
// (the guest's blocked tasks and CPUs) to be done by then.
func (m machine) vmTimeout(binaries int, deadline time.Time) time.Duration {
	d := m.bootTimeout + time.Duration(max(binaries, 1))*(m.testTimeout+30*time.Second)
	if !deadline.IsZero() {
		left := time.Until(deadline)
		d = min(d, max(left-qemu.DiagnosisTime, left/2))
	}
	return d
}

// dumpReserve is a binary's time after its timeout: the agent's
// blocked-task dump, the kill and the wait for it, the report.
const dumpReserve = 10 * time.Second

// fitTestTimeout shortens the test binaries' timeout to expire inside a VM
// that must end by deadline (a run's Timeout): otherwise the VM's end
// comes first, and the test timeout's blocked-task dump never happens.
// What is left after the VM's own diagnosis time is shared: a quarter
// (at most the boot timeout) for the boot, dumpReserve for the dump.
func (m *machine) fitTestTimeout(deadline time.Time) {
	if deadline.IsZero() {
		return
	}
	left := time.Until(deadline)
	vm := max(left-qemu.DiagnosisTime, left/2)
	fit := vm - min(m.bootTimeout, vm/4) - dumpReserve
	m.testTimeout = min(m.testTimeout, max(fit, vm/3, time.Second))
}
