package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// fuzzMinSlice is the least time a fresh VM fuzzes for: less is spent
// mostly on the VM's start.
const fuzzMinSlice = 10 * time.Second

// fuzzRun is one fuzz job of a kernel over its VMs: the job's number
// (1 for the one in the kernel's first VM), how many VMs it fuzzed in, the
// time their jobs took, its libFuzzer flags, and the kernel's titles
// found, which its jobs share.
type fuzzRun struct {
	job, vms int
	spent    time.Duration
	args     []string
	sh       *fuzzShared
}

// fuzzShared is what a kernel's fuzz jobs share: how often each finding's
// title came, in the order first found.
type fuzzShared struct {
	mu    sync.Mutex
	seen  map[string]int
	order []string
}

// fuzz keeps what the kernel's fuzz job found (the corpus; the input of a
// kernel report, minimized) and, when a finding ended it with time of
// Fuzz.Duration left, fuzzes on from the corpus in fresh VMs restored from
// the kernel's snapshot until that time is spent (fuzzOn). A replayed
// input that brought a kernel report is kept (minimized) too. The jobs
// beside it (Fuzz.Jobs, started by startFuzzJobs) do the same in VMs of
// their own; their results join the first job's once all have ended, and
// its output's last line counts them all.
func (run *kernelRun) fuzz(ctx context.Context, jobs *fuzzJobs) {
	f, kr := run.r.cfg.Fuzz, run.entry
	c, ok, err := fuzzOutputs(kr, f)
	run.fuzzErr(err)
	job := fuzzJobOf(kr)
	fr := &fuzzRun{job: 1, vms: 1, args: f.Args, sh: jobs.sh}
	if job != nil {
		fr.spent = elapsedOf(job)
		if !ok && f.Replay == "" {
			c, ok = run.fromRing(ctx, fr, kr, kr, job)
		}
		if f.Replay != "" {
			if ok {
				run.fuzzErr(run.keepFinding(ctx, kr, job, c))
			}
			return
		}
		run.fuzzOn(ctx, fr, kr, job, c, ok)
	}
	job, frs := jobs.wait(kr, job)
	if job != nil {
		job.Output += "\n" + summary(append([]*fuzzRun{fr}, frs...))
	}
}

// fuzzOn goes on fuzzing as fr's job after its VM e's job ended: while a
// kernel report ended the latest VM's (c, ok) with time of Fuzz.Duration
// left, it keeps the finding (unless fr's kernel found its title before:
// then it is counted) and fuzzes on in a fresh VM from the corpus. The VMs
// join e as reboots; their jobs' output and findings join job.
//
// The reboot loop (reboot) also starts fresh VMs, but for the tests a
// crash left without a result, within a budget of reboots after the first
// crash; a fuzz job that a finding ended left no test, and what bounds its
// VMs is the time left of its duration. This loop shares its parts: the
// image's again, boot, the run's deadline.
func (run *kernelRun) fuzzOn(ctx context.Context, fr *fuzzRun, e *report.Kernel, job *report.Test, c harness.KernelCrash, ok bool) {
	f := run.r.cfg.Fuzz
	for ok && ctx.Err() == nil {
		if fr.found(fuzzTitle(c)) {
			run.fuzzErr(run.keepFinding(ctx, e, job, c))
		} else {
			job.Output += fmt.Sprintf("\n--- kmodvm: the kernel's report %q again: its input is not kept again", c.Report)
		}
		left := max(f.Duration-fr.spent, 0)
		if f.Duration <= 0 {
			break
		}
		if left < fuzzMinSlice {
			job.Output += fmt.Sprintf("\n--- kmodvm: %s of --duration left, less than a fresh VM's %s: fuzzing ends", left.Round(time.Second), fuzzMinSlice)
			break
		}
		if _, bootable := run.budget.bootable(); !bootable {
			job.Output += fmt.Sprintf("\n--- kmodvm: %s of --duration left, but not before the run's deadline: fuzzing ends", left.Round(time.Second))
			break
		}
		job.Output += fmt.Sprintf("\n=== kmodvm: %sfuzzing goes on in a fresh VM (VM %d), %s of --duration left", fr.tag(), fr.vms+1, left.Round(time.Second))
		g := *f
		g.Duration, g.Args = left, vmArgs(fr.args, fr.vms+1, f.Jobs)
		vm := run.fuzzVM(ctx, &g, run.nextVM(), run.m, "fuzzing goes on after a finding", fr.job)
		fr.vms++
		var err error
		c, ok, err = fuzzOutputs(vm, f)
		run.fuzzErr(err)
		vjob := fuzzJobOf(vm)
		if vjob == nil {
			job.Output += "\n--- kmodvm: the VM ran no fuzz job: " + vm.Error
			ok = false
		} else {
			fr.spent += vmFuzzTime(vm, vjob)
			if !ok {
				c, ok = run.fromRing(ctx, fr, e, vm, vjob)
			}
		}
		mergeFuzzVM(e, job, vm, vjob)
	}
}

// tag names fr's job in its output's lines: nothing for the first, the
// only one by default.
func (fr *fuzzRun) tag() string {
	if fr.job == 1 {
		return ""
	}
	return fmt.Sprintf("job %d: ", fr.job)
}

// found counts a finding of title and says whether it is new to the
// kernel's jobs.
func (fr *fuzzRun) found(title string) bool {
	sh := fr.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.seen[title]++
	if sh.seen[title] > 1 {
		return false
	}
	sh.order = append(sh.order, title)
	return true
}

// known says whether fr's kernel's jobs found title before.
func (fr *fuzzRun) known(title string) bool {
	fr.sh.mu.Lock()
	defer fr.sh.mu.Unlock()
	return fr.sh.seen[title] > 0
}

