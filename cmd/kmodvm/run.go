package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/allow"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/spf13/cobra"
)

type runFlags struct {
	vm          vmFlags
	report      reportFlags
	config      configFlags
	kernels     []string
	testArgs    []string
	jobs        int
	timeout     time.Duration
	testTimeout time.Duration
	out         string
	werror, w1  bool
	coverage    bool
	faults      bool
	sweepJobs   int
	scoped      int
	shard       string
	keep        bool
	noSnapshot  bool
	faultGrace  time.Duration
	maxReboots  int
	rebootTime  time.Duration
}

func newRunCmd(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Build, load and test modules on a kernel matrix",
		Long: `Build each module for each kernel, boot the kernel in QEMU with the modules
and the Go test packages, and report per kernel and per test.

With no flags it runs the bundled mmapdrv module and its suite on the default
matrix (` + strings.Join(vmtest.DefaultKernels(), ", ") + `).

The settings may come from a project file, kmodvm.toml, in the working
directory or the nearest parent up to the repository's root (or --config):
kernels, arch, modules, tests, params, and an allow-list of known kernel
findings, each with a reason and an expiry date (docs/config.md). A flag
given on the command line overrides the file's setting.

Exit status: 0 all passed (allowed findings included), 1 a build, load or
test failed, a finding no allow-list entry accepted, or an entry expired, 2
usage or configuration error (a malformed kmodvm.toml too), 3
infrastructure error (kmodvm or the VM broke).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q (use --kernels, --module, --tests)", args)
			}
			return runRun(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.kernels, "kernels", "k", nil, "kernel selectors, comma-separated: 6.1, 7.3-rt, 6.1-debug (KASAN, kmemleak, lockdep, ...), 6.1-kcsan, a path "+defaultKernelsHelp())
	f.vm.add(fl, vmHelp{
		module:     "module source directory (repeatable; default kmod)",
		tests:      "Go test package directory run in the guest (repeatable; default guest/mmapdrv)",
		cpus:       "; use 2 or more to exercise locking",
		kernelFlag: "kernels",
	})
	fl.StringArrayVar(&f.testArgs, "test-arg", nil, "argument for every guest test binary, e.g. -test.run=TestMmap (repeatable)")
	fl.IntVarP(&f.jobs, "jobs", "j", 0, "kernels run at once (default: one per CPU)")
	fl.DurationVar(&f.timeout, "timeout", 0, "bound on each kernel's whole run, reboots included; shortens --test-timeout to fit (default: from --test-timeout)")
	fl.DurationVar(&f.testTimeout, "test-timeout", 0, "bound on each guest test binary (default 10m under TCG, 3m under KVM, times a debug kernel's slowdown)")
	fl.DurationVar(&f.faultGrace, "fault-grace", 0, "after a kernel Oops, BUG, KASAN report, lockup or RCU stall, end a test that makes no progress this long, and a VM whose agent falls silent this long (default 20s under TCG, 10s under KVM, times a debug kernel's slowdown; negative: wait for --test-timeout)")
	fl.IntVar(&f.maxReboots, "max-reboots", 0, "fresh VMs per kernel for the tests a crash or hang left (default 10; negative: none); the tests left then are reported not run")
	fl.DurationVar(&f.rebootTime, "reboot-time", 0, "time those VMs may take after a kernel's first crash; one still running then is ended, its test not run (default 5 fault graces: 100s under TCG, 50s under KVM; negative: only --max-reboots bounds them)")
	fl.StringVarP(&f.out, "out", "o", "", "directory for per-kernel artifacts (default ./kmodvm-out)")
	f.report.add(fl, "write the JSON report to this file", "write the self-contained HTML report (logs embedded) to this file")
	fl.BoolVar(&f.werror, "werror", false, "fail module builds that warn")
	fl.BoolVar(&f.w1, "W1", false, "build modules with W=1")
	fl.BoolVar(&f.coverage, "coverage", false, "build modules with gcov profiling and report the lines the tests ran (kernels with CONFIG_GCOV_KERNEL: the -debug ones); lcov tracefiles in --out")
	addInjectFaultsFlag(fl, &f.faults, &f.sweepJobs, &f.scoped)
	fl.BoolVar(&f.noSnapshot, "no-snapshot", false, "boot every VM instead of restoring the kernel's snapshot of a booted guest (docs/snapshots.md)")
	fl.BoolVar(&f.keep, "keep", false, "keep each kernel's guest image in its --out directory (initramfs.cpio) for repro.sh, instead of the cache's layers")
	fl.StringVar(&f.shard, "shard", "", "run only shard i of n of the kernels (i/n), e.g. one CI job each; merge with `kmodvm report merge`")
	f.config.add(fl)
	return cmd
}

func runRun(cmd *cobra.Command, g *globalFlags, f *runFlags) error {
	rules, err := f.readProject(cmd, g)
	if err != nil {
		return err
	}
	if err := f.useDefaults(); err != nil {
		return err
	}
	kernels, err := f.selectKernels()
	if err != nil {
		return err
	}
	out, err := filepath.Abs(f.out)
	if err != nil {
		return err
	}
	command := strings.Join(os.Args, " ")
	prog := newProgress(cmd.ErrOrStderr(), g, kernels, expectedTests(filepath.Join(out, "report.json"), command))
	cfg := vmtest.Config{
		Kernels: kernels, Arch: g.arch, TestArgs: f.testArgs,
		Jobs: f.jobs, Timeout: f.timeout, TestTimeout: f.testTimeout, FaultGrace: f.faultGrace, MaxReboots: f.maxReboots, RebootTime: f.rebootTime,
		CacheDir: g.cache, OutDir: out, W1: f.w1, Werror: f.werror, Coverage: f.coverage, InjectFaults: f.faults, SweepJobs: f.sweepJobs, ScopeFaults: f.scoped, Offline: g.offline,
		Progress: prog.step, Log: prog.log(), Keep: f.keep, NoSnapshot: f.noSnapshot, Allow: rules,
	}
	f.vm.apply(&cfg)
	if f.vm.gdb != "" {
		cfg.OnDebugger = waitForDebugger(cmd.ErrOrStderr(), os.Stdin, "run the tests")
	}
	started := time.Now()
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
	rep.Host.Command = command
	rep.Host.Shard = f.shard
	paths, werr := f.report.write(rep, filepath.Join(out, "report.json"))
	f.printResults(cmd, rep, g.verbose, out, paths)
	if werr != nil {
		return &exitError{code: exitInfra, err: werr}
	}
	switch {
	case rep.Partial:
		return &exitError{code: exitInfra, err: errors.New("interrupted: the reports are partial")}
	case rep.InfraError():
		return &exitError{code: exitInfra, err: errors.New("infrastructure error on some kernels (see above)")}
	}
	// An expired allow-list entry allowed nothing, and fails the run
	// whatever else happened: it was due for a look.
	if overdue := rules.Overdue(started, rep); overdue != nil || rep.Failed() {
		return &exitError{code: exitFailed, err: overdue}
	}
	return nil
}

// readProject reads the project file (kmodvm.toml) the flags choose, if
// any, sets the flags the command line did not give from it, and returns
// its allow-list.
func (f *runFlags) readProject(cmd *cobra.Command, g *globalFlags) (allow.List, error) {
	proj, err := f.config.load()
	if err != nil || proj == nil {
		return nil, err
	}
	if err := proj.apply(cmd.Flags()); err != nil {
		return nil, err
	}
	if !g.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "kmodvm: settings from %s\n", proj.path)
	}
	return proj.rules, nil
}

// useDefaults fills in what a run without --module, --tests or --out uses:
// the bundled example and ./kmodvm-out.
func (f *runFlags) useDefaults() error {
	if len(f.vm.modules) == 0 && len(f.vm.tests) == 0 {
		root, err := bundledRoot()
		if err != nil {
			return usagef("no --module or --tests given and the bundled example was not found: %v", err)
		}
		f.vm.modules = []string{filepath.Join(root, "kmod")}
		f.vm.tests = []string{filepath.Join(root, "guest", "mmapdrv")}
	}
	if f.out == "" {
		f.out = "kmodvm-out"
	}
	return nil
}

// selectKernels returns the kernel selectors the run takes: --kernels or
// the default matrix, cut to --shard's part.
func (f *runFlags) selectKernels() ([]string, error) {
	kernels := f.kernels
	if len(kernels) == 0 {
		kernels = vmtest.DefaultKernels()
	}
	if f.shard == "" {
		return kernels, nil
	}
	i, n, err := vmtest.ParseShard(f.shard)
	if err != nil {
		return nil, usageError{err}
	}
	if kernels = vmtest.Shard(kernels, i, n); len(kernels) == 0 {
		return nil, usagef("--shard %s selects no kernel", f.shard)
	}
	return kernels, nil
}

// printResults prints what a run ends with: what failed, each kernel's
// summary and the matrix (printOutcome), the files written, and the
// GitHub annotations in a workflow.
func (f *runFlags) printResults(cmd *cobra.Command, rep *report.Report, verbose bool, out string, paths []string) {
	stdout := cmd.OutOrStdout()
	printOutcome(stdout, rep, verbose)
	fmt.Fprintln(stdout)
	for _, p := range paths {
		fmt.Fprintf(stdout, "report: %s\n", p)
	}
	if p := filepath.Join(out, "coverage.info"); f.coverage && fileExists(p) {
		fmt.Fprintf(stdout, "coverage: %s\n", p)
	}
	if os.Getenv("GITHUB_ACTIONS") == "true" {
		// Compiler diagnostics and failures as annotations on the pull
		// request, with paths relative to the checkout.
		root := os.Getenv("GITHUB_WORKSPACE")
		if root == "" {
			root, _ = os.Getwd()
		}
		if err := rep.WriteAnnotations(stdout, root); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "kmodvm: annotations:", err)
		}
	}
}

// bundledRoot finds the kmodvm source tree for the default example: the
// working directory or one of its parents.
func bundledRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "kmod", "mmapdrv.c")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run kmodvm from the kmodvm source tree, or pass --module and --tests")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
