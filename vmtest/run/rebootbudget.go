package run

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// rebootGraces is the default reboot budget in fault graces: enough for a
// few crashes that wedge the guest (each costs the grace and the host's
// diagnosis) and many that do not (a panic, a restore: a second or two).
const rebootGraces = 5

// rebootBudget bounds one kernel's reboots after its first crash: at most
// max of them, and, when limit is positive, all of them over limit after
// the first VM a crash ended: none starts later, and one still running
// then is ended (bound), its open test not run. It counts; the caller
// boots. Pure but for bound: the caller passes the times.
type rebootBudget struct {
	max   int
	limit time.Duration
	start time.Time // when the first crash's VM ended; zero before
	used  int
}

// rebootBudgetOf is the budget of the kernel's run: Config.MaxReboots and
// Config.RebootTime with their defaults.
func (run *kernelRun) rebootBudgetOf() rebootBudget {
	cfg := run.r.cfg
	b := rebootBudget{max: cfg.Reboots(), limit: cfg.RebootTime}
	if b.limit == 0 {
		grace := run.m.faultGrace
		if grace <= 0 {
			grace = faultGrace(run.r.accelFor(run.k.Arch))
		}
		b.limit = rebootGraces * grace
	}
	return b
}

// begin starts the clock at now, the end of the first VM a crash ended.
func (b *rebootBudget) begin(now time.Time) {
	if b.start.IsZero() {
		b.start = now
	}
}

// take starts a reboot at now and says why it may not ("" when it may).
func (b *rebootBudget) take(now time.Time) string {
	b.begin(now)
	switch {
	case b.used >= b.max:
		return fmt.Sprintf("the reboot budget is spent (at most %d reboots)", b.max)
	case b.limit > 0 && b.limit-now.Sub(b.start) < guestMinTime:
		return b.spentText()
	}
	b.used++
	return ""
}

// bound returns ctx for a reboot's VM, canceled when the budget's time
// is over, and whether that happened; stop releases it.
func (b *rebootBudget) bound(ctx context.Context) (vctx context.Context, cut func() bool, stop func()) {
	vctx, cancel := context.WithCancel(ctx)
	var over atomic.Bool
	if b.limit <= 0 {
		return vctx, over.Load, cancel
	}
	t := time.AfterFunc(time.Until(b.start.Add(b.limit)), func() {
		over.Store(true)
		cancel()
	})
	return vctx, over.Load, func() { t.Stop(); cancel() }
}

// spentText says that the budget's time is over.
func (b *rebootBudget) spentText() string {
	return fmt.Sprintf("the reboot budget is spent (no VM after %s from the first crash)", b.limit)
}

// note says what the crashes cost the kernel's run, at now: nothing when
// there was none.
func (b *rebootBudget) note(now time.Time) string {
	if b.start.IsZero() {
		return ""
	}
	limit := "no time limit"
	if b.limit > 0 {
		limit = b.limit.String() + " of VMs"
	}
	return fmt.Sprintf("After the first crash: %d reboot(s), %.0fs until the kernel's run ended (budget: at most %d reboots, %s).",
		b.used, now.Sub(b.start).Seconds(), b.max, limit)
}

// crashOf names what ended one VM early, from its own report (before it
// joins the kernel's): the test it blamed and the first finding on it,
// "TestMapRace: BUG: Bad page map in process mmapdrv.test", else the
// VM's first bug finding or its boot's error.
func crashOf(vm *report.Kernel) string {
	for _, t := range vm.Tests {
		if strings.Contains(t.Name, "/") || !culprit(t) {
			continue
		}
		for _, i := range t.Findings {
			if i >= 0 && i < len(vm.Findings) && isBug(vm.Findings[i]) {
				return t.Name + ": " + vm.Findings[i].Title
			}
		}
		return t.Name + ": " + string(t.Status)
	}
	for _, f := range vm.Findings {
		if isBug(f) {
			return "between tests: " + f.Title
		}
	}
	if vm.Boot != nil && vm.Boot.Error != "" {
		return firstLine(vm.Boot.Error)
	}
	return "the VM ended early"
}

// culprit says whether t is a test an early end of its VM or binary
// blamed: cut short by the VM's end, a crash, a timeout or the agent's
// fault grace.
func culprit(t *report.Test) bool {
	return t.Status == report.Crash || t.Status == report.Timeout ||
		(t.Status == report.Fail && strings.Contains(t.Output, "--- kmodvm: no progress after the kernel reported"))
}

// isBug says whether f is a bug of the modules' (not a taint note, not the
// kernel's own).
func isBug(f report.Finding) bool { return f.Kind != report.KindTaint && !f.KernelOwn() }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// notRunReason is what a test the crashes kept from running says.
func notRunReason(crashes []string, why string) string {
	if len(crashes) == 0 {
		return "not run: " + why
	}
	verb := "crashed"
	if len(crashes) > 1 {
		verb = fmt.Sprintf("crashed %d times", len(crashes))
	}
	return fmt.Sprintf("not run: the kernel %s (%s) and %s", verb, strings.Join(crashes, "; "), why)
}

// cutShort gives the tests the end of the reboot budget's time cut short
// (not run, in a reboot's VM) the reason, naming the crashes.
func cutShort(kr *report.Kernel, crashes []string) {
	reason := notRunReason(crashes, "the reboot budget's time was over while it ran")
	for _, t := range kr.Tests {
		if t.AfterReboot && t.Status == report.NotRun && !strings.HasPrefix(t.Output, "not run:") {
			t.Output = reason + "\n" + t.Output
		}
	}
}

// notRun adds to kr every top-level test of bins that the sources declare
// (known) and the binary's -test.run and -test.skip select but that has
// no result, as not run, saying why (the crashes, and why no VM ran them),
// or, for a binary whose tests are unknown and that has no result at all,
// the binary. It returns how many it added.
func notRun(kr *report.Kernel, bins []event.TestBinary, known map[string][]string, crashes []string, why string) int {
	have := map[report.TestKey]bool{}
	ran := map[string]bool{}
	for _, t := range kr.Tests {
		have[report.TestKey{Package: t.Package, Name: t.Name}] = true
		ran[t.Package] = true
	}
	reason := notRunReason(crashes, why)
	n := 0
	add := func(pkg, name string) {
		kr.Tests = append(kr.Tests, &report.Test{Package: pkg, Name: name, Status: report.NotRun, Output: reason})
		n++
	}
	for _, tb := range bins {
		names, ok := known[tb.Name]
		if !ok {
			if !ran[tb.Name] {
				add(tb.Name, tb.Name)
			}
			continue
		}
		for _, name := range selected(names, tb.Args) {
			if !have[report.TestKey{Package: tb.Name, Name: name}] {
				add(tb.Name, name)
			}
		}
	}
	return n
}
