package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// minimizeRuns bounds each step of libFuzzer's crash minimizer: the
// smaller inputs it tries before it gives up on finding one that crashes.
const minimizeRuns = 2000

// minimizerCrashed is what libFuzzer's -minimize_crash prints once the
// input brought its crash, before it tries smaller ones.
const minimizerCrashed = "caused a crash"

// minimizeMargin is what the minimizer's binary gets beyond Fuzz.Minimize:
// libFuzzer's and the glue's start, the last step's end.
const minimizeMargin = 30 * time.Second

// keepFinding minimizes the input of the kernel report c (Fuzz.Minimize)
// and keeps it, and the original when it shrank, in the kernel's
// directory, saying so in the job's output and e's files (e is the
// report of the job's first VM: the kernel's, or a job's beside it).
func (run *kernelRun) keepFinding(ctx context.Context, e *report.Kernel, job *report.Test, c harness.KernelCrash) error {
	min, how := run.minimize(ctx, e, c)
	return keepFuzzCrash(e, job, run.dir, c, min, how)
}

// minimize runs libFuzzer's crash minimizer (-minimize_crash=1) on c's
// input in a fresh VM restored from the kernel's snapshot (the kernel the
// report came from may be damaged), for Fuzz.Minimize, and returns the
// smallest input after which the kernel reported the same bug
// (harness.Smallest), and what it did. The glue's abort on a kernel
// report is what makes each try a crash or not to libFuzzer; its
// DEDUP_TOKEN, the report's line, stops the minimizer at another bug. Its
// output is kept beside the input, as minimize-<sha1>.log, named in e's
// files.
func (run *kernelRun) minimize(ctx context.Context, e *report.Kernel, c harness.KernelCrash) (harness.KernelCrash, string) {
	f := run.r.cfg.Fuzz
	if f.Minimize <= 0 {
		return c, ""
	}
	if _, ok := run.budget.bootable(); !ok {
		return c, "not minimized: no time was left before the run's deadline"
	}
	tmp, err := os.MkdirTemp(run.dir, ".minimize-")
	if err != nil {
		return c, "not minimized: " + err.Error()
	}
	defer os.RemoveAll(tmp)
	in := filepath.Join(tmp, harness.CrashName(c.Input))
	if err := os.WriteFile(in, c.Input, 0o644); err != nil {
		return c, "not minimized: " + err.Error()
	}
	secs := max(int(f.Minimize/time.Second), 1)
	g := runcfg.Fuzz{Binary: f.Binary, Arch: f.Arch, NoCmp: f.NoCmp, Replay: in,
		Args: append(append([]string{}, f.Args...), "-minimize_crash=1", fmt.Sprintf("-runs=%d", minimizeRuns),
			fmt.Sprintf("-max_total_time=%d", secs), "-exact_artifact_path=/tmp/kmodvm-minimized")}
	start := time.Now()
	vm := run.fuzzVM(ctx, &g, run.nextVM(), machineOf(run.m, f.Minimize+minimizeMargin), "minimizing a finding's input", 0)
	took := time.Since(start).Round(time.Second)
	job := fuzzJobOf(vm)
	if job == nil {
		return c, "not minimized: its VM ran no minimizer: " + vm.Error
	}
	log := filepath.Join(run.dir, "minimize-"+strings.TrimPrefix(harness.CrashName(c.Input), harness.CrashPrefix)+".log")
	if err := os.WriteFile(log, []byte(job.Output), 0o644); err == nil {
		e.Files[filepath.Base(log)] = log
	}
	_, died := jobFinding(vm, job)
	return minimizeResult(c, job.Output, took, died)
}

// minimizeResult is minimized's answer, unless the minimizer's VM died
// (a kernel finding ended it) before the minimizer saw its crash: then
// the input ends the kernel the minimizer's steps run in. A minimizer
// that saw its crash ran its steps, and what it said stands: their
// output (the glue's report line among it) is libFuzzer's to read, not
// in the job's.
func minimizeResult(c harness.KernelCrash, output string, took time.Duration, died bool) (harness.KernelCrash, string) {
	min, how := minimized(c, output, took)
	if died && !strings.Contains(output, minimizerCrashed) && len(min.Input) == len(c.Input) && !strings.Contains(output, harness.ReportLine) {
		how = "not minimized: the input ends the kernel (a panic or hang), and libFuzzer's minimizer tries its steps in that kernel"
	}
	return min, how
}

// minimized reads the minimizer's output: the smallest input of the same
// bug as c, and what the minimizer did, which took took.
func minimized(c harness.KernelCrash, output string, took time.Duration) (harness.KernelCrash, string) {
	cs, err := harness.ParseCrashes(output, 0)
	if err != nil {
		return c, "not minimized: " + err.Error()
	}
	if min, ok := harness.Smallest(c, cs); ok {
		return min, fmt.Sprintf("minimized by libFuzzer's -minimize_crash in a fresh VM, %s, the same report", took)
	}
	if strings.Contains(output, minimizerCrashed) {
		return c, fmt.Sprintf("libFuzzer's -minimize_crash found no smaller input in a fresh VM in %s", took)
	}
	return c, "not minimized: the input alone did not reproduce the report in a fresh VM (the kernel's state after the inputs before it may be part of the bug)"
}
