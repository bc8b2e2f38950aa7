package failnth

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"0\n", 0, true},
		{"1073741817", 1073741817, true},
		{"  12 ", 12, true},
		{"", 0, false},
		{"-1", 0, false},
		{"x", 0, false},
	} {
		got, err := Parse([]byte(c.in))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestInjection(t *testing.T) {
	in := Injection{N: Unbounded, Left: Unbounded - 37}
	if in.Injected() || in.Calls() != 37 {
		t.Errorf("%+v: injected %v, calls %d; want false, 37", in, in.Injected(), in.Calls())
	}
	if !(Injection{N: 3}).Injected() {
		t.Error("Left 0 is an injected failure")
	}
}

// Apply sets the knobs the kernel has, names the others, and restores
// the old values.
func TestApplyRestores(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "failslab"), 0o755)
	for _, f := range []string{"failslab/ignore-gfp-wait", "failslab/verbose"} {
		os.WriteFile(filepath.Join(root, f), []byte("Y\n"), 0o644)
	}
	restore, missing, err := Apply(root, Knobs(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 5 {
		t.Errorf("missing %v, want the 5 knobs of fail_page_alloc and fail_usercopy", missing)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "failslab/verbose")); string(b) != "2" {
		t.Errorf("verbose %q, want 2", b)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "failslab/ignore-gfp-wait")); string(b) != "Y" {
		t.Errorf("ignore-gfp-wait restored to %q, want Y", b)
	}
}

func TestRunRejectsZero(t *testing.T) {
	if _, err := Run(0, func() error { return nil }); err == nil {
		t.Error("fail-nth=0 accepted")
	}
}
