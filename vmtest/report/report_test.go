package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sample is a small report with one kernel of each outcome.
func sample() *Report {
	t0 := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	return &Report{
		Schema: SchemaVersion, Started: t0, Finished: t0.Add(time.Minute),
		Host: Host{Name: "ci", Accel: "tcg", CPUs: 2},
		Kernels: []*Kernel{
			{Name: "6.12.117+deb13-amd64", Status: Fail,
				Build:   &Build{Status: Pass, Warnings: []Diagnostic{{File: "kmod/m.c", Line: 3, Col: 1, Severity: "warning", Message: "unused variable 'x'"}}},
				Boot:    &Boot{Status: Pass, Exit: "poweroff"},
				Modules: []Module{{Name: "mmapdrv", Load: Pass, Unload: Fail, UnloadError: "EBUSY"}},
				Tests: []*Test{
					{Package: "mmapdrv", Name: "TestSize", Status: Pass, Elapsed: 0.1},
					{Package: "mmapdrv", Name: "TestMmap", Status: Fail, Output: "boom\n", Findings: []int{0}},
					{Package: "mmapdrv", Name: "TestMmap/private", Status: Fail},
				},
				Findings: []Finding{{Kind: "WARNING", Title: "WARNING in drv_mmap", Test: "mmapdrv: TestMmap"}, {Kind: KindTaint, Title: "tainted"}},
			},
			{Name: "5.10.0-46-amd64", Status: Pass,
				Build: &Build{Status: Pass}, Boot: &Boot{Status: Pass},
				Modules: []Module{{Name: "mmapdrv", Load: Pass, Unload: Pass}},
				Tests:   []*Test{{Package: "mmapdrv", Name: "TestSize", Status: Pass}, {Package: "mmapdrv", Name: "TestSkip", Status: Skip}},
			},
			{Name: "7.3.4+deb13-amd64", Status: Error, Error: "fetch: no network"},
		},
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := sample()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", got, r)
	}
}

func TestReadJSONRejectsOtherSchemasAndNamelessKernels(t *testing.T) {
	for _, in := range []string{`{"schema": 99, "kernels": []}`, `{"schema": 1, "kernels": [{}]}`, `{"schema": 1, "kernels": [null]}`, `not json`} {
		if _, err := ReadJSON(strings.NewReader(in)); err == nil {
			t.Errorf("ReadJSON(%s) succeeded", in)
		}
	}
}

func TestJUnitHasASuitePerKernelAndStepCases(t *testing.T) {
	var buf bytes.Buffer
	if err := sample().WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not valid XML: %v\n%s", err, buf.String())
	}
	if len(doc.Suites) != 3 {
		t.Fatalf("%d suites, want one per kernel", len(doc.Suites))
	}
	names := func(s junitSuite) []string {
		var n []string
		for _, c := range s.Cases {
			n = append(n, c.Name)
		}
		return n
	}
	want := []string{"build", "boot", "load mmapdrv", "unload mmapdrv", "TestSize", "TestMmap", "TestMmap/private"}
	if got := names(doc.Suites[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("cases = %q, want %q", got, want)
	}
	s := doc.Suites[0]
	if s.Failures != 3 || s.Tests != 7 {
		t.Errorf("suite 0: %d tests %d failures, want 7 and 3 (unload and two tests)", s.Tests, s.Failures)
	}
	if !strings.Contains(s.Cases[5].Failure.Message, "WARNING in drv_mmap") {
		t.Errorf("failure message does not name the kernel finding: %q", s.Cases[5].Failure.Message)
	}
	if doc.Suites[1].Skipped != 1 {
		t.Errorf("skips = %d, want 1", doc.Suites[1].Skipped)
	}
	if e := doc.Suites[2]; e.Errors != 1 || e.Cases[0].Error == nil || e.Cases[0].Error.Message != "fetch: no network" {
		t.Errorf("infrastructure error not an <error>: %+v", e)
	}
}

func TestMergeOfShardsEqualsTheWholeRun(t *testing.T) {
	whole := sample()
	a, b := sample(), sample()
	a.Kernels = a.Kernels[:1]
	a.Host.Shard = "1/2"
	b.Kernels = b.Kernels[1:]
	b.Host.Shard = "2/2"
	merged := Merge(a, b)
	whole.Sort()
	var m, w bytes.Buffer
	merged.WriteMarkdown(&m)
	whole.WriteMarkdown(&w)
	if m.String() != w.String() {
		t.Errorf("merged matrix differs:\n%s\nwant\n%s", m.String(), w.String())
	}
	if merged.Kernels[0].Name != "5.10.0-46-amd64" || merged.Kernels[2].Name != "7.3.4+deb13-amd64" {
		t.Errorf("kernels not in version order: %s, %s, %s", merged.Kernels[0].Name, merged.Kernels[1].Name, merged.Kernels[2].Name)
	}
}

func TestMarkdownMatrix(t *testing.T) {
	r := sample()
	r.Sort()
	var buf bytes.Buffer
	if err := r.WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"| | 5.10.0-46-amd64 | 6.12.117+deb13-amd64 | 7.3.4+deb13-amd64 |",
		"| TestMmap | · | ❌ 🐞 | · |",
		"| TestSkip | ⏭️ | · | · |",
		"| findings | 0 | 1 | 0 |",
		"\n### What failed\n\n- ⚠️ **kmodvm error** on 7.3.4+deb13-amd64: fetch: no network\n",
		"\n- ❌ **TestMmap fail** on 6.12.117+deb13-amd64: boom\n  - 🐞 `WARNING in drv_mmap` (during mmapdrv: TestMmap)\n",
		"<details><summary>✅ 1 test passed on all 2 kernels that ran tests</summary>\n\n**mmapdrv** (1): `TestSize`\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| TestSize |") {
		t.Errorf("a test that passed on every kernel has a row:\n%s", md)
	}
	if strings.Contains(md, "tainted") {
		t.Error("taint notes listed as findings")
	}
}

