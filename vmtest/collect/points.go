package collect

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/dmesg"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// kindLeftBehind is the kind of the finding that a sweep's failed load
// left something behind: the module, its sysfs directory, a device.
const kindLeftBehind = "left behind"

// sweepState is what the events said of a fault-injection sweep's
// points (event.FaultPoint), each a test of report.PointPackage.
type sweepState struct {
	points map[string]*testRun // by point name
	// next is, by event.SweepKey, the first point a VM booted again
	// would run; done lists the operations swept to their end.
	next map[string]int
	done map[string]bool
	// current is the operation of the last point begun: an operation's
	// sweep ends when a point of another one begins.
	current string
	// hits are, by event.SweepKey, the points whose failure hit the
	// module's code, of every pass; tested is, by site, the point whose
	// instance the tests ran on: a VM booted again goes on with them
	// (event.FaultSweep.Passes, Tested).
	hits   map[string][]event.Hit
	tested map[string]string
	// left are the findings of what points left behind, added at Finish.
	left []pointLeft
	// finished counts the points that ended.
	finished int
	// open is the point begun and not yet ended, and log what the kernel
	// logged since it began: a point the VM dies in has no end event to
	// carry the failed call's stack.
	open     *testRun
	openPass int
	log      strings.Builder
	// ticks are the points' spans in the kernel's jiffies, read as each
	// began and ended: the agent begins a point in a tick after the one
	// the point before ended in, so that a leak's jiffies name its point.
	ticks map[*testRun]tickSpan
}

// tickSpan is a point's first and last jiffies; 0 for unread.
type tickSpan struct{ first, last uint64 }

// maxOpenLog bounds the kernel log kept for the point running.
const maxOpenLog = 64 << 10

// record keeps a kernel log record's text for the point running.
func (s *sweepState) record(text string) {
	if s.open != nil && s.log.Len() < maxOpenLog {
		s.log.WriteString(text + "\n")
	}
}

// settleOpen gives a point the VM died in what its log says: whether
// the failure was injected, and the failed call's stack.
func (s *sweepState) settleOpen() {
	tr := s.open
	if tr == nil || tr.ended {
		return
	}
	frames, ok := dmesg.InjectedStack(s.log.String())
	tr.t.Fault.Injected = ok
	for _, fr := range frames {
		tr.t.Fault.Stack = append(tr.t.Fault.Stack, *reportFrame(fr))
	}
}

type pointLeft struct {
	tr   *testRun
	what string
}

// point folds one FaultPoint event in: the begun one opens the point's
// test (the VM may die in it), the done one settles it.
func (c *Collector) point(ev event.Event) {
	p := ev.Point
	if p == nil {
		return
	}
	s := &c.sweep
	if s.points == nil {
		s.points, s.next, s.done = map[string]*testRun{}, map[string]int{}, map[string]bool{}
		s.hits, s.tested = map[string][]event.Hit{}, map[string]string{}
	}
	name := p.Name()
	key := event.SweepKey(p.Op, p.Module)
	tr := s.points[name]
	if tr == nil {
		fp := &report.FaultPoint{Op: p.Op, Module: p.Module, Nth: p.Nth, Calls: p.Calls}
		tr = &testRun{t: &report.Test{Package: report.PointPackage, Name: name, Status: report.NotRun, Fault: fp}, start: ev.Mono}
		s.points[name] = tr
		c.order = append(c.order, tr)
		if p.Pass <= 1 {
			s.next[key] = p.Nth + 1 // a point that kills the VM is not run again
		}
	}
	s.noteTick(tr, p.Begun, ev.Jiffies)
	if p.Begun && s.current != key {
		if s.current != "" {
			s.done[s.current] = true
		}
		s.current = key
	}
	if p.Begun {
		s.open, s.openPass = tr, p.Pass
		s.log.Reset()
		return
	}
	s.open = nil
	if ev.Start != 0 && ev.Start < tr.start {
		tr.start = ev.Start
	}
	fp := tr.t.Fault
	fp.Injected, fp.Loaded, fp.Tests, fp.Leftover = p.Injected, p.Loaded, p.Tests, p.Leftover
	fp.TestedBy = p.TestedBy
	fp.Error, fp.Errno = ev.Err, ev.Errno
	frames, _ := dmesg.InjectedStack(ev.Msg)
	for _, fr := range frames {
		fp.Stack = append(fp.Stack, *reportFrame(fr))
	}
	tr.t.Status, tr.end, tr.ended = report.Pass, ev.Mono, true
	tr.t.Elapsed = float64(ev.Mono-tr.start) / 1e9
	tr.t.Output = pointOutput(fp, ev.Msg)
	for _, what := range p.Leftover {
		s.left = append(s.left, pointLeft{tr: tr, what: what})
	}
	if !p.Injected && p.Pass <= 1 {
		s.done[key] = true
	}
	if p.Site != "" {
		s.hits[key] = append(s.hits[key], event.Hit{N: p.Nth, Site: p.Site})
		if p.Tests {
			s.tested[p.Site] = name
		}
	}
	s.finished++
}

