package vmtest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
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
	snapshot    string // report.Boot.Snapshot
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
	gcda         gcdaFiles // the modules' gcov data
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
	return &collector{kernel: k, dmesg: dmesgOut, progress: progress, binaries: map[string]*binaryRun{}, gcda: gcdaFiles{}}
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
	case event.Gcov:
		c.gcda.add(ev.Stage, ev.Chunk)
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
		case c.kernelOwns(tf):
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
			why := " (a reference was leaked, or something still uses the module)"
			if strings.Contains(m.UnloadError, event.Wedged) {
				why = " (the kernel's fault killed or stopped the task in the module's exit code: see the fault's finding)"
			}
			c.kernel.Findings = append(c.kernel.Findings, report.Finding{Kind: "unload", Title: "module " + m.Name + " could not be unloaded",
				Report: m.UnloadError + why, Module: m.Name})
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

func findingKey(f dmesg.Finding) string {
	if f.Time != 0 {
		return fmt.Sprintf("%s@%d", f.Kind, f.Time)
	}
	return string(f.Kind) + "\x00" + f.Title
}

// kernelOwns reports whether a finding is the kernel's own: printed before
// any module under test was loaded, or a data race between two pieces of
// the kernel (KCSAN finds benign ones in timers and the scheduler whatever
// runs).
func (c *collector) kernelOwns(tf timedFinding) bool {
	return c.steps.kernelOwn(tf.mono) || (tf.f.Kind == dmesg.KindKCSAN && !c.touchesModules(tf.f))
}

// touchesModules reports whether a finding names, or has a frame in, a
// module under test.
func (c *collector) touchesModules(f dmesg.Finding) bool {
	under := map[string]bool{}
	for _, m := range c.kernel.Modules {
		if !m.Dep {
			under[moddep.Name(m.Name)] = true
		}
	}
	if under[moddep.Name(f.Module)] {
		return true
	}
	for _, fr := range f.Frames {
		if fr.Module != "" && under[moddep.Name(fr.Module)] {
			return true
		}
	}
	return false
}
