package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/vbauerster/mpb/v8"
)

// fuzzSteps are two fuzz jobs of one kernel as the runner passes their
// lines on: libFuzzer's status lines and a kernel report's.
var fuzzSteps = []vmtest.Step{
	at(10, "6.1.192-debug", vmtest.PhaseTests, runcfg.FuzzStep(1, "#2\tINITED cov: 8 ft: 12 corp: 1/1b exec/s: 0 rss: 24Mb")),
	at(11, "6.1.192-debug", vmtest.PhaseTests, runcfg.FuzzStep(2, "#2\tINITED cov: 8 ft: 12 corp: 1/1b exec/s: 0 rss: 24Mb")),
	at(20, "6.1.192-debug", vmtest.PhaseTests, runcfg.FuzzStep(1, "#1024\tpulse  cov: 40 ft: 300 corp: 90/700b lim: 8 exec/s: 102 rss: 29Mb")),
	at(21, "6.1.192-debug", vmtest.PhaseTests, runcfg.FuzzStep(2, harness.ReportLine+"BUG: KASAN: slab-out-of-bounds in f")),
	at(30, "6.1.192-debug", vmtest.PhaseTests, runcfg.FuzzStep(1, "#4096\tpulse  cov: 47 ft: 350 corp: 120/900b lim: 8 exec/s: 136 rss: 29Mb")),
}

// TestPlainFuzzLines: a plain log says each job's numbers every
// plainFuzzEvery and at each finding, and nothing in --quiet.
func TestPlainFuzzLines(t *testing.T) {
	var buf bytes.Buffer
	p := newPlain(&buf, false, false)
	p.start = t0
	for _, s := range fuzzSteps {
		p.step(s)
	}
	want := `[  10.0s] 6.1.192-debug            fuzz job 1: 2 execs (0/s), cov: 8 ft: 12, corpus 1, 0 findings
[  11.0s] 6.1.192-debug            fuzz job 2: 2 execs (0/s), cov: 8 ft: 12, corpus 1, 0 findings
[  21.0s] 6.1.192-debug            fuzz job 2: 2 execs (0/s), cov: 8 ft: 12, corpus 1, 1 finding
[  30.0s] 6.1.192-debug            fuzz job 1: 4096 execs (136/s), cov: 47 ft: 350, corpus 120, 0 findings
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	buf.Reset()
	q := newPlain(&buf, true, false)
	for _, s := range fuzzSteps {
		q.step(s)
	}
	if buf.Len() != 0 {
		t.Errorf("--quiet printed %q", buf.String())
	}
}

// TestBarsFuzzLines: each fuzz job gets a line of its own below the
// kernels', which ends with its latest numbers.
func TestBarsFuzzLines(t *testing.T) {
	var buf bytes.Buffer
	b := newBars(&buf, []string{"6.1-debug"}, false, nil, mpb.WithWidth(120), mpb.WithAutoRefresh(), mpb.WithRefreshRate(time.Millisecond))
	b.step(vmtest.Step{Selector: "6.1-debug", Kernel: "6.1.192-debug", Phase: vmtest.PhaseTests, At: t0})
	for _, s := range fuzzSteps {
		b.step(s)
	}
	b.finish(&report.Report{Kernels: []*report.Kernel{{Selector: "6.1-debug", Name: "6.1.192-debug", Status: report.Fail}}})
	out := strings.Join(strings.Fields(buf.String()), " ")
	for _, want := range []string{
		"6.1.192-debug fuzz job 1: 4096 execs (136/s), cov: 47 ft: 350, corpus 120, 0 findings",
		"6.1.192-debug fuzz job 2: 2 execs (0/s), cov: 8 ft: 12, corpus 1, 1 finding",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
