package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/coverage"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/spf13/cobra"
)

// corpusCoverageDir is the run of --coverage's, under --out: its own
// kernels' directories, builds and VMs.
const corpusCoverageDir = "corpus-coverage"

// fuzzCoverage replays the corpus the fuzz run kept (--corpus) once, on
// each kernel that fuzzed, in a run of its own on run --coverage's path:
// the modules built with gcov profiling, the harness run with libFuzzer's
// -runs=0 (every input of its corpus directory once, then exit), the
// guest's gcov data read with the kernel toolchain's gcov. The lines it
// reached become each kernel's coverage in rep (and its coverage.info),
// the kernels' summed <out>/coverage.info. A kernel the replay failed on
// says why in its note: the fuzz run's result stands either way.
func fuzzCoverage(cmd *cobra.Command, g *globalFlags, f *fuzzFlags, job *vmtest.Fuzz, out string, rep *report.Report) error {
	var sels []string
	for _, k := range rep.Kernels {
		if fuzzTestOf(k) != nil {
			sels = append(sels, k.Selector)
		}
	}
	if len(sels) == 0 {
		return nil
	}
	args := append(append([]string{}, f.fuzzArgs...), "-runs=0", "-print_final_stats=1", "-artifact_prefix=/tmp/")
	prog := newProgress(cmd.ErrOrStderr(), g, sels, nil)
	cfg := vmtest.Config{
		Kernels: sels, Arch: []string{job.Arch}, TestTimeout: 2 * fuzzMargin, FaultGrace: f.faultGrace,
		CacheDir: g.cache, OutDir: filepath.Join(out, corpusCoverageDir), Offline: g.offline, Progress: prog.step, Log: prog.log(),
		NoSnapshot: f.noSnapshot, Coverage: true,
		Fuzz: &vmtest.Fuzz{Binary: job.Binary, Arch: job.Arch, Args: args, NoCmp: true, Corpus: f.corpus, Jobs: 1},
	}
	f.vm.apply(&cfg)
	cfg.Tests = nil // the corpus's coverage alone: run --coverage has the suite's
	cov, err := vmtest.RunMatrix(cmd.Context(), cfg)
	if cov == nil {
		cov = &report.Report{}
	}
	prog.finish(cov)
	if err != nil { // a kernel without gcov among them, say: the fuzz run's result stands
		cov = &report.Report{}
		fmt.Fprintf(cmd.ErrOrStderr(), "kmodvm: --coverage: replaying the corpus: %v\n", err)
	}
	takeCorpusCoverage(rep, cov)
	files := rep.Coverage()
	if files == nil {
		return nil
	}
	return atomicfile.Write(filepath.Join(out, runcfg.CoverageFile), func(w *os.File) error {
		return coverage.WriteLCOV(w, "kmodvm-fuzz-corpus", files)
	})
}

// takeCorpusCoverage makes the coverage of each kernel of cov (the
// corpus's replay) that of the same kernel in rep, with its
// coverage.info, or says in rep's kernel why there is none.
func takeCorpusCoverage(rep, cov *report.Report) {
	for _, k := range rep.Kernels {
		if fuzzTestOf(k) == nil {
			continue
		}
		var c *report.Kernel
		for _, ck := range cov.Kernels {
			if ck.Selector == k.Selector {
				c = ck
			}
		}
		switch {
		case c == nil:
			k.Note = strings.TrimSpace(k.Note + " Coverage of the corpus: the replay did not run.")
		case len(c.Coverage) == 0:
			why := strings.TrimSpace(c.Error + " " + c.Note)
			k.Note = strings.TrimSpace(fmt.Sprintf("%s Coverage of the corpus: none came (%s).", k.Note, why))
		default:
			k.Coverage = c.Coverage
			if p := c.Files[runcfg.CoverageFile]; p != "" {
				k.Files[runcfg.CoverageFile] = p
			}
		}
	}
}

// fuzzTestOf is k's fuzz job, nil if it ran none.
func fuzzTestOf(k *report.Kernel) *report.Test {
	for _, t := range k.Tests {
		if t.Package == runcfg.FuzzName && t.Name == runcfg.FuzzName {
			return t
		}
	}
	return nil
}

// printCorpusCoverage prints the lines the corpus reached on k, if
// --coverage measured them.
func printCorpusCoverage(w io.Writer, k *report.Kernel) {
	rows, total := k.CoverageRows()
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "  the corpus replayed reached %s lines, %d/%d branches of the module", report.CoverageCell(total), total.BranchesHit, total.Branches)
	if p := k.Files[runcfg.CoverageFile]; p != "" {
		fmt.Fprintf(w, " (lcov: %s)", p)
	}
	fmt.Fprintln(w)
}
