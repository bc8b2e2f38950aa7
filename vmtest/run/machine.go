package run

import (
	"time"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

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
	if m.cpus <= 0 {
		m.cpus = p.CPUs
	}
	if m.memoryMiB <= 0 {
		m.memoryMiB = max(p.MemoryMiB, qemu.DefaultMemoryMiB)
	}
	if m.testTimeout <= 0 {
		m.testTimeout = time.Duration(float64(testTimeout(c, accel)) * p.Slowdown)
	}
	m.faultGrace = c.FaultGrace
	if m.faultGrace == 0 {
		m.faultGrace = time.Duration(float64(faultGrace(accel)) * p.Slowdown)
	}
	m.faultGrace = max(m.faultGrace, 0)
	m.append = append(append([]string{}, p.Append...), c.Append...)
	return m
}
