package collect

import (
	"fmt"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// The collector's tests: binaries, their tests and subtests, and which
// test ran at a given time.

func (c *Collector) binary(name string, mono int64) *binaryRun {
	b := c.binaries[name]
	if b == nil {
		b = &binaryRun{name: name, start: mono, tests: map[string]*testRun{}}
		c.binaries[name] = b
	}
	return b
}

func (c *Collector) test(ev event.Event) {
	te := ev.Test
	if te == nil {
		return
	}
	b := c.binary(ev.Binary, ev.Mono)
	if te.Action == "output" && c.output != nil {
		c.output(ev.Binary, te.Output)
	}
	if te.Test == "" {
		if te.Action == "output" && keepOutput(b.output.Len(), te.Output) {
			b.output.WriteString(te.Output)
		}
		return
	}
	tr := b.tests[te.Test]
	if tr == nil {
		tr = &testRun{t: &report.Test{Package: ev.Binary, Name: te.Test, Status: report.NotRun}, start: ev.Mono}
		b.tests[te.Test] = tr
		c.order = append(c.order, tr)
		c.testsStarted++
		if c.progress != nil {
			c.progress(fmt.Sprintf("%d run", c.testsStarted))
		}
		if c.live != nil {
			c.live(Live{Package: ev.Binary, Name: te.Test})
		}
	}
	switch te.Action {
	case "output":
		tr.addOutput(te.Output)
	case "pass", "fail", "skip":
		tr.flush()
		tr.t.Status = map[string]report.Status{"pass": report.Pass, "fail": report.Fail, "skip": report.Skip}[te.Action]
		tr.t.Elapsed = te.Elapsed
		tr.end, tr.ended = ev.Mono, true
		if c.progress != nil {
			c.progress(te.Action + " " + te.Test)
		}
		if c.live != nil {
			c.live(c.liveEnd(tr))
		}
	}
}

// binaryEnd settles the tests a binary left unfinished: a timeout times
// them out, a crash crashes them; a binary that failed with no test to
// blame becomes a test of its own.
func (c *Collector) binaryEnd(ev event.Event) {
	b := c.binary(ev.Binary, ev.Mono)
	b.end, b.exit = ev.Mono, ev.Exit
	if ev.Exit == nil {
		return
	}
	open := 0
	for _, tr := range b.tests {
		if tr.ended {
			continue
		}
		open++
		tr.end, tr.ended = ev.Mono, true
		switch {
		case ev.Exit.Stalled:
			tr.t.Status = report.Fail
			tr.t.Output += "\n--- kmodvm: " + describeExit(ev.Exit) + "; kmodvm ended it. Blocked tasks:\n" + ev.Exit.BlockedTasks
		case ev.Exit.TimedOut:
			tr.t.Status = report.Timeout
			tr.t.Output += "\n--- kmodvm: test binary timed out after " + fmt.Sprintf("%.0fs", ev.Exit.Elapsed) + "; blocked tasks:\n" + ev.Exit.BlockedTasks
		default:
			tr.t.Status = report.Crash
			tr.t.Output += "\n--- kmodvm: test binary ended while the test ran: " + describeExit(ev.Exit) + "\n" + b.output.String()
		}
	}
	b.blamed = open > 0
	if open > 0 || (ev.Exit.Code == 0 && ev.Exit.Signal == "" && !ev.Exit.TimedOut) {
		return
	}
	failed := false
	for _, tr := range b.tests {
		failed = failed || tr.t.Status.Failed()
	}
	if failed && !ev.Exit.TimedOut && ev.Exit.Signal == "" && ev.Exit.Code == 1 {
		return // the usual exit of a binary with failing tests
	}
	st := report.Crash
	switch {
	case ev.Exit.Stalled:
		st = report.Fail
	case ev.Exit.TimedOut:
		st = report.Timeout
	}
	end := "\n--- kmodvm: " + describeExit(ev.Exit) + "\n" + ev.Exit.BlockedTasks
	if self := b.tests[b.name]; self != nil {
		// A plain binary (kmodvm fuzz's harness) is one test named after
		// it, which its end settled: that test tells how it ended, and
		// the kernel's findings while it ran stay its own, not a second
		// test's of the same name. Its result is stamped with its last
		// output, before a fault that silenced it: it lasts to the end.
		self.t.Status = st
		self.end = max(self.end, b.end)
		self.flush()
		self.t.Output += b.output.String() + end
		return
	}
	t := &report.Test{Package: b.name, Name: b.name, Status: st, Elapsed: ev.Exit.Elapsed, Output: b.output.String() + end}
	c.order = append(c.order, &testRun{t: t, start: b.start, end: b.end, ended: true})
}

func describeExit(e *event.Exit) string {
	switch {
	case e.Stalled:
		return fmt.Sprintf("no progress after the kernel reported %q (ended after %.0fs)", e.Fault, e.Elapsed)
	case e.TimedOut:
		return fmt.Sprintf("timed out after %.0fs", e.Elapsed)
	case e.Signal != "":
		return "killed by signal " + e.Signal
	default:
		return fmt.Sprintf("exit status %d", e.Code)
	}
}

// unfinishedBinaries settles each binary that was running when the VM
// ended with none of its tests open: a kernel that dies right after a
// test's "=== RUN" line was written may never let the agent read it, and
// the crash must still land on something. It lands on the binary's next
// test, the first with no result in the order go test runs them
// (Options.Order), which go test had most likely started. A crash in code
// that runs before that test (TestMain, an init, a goroutine an earlier
// test left) lands there too, and, if a run without that test crashes
// again, on the test after it. Where the order is unknown, or every test
// has a result, the binary stands for its tests.
func (c *Collector) unfinishedBinaries() {
	for _, b := range c.binaries {
		if b.exit != nil {
			continue
		}
		open := false
		last := b.start
		for _, tr := range b.tests {
			open = open || !tr.ended
			last = max(last, tr.end)
		}
		if open {
			continue
		}
		t := &report.Test{Package: b.name, Name: b.name, Status: report.NotRun,
			Output: b.output.String() + "\n--- kmodvm: the VM ended while this binary ran, after its last reported test"}
		tr := &testRun{t: t, start: last + 1}
		if name, ok := c.nextTest(b); ok {
			t.Name = name
			t.Output = b.output.String() + "\n--- kmodvm: the agent had not read this test's start (its \"=== RUN\" line) when the VM ended: " +
				"it is the binary's first test with no result, in the order go test runs them, and is blamed for the VM's end " +
				"(as it would be for a crash in TestMain or an init before it)"
			b.tests[name] = tr
		}
		c.order = append(c.order, tr)
	}
}

// nextTest returns the first top-level test of b, in the order go test
// runs them, that has no result; false if the order is unknown or none is
// left.
func (c *Collector) nextTest(b *binaryRun) (string, bool) {
	if c.testOrder == nil {
		return "", false
	}
	names, ok := c.testOrder(b.name)
	if !ok {
		return "", false
	}
	for _, n := range names {
		if b.tests[n] == nil {
			return n, true
		}
	}
	return "", false
}

// testAt returns the innermost test running at guest time mono: the one
// that started last among those whose run covers it.
func (c *Collector) testAt(mono int64) *testRun {
	if mono == 0 {
		return nil
	}
	var best *testRun
	for _, tr := range c.order {
		if tr.start <= mono && (!tr.ended || mono <= tr.end) && (best == nil || tr.start >= best.start) {
			best = tr
		}
	}
	if best != nil {
		return best
	}
	// A test's start is when the agent read its "=== RUN" line, which is
	// never early but can be late: a test that keeps the only CPU busy in
	// the kernel (a soft lockup) holds the agent off. So a record logged
	// while a binary ran, between its tests, belongs to the next one.
	for _, b := range c.binaries {
		if mono < b.start || (b.end != 0 && mono > b.end) {
			continue
		}
		for _, tr := range b.tests {
			if tr.start > mono && (best == nil || tr.start < best.start) {
				best = tr
			}
		}
	}
	return best
}
