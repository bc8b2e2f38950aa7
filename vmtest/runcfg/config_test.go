package runcfg

import (
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
