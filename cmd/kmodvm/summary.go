package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/report"
)

// The summary a run ends with leads with what failed, so that its first
// lines say why; a run with nothing wrong is only its kernels and grid.
const (
	// maxFailures is how many failures the summary lists; the reports
	// have them all.
	maxFailures = 20
	// maxFailedKernels is how many kernels a failure names.
	maxFailedKernels = 8
)

// printOutcome prints what failed, each kernel's summary, and the matrix.
func printOutcome(w io.Writer, rep *report.Report, verbose bool) {
	printSummary(w, rep, verbose)
	fmt.Fprintln(w)
	printMatrix(w, rep)
}

// printSummary prints what failed, then each kernel's verdict and what
// else to know about it.
func printSummary(w io.Writer, rep *report.Report, verbose bool) {
	fmt.Fprintln(w)
	if printFailures(w, rep) {
		fmt.Fprintln(w)
	}
	if !rep.MultiArch() {
		for _, k := range rep.Kernels {
			printKernel(w, rep, k, verbose)
		}
		return
	}
	// A run of several architectures: each one's kernels under a line
	// saying how it went.
	for i, s := range rep.ArchSummaries() {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n", s.Arch, s.Text())
		for _, k := range rep.Kernels {
			if k.Arch == s.Arch || (k.Arch == "" && i == 0) {
				printKernel(w, rep, k, verbose)
			}
		}
	}
}

// printFailures lists the report's failures, each bug told whole once
// with the module's line it happened at, and reports whether there were
// any.
func printFailures(w io.Writer, rep *report.Report) bool {
	fs := rep.Failures()
	if len(fs) == 0 {
		return false
	}
	fmt.Fprintln(w, "What failed:")
	told := map[string]bool{}
	for i, f := range fs {
		if i == maxFailures {
			fmt.Fprintf(w, "  ... and %d more: see the reports\n", len(fs)-i)
			break
		}
		bugs := f.Bugs()
		line := fmt.Sprintf("  %s %s on %s", report.Mark(f.Status), f.Title(), failedOn(f))
		if f.Why != "" {
			line += ": " + f.Why
		}
		fmt.Fprintln(w, line)
		if f.Kind == report.FailedFinding && len(bugs) == 1 {
			told[bugKey(bugs[0])] = true
			printSource(w, bugs[0], "      ")
			continue
		}
		for _, b := range bugs {
			printBug(w, b, told)
		}
	}
	return true
}

// failedOn names the kernels a failure happened on.
func failedOn(f *report.Failure) string {
	var names []string
	for i, on := range f.On {
		if i == maxFailedKernels {
			names = append(names, fmt.Sprintf("%d more", len(f.On)-i))
			break
		}
		s := report.KernelLabel(on.Kernel)
		if on.Test != nil && on.Test.AfterReboot {
			s += " (after a reboot)"
		}
		names = append(names, s)
	}
	return strings.Join(names, ", ")
}

func bugKey(f report.Finding) string { return f.Headline() + "\x00" + f.Where() }

// printBug prints a finding blamed on a failure: whole the first time,
// by its headline after.
func printBug(w io.Writer, f report.Finding, told map[string]bool) {
	if told[bugKey(f)] {
		fmt.Fprintf(w, "      🐞 %s (above)\n", f.Headline())
		return
	}
	told[bugKey(f)] = true
	fmt.Fprintf(w, "      🐞 %s\n", f.Reason())
	printSource(w, f, "         ")
}

// printSource prints the module's line a finding happened at.
func printSource(w io.Writer, f report.Finding, indent string) {
	if fr, ok := f.Source(); ok {
		fmt.Fprintf(w, "%sat %s, %s\n", indent, fr.Where(), fr)
	}
}

