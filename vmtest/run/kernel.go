package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
	"github.com/kmodvm/kmodvm/vmtest/symbol"
)

// kernelRun is one kernel's run once the kernel is fetched: what every
// step of it needs, from the build to the last reboot.
type kernelRun struct {
	r *runner
	k *kernel.Kernel
	// entry is the kernel's report; its Selector and Name name the kernel
	// in the run's progress.
	entry *report.Kernel
	// dir is the kernel's directory under the run's output.
	dir    string
	budget budget
	// m is the kernel's machine, its test timeout fitted to the budget.
	m machine
	// built are the modules under test, as the host built them; gcov,
	// with Config.Coverage, the builds their gcov data is read against.
	built []symbol.Module
	gcov  []gcovBuild
	// img is the first VM's image; a reboot's is made from it.
	img *guestImage
	// knownByBinary caches known.
	knownByBinary map[string][]string
	// shares is how many VMs sweep the kernel's fault-injection points
	// (sweepVMs). vms counts the VMs after the first (nextVM): reboots,
	// fuzz jobs' and sweep shares' VMs, which may run at once, each
	// drawing its own number.
	shares int
	vms    atomic.Int64
}

// nextVM is the number (vmPlan.n) of the kernel's next VM after the first.
func (run *kernelRun) nextVM() int { return int(run.vms.Add(1)) }

// vmPlan is one VM of a kernel's run: the first, or a reboot's.
type vmPlan struct {
	img *guestImage
	// m is the VM's machine, a copy: a boot that falls back to the
	// bzImage changes its own.
	m machine
	// entry receives its results: the kernel's report for the first VM, a
	// report of its own for a reboot's, merged into the kernel's after.
	entry *report.Kernel
	// n is 0 for the first VM, then one more for each reboot: it names the
	// VM's artifacts.
	n int
	// cut, for a reboot's VM, says whether the reboot budget ended it
	// (the VM's context was canceled for it).
	cut func() bool
	// fuzzJob, for a VM that fuzzes, is its job's number (from 1): its
	// status lines go to the run's progress as that job's.
	fuzzJob int
}

// step reports the kernel's progress.
func (run *kernelRun) step(p runcfg.Phase, detail string) {
	run.r.step(run.entry.Selector, run.entry.Name, p, detail)
}

// kernel runs everything for one kernel and never fails: what went wrong
// is in the returned report entry.
func (r *runner) kernel(ctx context.Context, p planned) (kr *report.Kernel) {
	start := time.Now()
	kr = &report.Kernel{Name: p.name(), Selector: p.sel, Arch: p.arch, Status: report.Error, Files: map[string]string{}}
	defer func() {
		if p := recover(); p != nil {
			kr.Status, kr.Error = report.Error, fmt.Sprintf("kmodvm bug: %v\n%s", p, debug.Stack())
		}
		kr.Timing.Total = time.Since(start).Seconds()
		r.step(kr.Selector, kr.Name, runcfg.PhaseDone, string(kr.Status))
	}()
	if p.skip != "" {
		kr.Status, kr.Note = report.Skip, p.skip
		return kr
	}
	if r.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.Timeout)
		defer cancel()
	}
	r.step(kr.Selector, kr.Name, runcfg.PhaseFetch, "")
	k, err := r.fetch(ctx, p, kr, start)
	if err != nil {
		kr.Error = "fetch: " + err.Error()
		return kr
	}
	run := &kernelRun{r: r, k: k, entry: kr, dir: filepath.Join(r.out, p.dir), budget: budgetOf(ctx)}
	run.debugInfo(ctx)
	run.run(ctx)
	return kr
}

// fetch makes the kernel p resolved to (tailored to the modules' needs
// first) and names kr after it; its fetch time counts from start, the
// kernel's.
func (r *runner) fetch(ctx context.Context, p planned, kr *report.Kernel, start time.Time) (*kernel.Kernel, error) {
	if p.err != nil {
		return nil, p.err
	}
	s, err := r.tailor(ctx, p.spec, filepath.Join(r.out, p.dir))
	if err != nil {
		return nil, err
	}
	kr.ID, kr.ABI, kr.Version, kr.Provider, kr.Arch, kr.Variant, kr.Note = s.ID(), s.ABI, s.Version, s.Provider, s.Arch, s.Variant, s.Note
	k, err := r.fetcher.Get(ctx, s)
	kr.Timing.Fetch = time.Since(start).Seconds()
	if err != nil {
		return nil, err
	}
	kr.Name, kr.ABI, kr.Version, kr.Origin = k.Name, k.ABI, k.Version, k.Origin
	if k.ID != kr.ID { // the spec's fallback: its note says why
		kr.ID, kr.Note = k.ID, k.Note
	}
	return k, nil
}

// run builds, images, boots and reboots the kernel, and finishes its
// report.
func (run *kernelRun) run(ctx context.Context) {
	kr := run.entry
	if err := os.MkdirAll(run.dir, 0o755); err != nil {
		kr.Error = err.Error()
		return
	}
	if !run.build(ctx) {
		return
	}
	run.m = machineFor(run.r.cfg, run.k, run.r.accelFor(run.k.Arch))
	if left, ok := run.budget.bootable(); !ok {
		kr.Error = fmt.Sprintf("not booted: %s was left before the run's deadline (the kernel's --timeout, or go test's -timeout), less than the %s a VM and its hang diagnosis need", left.Round(time.Second), minVMTime)
		return
	}
	run.budget.fitTests(&run.m)
	run.shares = run.sweepVMs()
	run.step(runcfg.PhaseImage, "")
	imgStart := time.Now()
	img, err := run.image(ctx)
	kr.Timing.Image = time.Since(imgStart).Seconds()
	if err != nil {
		kr.Error = "image: " + err.Error()
		return
	}
	if !run.r.cfg.Keep {
		defer os.Remove(img.path)
	}
	img.modules = run.built
	run.img = img
	wait := func() []*report.Kernel { return nil }
	if run.shares > 1 {
		wait = run.startShares(ctx, run.shares)
	}
	jobs := run.startFuzzJobs(ctx)
	col := run.boot(ctx, vmPlan{img: img, m: run.m, entry: kr, fuzzJob: run.firstFuzzJob()})
	if !run.r.cfg.Interactive() {
		run.reboot(ctx, col)
	}
	if shares := wait(); len(shares) > 0 {
		for i, s := range shares {
			mergeShare(kr, s, i+2)
		}
		sortPoints(kr)
		kr.Note = strings.TrimSpace(fmt.Sprintf("%s The fault-injection sweep ran in %d VMs at once (--sweep-jobs).", kr.Note, run.shares))
	}
	if run.r.cfg.Fuzz != nil {
		run.fuzz(ctx, jobs)
	}
	symbolize(run.k, kr, run.built)
	// After the reboots' findings joined and symbolization named them:
	// one finding per bug from here on, in every report.
	kr.DedupFindings()
	kernelCoverage(ctx, kr, run.dir, run.gcov)
}
