package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gridReport is a run of two architectures as the runner returns it: the
// cells an architecture lacks come last, skipped.
func gridReport() *Report {
	k := func(name, arch string, st Status) *Kernel {
		k := &Kernel{Name: name, Arch: arch, Status: st, Build: &Build{Status: Pass}, Boot: &Boot{Status: Pass},
			Tests: []*Test{{Package: "mmapdrv", Name: "TestSize", Status: st}}}
		if st == Skip {
			k.Build, k.Boot, k.Tests, k.Note = nil, nil, nil, name+": skipped (Debian has no "+arch+" kernel for 6.12; newest 6.1)"
		}
		return k
	}
	return &Report{Kernels: []*Kernel{
		k("6.1.0-57-a", "archa", Pass), k("6.12.1-a", "archa", Fail),
		k("6.1.0-57-b", "archb", Pass), k("6.12 (archb)", "archb", Skip),
		k("6.1 (archc)", "archc", Skip), k("6.12.1-c", "archc", Pass),
	}}
}

func names(r *Report) string {
	var n []string
	for _, k := range r.Kernels {
		n = append(n, k.Name)
	}
	return strings.Join(n, " ")
}

// Sorting (as a merge does) keeps a report of several architectures
// grouped by architecture; one of a single architecture sorts by name.
func TestSortGroupsByArchitecture(t *testing.T) {
	r := gridReport()
	r.Kernels[0], r.Kernels[5] = r.Kernels[5], r.Kernels[0]
	r.Sort()
	if got, want := names(r), "6.1.0-57-a 6.12.1-a 6.1.0-57-b 6.12 (archb) 6.1 (archc) 6.12.1-c"; got != want {
		t.Errorf("sorted: %s, want %s", got, want)
	}
	one := &Report{Kernels: []*Kernel{{Name: "6.12.1-a", Arch: "archa"}, {Name: "6.1.0-57-a", Arch: "archa"}}}
	one.Sort()
	if got := names(one); got != "6.1.0-57-a 6.12.1-a" {
		t.Errorf("one architecture sorted: %s", got)
	}
}

// A cell an architecture lacks is neither a failure nor an error, and
// each architecture's summary counts it apart.
func TestArchSummariesAndSkippedCells(t *testing.T) {
	r := gridReport()
	r.Kernels[1].Status = Pass
	if r.Failed() || r.InfraError() {
		t.Errorf("a report whose only non-passes are lacking cells failed")
	}
	r.Kernels[1].Status = Fail
	if !r.Failed() {
		t.Errorf("a failed kernel did not fail the report")
	}
	want := []string{
		"archa: 1 of 2 kernels passed, 1 failed; tests: 1 passed, 1 failed, 0 skipped",
		"archb: 1 of 1 kernels passed, 1 lacking (skipped); tests: 1 passed, 0 failed, 0 skipped",
		"archc: 1 of 1 kernels passed, 1 lacking (skipped); tests: 1 passed, 0 failed, 0 skipped",
	}
	var got []string
	for _, s := range r.ArchSummaries() {
		got = append(got, s.Arch+": "+s.Text())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("summaries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Every rendering of a report of several architectures groups by
// architecture; one of a single architecture has no trace of it.
func TestRenderingsGroupByArchitecture(t *testing.T) {
	for _, c := range []struct {
		r     *Report
		multi bool
	}{{gridReport(), true}, {&Report{Kernels: gridReport().Kernels[:2]}, false}} {
		var md, html, junit bytes.Buffer
		if err := c.r.WriteMarkdown(&md); err != nil {
			t.Fatal(err)
		}
		if err := c.r.WriteHTML(&html, HTMLOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.r.WriteJUnit(&junit); err != nil {
			t.Fatal(err)
		}
		for _, w := range []struct {
			what, in, text string
		}{
			{"Markdown's table by architecture", md.String(), "| archb | 2 | 1 | 0 | 0 | 1 | 1 | 0 |"},
			{"Markdown's arch row", md.String(), "| **arch** | archa | archa | archb | archb | archc | archc |"},
			{"HTML's column groups", html.String(), `<th class="arch" scope="colgroup" colspan="2"`},
			{"JUnit's arch property", junit.String(), `<property name="arch" value="archb">`},
		} {
			if strings.Contains(w.in, w.text) != c.multi {
				t.Errorf("multi=%v: %s: contains %q = %v", c.multi, w.what, w.text, !c.multi)
			}
		}
		if !c.multi {
			continue
		}
		var suites junitSuites
		if err := xml.Unmarshal(junit.Bytes(), &suites); err != nil {
			t.Fatal(err)
		}
		s := suites.Suites[4]
		if s.Name != "6.1 (archc)" || s.Skipped != 1 || len(s.Cases) != 1 || !strings.Contains(s.Cases[0].Skipped.Message, "no archc kernel") {
			t.Errorf("the lacking cell's suite = %+v, want one skipped case saying why", s)
		}
	}
}

var updateGolden = flag.Bool("update", false, "rewrite the golden renderings in testdata/runs/multiarch (review the diff!)")

// A real run of three architectures, two series each lacks, rendered as
// Markdown and JUnit: pinned, so that a change to how they group by
// architecture shows as a diff. go test -update rewrites them.
func TestMultiArchGolden(t *testing.T) {
	dir := filepath.Join("testdata", "runs", "multiarch")
	r, err := ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		file   string
		render func(io.Writer) error
	}{{"report.md", r.WriteMarkdown}, {"junit.xml", r.WriteJUnit}} {
		var b bytes.Buffer
		if err := g.render(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, g.file)
		if *updateGolden {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s differs:\n%s", path, b.String())
		}
	}
}
