// Package collect turns what a guest sent, its agent's events and its
// kernel log, into a kernel's report (report.Kernel): module loads and
// unloads, each test binary, test and subtest, the findings of the kernel
// log and the console attributed to the test or step that ran when the
// kernel logged them (attribute.go), every module instance a bare address
// may be code of (instances.go), kmemleak's leaks (leaks.go), KUnit's
// results (kunit.go), the modules' gcov data (gcda.go), what the event
// channel lost, and the kernel's verdict. A kernel report the allow-list
// (Options.Allow) accepts is marked allowed as it is made, and fails
// nothing; kmodvm's own findings (a module that would not unload, kernel
// log records lost) are never allowed.
//
// It knows nothing of how the guest ran: the runner (vmtest/run) feeds it
// the events as they arrive (Handle, or Decode on the events port) and,
// once the VM has ended, says how (End) and takes the report (Finish,
// Verdict). Its tests replay real runs' event streams, with no VM.
package collect

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/allow"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// kindKmsgLost is the kind of the finding that says the kernel log has a
// hole: records the agent never read (the guest's ring buffer overran) or
// that did not arrive. A hole may have held a KASAN or lockdep report, so
// it fails the run like any finding outside a test.
const kindKmsgLost = "kernel log lost"

// maxAgentLog bounds the agent's diagnostics kept; the rest is in
// events.jsonl.
const maxAgentLog = 1000

// Collector turns a guest's event stream into report entries. Events
// arrive in the guest's order; kernel log records are matched to tests by
// time, since the kernel log is read concurrently with the tests' output.
// A Collector serves one VM; it is not safe for concurrent use.
type Collector struct {
	// kernel gathers the VM's modules while it runs; Finish makes it the
	// report it completes.
	kernel   *report.Kernel
	dmesg    io.Writer // dmesg.txt
	progress func(detail string)
	// output is Options.Output.
	output func(binary, text string)

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
	// scoped and injected: Options.Scoped, and the times of the failures
	// the kernel injected (scoped.go).
	scoped   bool
	injected []int64
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
	jiffies      jiffiesClock // the kernel's ticks on the guest's clock
	history      history      // every module instance, the tests' own loads too
	kunit        kunitResults
	gcda         gcdaFiles // the modules' gcov data
	fuzzRing     *gcdaFile // the fuzz glue's ring, gzip-compressed (FuzzRing)
	sweep        sweepState
	stats        event.Stats
	steps        steps
	// live, if set, learns of each test's start and end as they arrive
	// (vmtest.Run's subtests then last as long as the guest's tests).
	live func(Live)
	// heard and record are Options.Heard and Options.Record.
	heard  func(event.Type)
	record func(string)
	// testOrder is Options.Order.
	testOrder func(binary string) ([]string, bool)
	allow     allow.List
	// vmDump is what the guest printed for the SysRq dumps the host asked
	// for at the VM's deadline, or when it ended the VM as stuck (vmWhy
	// says why): it goes with the tests the VM's end cut short.
	vmDump, vmWhy string
}

// Options are where a Collector reports as the events arrive; each may
// be nil.
type Options struct {
	// Dmesg receives the kernel log, one record a line (dmesg.txt).
	Dmesg io.Writer
	// Progress hears "N run" as each test starts and "pass TestX" (fail,
	// skip) as it ends.
	Progress func(detail string)
	// Live learns of each test's start and end as the guest reports them.
	Live func(Live)
	// Output hears each piece of a test's output as it arrives (a line,
	// mostly), with its binary: a fuzz job's status shown while it runs.
	Output func(binary, text string)
	// Heard learns of each event's type as the collector takes it, and
	// Record of each kernel log record's text: what a watch on the
	// guest's progress needs, without a decoder of its own.
	Heard  func(event.Type)
	Record func(text string)
	// Order, if set, returns the top-level tests a binary of the VM
	// runs, in the order go test runs them (its -test.run and -test.skip
	// applied), or false when they are unknown: a binary the VM's end cut
	// short with none of its tests open is blamed on the first of them
	// with no result.
	Order func(binary string) ([]string, bool)
	// Allow are the allow-list's rules in force: a kernel report (of the
	// kernel log, the console or kmemleak) one matches is marked allowed
	// and fails neither its test nor the kernel.
	Allow allow.List
	// Scoped: the module's calls failed at random while the tests ran
	// (--scoped-faults); a failed test those failures explain is
	// skipped (scoped.go).
	Scoped bool
}

// New returns a Collector for one VM's events.
func New(o Options) *Collector {
	return &Collector{kernel: &report.Kernel{}, dmesg: o.Dmesg, progress: o.Progress, live: o.Live, output: o.Output,
		heard: o.Heard, record: o.Record, testOrder: o.Order, allow: o.Allow, binaries: map[string]*binaryRun{}, gcda: gcdaFiles{},
		scoped: o.Scoped}
}

// Decode feeds c the events read from r until r ends, and then the
// decoder's counts of what it skipped; onHello, if set, runs when the
// agent says hello. It reads r to its end whatever arrives, so the writer
// never blocks.
func (c *Collector) Decode(r io.Reader, onHello func()) {
	dec := event.NewDecoder(r)
	for {
		ev, err := dec.Next()
		if err != nil {
			io.Copy(io.Discard, r)
			c.stats = dec.Stats()
			return
		}
		if ev.Type == event.Hello && onHello != nil {
			onHello()
		}
		c.Handle(ev)
	}
}

