package failnth

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestScopeKnobsRefuse(t *testing.T) {
	mod := Range{0xffffffffc0a00000, 0xffffffffc0a04000}
	for _, c := range []struct {
		name string
		s    Scope
		want string
	}{
		{"no module", Scope{Probability: 10}, "no code"},
		{"reject overlaps", Scope{Require: mod, Reject: Range{mod.Start + 0x1000, mod.End + 0x1000}, Probability: 10}, "overlaps"},
		{"no probability", Scope{Require: mod}, "probability 0%"},
		{"too likely", Scope{Require: mod, Probability: 101}, "probability 101%"},
	} {
		if _, err := c.s.Knobs(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}

// The filter is set before the probability turns failures on, and
// Apply's restore, in reverse, turns them off first.
func TestScopeKnobsOrderAndValues(t *testing.T) {
	s := Scope{Require: Range{0xffffffffc0a00000, 0xffffffffc0a04000}, Reject: Range{0xffffffffc0b00000, 0xffffffffc0b02000}, Probability: 5, Verbose: 2}
	knobs, err := s.Knobs()
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		i := slices.IndexFunc(knobs, func(k Knob) bool { return k.Path == path })
		if i < 0 {
			t.Fatalf("no knob %s in %v", path, knobs)
		}
		return i, knobs[i].Value
	}
	for _, attr := range ScopeAttrs {
		req, start := get(attr + "/require-start")
		_, end := get(attr + "/require-end")
		_, rej := get(attr + "/reject-start")
		prob, p := get(attr + "/probability")
		_, times := get(attr + "/times")
		_, depth := get(attr + "/stacktrace-depth")
		if start != "18446744072646295552" || end != "18446744072646311936" || rej != "18446744072647344128" {
			t.Errorf("%s: require %s-%s, reject from %s", attr, start, end, rej)
		}
		if p != "5" || times != "-1" || depth != "32" {
			t.Errorf("%s: probability %s, times %s, depth %s; want 5, -1 (unbounded), 32", attr, p, times, depth)
		}
		if prob < req {
			t.Errorf("%s: the probability is set before the filter", attr)
		}
		for _, k := range knobs {
			if strings.HasPrefix(k.Path, attr+"/") && k.Path != attr+"/probability" && slices.Index(knobs, k) > prob {
				t.Errorf("%s: %s is set after the probability", attr, k.Path)
			}
		}
	}
}

// Applied to a kernel's knobs (a tree of its files here) and restored,
// the scope leaves every value as it was.
func TestScopeApplyRestores(t *testing.T) {
	root := t.TempDir()
	s := Scope{Require: Range{0x1000, 0x2000}, Probability: 10}
	knobs, err := s.Knobs()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range knobs {
		if strings.HasPrefix(k.Path, "fail_usercopy/") {
			continue // a kernel without CONFIG_FAULT_INJECTION_USERCOPY
		}
		p := filepath.Join(root, k.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	restore, missing, err := Apply(root, knobs)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) == 0 || !strings.HasPrefix(missing[0], "fail_usercopy/") {
		t.Errorf("missing %v, want fail_usercopy's knobs", missing)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "failslab/probability")); string(b) != "10" {
		t.Errorf("failslab/probability is %q, want 10", b)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "failslab/require-start")); string(b) != "old" {
		t.Errorf("failslab/require-start restored to %q, want old", b)
	}
}

func TestSpan(t *testing.T) {
	for _, c := range []struct {
		rs   []Range
		want Range
	}{
		{nil, Range{}},
		{[]Range{{10, 20}}, Range{10, 20}},
		{[]Range{{30, 40}, {}, {10, 20}}, Range{10, 40}},
	} {
		if got := Span(c.rs...); got != c.want {
			t.Errorf("Span(%v) = %v, want %v", c.rs, got, c.want)
		}
	}
}

// A kernel whose knobs have no filter gets no scoped failures: they
// would hit every caller.
func TestScopeApplyNeedsTheFilter(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"failslab/probability", "fail_page_alloc/probability", "fail_page_alloc/require-start", "fail_page_alloc/require-end"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), []byte("0"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := Scope{Require: Range{0x1000, 0x2000}, Probability: 10}
	_, left, err := s.Apply(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []string{"failslab", "fail_usercopy"}) {
		t.Errorf("left %v, want failslab (no filter) and fail_usercopy (none)", left)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "failslab/probability")); string(b) != "0" {
		t.Errorf("failslab, without its filter, got probability %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "fail_page_alloc/probability")); string(b) != "10" {
		t.Errorf("fail_page_alloc/probability is %q, want 10", b)
	}
	if _, _, err := s.Apply(filepath.Join(root, "failslab")); !errors.Is(err, ErrNoFilter) {
		t.Errorf("a tree with no filter: %v, want ErrNoFilter", err)
	}
}
