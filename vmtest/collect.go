package vmtest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// maxTestOutput bounds the output kept per test; the rest is in events.jsonl.
const maxTestOutput = 64 << 10

// kindKmsgLost is the kind of the finding that says the kernel log has a
// hole: records the agent never read (the guest's ring buffer overran) or
// that did not arrive. A hole may have held a KASAN or lockdep report, so
// it fails the run like any finding outside a test.
const kindKmsgLost = "kernel log lost"

// maxAgentLog bounds the agent's diagnostics kept; the rest is in
// events.jsonl.
const maxAgentLog = 1000

// collector turns a guest's event stream into report entries. Events arrive
// in the guest's order; kernel log records are matched to tests by time,
// since the kernel log is read concurrently with the tests' output.
type collector struct {
	kernel   *report.Kernel
	dmesg    io.Writer // dmesg.txt
	progress func(detail string)

	hello, done bool
	helloAt     time.Time
	doneErr     string
	agentLog    []string
	binaries    map[string]*binaryRun
	order       []*testRun
	scanner     dmesg.Scanner
	findings    []timedFinding
	kmsgRecords int
	lostKmsg    int // records in batches that could not be decoded
	// kmsgNext is the sequence number the next kernel log record should
	// have; holes in the sequence (kmsgHoles) are records lost in the
	// guest, except for those already counted as lost in damaged batches
	// (kmsgDamaged, until the next record arrives).
	kmsgNext    uint64
	kmsgHoles   []seqHole
	kmsgDamaged uint64
	// kmsgOffset is the kernel log's clock minus the guest's monotonic
	// clock (event.Event.KmsgOffset), to put records on the tests' clock.
	kmsgOffset   int64
	testsStarted int
	leaks        []leakReport // kmemleak readings
	kunit        kunitResults
	stats        event.Stats
	steps        steps
	// live, if set, learns of each test's start and end as they arrive
	// (vmtest.Run's subtests then last as long as the guest's tests).
	live func(liveTest)
	// vmDump is what the guest printed for the SysRq dumps the host asked
	// for at the VM's deadline: it goes with the tests the deadline ended.
	vmDump string
}

type binaryRun struct {
	name       string
	start, end int64 // guest monotonic ns
	exit       *event.Exit
	output     strings.Builder
	tests      map[string]*testRun
	// blamed: the binary ended abnormally with a test of its own running,
	// which the ending settled.
	blamed bool
}

type testRun struct {
	t          *report.Test
	start, end int64
	ended      bool
}

// seqHole is a run of kernel log records missing from the stream.
type seqHole struct{ first, n uint64 }

type timedFinding struct {
	f    dmesg.Finding
	mono int64 // guest monotonic ns of the report's first line; 0 if unknown
}

func newCollector(k *report.Kernel, dmesgOut io.Writer, progress func(string)) *collector {
	return &collector{kernel: k, dmesg: dmesgOut, progress: progress, binaries: map[string]*binaryRun{}}
}

// handle folds one event into the report.
func (c *collector) handle(ev event.Event) {
	c.steps.note(ev)
	switch ev.Type {
	case event.Hello:
		c.hello, c.helloAt = true, time.Now()
		c.setOffset(ev.KmsgOffset)
		c.kunit.since = max(ev.Mono, 1)
	case event.ModuleLoad:
		if ev.Module == nil {
			return
		}
		m := report.Module{Name: ev.Module.Name, Params: ev.Module.Params, Dep: ev.Module.Dep, Load: report.Pass}
		if ev.Err != "" {
			m.Load, m.Error, m.Errno = report.Fail, ev.Err, ev.Errno
		}
		if l := ev.Loaded; l != nil {
			m.Base, m.Size, m.Sections = l.Base, l.Size, l.Sections
		}

		c.kernel.Modules = append(c.kernel.Modules, m)
	case event.ModuleUnload:
		if ev.Module == nil {
			return
		}
		for i := range c.kernel.Modules {
			m := &c.kernel.Modules[i]
			if m.Name == ev.Module.Name {
				m.Unload = report.Pass
				if ev.Err != "" {
					m.Unload, m.UnloadError = report.Fail, ev.Err
				}
			}
		}
	case event.BinaryStart:
		c.setOffset(ev.KmsgOffset)
		c.binaries[ev.Binary] = &binaryRun{name: ev.Binary, start: ev.Mono, tests: map[string]*testRun{}}
	case event.Test:
		c.test(ev)
	case event.BinaryEnd:
		c.binaryEnd(ev)
	case event.Kmsg:
		c.kmsg(ev.Kmsg)
	case event.KmsgBatch:
		if ev.Batch == nil {
			return
		}
		recs, err := ev.Batch.Records()
		for i := range recs {
			c.kmsg(&recs[i])
		}
		if err != nil {
			c.logAgent(err.Error())
			c.lostKmsg += max(ev.Batch.Count-len(recs), 1)
			c.kmsgDamaged += uint64(max(ev.Batch.Count-len(recs), 1))
		}
	case event.Kmemleak:
		c.noteLeaks(ev)
	case event.KUnit:
		c.kunit.event(ev.Msg)
	case event.Log:
		c.logAgent(ev.Msg)
	case event.Done:
		c.done, c.doneErr = true, ev.Err
	}
}

