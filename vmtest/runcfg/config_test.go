package runcfg

import (
	"runtime"
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

func TestJobsAreBoundedByMemory(t *testing.T) {
	if availableMiB() <= 0 {
		t.Skip("no /proc/meminfo")
	}
	huge := Config{MemoryMiB: 1 << 30}
	if got := huge.Parallel(); got != 1 {
		t.Errorf("jobs with guests larger than memory = %d, want 1", got)
	}
	if got := (&Config{Jobs: 7}).Parallel(); got != 7 {
		t.Errorf("explicit Jobs = %d, want 7", got)
	}
}

func TestDefaultKernelsCannotBeChangedByACaller(t *testing.T) {
	d := DefaultKernels()
	d[0] = "9.9"
	if DefaultKernels()[0] == "9.9" {
		t.Errorf("a caller changed the default matrix")
	}
	var c Config
	if k := c.Selectors(); len(k) != 4 || k[0] != "5.10" {
		t.Errorf("the zero Config runs %v", k)
	}
}

func TestArchesNamesEachArchitectureOnce(t *testing.T) {
	all := arch.Names()
	for _, c := range []struct {
		in, want []string
		bad      bool
	}{
		{in: nil, want: []string{arch.Default}},
		{in: []string{"arm64"}, want: []string{"arm64"}},
		{in: []string{AllArches}, want: all},
		{in: []string{all[len(all)-1], AllArches}, want: append(all[len(all)-1:], all[:len(all)-1]...)},
		{in: []string{"sparc"}, bad: true},
	} {
		got, err := Arches(c.in)
		if (err != nil) != c.bad || !slices.Equal(got, c.want) {
			t.Errorf("Arches(%q) = %q, %v; want %q, error %v", c.in, got, err, c.want, c.bad)
		}
	}
}

// SweepJobs given is the sweep's VMs; by default the CPUs are shared
// among the kernels run at once, each VM taking its guest CPUs, one VM
// each at least, at most four.
func TestSweepVMs(t *testing.T) {
	cpus := runtime.NumCPU()
	for _, c := range []struct {
		name            string
		cfg             Config
		kernels, lo, hi int
	}{
		{"given", Config{SweepJobs: 3}, 8, 3, 3},
		{"one kernel", Config{Jobs: 8}, 1, 1, min(cpus, maxSweepVMs)},
		{"as many kernels as CPUs", Config{Jobs: cpus}, cpus, 1, 1},
		{"more kernels than run at once", Config{Jobs: 1}, 6, 1, min(cpus, maxSweepVMs)},
		{"guests of as many CPUs as the host", Config{Jobs: 1, CPUs: cpus}, 1, 1, 1},
		{"guests of two CPUs", Config{Jobs: 1, CPUs: 2}, 1, 1, max(1, min(cpus/2, maxSweepVMs))},
	} {
		if got := c.cfg.SweepVMs(c.kernels, 256); got < c.lo || got > c.hi {
			t.Errorf("%s: SweepVMs(%d) = %d, want %d to %d", c.name, c.kernels, got, c.lo, c.hi)
		}
	}
}
