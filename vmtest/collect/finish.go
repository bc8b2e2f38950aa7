package collect

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// End is how a VM ended, as Finish needs it.
type End struct {
	// Status is what the tests the VM's end cut short become:
	// report.Crash for a panic, a reset or a guest that died,
	// report.Timeout for a VM past its deadline, report.NotRun when the
	// run was interrupted.
	Status report.Status
	// Console is the tail of the guest's console, scanned for the reports
	// the kernel log lacks (a panic's, which the guest never sent).
	Console []byte
	// Dump is what the guest printed for the SysRq dumps the host asked
	// for at the VM's deadline: it goes with the tests the deadline ended.
	Dump string
	// Why, if set, says why the host ended the VM before its deadline
	// (the guest stopped after a kernel fault); Dump is then from that
	// moment.
	Why string
}

// Finish completes kr, the kernel's report, after the VM ended: its
// modules, its tests, and the findings of the kernel log and the console
// (which alone survives a panic) attributed to the test that ran when the
// kernel logged them. kr.Boot, if the caller set it, is left alone; the
// caller then asks Verdict.
func (c *Collector) Finish(kr *report.Kernel, end End) {
	kr.Modules = c.kernel.Modules
	c.kernel = kr
	c.vmDump, c.vmWhy = end.Dump, end.Why
	c.finish(end.Console, end.Status)
}

// Verdict decides the status of kr, which Finish completed, from its
// parts: its boot (kr.Boot, which must be set), the agent's own error,
// its modules, tests and findings, and what the event channel lost.
func (c *Collector) Verdict(kr *report.Kernel) (report.Status, string) {
	b := kr.Boot
	if b.Status == report.Error {
		return report.Error, b.Error
	}
	var why []string
	if b.Status != report.Pass {
		why = append(why, b.Error)
	}
	if c.doneErr != "" {
		why = append(why, "agent: "+c.doneErr)
	}
	for _, m := range kr.Modules {
		if m.Load != report.Pass {
			why = append(why, fmt.Sprintf("loading %s failed: %s", m.Name, m.Error))
		}
	}
	nfail := 0
	for _, t := range kr.Tests {
		if t.Status.Failed() {
			nfail++
		}
	}
	if nfail > 0 {
		why = append(why, fmt.Sprintf("%d test(s) failed", nfail))
	}
	// One reason per bug, however often the kernel reported it.
	bugs, _ := report.Dedup(kr.Findings)
	for _, f := range bugs {
		if f.Blames() {
			why = append(why, f.Reason())
		}
	}
	// A lost line may have been a test's end or a kernel warning: a run
	// that ended well but lost some has no verdict (its tests' failures may
	// be the loss's doing).
	if loss := c.Loss(); loss != "" && b.Status == report.Pass {
		return report.Error, strings.Join(append([]string{"the event channel from the guest was damaged (" + loss + "): the results are incomplete"}, why...), "; ")
	}
	if len(why) > 0 {
		return report.Fail, strings.Join(why, "; ")
	}
	return report.Pass, ""
}

// finish completes the kernel's report after the VM ended: findings from
// the kernel log and from the console (which alone survives a panic) are
// attributed to the test that ran when they happened.
func (c *Collector) finish(console []byte, vmEnd report.Status) {
	for _, f := range c.scanner.Flush() {
		c.findings = append(c.findings, timedFinding{f: f, mono: c.monoOf(f)})
	}
	// The console repeats what the kernel log said (only its loudest
	// lines, under quiet): a console report is new only if no kernel log
	// report of its kind has its timestamp (or, untimed, its title).
	seen := map[string]bool{}
	for _, tf := range c.findings {
		seen[findingKey(tf.f)] = true
	}
	for _, f := range dmesg.Scan(console) {
		// On a hang the host forces a panic with an NMI to get the
		// guest's backtrace (see qemu.Run): kmodvm's doing, reported with
		// the timeout, not a finding.
		if vmEnd == report.Timeout && f.Kind == dmesg.KindPanic && strings.Contains(f.Report, "NMI: Not continuing") {
			continue
		}
		if !seen[findingKey(f)] {
			c.findings = append(c.findings, timedFinding{f: f, mono: c.monoOf(f)})
		}
	}
	c.unfinishedBinaries()
	c.sweep.settleOpen()
	for _, tr := range c.order {
		tr.flush()
		if !tr.ended || tr.t.Status == report.NotRun {
			tr.t.Status = vmEnd
			tr.t.Output += c.vmEndNote(vmEnd)
		}
		c.kernel.Tests = append(c.kernel.Tests, tr.t)
	}
	c.kernel.Tests = append(c.kernel.Tests, c.kunit.tests(c.inPoint)...)
	sort.SliceStable(c.findings, func(i, j int) bool { return c.findings[i].mono < c.findings[j].mono })
	for _, tf := range c.findings {
		rf := reportFinding(tf.f)
		c.allow.Mark(&rf)
		c.history.place(&rf, tf.mono)
		idx := len(c.kernel.Findings)
		tr := c.testAt(tf.mono)
		switch {
		case !tf.f.Kind.IsBug():
			rf.Step = c.steps.at(tf.mono) // a taint note says which load tainted
		case c.kernelOwns(tf):
			rf.Owner = report.OwnerKernel
		case tr == nil:
			rf.Step = c.steps.at(tf.mono)
		default:
			rf.Test = tr.t.Package + ": " + tr.t.Name
			tr.t.Findings = append(tr.t.Findings, idx)
			if rf.Allowed == nil && (tr.t.Status == report.Pass || tr.t.Status == report.Skip) {
				tr.t.Status = report.Fail
				tr.t.Output += "\n--- kmodvm: the kernel reported " + tf.f.Title + " during this test"
			}
		}
		c.kernel.Findings = append(c.kernel.Findings, rf)
	}
	c.leftBehind()
	c.leakFindings()
	c.excuseScoped()
	if f, ok := c.lostRecords(); ok {
		c.kernel.Findings = append(c.kernel.Findings, f)
	}
	for _, m := range c.kernel.Modules {
		if m.Unload == report.Fail {
			why := " (a reference was leaked, or something still uses the module)"
			if strings.Contains(m.UnloadError, event.Wedged) {
				why = " (the kernel's fault killed or stopped the task in the module's exit code: see the fault's finding)"
			}
			c.kernel.Findings = append(c.kernel.Findings, report.Finding{Kind: "unload", Title: "module " + m.Name + " could not be unloaded",
				Report: m.UnloadError + why, Module: m.Name})
		}
	}
}

