package report

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Arches are the architectures of r's kernels, in the order they first
// appear. A kernel without one (a report from before kernels had one)
// adds none.
func (r *Report) Arches() []string {
	var out []string
	for _, k := range r.Kernels {
		if k.Arch != "" && !slices.Contains(out, k.Arch) {
			out = append(out, k.Arch)
		}
	}
	return out
}

// MultiArch reports whether r's kernels are of several architectures:
// its renderings then group them by architecture, one column or section
// per kernel and architecture.
func (r *Report) MultiArch() bool { return len(r.Arches()) > 1 }

// GroupByArch orders r's kernels by architecture, each in the order it
// first appears, keeping their order within one; a report of one
// architecture stays as it is. A kernel without an architecture goes
// with the first.
func (r *Report) GroupByArch() {
	arches := r.Arches()
	if len(arches) < 2 {
		return
	}
	group := func(k *Kernel) int { return max(slices.Index(arches, k.Arch), 0) }
	sort.SliceStable(r.Kernels, func(i, j int) bool { return group(r.Kernels[i]) < group(r.Kernels[j]) })
}

// ArchSummary is how one architecture's kernels went.
type ArchSummary struct {
	Arch string
	// Kernels counts them; Passed, Failed, Errors and Skipped by status
	// (Skipped: the series the architecture lacks).
	Kernels, Passed, Failed, Errors, Skipped int
	Tests                                    Counts
}

// ArchSummaries sums r's kernels per architecture, in Arches' order.
func (r *Report) ArchSummaries() []ArchSummary {
	arches := r.Arches()
	out := make([]ArchSummary, len(arches))
	for i, a := range arches {
		out[i].Arch = a
	}
	for _, k := range r.Kernels {
		s := &out[max(slices.Index(arches, k.Arch), 0)]
		s.Kernels++
		switch k.Status {
		case Pass:
			s.Passed++
		case Skip:
			s.Skipped++
		case Error:
			s.Errors++
		default:
			s.Failed++
		}
		c := k.Counts()
		s.Tests.Pass, s.Tests.Fail, s.Tests.Skip, s.Tests.Other = s.Tests.Pass+c.Pass, s.Tests.Fail+c.Fail, s.Tests.Skip+c.Skip, s.Tests.Other+c.Other
	}
	return out
}

// Text says how the architecture's kernels went in a line.
func (s ArchSummary) Text() string {
	parts := []string{fmt.Sprintf("%d of %d kernels passed", s.Passed, s.Kernels-s.Skipped)}
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d with errors", s.Errors))
	}
	if s.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d lacking (skipped)", s.Skipped))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf("; tests: %d passed, %d failed, %d skipped", s.Tests.Pass, s.Tests.Fail, s.Tests.Skip)
}

// writeArchMarkdown writes, for a report of several architectures, a
// table of how each went.
func (r *Report) writeArchMarkdown(b *strings.Builder) {
	if !r.MultiArch() {
		return
	}
	b.WriteString("| architecture | kernels | passed | failed | errors | lacking | tests passed | tests failed |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.ArchSummaries() {
		fmt.Fprintf(b, "| %s | %d | %d | %d | %d | %d | %d | %d |\n", mdEscape(s.Arch), s.Kernels, s.Passed, s.Failed, s.Errors, s.Skipped, s.Tests.Pass, s.Tests.Fail)
	}
	b.WriteString("\n")
}

// archView is one architecture's group of the HTML matrix's columns.
type archView struct {
	Arch, Text string
	Span       int
}

// archViews are the column groups of r's matrix, for a report of several
// architectures (whose kernels GroupByArch ordered): one per run of
// kernels of one architecture.
func archViews(r *Report) []archView {
	if !r.MultiArch() {
		return nil
	}
	text := map[string]string{}
	for _, s := range r.ArchSummaries() {
		text[s.Arch] = s.Text()
	}
	var out []archView
	for _, k := range r.Kernels {
		if n := len(out); n > 0 && out[n-1].Arch == k.Arch {
			out[n-1].Span++
			continue
		}
		out = append(out, archView{Arch: k.Arch, Text: text[k.Arch], Span: 1})
	}
	return out
}
