package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// jobLive is a fuzz job's latest numbers while it runs, from the status
// lines the runner passes on (runcfg.FuzzStep): libFuzzer's inputs run in
// the job's current VM and their rate, its cov: and ft: (the module's
// edges among the features), the corpus it holds, and the kernel reports
// the job met so far, over all its VMs.
type jobLive struct {
	kernel   string
	job      int
	stats    fuzzStats
	findings int
	// shown is when a plain line last said the job's numbers.
	shown time.Time
}

// String is the job's live line.
func (j *jobLive) String() string {
	s := j.stats
	if !s.Seen {
		return fmt.Sprintf("fuzz job %d: starting, %s", j.job, plural(j.findings, "finding"))
	}
	return fmt.Sprintf("fuzz job %d: %d execs (%d/s), cov: %d ft: %d, corpus %d, %s",
		j.job, s.Execs, s.ExecsPerSec, s.Cov, s.Features, s.Corpus, plural(j.findings, "finding"))
}

// fuzzLive keeps every fuzz job's jobLive, by kernel and job. The caller
// serializes its calls.
type fuzzLive map[string]*jobLive

// take reads a step that is a fuzz job's line into the job's numbers and
// returns the job, and whether the line was a kernel report's; ok is
// false for any other step.
func (l fuzzLive) take(s vmtest.Step) (j *jobLive, finding, ok bool) {
	job, line, ok := runcfg.ParseFuzzStep(s.Detail)
	if !ok || s.Phase != vmtest.PhaseTests {
		return nil, false, false
	}
	key := fmt.Sprintf("%s\x00%d", s.Kernel, job)
	j = l[key]
	if j == nil {
		j = &jobLive{kernel: s.Kernel, job: job}
		l[key] = j
	}
	finding = strings.HasPrefix(line, harness.ReportLine)
	if finding {
		j.findings++
	} else if st := parseJobStats(line); st.Seen {
		j.stats = st
	}
	return j, finding, true
}

// plainFuzzEvery is how often a plain line says a fuzz job's numbers.
const plainFuzzEvery = 15 * time.Second

// due says whether a plain line should say j's numbers at now: every
// plainFuzzEvery, and at each finding.
func (j *jobLive) due(now time.Time, finding bool) bool {
	if !finding && now.Sub(j.shown) < plainFuzzEvery {
		return false
	}
	j.shown = now
	return true
}

// plural is "1 finding", "2 findings".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
