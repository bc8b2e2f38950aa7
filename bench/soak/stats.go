package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// absent is the status of a test that a round did not report although its
// kernel's VM ran to the end: a test that comes and goes is flaky too.
const absent report.Status = "absent"

// soak accumulates the reports of repeated runs of one matrix.
type soak struct {
	rounds  int
	order   []string // kernel selectors, first seen first
	kernels map[string]*kernelStats
	errors  []string // "round N, kernel: why" for every infrastructure error
}

// kernelStats is one kernel across rounds.
type kernelStats struct {
	name        string // the ABI, once a round resolved it
	runs        int
	boots       int // VMs started, retries included
	retries     int // boots that were a second attempt
	infraErrors int
	failures    int // rounds in which the kernel failed (not an infrastructure error)
	boot        []float64
	tests       map[string]map[report.Status]int // test -> status -> rounds
	finished    int                              // rounds whose VM ran to the end
	seen        map[string]int                   // test -> rounds that reported it
}

func newSoak() *soak { return &soak{kernels: map[string]*kernelStats{}} }

// add folds one round's report in.
func (s *soak) add(rep *report.Report) {
	s.rounds++
	for _, k := range rep.Kernels {
		key := k.Selector
		if key == "" {
			key = k.Name
		}
		ks := s.kernels[key]
		if ks == nil {
			ks = &kernelStats{name: key, tests: map[string]map[report.Status]int{}, seen: map[string]int{}}
			s.kernels[key] = ks
			s.order = append(s.order, key)
		}
		if k.ABI != "" {
			ks.name = k.ABI
		}
		ks.runs++
		switch k.Status {
		case report.Error:
			ks.infraErrors++
			s.errors = append(s.errors, fmt.Sprintf("round %d, %s: %s", s.rounds, ks.name, firstLine(k.Error)))
		case report.Pass:
		default:
			ks.failures++
		}
		if k.Boot == nil {
			continue
		}
		ks.boots += max(k.Boot.Attempt, 1)
		ks.retries += max(k.Boot.Attempt-1, 0)
		if k.Timing.Boot > 0 {
			ks.boot = append(ks.boot, k.Timing.Boot)
		}
		if k.Boot.Status != report.Pass {
			continue // its tests were cut short: that is the boot's story
		}
		ks.finished++
		for _, t := range k.Tests {
			name := t.Package + "." + t.Name
			if ks.tests[name] == nil {
				ks.tests[name] = map[report.Status]int{}
			}
			ks.tests[name][t.Status]++
			ks.seen[name]++
		}
	}
}

// flake is a test whose status differed across rounds.
type flake struct {
	kernel, test string
	statuses     map[report.Status]int
}

func (f flake) String() string {
	var parts []string
	for st, n := range f.statuses {
		parts = append(parts, fmt.Sprintf("%s %d", st, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%s on %s: %s", f.test, f.kernel, strings.Join(parts, ", "))
}

// flaky returns the tests of every kernel whose status was not the same in
// every round in which the kernel's VM ran to the end.
func (s *soak) flaky() []flake {
	var out []flake
	for _, key := range s.order {
		ks := s.kernels[key]
		var names []string
		for name := range ks.tests {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			st := ks.tests[name]
			if missing := ks.finished - ks.seen[name]; missing > 0 {
				st[absent] = missing
			}
			if len(st) > 1 {
				out = append(out, flake{kernel: ks.name, test: name, statuses: st})
			}
		}
	}
	return out
}

// totals sums boots, retries and infrastructure errors over every kernel.
func (s *soak) totals() (boots, retries, infra int) {
	for _, ks := range s.kernels {
		boots, retries, infra = boots+ks.boots, retries+ks.retries, infra+ks.infraErrors
	}
	return
}

// failures counts the kernel runs that failed (infrastructure errors
// aside).
func (s *soak) failures() (n int) {
	for _, ks := range s.kernels {
		n += ks.failures
	}
	return n
}

// spread returns the minimum, median and maximum of xs (zeros if empty).
func spread(xs []float64) (lo, med, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[0], med, s[len(s)-1]
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