// vmEndNote is what a test the VM's end cut short gets in its output.
func (c *Collector) vmEndNote(vmEnd report.Status) string {
	note := "\n--- kmodvm: the VM ended while this test ran (" + string(vmEnd) + ")"
	when := "at the deadline"
	if c.vmWhy != "" {
		note = "\n--- kmodvm: the VM ended while this test ran (" + string(vmEnd) + "): " + c.vmWhy
		when = "then"
	}
	if c.vmDump != "" {
		note += "; the guest's blocked tasks and CPUs " + when + ":\n" + c.vmDump
	}
	return note
}

// Loss describes what the event channel lost, or is empty.
func (c *Collector) Loss() string {
	var parts []string
	for _, p := range []struct {
		n         uint64
		one, many string
	}{
		{c.stats.Garbage, "garbage line", "garbage lines"},
		{c.stats.Truncated, "truncated line", "truncated lines"},
		{c.stats.Oversized, "oversized line", "oversized lines"},
		{c.stats.WrongVersion, "line of another protocol version", "lines of another protocol version"},
		// Junk before an event may be the start of another one, cut.
		{c.stats.Recovered, "event after junk on its line", "events after junk on their lines"},
		{uint64(max(c.lostKmsg, 0)), "kernel log record in a damaged batch", "kernel log records in damaged batches"},
	} {
		switch {
		case p.n == 1:
			parts = append(parts, "1 "+p.one)
		case p.n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.many))
		}
	}
	return strings.Join(parts, ", ")
}

// lostRecords returns the finding for the holes in the kernel log, if any.
func (c *Collector) lostRecords() (report.Finding, bool) {
	var n uint64
	var where []string
	for _, h := range c.kmsgHoles {
		n += h.n
		if len(where) < 10 {
			where = append(where, fmt.Sprintf("%d record(s) from #%d", h.n, h.first))
		}
	}
	if n == 0 {
		return report.Finding{}, false
	}
	title := fmt.Sprintf("%d kernel log records lost", n)
	if n == 1 {
		title = "1 kernel log record lost"
	}
	return report.Finding{Kind: kindKmsgLost, Title: title + " (the guest's log buffer overran before they were read): a kernel report may be missing",
		Report: "missing: " + strings.Join(where, ", ") + "; console.log may still have them"}, true
}

// monoOf returns when a finding's first line was logged, on the guest's
// monotonic clock; 0 if unknown.
func (c *Collector) monoOf(f dmesg.Finding) int64 {
	if f.Time == 0 {
		return 0
	}
	return max(1, f.Time.Nanoseconds()-c.kmsgOffset)
}

func findingKey(f dmesg.Finding) string {
	if f.Time != 0 {
		return fmt.Sprintf("%s@%d", f.Kind, f.Time)
	}
	return string(f.Kind) + "\x00" + f.Title
}

// kernelOwns reports whether a finding is the kernel's own: printed before
// any module under test was loaded, or a data race the modules under test
// are no party to (KCSAN finds benign ones in timers, RCU and the
// scheduler whatever runs).
func (c *Collector) kernelOwns(tf timedFinding) bool {
	return c.steps.kernelOwn(tf.mono) || (tf.f.Kind == dmesg.KindKCSAN && !c.modulesRace(tf.f))
}

// underTest says whether a frame is code of a module under test.
func (c *Collector) underTest(fr dmesg.Frame) bool {
	if fr.Module == "" {
		return false
	}
	for _, m := range c.kernel.Modules {
		if !m.Dep && moddep.Name(m.Name) == moddep.Name(fr.Module) {
			return true
		}
	}
	return false
}

// modulesRace reports whether the modules under test are a party to a
// data race KCSAN reports: an access made by a module's own code (its
// stack's first frame is the module's), or accesses each made on a
// module's behalf (a module frame in each one's own context, as when two
// of its calls copy to and from one buffer). A race between a kernel
// function a module called and an interrupt that came meanwhile (RCU's
// quiescent state under a module's vfree) is the kernel's: the
// interrupt's own frames have no module, and the module's call is only
// where the other access happened to run. A report whose accesses cannot
// be read is the modules' when it has any frame of theirs.
func (c *Collector) modulesRace(f dmesg.Finding) bool {
	accs := dmesg.KCSANAccesses(f.Report)
	if len(accs) == 0 {
		return c.underTest(dmesg.Frame{Func: f.Func, Module: f.Module}) || slices.ContainsFunc(f.Frames, c.underTest)
	}
	each := true
	for _, a := range accs {
		own := a.Own()
		if len(own) > 0 && c.underTest(own[0]) {
			return true
		}
		each = each && slices.ContainsFunc(own, c.underTest)
	}
	return each
}
