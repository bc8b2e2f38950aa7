package main

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/harness"
)

// fuzzStats is what a fuzz job's output says of it: libFuzzer's status
// lines and final statistics, and the KCOV glue's count of the module's
// code reached.
type fuzzStats struct {
	// Execs and ExecsPerSec are libFuzzer's: inputs run, and their rate
	// over the whole job.
	Execs, ExecsPerSec int
	// Cov and Features are libFuzzer's "cov:" and "ft:": the harness's
	// own instrumented PCs, and the features (the module's edges and
	// their hit-count buckets among them) it has seen.
	Cov, Features int
	// Corpus is the inputs libFuzzer kept, and CorpusSize their size
	// ("1234b", "5Kb").
	Corpus     int
	CorpusSize string
	// ModulePCs and ModuleEdges are the glue's: distinct PCs and edges of
	// the modules under test that any input reached; Cmps the comparison
	// operands of the modules it handed to libFuzzer.
	ModulePCs, ModuleEdges, Cmps int
	// Seen says a status line or the glue's count was found at all.
	Seen bool
	// Jobs is how many jobs fuzzed at once (kmodvm fuzz --jobs): the
	// inputs run and the rate are their sums, the coverage the most any
	// reached, the corpus the largest any kept.
	Jobs int
}

var (
	// "#4096	pulse  cov: 11 ft: 64 corp: 9/124b lim: 43 exec/s: 2048 rss: 30Mb"
	statusLine = regexp.MustCompile(`^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+)(?:.* exec/s: (\d+))?`)
	// "stat::average_exec_per_sec:     205"
	finalStat = regexp.MustCompile(`^stat::(\w+):\s+(\d+)`)
	// "kmodvm-kcov: inputs: 4096 module pcs: 40 edges: 57 cmps: 812"
	glueLine = regexp.MustCompile(`^kmodvm-kcov: inputs: \d+ module pcs: (\d+) edges: (\d+)(?: cmps: (\d+))?`)
)

// parseFuzzStats reads a fuzz job's output, each job's part
// (harness.JobLine begins those after the first) on its own, and adds
// them up.
func parseFuzzStats(out string) fuzzStats {
	var total fuzzStats
	for i, part := range strings.Split(out, "\n"+harness.JobLine) {
		s := parseJobStats(part)
		if i == 0 {
			total = s
			continue
		}
		if !s.Seen {
			continue
		}
		if !total.Seen {
			total = s
			total.Jobs = 0
		} else {
			total.Execs += s.Execs
			total.ExecsPerSec += s.ExecsPerSec
			total.Cov, total.Features = max(total.Cov, s.Cov), max(total.Features, s.Features)
			total.ModulePCs, total.ModuleEdges, total.Cmps = max(total.ModulePCs, s.ModulePCs), max(total.ModuleEdges, s.ModuleEdges), total.Cmps+s.Cmps
			if s.Corpus > total.Corpus {
				total.Corpus, total.CorpusSize = s.Corpus, s.CorpusSize
			}
		}
		total.Jobs = max(total.Jobs, 1) + 1
	}
	return total
}

// parseJobStats reads one job's output: the last status line wins, and
// libFuzzer's final statistics (-print_final_stats=1), when it printed
// them, over it. A job that went on in fresh VMs has one such part per
// VM: the inputs run are their sum, the rest the last VM's.
func parseJobStats(out string) fuzzStats {
	var s fuzzStats
	done := 0 // the execs of the VMs before, whose jobs ended with their final statistics
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := statusLine.FindStringSubmatch(line); m != nil {
			s.Seen = true
			s.Execs, s.Cov, s.Features, s.Corpus = done+atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4])
			s.CorpusSize = m[5]
			if m[6] != "" {
				s.ExecsPerSec = atoi(m[6])
			}
		} else if m := finalStat.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "number_of_executed_units":
				done += atoi(m[2])
				s.Execs = done
			case "average_exec_per_sec":
				s.ExecsPerSec = atoi(m[2])
			}
		} else if m := glueLine.FindStringSubmatch(line); m != nil {
			s.Seen = true
			s.ModulePCs, s.ModuleEdges, s.Cmps = atoi(m[1]), atoi(m[2]), atoi(m[3])
		}
	}
	return s
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// String is the job's line in the terminal summary.
func (s fuzzStats) String() string {
	if !s.Seen {
		return "no libFuzzer status in the output"
	}
	jobs := ""
	if s.Jobs > 1 {
		jobs = fmt.Sprintf(" in %d jobs", s.Jobs)
	}
	return fmt.Sprintf("%d execs (%d/s)%s, module: %d PCs, %d edges, %d comparison operands; libFuzzer cov: %d ft: %d; corpus %d inputs (%s)",
		s.Execs, s.ExecsPerSec, jobs, s.ModulePCs, s.ModuleEdges, s.Cmps, s.Cov, s.Features, s.Corpus, s.CorpusSize)
}
