package runcfg

import "testing"

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
