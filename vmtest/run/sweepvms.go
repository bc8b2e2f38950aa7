package run

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// A kernel's fault-injection sweep (Config.InjectFaults) runs in
// Config.SweepVMs VMs at once: the first VM sweeps its share of the
// points and then runs the tests, as it would alone; each other VM,
// started beside it (restored from the kernel's snapshot where the
// architecture has one), sweeps its share, reads kmemleak and ends. A
// point that kills a VM costs that point: a fresh VM goes on with the
// rest of its share, as the first VM's reboots do. The shares' points
// join the kernel's report among the first VM's, in the order one VM
// would have run them, under the same names.

// sweepVMs is how many VMs sweep the kernel's points: one without a
// sweep, in a fuzz job, or when a person drives the VM.
func (run *kernelRun) sweepVMs() int {
	cfg := run.r.cfg
	if !cfg.InjectFaults || cfg.Fuzz != nil || cfg.Interactive() {
		return 1
	}
	return cfg.SweepVMs(run.r.kernelCount, run.m.memoryMiB)
}

// startShares starts the sweep's VMs but the first, shares 1 to n-1 of
// n, and returns a wait for their reports.
func (run *kernelRun) startShares(ctx context.Context, n int) func() []*report.Kernel {
	out := make([]*report.Kernel, n-1)
	run.known() // filled once, before the VMs' collectors read it at once
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sw := *run.img.run.InjectFaults
			sw.Share, sw.Only = i+1, true
			out[i] = run.sweepShare(ctx, &sw)
		}()
	}
	return func() []*report.Kernel {
		wg.Wait()
		return out
	}
}

// sweepShare runs the share sw of the sweep in a VM, and in fresh VMs
// after a point that killed one, within a reboot budget of its own, and
// returns the share's report: its first VM's, the others' joined as
// reboots.
func (run *kernelRun) sweepShare(ctx context.Context, sw *event.FaultSweep) *report.Kernel {
	kr := run.entry
	share := &report.Kernel{Name: kr.Name, Selector: kr.Selector, Status: report.Error, Files: map[string]string{}}
	budget := run.rebootBudgetOf()
	for first := true; ctx.Err() == nil; first = false {
		vm := share
		if !first {
			vm = &report.Kernel{Name: kr.Name, Selector: kr.Selector, Status: report.Error, Files: map[string]string{}}
		}
		next := run.img.run
		next.InjectFaults = sw
		n := run.nextVM()
		img, err := run.img.again(next, n)
		if err != nil {
			vm.Error = "the sweep VM's image: " + err.Error()
			return share
		}
		if !run.r.cfg.Keep {
			defer os.Remove(img.path)
		}
		why := fmt.Sprintf("the sweep's share %d of %d", sw.Share+1, sw.Shares)
		if !first {
			why += ", after a crash or hang"
		}
		run.step(runcfg.PhaseBoot, why)
		vctx, cut, stop := ctx, func() bool { return false }, func() {}
		if !first {
			vctx, cut, stop = budget.bound(ctx)
		}
		col := run.boot(vctx, vmPlan{img: img, m: run.m, entry: vm, n: n, cut: cut})
		stop()
		if !first {
			mergeReboot(share, vm)
		}
		if col == nil || !col.PointOpen() {
			break
		}
		if why := budget.take(time.Now()); why != "" {
			share.Note = strings.TrimSpace(share.Note + " The sweep's share " + fmt.Sprint(sw.Share+1) + " stopped after a crash: " + why + ".")
			break
		}
		if _, ok := run.budget.bootable(); !ok {
			break
		}
		sw = col.Resume(sw)
	}
	return share
}

// vmEnded tells the run's hooks that a VM of the kernel ended, with its
// report kr. Alone, a VM ends every test still open with it; beside
// others (the sweep's VMs), it ends only its own tests, each with its
// result: the other VMs' run on.
func (run *kernelRun) vmEnded(kr *report.Kernel) {
	hook := run.r.hooks.Test
	switch {
	case hook == nil:
	case run.shares <= 1:
		hook(kr.Selector, kr.Name, collect.Live{VM: kr})
	default:
		for _, t := range kr.Tests {
			lt := collect.Live{Package: t.Package, Name: t.Name, End: t}
			for _, i := range t.Findings {
				lt.Findings = append(lt.Findings, kr.Findings[i])
			}
			hook(kr.Selector, kr.Name, lt)
		}
	}
}

// mergeShare adds a sweep VM's report (its reboots joined) to the
// kernel's: its boot among the sweep's VMs, its reboots among the
// kernel's, its points and their findings. A point of a later pass that
// another VM ran too (both VMs' points hit the module, and their windows
// met) keeps its result under its name and the VM's, n of the sweep's.
func mergeShare(kr, share *report.Kernel, n int) {
	// The suites a KUnit module ran as the share's VM loaded it outside
	// its points (to count the calls, before an unload point) are not
	// the run's: the first VM reports those of the module loaded as it
	// is, from debugfs, which a sweep VM never reads.
	share.Tests = slices.DeleteFunc(share.Tests, func(t *report.Test) bool { return collect.IsKUnit(t.Package) })
	have := map[report.TestKey]bool{}
	for _, t := range kr.Tests {
		have[report.TestKey{Package: t.Package, Name: t.Name}] = true
	}
	for _, t := range share.Tests {
		if t.Fault != nil && have[report.TestKey{Package: t.Package, Name: t.Name}] {
			t.Name = fmt.Sprintf("%s/vm=%d", t.Name, n)
		}
	}
	if share.Boot != nil {
		kr.SweepVMs = append(kr.SweepVMs, share.Boot)
	}
	kr.Reboots = append(kr.Reboots, share.Reboots...)
	// A note the first VM made already (its boot's fallback) is not
	// made again.
	if note := strings.TrimSpace(strings.Replace(share.Note, pvhResetNote, "", strings.Count(kr.Note, pvhResetNote))); note != "" {
		kr.Note = strings.TrimSpace(kr.Note + " " + note)
	}
	joinVM(kr, share, false, "in a sweep VM")
}

// sortPoints puts the kernel's sweep points in the order one VM runs
// them, where the first of them stands: by operation (as first met),
// pass, then point. The tests run on a point's instance stay where they
// ran.
func sortPoints(kr *report.Kernel) {
	var points, rest []*report.Test
	at := -1
	for _, t := range kr.Tests {
		if t.Fault == nil {
			rest = append(rest, t)
			continue
		}
		if at < 0 {
			at = len(rest)
		}
		points = append(points, t)
	}
	if at < 0 {
		return
	}
	ops := map[string]int{}
	for _, t := range points {
		key := t.Fault.Op + "/" + t.Fault.Module
		if _, ok := ops[key]; !ok {
			ops[key] = len(ops)
		}
	}
	slices.SortStableFunc(points, func(a, b *report.Test) int {
		if c := ops[a.Fault.Op+"/"+a.Fault.Module] - ops[b.Fault.Op+"/"+b.Fault.Module]; c != 0 {
			return c
		}
		if c := passOf(a) - passOf(b); c != 0 {
			return c
		}
		return a.Fault.Nth - b.Fault.Nth
	})
	kr.Tests = slices.Concat(rest[:at], points, rest[at:])
}

// passOf is the pass of a point's test, from its name: 1 for the first.
func passOf(t *report.Test) int {
	_, p, ok := strings.Cut(t.Name, "/pass=")
	if !ok {
		return 1
	}
	p, _, _ = strings.Cut(p, "/")
	n, err := strconv.Atoi(p)
	if err != nil {
		return 1
	}
	return n
}