func TestVersionLess(t *testing.T) {
	names := []string{"7.3.4+deb13-amd64", "6.12.117+deb13-amd64", "5.10.0-46-amd64", "6.1.0-57-amd64", "6.1.0-7-amd64"}
	r := &Report{}
	for _, n := range names {
		r.Kernels = append(r.Kernels, &Kernel{Name: n})
	}
	r.Sort()
	var got []string
	for _, k := range r.Kernels {
		got = append(got, k.Name)
	}
	want := []string{"5.10.0-46-amd64", "6.1.0-7-amd64", "6.1.0-57-amd64", "6.12.117+deb13-amd64", "7.3.4+deb13-amd64"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted = %v, want %v", got, want)
	}
}

func FuzzReadJSON(f *testing.F) {
	var buf bytes.Buffer
	sample().WriteJSON(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema":1,"kernels":[{"name":"x","tests":[null]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever parses must render and read back.
		var out bytes.Buffer
		if err := r.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadJSON(&out); err != nil {
			t.Fatalf("re-read failed: %v", err)
		}
		r.WriteJUnit(&bytes.Buffer{})
		r.WriteMarkdown(&bytes.Buffer{})
		// Collapsed, it still reads back: every test's findings exist.
		for _, k := range r.Kernels {
			k.DedupFindings()
		}
		out.Reset()
		if err := r.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadJSON(&out); err != nil {
			t.Fatalf("re-read after DedupFindings failed: %v", err)
		}
		r.WriteJUnit(&bytes.Buffer{})
		r.WriteMarkdown(&bytes.Buffer{})
	})
}

// A finding says when it happened; the fields that say so are omitted
// from JSON when unset, so reports from before them read the same.
func TestFindingWhere(t *testing.T) {
	tests := []struct {
		f      Finding
		where  string
		blames bool
	}{
		{Finding{Kind: "WARNING", Test: "drv.test: TestRead"}, "during drv.test: TestRead", false},
		{Finding{Kind: "KASAN", Step: "load drv"}, "during load drv", true},
		{Finding{Kind: "KASAN", Owner: OwnerKernel}, "before any module under test was loaded: the kernel's own", false},
		{Finding{Kind: "WARNING"}, "outside any test", true},
		{Finding{Kind: KindTaint}, "outside any test", false},
	}
	for _, tt := range tests {
		if got := tt.f.Where(); got != tt.where || tt.f.Blames() != tt.blames {
			t.Errorf("%+v: Where() = %q, Blames() = %v; want %q, %v", tt.f, got, tt.f.Blames(), tt.where, tt.blames)
		}
	}
	b, err := json.Marshal(Finding{Kind: "WARNING", Title: "WARNING in f"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"kind":"WARNING","title":"WARNING in f"}` {
		t.Errorf("JSON = %s", got)
	}
}

// Tests run in a fresh VM after a crash say so in every rendering.
func TestTestsAfterARebootAreMarked(t *testing.T) {
	r := &Report{Kernels: []*Kernel{{Name: "6.1.0-57-amd64", Status: Fail,
		Boot:    &Boot{Status: Crash},
		Reboots: []*Boot{{Status: Pass}},
		Tests: []*Test{{Package: "p", Name: "TestPanic", Status: Crash},
			{Package: "p", Name: "TestZ", Status: Pass, AfterReboot: true}}}}}
	var md, js, html strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&html, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, out, want string }{
		{"markdown cell", md.String(), "| TestZ | ✅ ↻ |"},
		{"markdown note", md.String(), "booted again once after a crash or hang; 1 test(s) ran after a reboot"},
		{"JSON", js.String(), `"after_reboot": true`},
		{"HTML", html.String(), "after a reboot"},
		{"HTML boot", html.String(), "booted again once after a crash or hang"},
	} {
		if !strings.Contains(c.out, c.want) {
			t.Errorf("%s lacks %q:\n%s", c.name, c.want, c.out)
		}
	}
}

func TestLabelNamesThePackageOnlyWhenThereAreSeveral(t *testing.T) {
	one := &Report{Kernels: []*Kernel{{Tests: []*Test{{Package: "mmapdrv", Name: "TestMmap"}}}}}
	if got := one.Label(TestKey{"mmapdrv", "TestMmap"}); got != "TestMmap" {
		t.Errorf("one package: Label = %q", got)
	}
	two := &Report{Kernels: []*Kernel{{Tests: []*Test{{Package: "mmapdrv", Name: "TestMmap"},
		{Package: "kernel/kunit/mmapdrv_checks", Name: "mmapdrv_mmap_fits_test"}}}}}
	if got := two.Label(TestKey{"kernel/kunit/mmapdrv_checks", "mmapdrv_mmap_fits_test"}); got != "kernel/kunit/mmapdrv_checks: mmapdrv_mmap_fits_test" {
		t.Errorf("two packages: Label = %q", got)
	}
}