// summary is the job output's last line: the jobs (frs, the first the
// kernel's first VM's), their VMs and time, and each title found with how
// often.
func summary(frs []*fuzzRun) string {
	sh := frs[0].sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var titles []string
	total := 0
	for _, t := range sh.order {
		titles = append(titles, fmt.Sprintf("%s (x%d)", t, sh.seen[t]))
		total += sh.seen[t]
	}
	vms, spent := 0, time.Duration(0)
	for _, fr := range frs {
		vms += fr.vms
		spent += fr.spent
	}
	s := harness.SummaryLine + plural(vms, "VM")
	if len(frs) > 1 {
		s += fmt.Sprintf(" (%d jobs at once)", len(frs))
	}
	s += fmt.Sprintf(", %s of fuzzing; %s", spent.Round(time.Second), plural(total, "kernel finding"))
	if len(titles) > 0 {
		s += fmt.Sprintf(" of %s: %s", plural(len(titles), "title"), strings.Join(titles, "; "))
	}
	return s
}

// fuzzErr logs what could not be kept of a fuzz job's results.
func (run *kernelRun) fuzzErr(err error) {
	if err != nil {
		run.r.logf("%s: the fuzz job's corpus or crash: %v", run.entry.Name, err)
	}
}

// vmFuzzTime is the time the fuzz job vjob of a later fuzz VM vm took:
// its own, or, for a job the VM's end cut (a panic: the test has no time
// of its own), the VM's run after its agent started, which is the job's.
func vmFuzzTime(vm *report.Kernel, vjob *report.Test) time.Duration {
	if d := elapsedOf(vjob); d > 0 {
		return d
	}
	return time.Duration(vm.Timing.Tests * float64(time.Second))
}

// elapsedOf is t's time.
func elapsedOf(t *report.Test) time.Duration {
	return time.Duration(t.Elapsed * float64(time.Second))
}

// machineOf is m with its binaries' timeout and fault grace at least
// bound (a minimizer is silent while a step runs).
func machineOf(m machine, bound time.Duration) machine {
	m.testTimeout = max(m.testTimeout, bound)
	m.faultGrace = max(m.faultGrace, bound)
	return m
}

// fuzzTitle names the finding of the kernel report c for deduplication:
// the glue's key of its first line (harness.KeyLine), else the line.
func fuzzTitle(c harness.KernelCrash) string {
	if c.Key != "" {
		return c.Key
	}
	return c.Report
}

// fuzzVM boots a fresh VM (restored from the kernel's snapshot, as the
// first) that runs the fuzz job f alone, as VM n, on machine m, and
// returns its report. job is the job it fuzzes for (0 for a minimizer's).
func (run *kernelRun) fuzzVM(ctx context.Context, f *runcfg.Fuzz, n int, m machine, why string, job int) *report.Kernel {
	kr := run.entry
	vm := &report.Kernel{Name: kr.Name, Selector: kr.Selector, Status: report.Error, Files: map[string]string{}}
	run.budget.fitTests(&m)
	img, err := run.fuzzImage(f, m, n)
	if err != nil {
		vm.Error = "the fuzz VM's image: " + err.Error()
		return vm
	}
	if !run.r.cfg.Keep {
		defer os.Remove(img.path)
	}
	run.step(runcfg.PhaseBoot, fmt.Sprintf("VM %d: %s", n, why))
	run.boot(ctx, vmPlan{img: img, m: m, entry: vm, n: n, fuzzJob: job})
	return vm
}

// fuzzImage is the first VM's image with the fuzz job f alone: no tests
// before it (the first VM ran them), no kmemleak check after it (the
// first VM's was; it costs a minute a VM).
func (run *kernelRun) fuzzImage(f *runcfg.Fuzz, m machine, n int) (*guestImage, error) {
	a, err := arch.Lookup(run.k.Arch)
	if err != nil {
		return nil, err
	}
	fuzzLayers, bin, err := fuzzJob(f, a, run.img.run.Modules, m, run.dir, n)
	if err != nil {
		return nil, err
	}
	base := *run.img
	base.layers = nil
	for _, l := range run.img.layers {
		if !strings.HasPrefix(filepath.Base(l), "initramfs-fuzz") {
			base.layers = append(base.layers, l)
		}
	}
	last := len(base.layers) - 1
	base.layers = append(append(base.layers[:last:last], fuzzLayers...), base.layers[last])
	next := run.img.run
	next.Tests, next.Kmemleak, next.InjectFaults = []event.TestBinary{bin}, false, nil
	return base.again(next, n)
}

// mergeFuzzVM adds a later fuzz VM's results to the kernel's: its boot
// among the reboots, its artifacts, its findings (but the kernel's own,
// which the first VM reported) on the first job, and its job's output
// (vjob's, nil when it ran none) after the first job's.
func mergeFuzzVM(kr *report.Kernel, job *report.Test, vm *report.Kernel, vjob *report.Test) {
	if vm.Boot != nil {
		kr.Reboots = append(kr.Reboots, vm.Boot)
	}
	for name, p := range vm.Files {
		kr.Files[name] = p
	}
	if vjob == nil {
		return
	}
	index := map[int]int{}
	for i, f := range vm.Findings {
		if !f.KernelOwn() {
			index[i] = len(kr.Findings)
			kr.Findings = append(kr.Findings, f)
		}
	}
	for _, i := range vjob.Findings {
		if j, ok := index[i]; ok {
			job.Findings = append(job.Findings, j)
		}
	}
	sort.Ints(job.Findings)
	job.Elapsed += vjob.Elapsed
	job.Output += "\n" + vjob.Output
	if vjob.Status != report.Pass && job.Status == report.Pass {
		job.Status = vjob.Status
	}
}

// plural is "1 VM", "2 VMs".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
