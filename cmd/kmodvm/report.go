package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Merge and render JSON reports",
		Long: `Work with the JSON reports that kmodvm run --json writes: merge the parts
of a matrix split over CI jobs (or over --shard runs) and render them.`,
	}
	cmd.AddCommand(newReportMergeCmd(), newReportShowCmd())
	return cmd
}

type mergeFlags struct {
	report      reportFlags
	sourceRoot  string
	annotations bool
	expect      []string
}

// outputs reports whether any rendering was asked for; without one, merge
// prints the Markdown matrix.
func (f *mergeFlags) outputs() bool { return f.report.any() || f.annotations }

func newReportMergeCmd() *cobra.Command {
	f := &mergeFlags{}
	cmd := &cobra.Command{
		Use:   "merge part.json... [--json f] [--junit f] [--markdown f] [--html f] [--lcov f] [--annotations]",
		Short: "Merge JSON reports into one and render it",
		Long: `Merge JSON reports (for example one per CI job, one kernel each) into one
report and write the renderings asked for. With no output flag, print the
Markdown matrix. A kernel present in several parts keeps its last one.

--lcov writes the parts' module coverage (kmodvm run --coverage), summed
over all their kernels, as one lcov tracefile: what a run on the whole
matrix writes as coverage.info.

--annotations prints GitHub workflow commands (::error file=...::) to
standard output: the module's compiler errors and warnings on their lines,
then each failed step, test and kernel-log finding, once for all the
kernels it happened on. --expect names the
kernel selectors the parts must cover: a missing one (its job died before it
wrote its part) becomes an infrastructure error in the merged report rather
than a silent gap in the matrix.

Exit status: 0 all passed, 1 a build, load or test failed, 2 usage error (an
unreadable part, or no parts and no --expect), 3 infrastructure error on some
kernel, a missing or partial part, or a report that could not be written.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// With --expect, no parts at all is a verdict (every kernel's job
			// died), not a usage error.
			if len(args) == 0 && len(f.expect) == 0 {
				return usagef("no reports to merge (see `kmodvm report merge --help`)")
			}
			return runMerge(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	f.report.add(fl, "write the merged JSON report to this file", "write the self-contained HTML report, logs embedded, to this file")
	fl.StringVar(&f.report.lcov, "lcov", "", "write the kernels' module coverage, summed, as an lcov tracefile (coverage.info) to this file")
	fl.StringVar(&f.report.title, "title", "", "title of the HTML report (default \"kmodvm report\")")
	fl.BoolVar(&f.annotations, "annotations", false, "print GitHub annotations for diagnostics, failures and findings")
	fl.StringVar(&f.sourceRoot, "source-root", "", "directory annotations name files relative to (default $GITHUB_WORKSPACE, else the working directory)")
	fl.StringSliceVar(&f.expect, "expect", nil, "kernel selectors the parts must cover, comma-separated")
	return cmd
}

func newReportShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show report.json",
		Short: "Print a JSON report's Markdown matrix",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("want one report, got %d (use `kmodvm report merge` for several)", len(args))
			}
			rep, err := report.ReadFile(args[0])
			if err != nil {
				return usageError{err}
			}
			return rep.WriteMarkdown(cmd.OutOrStdout())
		},
	}
}

func runMerge(cmd *cobra.Command, paths []string, f *mergeFlags) error {
	parts, err := readReports(paths)
	if err != nil {
		return usageError{err}
	}
	rep := report.Merge(parts...)
	if f.report.lcov != "" && rep.Coverage() == nil {
		return usagef("--lcov: no kernel in the parts has coverage (their runs need --coverage on a kernel with GCOV_KERNEL, a -debug one)")
	}
	expectKernels(rep, f.expect)
	stdout := cmd.OutOrStdout()
	if !f.outputs() {
		if err := rep.WriteMarkdown(stdout); err != nil {
			return &exitError{code: exitInfra, err: err}
		}
		return mergeVerdict(rep)
	}
	if f.annotations {
		if err := rep.WriteAnnotations(stdout, f.annotationRoot()); err != nil {
			return &exitError{code: exitInfra, err: err}
		}
	}
	written, err := f.report.write(rep)
	for _, p := range written {
		fmt.Fprintf(cmd.ErrOrStderr(), "report: %s\n", p)
	}
	if err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	return mergeVerdict(rep)
}

// annotationRoot is the checkout the module's files are named relative to:
// GitHub places an annotation only by a path relative to the repository.
func (f *mergeFlags) annotationRoot() string {
	if f.sourceRoot != "" {
		return f.sourceRoot
	}
	if ws := os.Getenv("GITHUB_WORKSPACE"); ws != "" {
		return ws
	}
	return "."
}

// readReports reads every part, naming all the unreadable ones at once so
// that a CI log shows every broken artifact, not only the first.
func readReports(paths []string) ([]*report.Report, error) {
	var parts []*report.Report
	var errs []error
	for _, p := range paths {
		r, err := report.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read report: %w", err))
			continue
		}
		parts = append(parts, r)
	}
	return parts, errors.Join(errs...)
}

// expectKernels adds an infrastructure error for each selector no kernel of
// rep came from. In a CI matrix a job that dies before writing its part
// leaves no file at all, and the glob that collects the parts cannot tell.
func expectKernels(rep *report.Report, selectors []string) {
	have := map[string]bool{}
	for _, k := range rep.Kernels {
		have[k.Selector], have[k.Name] = true, true
	}
	added := false
	for _, s := range selectors {
		if s = strings.TrimSpace(s); s == "" || have[s] {
			continue
		}
		have[s] = true
		rep.Kernels = append(rep.Kernels, &report.Kernel{
			Name: s, Selector: s, Status: report.Error,
			Error: "no report for this kernel: its part is missing (did its job fail before writing it?)",
		})
		added = true
	}
	if added {
		rep.Sort()
	}
}

// mergeVerdict turns the merged report into the exit status, with the same
// precedence as kmodvm run: no verdict (3) over a failure (1).
func mergeVerdict(rep *report.Report) error {
	var failed, broken []string
	for _, k := range rep.Kernels {
		switch {
		case k.Status == report.Error:
			broken = append(broken, k.Name)
		case k.Status != report.Pass && k.Status != report.Skip: // skipped: a series its architecture lacks
			failed = append(failed, k.Name)
		}
	}
	switch {
	case len(broken) > 0:
		return &exitError{code: exitInfra, err: fmt.Errorf("infrastructure error on %s", strings.Join(broken, ", "))}
	case rep.Partial:
		return &exitError{code: exitInfra, err: errors.New("a part is partial: its run was interrupted")}
	case len(failed) > 0:
		return &exitError{code: exitFailed, err: fmt.Errorf("failed on %s", strings.Join(failed, ", "))}
	}
	return nil
}
