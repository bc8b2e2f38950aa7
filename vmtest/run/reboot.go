package run

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// reboot runs, in fresh VMs, the tests that a kernel panic, a hang or a
// stalled test kept from running in the VM whose collector is col, so that
// such a test costs only itself: each binary left unfinished runs again
// with -test.skip naming every test that already has a result, and the
// results join the kernel's report marked AfterReboot. At most Config.MaxReboots VMs, each
// only after one that made progress.
func (run *kernelRun) reboot(ctx context.Context, col *collect.Collector) {
	img, m, kr := run.img, run.m, run.entry
	cfg := img.run
	done := map[string][]string{} // binary -> top-level tests with a result
	var known map[string][]string
	for n := 1; n <= run.r.cfg.Reboots() && col != nil; n++ {
		if known == nil {
			known = run.knownTests(cfg.Tests)
		}
		rest := pending(leftover(cfg.Tests, col, done), known, done)
		if len(rest) == 0 || !col.AnyTests() || ctx.Err() != nil {
			return
		}
		if _, ok := run.budget.bootable(); !ok {
			kr.Note = strings.TrimSpace(kr.Note + " No time was left to reboot for the tests a crash left.")
			return
		}
		run.budget.fitTests(&m)
		next := cfg
		next.Tests = nil
		for _, tb := range rest {
			tb.Args = withSkip(tb.Args, done[tb.Name])
			tb.Timeout = event.Duration(m.testTimeout)
			next.Tests = append(next.Tests, tb)
		}
		nextImg, err := img.again(next, n)
		if err != nil {
			kr.Note = strings.TrimSpace(kr.Note + " The reboot's image could not be written: " + err.Error())
			return
		}
		if !run.r.cfg.Keep {
			defer os.Remove(nextImg.path)
		}
		run.step(runcfg.PhaseBoot, fmt.Sprintf("reboot %d: the tests left after a crash or hang", n))
		again := &report.Kernel{Name: kr.Name, Selector: kr.Selector, Files: map[string]string{}}
		col = run.boot(ctx, vmPlan{img: nextImg, m: m, entry: again, n: n})
		mergeReboot(kr, again)
	}
}

// leftover returns the binaries to run again after the VM of col, and adds
// to done the top-level tests each already ran. A binary is left when the
// VM ended before it started (a panic, a hang), or when the VM ended while
// it ran, or its own timeout or fault grace ended it, with a test of its
// own to blame: that test is skipped with the others done. A binary that
// crashed with no test known to blame (the kernel died before the agent
// read the test's start) is not run again: the crash could recur forever.
// A Go panic or a failing test ends a binary normally.
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
		t.AfterReboot = true
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
	kr.Error = strings.TrimPrefix(kr.Error+"; after a reboot: "+again.Error, "; ")
}
