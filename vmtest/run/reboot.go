package run

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// reboot runs, in fresh VMs, the tests that a kernel panic, a hang or a
// stalled test kept from running in the VM whose collector is col, so that
// such a test costs only itself: each binary left unfinished runs again
// with -test.skip naming every test that already has a result, the one
// blamed for the VM's end included (its collector blames the binary's next
// test when the kernel died before the agent read its start), and the
// results join the kernel's report marked AfterReboot. Reboots stop when
// the reboot budget is spent (Config.MaxReboots, Config.RebootTime), after
// a VM that ran no test or moved nothing on, or near the run's deadline;
// the tests then left are reported not run, naming the crashes, and the
// kernel's note says what the crashes cost.
func (run *kernelRun) reboot(ctx context.Context, col *collect.Collector) {
	img, m, kr := run.img, run.m, run.entry
	cfg := img.run
	bins := cfg.Tests             // the latest VM's binaries
	done := map[string][]string{} // binary -> top-level tests with a result
	budget := run.rebootBudgetOf()
	var crashes []string
	// What ended the latest VM early, named from its own report before it
	// joins the kernel's (the merge points its tests at the kernel's
	// findings), and how that VM ended.
	crash, boot := "", kr.Boot
	// A fault-injection sweep goes on after the point a VM died in.
	sweep := cfg.InjectFaults
	for n := 1; col != nil && ctx.Err() == nil; n++ {
		results := count(done)
		left := leftover(bins, col, done)
		known := run.known()
		if boot == nil || boot.Status == report.Error {
			break
		}
		if len(left) == 0 && col.AgentDone() {
			// A binary that ended by itself in a test (a Go panic, an
			// os.Exit) ran none after it, and none runs again.
			notRun(kr, cfg.Tests, known, crashes, binaryEnded)
			break
		}
		if boot.Status == report.NotRun { // the budget ended the VM
			cutShort(kr, crashes)
			notRun(kr, cfg.Tests, known, crashes, budget.spentText())
			break
		}
		if n == 1 {
			crash = crashOf(kr)
		}
		rest := pending(left, known, done)
		if len(rest) == 0 && !col.PointOpen() {
			// Every test has a result, but those of a binary that ended
			// before it ran them: by itself, or outside its tests (in
			// TestMain, say), or in an order -test.shuffle hid.
			if notRun(kr, cfg.Tests, known, append(crashes, crash), binaryEnded) > 0 {
				budget.begin(time.Now())
			}
			break
		}
		budget.begin(time.Now())
		crashes = append(crashes, crash)
		// A VM moves the run on when it gives a test a result (or blames
		// one) or leaves out a binary it ran, which then runs no more.
		moved := n == 1 || len(rest) < len(bins) || count(done) > results || col.PointsEnded() > 0
		if why := run.whyNoReboot(col, moved, &budget); why != "" {
			notRun(kr, cfg.Tests, known, crashes, why)
			break
		}
		run.budget.fitTests(&m)
		sweep = col.Resume(sweep)
		// The VM's number names its artifacts: a fuzz job's VMs may be
		// running beside the reboots and draw numbers too.
		vmn := run.nextVM()
		nextImg, err := againFor(img, rest, done, m, vmn, sweep)
		if err != nil {
			notRun(kr, cfg.Tests, known, crashes, "the reboot's image could not be written: "+err.Error())
			break
		}
		if !run.r.cfg.Keep {
			defer os.Remove(nextImg.path)
		}
		run.step(runcfg.PhaseBoot, fmt.Sprintf("reboot %d: the tests left after a crash or hang", n))
		vm := &report.Kernel{Name: kr.Name, Selector: kr.Selector, Files: map[string]string{}}
		vctx, cut, stop := budget.bound(ctx)
		col = run.boot(vctx, vmPlan{img: nextImg, m: m, entry: vm, n: vmn, cut: cut})
		stop()
		crash, boot, bins = crashOf(vm), vm.Boot, rest
		mergeReboot(kr, vm)
	}
	if note := budget.note(time.Now()); note != "" {
		kr.Note = strings.TrimSpace(kr.Note + " " + note)
	}
}

// binaryEnded is why a test its binary never ran is not run.
const binaryEnded = "their binary ended before it ran them, and is not run again"

// count is how many tests done holds.
func count(done map[string][]string) int {
	n := 0
	for _, names := range done {
		n += len(names)
	}
	return n
}

// againFor is the image of reboot n: img's, running the binaries of rest,
// each skipping the tests done, with m's test timeout, and sweep.
func againFor(img *guestImage, rest []event.TestBinary, done map[string][]string, m machine, n int, sweep *event.FaultSweep) (*guestImage, error) {
	next := img.run
	next.Tests, next.InjectFaults = nil, sweep
	for _, tb := range rest {
		tb.Args = withSkip(tb.Args, done[tb.Name])
		tb.Timeout = event.Duration(m.testTimeout)
		next.Tests = append(next.Tests, tb)
	}
	return img.again(next, n)
}