// printKernel prints a kernel's verdict and what else to know about it:
// its note, reboots, build warnings, the kernel's own findings and the
// allowed ones (with the allow-list entry's reason), coverage
// and where its logs are; with verbose, its tests that did not pass and
// their output.
func printKernel(w io.Writer, rep *report.Report, k *report.Kernel, verbose bool) {
	if k.Status == report.Skip && k.Build == nil {
		// A series the architecture lacks: the note says it.
		fmt.Fprintf(w, "%s %-24s %-5s %s\n", report.Mark(k.Status), k.Name, k.Status, k.Note)
		return
	}
	c := k.Counts()
	fmt.Fprintf(w, "%s %-24s %-5s %s  (fetch %.1fs, build %.1fs, boot %.1fs, tests %.1fs)\n",
		report.Mark(k.Status), k.Name, k.Status, countsText(c), k.Timing.Fetch, k.Timing.Build, k.Timing.Boot, k.Timing.Tests)
	if _, rest, ok := strings.Cut(k.Error, "\n"); ok && k.Status == report.Error {
		fmt.Fprintf(w, "    %s\n", indent(rest, "    "))
	}
	if k.Note != "" {
		fmt.Fprintf(w, "    note: %s\n", indent(k.Note, "    "))
	}
	if len(k.Reboots) > 0 {
		fmt.Fprintf(w, "    %s\n", k.RebootText())
	}
	if k.Build != nil {
		for _, d := range k.Build.Warnings {
			fmt.Fprintf(w, "    %s\n", d)
		}
	}
	if verbose {
		printOtherTests(w, rep, k)
	}
	for _, g := range k.NotRunTests() {
		var names []string
		for _, t := range g.Tests {
			names = append(names, t.Name)
		}
		fmt.Fprintf(w, "    %s %d test(s) %s:\n        %s\n", report.Mark(report.NotRun), len(g.Tests), g.Why, strings.Join(names, ", "))
	}
	for _, f := range k.Findings {
		switch {
		case f.Allowed != nil && f.Kind != report.KindTaint:
			fmt.Fprintf(w, "    🐞 %s, %s\n", f.Reason(), f.Allowed)
			printSource(w, f, "       ")
		case (f.KernelOwn() && f.Kind != report.KindTaint) || (verbose && f.Kind == report.KindTaint):
			// Out-of-tree modules always taint the kernel: said with -v.
			fmt.Fprintf(w, "    🐞 %s\n", f.Reason())
			printSource(w, f, "       ")
		}
	}
	printCoverage(w, k)
	if len(k.Files) > 0 && k.Status != report.Pass {
		fmt.Fprintf(w, "    logs: %s\n", filepath.Dir(firstFile(k.Files)))
		if p, ok := k.Files["repro.sh"]; ok {
			fmt.Fprintf(w, "    replay: sh %s\n", p)
		}
	}
}

// printOtherTests prints a kernel's tests that did not pass, with what
// they printed.
func printOtherTests(w io.Writer, rep *report.Report, k *report.Kernel) {
	for _, t := range k.Tests {
		if t.Status == report.Pass {
			continue
		}
		after := ""
		if t.AfterReboot {
			after = " (after a reboot)"
		}
		fmt.Fprintf(w, "    %s %s: %s%s\n", report.Mark(t.Status), rep.Label(report.TestKey{Package: t.Package, Name: t.Name}), t.Status, after)
		fmt.Fprintf(w, "        %s\n", indent(strings.TrimSpace(t.Output), "        "))
	}
}

// countsText says how a kernel's tests went; tests an interruption or an
// error kept from a verdict are not counted as failed.
func countsText(c report.Counts) string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", c.Pass, c.Fail, c.Skip)
	if c.Other > 0 {
		s += fmt.Sprintf(", %d without a verdict", c.Other)
	}
	return s
}

func firstFile(m map[string]string) string {
	for _, name := range []string{"console.log", "build.log"} {
		if p, ok := m[name]; ok {
			return p
		}
	}
	for _, p := range m {
		return p
	}
	return ""
}

func indent(s, prefix string) string { return strings.ReplaceAll(s, "\n", "\n"+prefix) }

// printCoverage prints a kernel's coverage, per source file and in all.
func printCoverage(w io.Writer, k *report.Kernel) {
	rows, total := k.CoverageRows()
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "    coverage: %s lines, %d/%d branches\n", report.CoverageCell(total), total.BranchesHit, total.Branches)
	width := 0
	for _, r := range rows {
		width = max(width, len(r.Name))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "      %-*s  %s\n", width, r.Name, report.CoverageCell(r.Summary))
	}
}
