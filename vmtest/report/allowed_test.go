package report

import (
	"bytes"
	"strings"
	"testing"
)

// allowedRun is a kernel whose one test passed although the kernel
// warned during it, and that warned again outside any test: the
// allow-list accepted both warnings, and its WARNING in g, unaccepted,
// fails the kernel.
func allowedRun(withUnallowed bool) *Report {
	allow := &Allowance{Pattern: "^WARNING in f$", Reason: "known upstream bug 1234", Expires: "2999-12-31", Source: "kmodvm.toml:7"}
	k := &Kernel{Name: "6.1.0-57-amd64", Status: Pass, Boot: &Boot{Status: Pass},
		Modules: []Module{{Name: "m", Load: Pass, Unload: Pass}},
		Tests:   []*Test{{Package: "p", Name: "TestWarn", Status: Pass, Findings: []int{0}}},
		Findings: []Finding{
			{Kind: "WARNING", Title: "WARNING in f", Test: "p: TestWarn", Report: "WARNING: CPU: 0 PID: 1 at m.c:10 f+0x1/0x2 [m]", Allowed: allow},
			{Kind: "WARNING", Title: "WARNING in f", Step: "unload m", Report: "WARNING: CPU: 0 PID: 1 at m.c:10 f+0x1/0x2 [m]", Allowed: allow},
		}}
	if withUnallowed {
		k.Status = Fail
		k.Findings = append(k.Findings, Finding{Kind: "WARNING", Title: "WARNING in g", Report: "WARNING: CPU: 0 PID: 1 at m.c:20 g+0x1/0x2 [m]"})
	}
	return &Report{Schema: SchemaVersion, Kernels: []*Kernel{k}}
}

// An allowed finding fails nothing, and every rendering still shows it,
// marked allowed with the entry's reason; one beside it that no entry
// accepted still fails.
func TestAllowedFindingsAreShownNotFailed(t *testing.T) {
	for _, withUnallowed := range []bool{false, true} {
		r := allowedRun(withUnallowed)
		var names []string
		for _, f := range r.Failures() {
			names = append(names, f.Title())
		}
		want := ""
		if withUnallowed {
			want = "WARNING in g"
		}
		if got := strings.Join(names, "; "); got != want {
			t.Errorf("unallowed finding %v: failures %q, want %q", withUnallowed, got, want)
		}
		for i, f := range r.Kernels[0].Findings {
			if f.Blames() != (f.Allowed == nil) {
				t.Errorf("finding %d (%s, allowed %v): Blames() = %v", i, f.Title, f.Allowed != nil, f.Blames())
			}
		}
	}

	r := allowedRun(false)
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&js)
	if err != nil {
		t.Fatal(err)
	}
	if a := back.Kernels[0].Findings[0].Allowed; a == nil || *a != *r.Kernels[0].Findings[0].Allowed {
		t.Errorf("JSON round trip: allowed = %+v", a)
	}

	reason := "allowed until 2999-12-31 by kmodvm.toml:7: known upstream bug 1234"
	cases := junitCases(t, r)
	if c, ok := cases["allowed: WARNING in f"]; !ok || c.Failure != nil || !strings.Contains(c.SystemOut, reason) {
		t.Errorf("JUnit: case %+v (found %v), want a passed case that gives the reason", c, ok)
	}
	if c := cases["p: TestWarn"]; c.Failure != nil {
		t.Errorf("JUnit: the test the allowed finding happened during fails: %+v", c.Failure)
	}

	var md, page, ann strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteAnnotations(&ann, "/src"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ format, out, want string }{
		{"Markdown", md.String(), reason + ", not a failure"},
		{"Markdown", md.String(), "2 (2 allowed)"},
		{"HTML", page.String(), `<span class="badge st-skip">allowed</span>`},
		{"HTML", page.String(), "Allowed until 2999-12-31 by kmodvm.toml:7 (the title matches <code>^WARNING in f$</code>): known upstream bug 1234"},
		{"annotations", ann.String(), "::notice title=WARNING in f on 6.1.0-57-amd64::" + reason},
	} {
		if !strings.Contains(c.out, c.want) {
			t.Errorf("%s lacks %q:\n%s", c.format, c.want, c.out)
		}
	}
	if strings.Contains(md.String(), "What failed") || strings.Contains(ann.String(), "::error") {
		t.Errorf("an allowed finding is told as a failure:\n%s\n%s", md.String(), ann.String())
	}
}