// pointOutput is a point's test output: what it did, what it left, and
// what the kernel logged while it ran.
func pointOutput(fp *report.FaultPoint, log string) string {
	var b strings.Builder
	b.WriteString(fp.Summary() + "\n")
	for _, what := range fp.Leftover {
		fmt.Fprintf(&b, "left behind: %s\n", what)
	}
	if log = strings.TrimSpace(log); log != "" {
		b.WriteString("the kernel logged:\n" + log + "\n")
	}
	return b.String()
}

// leftBehind adds the findings of what the points left behind, each on
// its point's test, which fails.
func (c *Collector) leftBehind() {
	for _, l := range c.sweep.left {
		fp := l.tr.t.Fault
		f := report.Finding{Kind: kindLeftBehind, Module: fp.Module, Test: l.tr.t.Package + ": " + l.tr.t.Name,
			Title:  fmt.Sprintf("%s of %s left %s behind", fp.Op, fp.Module, l.what),
			Report: fp.Summary() + "\nleft behind: " + l.what}
		l.tr.t.Findings = append(l.tr.t.Findings, len(c.kernel.Findings))
		l.tr.t.Status = report.Fail
		c.kernel.Findings = append(c.kernel.Findings, f)
	}
}

// noteTick keeps the jiffies read as a point began or ended.
func (s *sweepState) noteTick(tr *testRun, begun bool, j *event.Jiffies) {
	if j == nil {
		return
	}
	if s.ticks == nil {
		s.ticks = map[*testRun]tickSpan{}
	}
	span := s.ticks[tr]
	if begun {
		span.first = j.Jiffies
	} else {
		span.last = j.Jiffies
	}
	s.ticks[tr] = span
}

// pointInTick returns the one sweep point whose span of jiffies holds
// tick, or nil: none or more than one (an agent that did not wait for a
// new tick between points).
func (c *Collector) pointInTick(tick uint64) *testRun {
	var found *testRun
	for tr, span := range c.sweep.ticks {
		if span.first == 0 || span.last == 0 || tick < span.first || tick > span.last {
			continue
		}
		if found != nil {
			return nil
		}
		found = tr
	}
	return found
}

// pointAt returns the sweep point whose run overlaps guest time lo to
// hi the most, or nil: points follow each other closer than a tick of
// the kernel's clock, which dates kmemleak's objects.
func (c *Collector) pointAt(lo, hi int64) *testRun {
	if hi == 0 {
		return nil
	}
	var best *testRun
	var most int64 = -1
	for _, tr := range c.sweep.points {
		if !tr.ended || tr.start > hi || tr.end < lo {
			continue
		}
		if o := min(hi, tr.end) - max(lo, tr.start); o > most || (o == most && tr.start < best.start) {
			best, most = tr, o
		}
	}
	return best
}

// inPoint reports whether guest time mono fell in a sweep point's run,
// from its begun event to its end (to the VM's end for the point it
// died in).
func (c *Collector) inPoint(mono int64) bool {
	for _, tr := range c.sweep.points {
		if mono >= tr.start && (!tr.ended || mono <= tr.end) {
			return true
		}
	}
	return false
}

// Resume returns the sweep a VM booted again after this one should run:
// sw's, from after the last point this VM began, without the operations
// it swept to their end, with what the VMs so far knew of the later
// passes (their hits, the pass and point this one died in) and of the
// sites the tests ran for. Nil when sw is.
func (c *Collector) Resume(sw *event.FaultSweep) *event.FaultSweep {
	if sw == nil {
		return nil
	}
	s := &c.sweep
	out := *sw
	out.From = maps.Clone(sw.From)
	if out.From == nil {
		out.From = map[string]int{}
	}
	maps.Copy(out.From, s.next)
	out.Tested = maps.Clone(sw.Tested)
	if len(s.tested) > 0 && out.Tested == nil {
		out.Tested = map[string]string{}
	}
	maps.Copy(out.Tested, s.tested)
	out.Passes = map[string]event.PassState{}
	for k, ps := range sw.Passes {
		ps.Hits = slices.Clone(ps.Hits)
		out.Passes[k] = ps
	}
	for k, hits := range s.hits {
		ps := out.Passes[k]
		ps.Hits = append(ps.Hits, hits...)
		out.Passes[k] = ps
	}
	died := ""
	if tr := s.open; tr != nil && !tr.ended {
		died = event.SweepKey(tr.t.Fault.Op, tr.t.Fault.Module)
		ps := out.Passes[died]
		ps.Killed = append(slices.Clone(ps.Killed), tr.t.Fault.Nth)
		if s.openPass >= 2 {
			ps.Pass, ps.After = s.openPass, tr.t.Fault.Nth
		}
		out.Passes[died] = ps
	}
	out.Done = append([]string{}, sw.Done...)
	for k := range s.done {
		// An operation whose first pass ended is not done while the VM
		// died in one of its later passes.
		if k != died && !slices.Contains(out.Done, k) {
			out.Done = append(out.Done, k)
		}
	}
	slices.Sort(out.Done)
	return &out
}

// PointOpen reports whether a sweep point began and never ended: the
// VM died in it.
func (c *Collector) PointOpen() bool {
	for _, tr := range c.sweep.points {
		if !tr.ended {
			return true
		}
	}
	return false
}

// PointsEnded counts the sweep points that ended in this VM.
func (c *Collector) PointsEnded() int { return c.sweep.finished }