// whyNoReboot says why the tests left after the VM of col get no reboot,
// or "" when they get one (taken from budget). A VM that did not move the
// run on (moved) would end the next the same way: with it stopping the
// reboots, each reboot leaves fewer tests without a result or fewer
// binaries to run, so they end even with no budget.
func (run *kernelRun) whyNoReboot(col *collect.Collector, moved bool, budget *rebootBudget) string {
	switch {
	case !col.AnyTests():
		return "the last VM ran no test"
	case !moved:
		return "the last VM gave no test a result"
	}
	if _, ok := run.budget.bootable(); !ok {
		return "no time was left before the run's deadline to reboot"
	}
	return budget.take(time.Now())
}

// leftover returns the binaries of tests (those the VM of col ran) to run
// again after it, and adds to done the top-level tests each already ran.
// A binary is left when the VM ended before it started (a panic, a hang),
// or when the VM ended while it ran, or its own timeout or fault grace
// ended it, with a test of its own to blame: that test is skipped with the
// others done. When the kernel died before the agent read a test's start,
// the collector blamed the binary's next test (collect.Options.Order). A
// binary with no test to blame (their order unknown, or none left; or
// ended outside its tests) is not run again: with nothing to skip, the end
// would recur. A Go panic or a failing test ends a binary normally.
func leftover(tests []event.TestBinary, col *collect.Collector, done map[string][]string) []event.TestBinary {
	vmDied := !col.AgentDone()
	var rest []event.TestBinary
	for _, tb := range tests {
		b, ok := col.Binary(tb.Name)
		switch {
		case !ok:
			if vmDied {
				rest = append(rest, tb)
			}
			continue
		case b.Exit != nil && !b.Exit.TimedOut && !b.Exit.Stalled:
			continue
		}
		blamed := b.Blamed // a test was open when the binary was ended
		for name, ended := range b.Tests {
			if !strings.Contains(name, "/") && !slices.Contains(done[tb.Name], name) {
				done[tb.Name] = append(done[tb.Name], name)
			}
			blamed = blamed || !ended // open when the VM ended
		}
		if blamed {
			rest = append(rest, tb)
		}
	}
	return rest
}

// withSkip returns args with a -test.skip that also skips the top-level
// tests named (go test >= 1.20). A user's own -test.skip is kept as an
// alternative of the same pattern where it names only top-level tests;
// one with a slash (a subtest pattern) cannot be joined and gives way.
func withSkip(args, names []string) []string {
	if len(names) == 0 {
		return args
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	slices.Sort(quoted)
	pat := "^(" + strings.Join(quoted, "|") + ")$"
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		user, ok := strings.CutPrefix(strings.TrimPrefix(a, "-"), "-test.skip=")
		if !ok {
			user, ok = strings.CutPrefix(a, "-test.skip=")
		}
		if !ok && (a == "-test.skip" || a == "--test.skip") && i+1 < len(args) {
			user, ok = args[i+1], true
			i++
		}
		if !ok {
			out = append(out, a)
			continue
		}
		if user != "" && len(SplitPattern(user)) == 1 {
			pat = "(" + user + ")|" + pat
		}
	}
	return append(out, "-test.skip="+pat)
}

// mergeReboot adds the results of a reboot's VM (again) to the kernel's:
// its tests, marked AfterReboot, with their findings; its boot among the
// reboots; its artifacts. Findings the kernel logged before the modules
// were loaded were reported by the first VM already.
func mergeReboot(kr, again *report.Kernel) {
	if again.Boot != nil {
		kr.Reboots = append(kr.Reboots, again.Boot)
	}
	joinVM(kr, again, true, "after a reboot")
}

// joinVM adds the results of another VM of the kernel (again) to its
// report kr: its artifacts, its findings but the kernel's own, its tests
// (marked AfterReboot with afterReboot) and its verdict, its error said
// to come from where.
func joinVM(kr, again *report.Kernel, afterReboot bool, where string) {
	for name, path := range again.Files {
		kr.Files[name] = path
	}
	index := map[int]int{}
	for i, f := range again.Findings {
		if f.KernelOwn() {
			continue
		}
		index[i] = len(kr.Findings)
		kr.Findings = append(kr.Findings, f)
	}
	have := map[report.TestKey]int{}
	for i, t := range kr.Tests {
		have[report.TestKey{Package: t.Package, Name: t.Name}] = i
	}
	for _, t := range again.Tests {
		t.AfterReboot = t.AfterReboot || afterReboot
		var fs []int
		for _, i := range t.Findings {
			if j, ok := index[i]; ok {
				fs = append(fs, j)
			}
		}
		t.Findings = fs
		// A test the first VM reported keeps that result, unless it did
		// not run there: KUnit suites run again at every load of their
		// module, the reboot's included.
		if i, ok := have[report.TestKey{Package: t.Package, Name: t.Name}]; ok {
			if kr.Tests[i].Status == report.NotRun {
				kr.Tests[i] = t
			}
			continue
		}
		kr.Tests = append(kr.Tests, t)
	}
	if again.Status == report.Pass {
		return
	}
	if kr.Status == report.Pass {
		kr.Status = again.Status
	}
	kr.Error = strings.TrimPrefix(kr.Error+"; "+where+": "+again.Error, "; ")
}
