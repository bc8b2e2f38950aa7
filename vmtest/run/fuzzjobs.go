package run

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// fuzzJobs are a kernel's fuzz jobs beside the first (Fuzz.Jobs): each
// fuzzes in VMs of its own, restored from the kernel's snapshot (booted
// where the architecture has none), from the corpus directory they all
// write into, and goes on after a finding as the first does. They share
// the kernel's titles found, so a finding one kept is counted, not kept or
// minimized again, by another.
type fuzzJobs struct {
	sh   *fuzzShared
	wg   sync.WaitGroup
	jobs []fuzzJobEnd // job k is jobs[k-2]
}

// fuzzJobEnd is how a job beside the first ended: its run, the report of
// its first VM (its later VMs merged into it), and its fuzz job's test,
// nil if it ran none.
type fuzzJobEnd struct {
	fr  *fuzzRun
	vm  *report.Kernel
	job *report.Test
}

// startFuzzJobs starts the kernel's fuzz jobs after the first, which the
// kernel's first VM runs after its tests; none for a replay or one job.
// They start with the first VM, not after it: its tests and start are
// theirs to use.
func (run *kernelRun) startFuzzJobs(ctx context.Context) *fuzzJobs {
	f := run.r.cfg.Fuzz
	js := &fuzzJobs{sh: &fuzzShared{seen: map[string]int{}}}
	if f == nil || f.Replay != "" || f.Jobs <= 1 {
		return js
	}
	if run.r.cfg.Coverage {
		// The first VM's gcov data replaces what came before it, which
		// would be the other jobs' VMs' that ended first.
		run.r.logf("%s: one fuzz job, not %d: with Coverage the jobs would clear each other's gcov data", run.entry.Name, f.Jobs)
		return js
	}
	run.known() // read once, before VMs run at once
	js.jobs = make([]fuzzJobEnd, f.Jobs-1)
	for i := range js.jobs {
		js.wg.Add(1)
		go func() {
			defer js.wg.Done()
			js.jobs[i] = run.fuzzJob(ctx, i+2, js.sh)
		}()
	}
	return js
}

// fuzzJob runs job k beside the first: a fresh VM with the fuzz job
// alone, then fuzzOn.
func (run *kernelRun) fuzzJob(ctx context.Context, k int, sh *fuzzShared) fuzzJobEnd {
	f := run.r.cfg.Fuzz
	fr := &fuzzRun{job: k, vms: 1, args: jobArgs(f.Args, k), sh: sh}
	g := *f
	g.Args = fr.args
	n := run.nextVM()
	vm := run.fuzzVM(ctx, &g, n, run.m, fmt.Sprintf("fuzz job %d", k), k)
	c, ok, err := fuzzOutputs(vm, f)
	run.fuzzErr(err)
	job := fuzzJobOf(vm)
	if job == nil {
		return fuzzJobEnd{fr: fr, vm: vm}
	}
	fr.spent = vmFuzzTime(vm, job)
	if !ok {
		c, ok = run.fromRing(ctx, fr, vm, vm, job)
	}
	job.Output = fmt.Sprintf("%s%d, beside the first, in a VM of its own (its console: %s)\n", harness.JobLine, k, runcfg.ArtifactName("console.log", n)) + job.Output
	run.fuzzOn(ctx, fr, vm, job, c, ok)
	return fuzzJobEnd{fr: fr, vm: vm, job: job}
}

// wait waits for the jobs beside the first and merges each into the
// kernel's report kr and the first's job (a job in kr of its own if the
// first VM ran none), which it returns with their runs.
func (js *fuzzJobs) wait(kr *report.Kernel, job *report.Test) (*report.Test, []*fuzzRun) {
	js.wg.Wait()
	var frs []*fuzzRun
	for _, end := range js.jobs {
		frs = append(frs, end.fr)
		if job == nil && end.job != nil {
			job = &report.Test{Package: runcfg.FuzzName, Name: runcfg.FuzzName, Status: report.Pass}
			kr.Tests = append(kr.Tests, job)
		}
		if job != nil && end.job == nil {
			job.Output += fmt.Sprintf("\n--- kmodvm: fuzz job %d ran in no VM: %s", end.fr.job, end.vm.Error)
		}
		elapsed := 0.0
		if job != nil {
			elapsed = job.Elapsed
		}
		mergeFuzzVM(kr, job, end.vm, end.job)
		kr.Reboots = append(kr.Reboots, end.vm.Reboots...)
		if end.job != nil {
			// The jobs ran at once: the test lasted the longest's time.
			job.Elapsed = max(elapsed, end.job.Elapsed)
		}
	}
	return job, frs
}

// jobArgs are job k's libFuzzer flags: args, with a -seed=N named there
// made N+k-1, so that jobs of a seeded run are distinct and each
// reproducible.
func jobArgs(args []string, k int) []string { return seedArgs(args, k-1) }

// vmArgs are the flags of the VM v (1 for its first) of a job whose own
// flags are args, among jobs jobs at once: a -seed=S there (the job's,
// N+k-1 for job k) becomes S+(v-1)*jobs, so that a VM that goes on after
// a finding does not replay its job's mutations from the start, and no
// two VMs of a seeded run share a seed: job k's VM v fuzzes with
// N+(k-1)+(v-1)*jobs.
func vmArgs(args []string, v, jobs int) []string {
	return seedArgs(args, (v-1)*max(jobs, 1))
}

// seedArgs is args with a -seed=N named there made N+delta; libFuzzer's
// 0 ("pick one") stays.
func seedArgs(args []string, delta int) []string {
	out := append([]string{}, args...)
	for i, a := range out {
		v, ok := strings.CutPrefix(a, "-seed=")
		if n, err := strconv.Atoi(v); ok && err == nil && n != 0 {
			out[i] = "-seed=" + strconv.Itoa(n+delta)
		}
	}
	return out
}

// firstFuzzJob is the fuzz job the kernel's first VM runs: 1 when it
// fuzzes, 0 when it does not (no fuzz job, or a replay).
func (run *kernelRun) firstFuzzJob() int {
	if f := run.r.cfg.Fuzz; f != nil && f.Replay == "" {
		return 1
	}
	return 0
}

// fuzzStatusEvery bounds how often a fuzz job's status goes to the run's
// progress: libFuzzer prints a line for every input that reached
// anything new, hundreds a second at the start.
const fuzzStatusEvery = time.Second

// fuzzStatus is the collector's Output for a VM of fuzz job job (nil for
// none): libFuzzer's status lines, at most one each fuzzStatusEvery, and
// every line of the glue's that names a kernel report go to the run's
// progress as the job's (runcfg.FuzzStep).
func (run *kernelRun) fuzzStatus(job int) func(binary, text string) {
	if job == 0 {
		return nil
	}
	var last time.Time
	return func(binary, text string) {
		if binary != runcfg.FuzzName {
			return
		}
		for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			status := strings.HasPrefix(line, "#") && strings.Contains(line, " cov: ")
			if status && time.Since(last) < fuzzStatusEvery {
				continue
			}
			if status || strings.HasPrefix(line, harness.ReportLine) {
				last = time.Now()
				run.step(runcfg.PhaseTests, runcfg.FuzzStep(job, line))
			}
		}
	}
}
