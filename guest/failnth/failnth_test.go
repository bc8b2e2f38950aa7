package failnth

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

func TestParseBounds(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		bad  bool
	}{
		{in: "0\n", want: 0},
		{in: "17\n", want: 17},
		{in: strconv.FormatUint(1<<countBits-1, 10), want: 1<<countBits - 1},
		{in: "  3  ", want: 3},
		{in: "", bad: true},
		{in: "-1\n", bad: true},
		{in: strconv.FormatUint(1<<countBits, 10), bad: true},
		{in: "x\n", bad: true},
	} {
		got, err := Parse([]byte(c.in))
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.bad)
		}
	}
}

// Apply with the sweeps' settings sets the knobs the kernel has, names the others, and puts
// the old values back.
func TestApplySetsAndRestores(t *testing.T) {
	root := t.TempDir()
	old := map[string]string{"failslab/ignore-gfp-wait": "Y\n", "failslab/verbose": "2\n", "fail_page_alloc/min-order": "1\n"}
	for path, v := range old {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, path), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	restore, missing, err := Apply(root, Knobs(0))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"failslab/ignore-gfp-wait": "N", "failslab/verbose": "0", "fail_page_alloc/min-order": "0"}
	for path, v := range want {
		if b, _ := os.ReadFile(filepath.Join(root, path)); string(b) != v {
			t.Errorf("%s = %q while set, want %q", path, b, v)
		}
	}
	wantMissing := []string{"fail_page_alloc/ignore-gfp-wait", "fail_page_alloc/ignore-gfp-highmem", "fail_page_alloc/verbose", "fail_usercopy/verbose"}
	if !slices.Equal(missing, wantMissing) {
		t.Errorf("missing %q, want %q", missing, wantMissing)
	}
	if _, err := os.Stat(filepath.Join(root, "fail_usercopy")); err == nil {
		t.Error("a knob the kernel lacks was created")
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	for path, v := range old {
		if b, _ := os.ReadFile(filepath.Join(root, path)); string(b) != strings.TrimSpace(v) {
			t.Errorf("%s = %q after restore, want %q", path, b, strings.TrimSpace(v))
		}
	}
}

func TestMissingNote(t *testing.T) {
	for _, c := range []struct {
		missing []string
		want    string
	}{
		{nil, ""},
		{[]string{"fail_usercopy/verbose"}, "fault injection on this kernel: user copies (CONFIG_FAULT_INJECTION_USERCOPY) do not fail (no fail_usercopy)"},
		{[]string{"fail_page_alloc/ignore-gfp-wait", "fail_page_alloc/ignore-gfp-highmem", "fail_page_alloc/min-order", "fail_page_alloc/verbose", "fail_usercopy/verbose"},
			"fault injection on this kernel: page allocations (CONFIG_FAIL_PAGE_ALLOC) do not fail (no fail_page_alloc); user copies (CONFIG_FAULT_INJECTION_USERCOPY) do not fail (no fail_usercopy)"},
		{[]string{"fail_page_alloc/min-order"}, "fault injection on this kernel: no fail_page_alloc/min-order"},
	} {
		if got := MissingNote(Knobs(0), c.missing); got != c.want {
			t.Errorf("MissingNote(%q) = %q, want %q", c.missing, got, c.want)
		}
	}
}

// A knob that cannot be written leaves those set before it as they were.
func TestApplyUndoesOnFailure(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "failslab"), 0o755); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(root, "failslab", "ignore-gfp-wait")
	if err := os.WriteFile(first, []byte("Y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory where a knob file should be: reading it fails.
	if err := os.Mkdir(filepath.Join(root, "failslab", "verbose"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Apply(root, Knobs(0)); err == nil {
		t.Fatal("Apply succeeded with an unreadable knob")
	}
	if b, _ := os.ReadFile(first); string(b) != "Y" {
		t.Errorf("ignore-gfp-wait = %q after the failure, want it restored to Y", b)
	}
}