// Hello says whether the agent said hello, and when it arrived (the
// host's clock): the guest's boot ended then, and its tests began.
func (c *Collector) Hello() (at time.Time, ok bool) { return c.helloAt, c.hello }

// AgentDone says whether the agent reported the end of its run: a VM
// that ended without it died, or was ended, before the agent finished.
func (c *Collector) AgentDone() bool { return c.done }

// Modules are the modules the agent loaded so far, in order.
func (c *Collector) Modules() []report.Module { return c.kernel.Modules }

// Stats are the decoder's counts of what Decode skipped.
func (c *Collector) Stats() event.Stats { return c.stats }

// Binary is what the events said of one test binary's run.
type Binary struct {
	// Exit is how it ended; nil when the VM ended first.
	Exit *event.Exit
	// Blamed says that it ended abnormally with a test of its own
	// running, which the ending settled.
	Blamed bool
	// Tests are its tests and subtests by name, true for those that
	// ended.
	Tests map[string]bool
}

// Binary returns what the events said of the test binary named name;
// false if it never started.
func (c *Collector) Binary(name string) (Binary, bool) {
	b := c.binaries[name]
	if b == nil {
		return Binary{}, false
	}
	out := Binary{Exit: b.exit, Blamed: b.blamed, Tests: map[string]bool{}}
	for n, tr := range b.tests {
		out.Tests[n] = tr.ended
	}
	return out, true
}

// AnyTests says whether a test has a result, or a binary that ended with
// no test to blame stands for its tests.
func (c *Collector) AnyTests() bool { return len(c.order) > 0 }

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
	// more is the output kept past maxTestOutput (output.go), added to
	// t.Output once the test ends: a builder, not a string grown line by
	// line, for a fuzz job's megabytes of corpus.
	more strings.Builder
}

// seqHole is a run of kernel log records missing from the stream.
type seqHole struct{ first, n uint64 }

type timedFinding struct {
	f    dmesg.Finding
	mono int64 // guest monotonic ns of the report's first line; 0 if unknown
}

// Handle folds one event into the report.
func (c *Collector) Handle(ev event.Event) {
	if c.heard != nil {
		c.heard(ev.Type)
	}
	c.steps.note(ev)
	c.history.note(ev)
	switch ev.Type {
	case event.Hello:
		c.hello, c.helloAt = true, time.Now()
		c.setOffset(ev.KmsgOffset)
		c.kunit.since = max(ev.Mono, 1)
		c.jiffies.note(ev.Jiffies)
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
		c.jiffies.note(ev.Jiffies)
		c.noteLeaks(ev)
	case event.FaultPoint:
		c.jiffies.note(ev.Jiffies)
		c.point(ev)
	case event.KUnit:
		c.kunit.event(ev.Msg)
	case event.Gcov:
		c.gcda.add(ev.Stage, ev.Chunk)
	case event.FuzzRing:
		if ev.Chunk != nil {
			c.fuzzRing = c.fuzzRing.put(ev.Chunk)
		}
	case event.Log:
		c.logAgent(ev.Msg)
	case event.Done:
		c.done, c.doneErr = true, ev.Err
	}
}

func (c *Collector) logAgent(msg string) {
	if len(c.agentLog) < maxAgentLog {
		c.agentLog = append(c.agentLog, msg)
	}
}

// kmsg writes a kernel log record to dmesg.txt and scans it.
func (c *Collector) kmsg(r *event.KmsgRecord) {
	if r == nil {
		return
	}
	c.kmsgRecords++
	c.checkSeq(r.Seq)
	if c.record != nil {
		c.record(r.Text)
	}
	line := fmt.Sprintf("[%5d.%06d] %s", r.Usec/1e6, r.Usec%1e6, r.Text)
	if c.dmesg != nil {
		fmt.Fprintln(c.dmesg, line)
	}
	c.kunit.record(r.Usec*1000-c.kmsgOffset, r.Text)
	c.noteInjected(r.Text, r.Usec*1000-c.kmsgOffset)
	c.sweep.record(r.Text)
	for _, f := range c.scanner.Feed([]byte(line)) {
		c.findings = append(c.findings, timedFinding{f: f, mono: c.monoOf(f)})
	}
}

// checkSeq notes a hole before the record numbered seq. The kernel numbers
// records from 0 at boot and /dev/kmsg returns them in order, skipping only
// those overwritten before they were read (the agent's read gets EPIPE), so
// a hole is a loss, also before the first record the agent read.
func (c *Collector) checkSeq(seq uint64) {
	if seq < c.kmsgNext {
		return // a repeat, not a loss
	}
	if n := seq - c.kmsgNext; n > c.kmsgDamaged {
		c.kmsgHoles = append(c.kmsgHoles, seqHole{first: c.kmsgNext, n: n - c.kmsgDamaged})
	}
	c.kmsgNext, c.kmsgDamaged = seq+1, 0
}

func (c *Collector) setOffset(off int64) {
	if off != 0 {
		c.kmsgOffset = off
	}
}