func (c *collector) logAgent(msg string) {
	if len(c.agentLog) < maxAgentLog {
		c.agentLog = append(c.agentLog, msg)
	}
}

// channelLoss describes what the event channel lost, or is empty.
func (c *collector) channelLoss() string {
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

func (c *collector) binary(name string, mono int64) *binaryRun {
	b := c.binaries[name]
	if b == nil {
		b = &binaryRun{name: name, start: mono, tests: map[string]*testRun{}}
		c.binaries[name] = b
	}
	return b
}

func (c *collector) test(ev event.Event) {
	te := ev.Test
	if te == nil {
		return
	}
	b := c.binary(ev.Binary, ev.Mono)
	if te.Test == "" {
		if te.Action == "output" && b.output.Len() < maxTestOutput {
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
			c.live(liveTest{Package: ev.Binary, Name: te.Test})
		}
	}
	switch te.Action {
	case "output":
		if len(tr.t.Output) < maxTestOutput {
			tr.t.Output += te.Output
		}
	case "pass", "fail", "skip":
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
func (c *collector) binaryEnd(ev event.Event) {
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
	t := &report.Test{Package: b.name, Name: b.name, Status: st, Elapsed: ev.Exit.Elapsed,
		Output: b.output.String() + "\n--- kmodvm: " + describeExit(ev.Exit) + "\n" + ev.Exit.BlockedTasks}
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

// kmsg writes a kernel log record to dmesg.txt and scans it.
func (c *collector) kmsg(r *event.KmsgRecord) {
	if r == nil {
		return
	}
	c.kmsgRecords++
	c.checkSeq(r.Seq)
	line := fmt.Sprintf("[%5d.%06d] %s", r.Usec/1e6, r.Usec%1e6, r.Text)
	if c.dmesg != nil {
		fmt.Fprintln(c.dmesg, line)
	}
	c.kunit.record(r.Usec*1000-c.kmsgOffset, r.Text)
	for _, f := range c.scanner.Feed([]byte(line)) {
		c.findings = append(c.findings, timedFinding{f: f, mono: c.monoOf(f)})
	}
}

// finish completes the kernel's report after the VM ended: findings from
// the kernel log and from the console (which alone survives a panic) are
// attributed to the test that ran when they happened.
func (c *collector) finish(console []byte, vmEnd report.Status) {
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
	c.unfinishedBinaries(vmEnd)
	for _, tr := range c.order {
		if !tr.ended || tr.t.Status == report.NotRun {
			tr.t.Status = vmEnd
			tr.t.Output += "\n--- kmodvm: the VM ended while this test ran (" + string(vmEnd) + ")"
			if c.vmDump != "" {
				tr.t.Output += "; the guest's blocked tasks and CPUs at the deadline:\n" + c.vmDump
			}
		}
		c.kernel.Tests = append(c.kernel.Tests, tr.t)
	}
	c.kernel.Tests = append(c.kernel.Tests, c.kunit.tests()...)
	sort.SliceStable(c.findings, func(i, j int) bool { return c.findings[i].mono < c.findings[j].mono })
	for _, tf := range c.findings {
		rf := reportFinding(tf.f)
		idx := len(c.kernel.Findings)
		tr := c.testAt(tf.mono)
		switch {
		case !tf.f.Kind.IsBug():
			rf.Step = c.steps.at(tf.mono) // a taint note says which load tainted
		case c.steps.kernelOwn(tf.mono):
			rf.Owner = report.OwnerKernel
		case tr == nil:
			rf.Step = c.steps.at(tf.mono)
		default:
			rf.Test = tr.t.Package + ": " + tr.t.Name
			tr.t.Findings = append(tr.t.Findings, idx)
			if tr.t.Status == report.Pass || tr.t.Status == report.Skip {
				tr.t.Status = report.Fail
				tr.t.Output += "\n--- kmodvm: the kernel reported " + tf.f.Title + " during this test"
			}
		}
		c.kernel.Findings = append(c.kernel.Findings, rf)
	}
	c.leakFindings()
	if f, ok := c.lostRecords(); ok {
		c.kernel.Findings = append(c.kernel.Findings, f)
	}
	for _, m := range c.kernel.Modules {
		if m.Unload == report.Fail {
			c.kernel.Findings = append(c.kernel.Findings, report.Finding{Kind: "unload", Title: "module " + m.Name + " could not be unloaded",
				Report: m.UnloadError + " (a reference was leaked, or something still uses the module)", Module: m.Name})
		}
	}
}

// checkSeq notes a hole before the record numbered seq. The kernel numbers
// records from 0 at boot and /dev/kmsg returns them in order, skipping only
// those overwritten before they were read (the agent's read gets EPIPE), so
// a hole is a loss, also before the first record the agent read.
func (c *collector) checkSeq(seq uint64) {
	if seq < c.kmsgNext {
		return // a repeat, not a loss
	}
	if n := seq - c.kmsgNext; n > c.kmsgDamaged {
		c.kmsgHoles = append(c.kmsgHoles, seqHole{first: c.kmsgNext, n: n - c.kmsgDamaged})
	}
	c.kmsgNext, c.kmsgDamaged = seq+1, 0
}

// lostRecords returns the finding for the holes in the kernel log, if any.
func (c *collector) lostRecords() (report.Finding, bool) {
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

func (c *collector) setOffset(off int64) {
	if off != 0 {
		c.kmsgOffset = off
	}
}

// monoOf returns when a finding's first line was logged, on the guest's
// monotonic clock; 0 if unknown.
func (c *collector) monoOf(f dmesg.Finding) int64 {
	if f.Time == 0 {
		return 0
	}
	return max(1, f.Time.Nanoseconds()-c.kmsgOffset)
}

// unfinishedBinaries gives a binary that was running when the VM ended,
// with none of its tests open, a result of its own: a kernel that dies
// right after a test's "=== RUN" line was written may never let the agent
// read it, and the crash must still land on something.
func (c *collector) unfinishedBinaries(vmEnd report.Status) {
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
		c.order = append(c.order, &testRun{t: t, start: last + 1})
	}
}

func findingKey(f dmesg.Finding) string {
	if f.Time != 0 {
		return fmt.Sprintf("%s@%d", f.Kind, f.Time)
	}
	return string(f.Kind) + "\x00" + f.Title
}

// testAt returns the innermost test running at guest time mono: the one
// that started last among those whose run covers it.
func (c *collector) testAt(mono int64) *testRun {
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

// liveTest is a guest test's start, or its end (End set) with its verdict
// as known then, for the subtests of vmtest.Run.
type liveTest struct {
	Package, Name string
	End           *report.Test
	Findings      []report.Finding
	// VM, alone, says that a VM of the kernel ended, with its report: the
	// tests it cut short end with it.
	VM *report.Kernel
}

// liveEnd is tr's end as known when the guest reported it: the agent
// forwards the kernel log before a test's end, so the findings logged
// during the test are in. (Those only the console shows, and the
// attribution of records that arrive later, wait for the kernel's report.)
func (c *collector) liveEnd(tr *testRun) liveTest {
	t := *tr.t
	lt := liveTest{Package: t.Package, Name: t.Name, End: &t}
	for _, tf := range c.findings {
		if tf.f.Kind.IsBug() && !c.steps.kernelOwn(tf.mono) && c.testAt(tf.mono) == tr {
			lt.Findings = append(lt.Findings, reportFinding(tf.f))
		}
	}
	if len(lt.Findings) > 0 && (t.Status == report.Pass || t.Status == report.Skip) {
		t.Status = report.Fail
	}
	return lt
}
