package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/spf13/cobra"
)

// fuzzFlags are kmodvm fuzz's: its own, then the VM's and the reports'
// as run has them.
type fuzzFlags struct {
	vm       vmFlags
	report   reportFlags
	kernels  []string
	harness  string
	duration time.Duration
	minimize time.Duration
	// replayMinimize is minimize when --replay is given and
	// --minimize-time named: a replay runs its input once, and minimizes
	// it only when asked.
	replayMinimize time.Duration
	fuzzArgs       []string
	out            string
	noSnapshot     bool
	noCmp          bool
	replay         string
	corpus         string
	faultGrace     time.Duration
	// jobs is --jobs: fuzz jobs at once per kernel (0: one per host CPU).
	jobs int
	// coverage is --coverage: the corpus replayed on gcov's path after.
	coverage bool
}

// fuzzMargin is the time a fuzz job's binary gets beyond --duration:
// libFuzzer's start, its final statistics, the glue's last line.
const fuzzMargin = 2 * time.Minute

func newFuzzCmd(g *globalFlags) *cobra.Command {
	f := &fuzzFlags{}
	cmd := &cobra.Command{
		Use:   "fuzz",
		Short: "Fuzz a module's device with a libFuzzer harness, guided by the kernel's KCOV",
		Long: `Build the module with KCOV instrumentation for each kernel (kernels with
CONFIG_KCOV: the -debug ones), compile the harness (C, a libFuzzer
LLVMFuzzerTestOneInput that drives the module's device) with clang-16 and
kmodvm's KCOV glue, and run it in the kernel's VM with the module loaded for
--duration. libFuzzer sees the module's coverage as its own. The report says
execs/s, the module's PCs and edges reached, the corpus, and what the kernel
reported (KASAN, WARN, BUG, Oops, ...).

With no --module and --harness it fuzzes the bundled mmapdrv driver with
kmod/fuzz/mmapdrv_fuzz.c (docs/fuzzing.md).

An input that a kernel report followed is minimized in a fresh VM
(--minimize-time) and kept in the kernel's --out directory as
crash-<sha1>, the original beside it as original-<sha1>; fuzzing then goes
on in a fresh VM until --duration is spent, a finding seen before counted,
not kept again. --replay FILE runs one input instead of fuzzing (and
minimizes it, given --minimize-time), and the kernel's repro.sh replays it
too. The corpus libFuzzer grew is kept in --corpus, and seeds the next
run given the same.

Exit status: 0 no finding, 1 a kernel finding or a failed build (a harness
that does not compile included), 2 usage error (a kernel without KCOV
too), 3 infrastructure error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q (use --kernels, --module, --harness)", args)
			}
			if cmd.Flags().Changed("minimize-time") {
				f.replayMinimize = f.minimize
			}
			return runFuzz(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.kernels, "kernels", "k", []string{"6.1-debug"}, "kernel selectors with KCOV, comma-separated")
	fl.StringVar(&f.harness, "harness", "", "libFuzzer harness, one C file defining LLVMFuzzerTestOneInput (default kmod/fuzz/mmapdrv_fuzz.c with the bundled module)")
	fl.DurationVar(&f.duration, "duration", 10*time.Minute, "how long each kernel's job fuzzes (in fresh VMs after a finding, until it is spent)")
	fl.DurationVar(&f.minimize, "minimize-time", time.Minute, "how long libFuzzer's crash minimizer has, in a fresh VM, to shrink the input of a kernel finding (0: not minimized)")
	fl.StringArrayVar(&f.fuzzArgs, "fuzz-arg", nil, "libFuzzer flag for the harness, e.g. -max_len=256 (repeatable)")
	fl.StringVar(&f.corpus, "corpus", "", "corpus directory: the job's seeds, and where the corpus it grew is kept, each input named by its sha1 (default <out>/corpus)")
	fl.StringVar(&f.replay, "replay", "", "run this one input (a crash-<sha1> a job kept) with the harness instead of fuzzing")
	fl.IntVarP(&f.jobs, "jobs", "j", 1, "fuzz jobs at once per kernel, each in VMs of its own sharing --corpus (0: one per host CPU; more than the host's CPUs are cut to them)")
	fl.BoolVar(&f.coverage, "coverage", false, "then replay the corpus once with the modules built with gcov profiling (as run --coverage) and report the lines it reached; lcov tracefiles in --out")
	fl.BoolVar(&f.noCmp, "no-cmp", false, "do not feed libFuzzer the operands of the module's comparisons (a benchmark knob: to measure what they bring)")
	f.vm.add(fl, vmHelp{
		module:     "module source directory (repeatable; default kmod, the bundled driver)",
		tests:      "Go test package directory run in the guest before fuzzing (repeatable; default none)",
		kernelFlag: "kernels",
	})
	fl.StringVarP(&f.out, "out", "o", "kmodvm-out", "directory for per-kernel artifacts and the harness binary")
	fl.DurationVar(&f.faultGrace, "fault-grace", 0, "after a kernel Oops, BUG or KASAN report, end a harness whose output stops this long (default as for run)")
	fl.BoolVar(&f.noSnapshot, "no-snapshot", false, "boot every VM instead of restoring the kernel's snapshot of a booted guest")
	f.report.add(fl, "write the JSON report to this file", "write the self-contained HTML report (logs embedded) to this file")
	return cmd
}

func runFuzz(cmd *cobra.Command, g *globalFlags, f *fuzzFlags) error {
	if err := f.useDefaults(); err != nil {
		return err
	}
	a, err := fuzzArch(g.arch)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(f.out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if f.corpus == "" {
		f.corpus = filepath.Join(out, "corpus")
	}
	if f.replay == "" {
		if err := os.MkdirAll(f.corpus, 0o755); err != nil {
			return err
		}
	}
	bin := filepath.Join(out, "fuzz-harness-"+a.Name)
	err = harness.Build(cmd.Context(), harness.Options{Source: f.harness, Out: bin, Arch: a})
	var ce *harness.CompileError
	if errors.As(err, &ce) {
		return &exitError{code: exitFailed, err: err}
	} else if err != nil {
		return err
	}
	prog := newProgress(cmd.ErrOrStderr(), g, f.kernels, nil)
	job, timeout := f.job(bin, a.Name)
	cfg := vmtest.Config{
		Kernels: f.kernels, Arch: []string{a.Name}, TestTimeout: timeout, FaultGrace: f.faultGrace,
		CacheDir: g.cache, OutDir: out, Offline: g.offline, Progress: prog.step, Log: prog.log(), NoSnapshot: f.noSnapshot,
		Fuzz: job,
	}
	f.vm.apply(&cfg)
	rep, err := vmtest.RunMatrix(cmd.Context(), cfg)
	if rep == nil {
		rep = &report.Report{}
	}
	prog.finish(rep)
	if err != nil {
		var ce *vmtest.ErrConfig
		if errors.As(err, &ce) {
			return usageError{err}
		}
		return err
	}
	if f.coverage && f.replay == "" && !rep.Partial {
		if err := fuzzCoverage(cmd, g, f, job, out, rep); err != nil {
			return err
		}
	}
	rep.Host.Command = strings.Join(os.Args, " ")
	paths, werr := f.report.write(rep, filepath.Join(out, "report.json"))
	printFuzzResults(cmd, rep, g.verbose, paths, f.replay)
	if p := filepath.Join(out, runcfg.CoverageFile); f.coverage && fileExists(p) {
		fmt.Fprintf(cmd.OutOrStdout(), "coverage: %s\n", p)
	}
	switch {
	case werr != nil:
		return &exitError{code: exitInfra, err: werr}
	case rep.Partial:
		return &exitError{code: exitInfra, err: errors.New("interrupted: the reports are partial")}
	case rep.InfraError():
		return &exitError{code: exitInfra, err: errors.New("infrastructure error on some kernels (see above)")}
	case rep.Failed():
		return &exitError{code: exitFailed}
	}
	return nil
}

// useDefaults fills in the bundled driver and its harness when neither
// --module nor --harness is given; one without the other is an error.
func (f *fuzzFlags) useDefaults() error {
	if len(f.vm.modules) == 0 && f.harness == "" {
		root, err := bundledRoot()
		if err != nil {
			return usagef("no --module or --harness given and the bundled example was not found: %v", err)
		}
		f.vm.modules = []string{filepath.Join(root, "kmod")}
		f.harness = filepath.Join(root, "kmod", "fuzz", "mmapdrv_fuzz.c")
	}
	switch {
	case f.harness == "":
		return usagef("--harness is required with --module")
	case len(f.vm.modules) == 0:
		return usagef("--module is required with --harness")
	case f.duration <= 0:
		return usagef("--duration %v: want a positive duration", f.duration)
	case f.minimize < 0:
		return usagef("--minimize-time %v: want a duration, 0 for none", f.minimize)
	case f.jobs < 0:
		return usagef("--jobs %d: want a number of jobs, 0 for one per host CPU", f.jobs)
	}
	if f.replay != "" {
		p, err := filepath.Abs(f.replay)
		if err != nil {
			return usageError{err}
		}
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			return usagef("--replay %s: want an input file (%v)", f.replay, err)
		}
		f.replay = p
	}
	return nil
}

// job is the fuzz job of the run and its binary's time: --duration and
// the margin, or the margin alone for the one input of --replay.
func (f *fuzzFlags) job(bin, arch string) (*vmtest.Fuzz, time.Duration) {
	if f.replay != "" {
		return &vmtest.Fuzz{Binary: bin, Arch: arch, Args: f.fuzzArgs, NoCmp: f.noCmp, Replay: f.replay, Minimize: f.replayMinimize}, fuzzMargin
	}
	return &vmtest.Fuzz{Binary: bin, Arch: arch, Args: f.libFuzzerArgs(), NoCmp: f.noCmp, Corpus: f.corpus,
		Duration: f.duration, Minimize: f.minimize, Jobs: fuzzJobs(f.jobs, runtime.NumCPU())}, f.duration + fuzzMargin
}

// fuzzJobs is the jobs a kernel fuzzes with for --jobs asked on a host
// of cpus CPUs: at most one per CPU, since under TCG each guest CPU is a
// host thread, and more jobs only split the same CPUs (0 asks for one
// per CPU).
func fuzzJobs(asked, cpus int) int {
	if asked == 0 || asked > cpus {
		return max(cpus, 1)
	}
	return asked
}

// fuzzArch is the one architecture a fuzz run's kernels are of: the
// harness is built once, for it.
func fuzzArch(names []string) (*arch.Arch, error) {
	name := arch.Default
	switch {
	case len(names) > 1 || (len(names) == 1 && names[0] == vmtest.AllArches):
		return nil, usagef("kmodvm fuzz runs kernels of one architecture at a time, not --arch %s", strings.Join(names, ","))
	case len(names) == 1:
		name = names[0]
	}
	a, err := arch.Lookup(name)
	if err != nil {
		return nil, usageError{err}
	}
	if a.LibFuzzer == "" {
		return nil, usagef("kmodvm fuzz does not build harnesses for %s yet", a.Name)
	}
	return a, nil
}

// libFuzzerArgs are the harness's flags: the final statistics the summary
// reads, crash files in the guest's /tmp, then the user's. The time
// budget is the job's Duration: each VM's is what is left of it.
func (f *fuzzFlags) libFuzzerArgs() []string {
	return append([]string{"-print_final_stats=1", "-artifact_prefix=/tmp/"}, f.fuzzArgs...)
}

// printFuzzResults prints the run's outcome as run does, then each
// kernel's fuzz job.
func printFuzzResults(cmd *cobra.Command, rep *report.Report, verbose bool, paths []string, replay string) {
	w := cmd.OutOrStdout()
	printOutcome(w, rep, verbose)
	fmt.Fprintln(w)
	for _, k := range rep.Kernels {
		for _, t := range k.Tests {
			if t.Package == runcfg.FuzzName && t.Name == runcfg.FuzzName {
				printFuzzJob(w, k, t, replay)
				printCorpusCoverage(w, k)
			}
		}
	}
	for _, p := range paths {
		fmt.Fprintf(w, "report: %s\n", p)
	}

}
