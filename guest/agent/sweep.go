package agent

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/guest/failnth"
)

// The sweep of a module's load and unload with each injectable call
// failing in turn (RunConfig.InjectFaults; issue 22). It runs in the
// same VM, from the state of a module unloaded, before the tests: one
// kmemleak clear before (Run's), one scan after the tests covers every
// point (the collector tells a point's leaks by their allocation's time
// and backtrace), and a point that kills the kernel costs that point
// only (the host boots again and resumes after it, FaultSweep.From).

// maxPointLog bounds the kernel log a point's event carries: the
// injected failure's stack and what the module printed.
const maxPointLog = 16 << 10

// loadSweepKnobs are syzkaller's settings but two. verbose=2: the
// kernel logs the failed call's stack, the point's only record of where
// the failure hit. And sleeping page allocations do not fail
// (fail_page_alloc's ignore-gfp-wait=Y): a module load's count of them
// depends on where its memory lands (KASAN populates the shadow of a
// vmalloc area page by page, where no earlier area did; vmalloc's bulk
// allocator falls back page by page), so with them the same N hit
// different calls from one load to the next, and on 6.1-debug a sweep
// skipped two of sweepmod's three allocations. A module's vmalloc still
// fails through its area's slab allocations.
func loadSweepKnobs() []failnth.Knob {
	knobs := failnth.Knobs(2)
	for i, k := range knobs {
		if k.Path == "fail_page_alloc/ignore-gfp-wait" {
			knobs[i].Value = "Y"
		}
	}
	return knobs
}

// sweepFaults sweeps the load and unload of every module under test that
// loaded, and leaves each loaded again for the tests.
func (a *Agent) sweepFaults(cfg event.RunConfig) {
	sw := cfg.InjectFaults
	if sw == nil {
		return
	}
	if err := failnth.Available(); err != nil {
		a.logf("inject faults: %v", err)
		return
	}
	restore, missing, err := failnth.Apply(failnth.DebugFS, loadSweepKnobs())
	if err != nil {
		a.logf("inject faults: %v", err)
		return
	}
	if len(missing) > 0 {
		a.logf("inject faults: the kernel lacks %s: those calls do not fail", strings.Join(missing, ", "))
	}
	defer func() {
		if err := restore(); err != nil {
			a.logf("inject faults: restore the knobs: %v", err)
		}
	}()
	a.rcuNormal = rcuExpedited()
	setRCUExpedited("1")
	defer setRCUExpedited(a.rcuNormal)
	for _, m := range cfg.Modules {
		if m.Dep || m.Early || a.notLoaded[moduleName(m)] {
			continue
		}
		if !a.sweepModule(m, cfg, sw) {
			return
		}
	}
}

// sweeper sweeps one module.
type sweeper struct {
	a     *Agent
	l     *loader
	m     event.Module
	name  string
	cfg   event.RunConfig
	sw    *event.FaultSweep
	grace time.Duration
	// before is what was registered with the module unloaded, before
	// the sweep (registered), and what the tests made since.
	before []string
	broken string // why the sweep cannot go on, once it cannot
	// hits are the points of the operation swept whose failure hit the
	// module's own code, and where, a VM's before this one's included.
	hits []hit
	// lastTick is the kernel's jiffies read at the end of the last point.
	lastTick uint64
	// tested is, by site, the point whose instance the tests ran on, in
	// this VM or one before it (FaultSweep.Tested).
	tested map[string]string
}

// sweepModule sweeps m's load, then its unload, and loads it again as
// it is. It reports false when the guest is left in no state to go on.
func (a *Agent) sweepModule(m event.Module, cfg event.RunConfig, sw *event.FaultSweep) bool {
	s := &sweeper{a: a, l: &loader{compressed: compressedFinit()}, m: m, name: moduleName(m), cfg: cfg, sw: sw,
		grace: time.Duration(cfg.FaultGrace), tested: maps.Clone(sw.Tested)}
	if err := unload(s.name); err != nil {
		a.logf("inject faults: %s does not unload before its sweep: %v", s.name, err)
		return true
	}
	s.before = registered()
	s.sweep(event.OpLoad)
	if s.broken == "" {
		s.sweep(event.OpUnload)
	}
	if s.broken != "" {
		a.logf("inject faults: the sweep of %s stopped: %s", s.name, s.broken)
		if strings.Contains(s.broken, event.Wedged) {
			return false
		}
	}
	if !moduleLoaded(s.name) && !sw.Only {
		if err := a.guarded(s.grace, func() error { return s.l.load(m) }); err != nil {
			a.logf("inject faults: %s does not load again after its sweep: %v", s.name, err)
			if a.notLoaded == nil {
				a.notLoaded = map[string]bool{}
			}
			a.notLoaded[s.name] = true
		}
	}
	return true
}

// sweep runs op's points: it counts op's injectable calls, then fails
// each in turn from FaultSweep.From on (those of its share,
// FaultSweep.Shares), until a point meets no failure or MaxPoints ran,
// then the later passes. Each VM of a split sweep counts for itself: a
// count is one load (a point's cost), and a VM that took it from the
// host would have to wait for another to make it. A VM booted again
// after one died in a later pass goes on with that pass
// (FaultSweep.Passes).
func (s *sweeper) sweep(op string) {
	key := event.SweepKey(op, s.name)
	if slices.Contains(s.sw.Done, key) {
		return
	}
	calls, err := s.count(op)
	if err != nil {
		s.broken = fmt.Sprintf("%s %s with nothing injected: %v", op, s.name, err)
		return
	}
	limit := s.sw.MaxPoints
	if limit <= 0 {
		limit = event.DefaultMaxPoints
	}
	before := s.sw.Passes[key]
	s.hits = slices.Clone(before.Hits)
	from := max(s.sw.From[key], 1)
	for n := s.sw.FirstFrom(from); n < from+limit && s.broken == "" && before.Pass < 2; n += s.sw.Step() {
		p := &event.Point{Op: op, Module: s.name, Nth: n, Calls: calls}
		if !s.point(p) || !p.Injected {
			break
		}
	}
	s.repass(op, calls, before)
}

// count returns how many injectable calls op makes with none failed,
// leaving the module unloaded.
func (s *sweeper) count(op string) (int, error) {
	if op == event.OpUnload {
		if err := s.l.load(s.m); err != nil {
			return 0, err
		}
	}
	in, err := s.run(op, failnth.Unbounded)
	if err == nil {
		err = in.Err
	}
	if op == event.OpLoad && err == nil {
		err = unload(s.name)
	}
	return in.Calls(), err
}

// run runs op once with its n-th injectable call failing, guarded
// against a kernel fault that never lets it return.
func (s *sweeper) run(op string, n int) (failnth.Injection, error) {
	call, done, err := s.prepare(op)
	if err != nil {
		return failnth.Injection{N: n}, err
	}
	defer done()
	var in failnth.Injection
	var ctl error
	var tid atomic.Int64
	err = s.a.guardedTask(s.grace, &tid, func() error {
		in, ctl = failnth.Run(n, func() error {
			tid.Store(int64(unix.Gettid())) // no injectable call
			return call()
		})
		return in.Err
	})
	if errors.Is(err, errWedged) {
		return in, err
	}
	return in, ctl
}

// prepare returns op as one system call with its arguments made, so
// that nothing else of the thread meets the armed failure.
func (s *sweeper) prepare(op string) (call func() error, done func(), err error) {
	if op == event.OpUnload {
		return deleteModuleCall(s.name)
	}
	return s.l.loadCall(s.m)
}

// point runs one point and reports it, begun and done; false stops the
// sweep (the guest is no longer in the state the next point needs).
func (s *sweeper) point(p *event.Point) bool {
	if p.Op == event.OpUnload {
		if err := s.l.load(s.m); err != nil {
			s.broken = fmt.Sprintf("load %s before unload point %d: %v", s.name, p.Nth, err)
			return false
		}
	}
	begun := *p
	begun.Begun = true
	s.a.emit(event.Event{Type: event.FaultPoint, Point: &begun, Jiffies: s.nextTick()})
	start := event.Monotonic()
	var in failnth.Injection
	var err error
	log := s.a.capture(func() { in, err = s.run(p.Op, p.Nth) })
	if p.Site = moduleSite(log, s.name); p.Site != "" {
		s.hits = append(s.hits, hit{N: p.Nth, Site: p.Site})
	}
	if errors.Is(err, errWedged) {
		s.a.abandon(fmt.Sprintf("%s point %d of %s: %v", p.Op, p.Nth, s.name, err))
	}
	p.Injected = in.Injected()
	ev := event.Event{Type: event.FaultPoint, Point: p, Start: start}
	if err != nil {
		ev.Err = err.Error()
		s.broken = fmt.Sprintf("%s point %d: %v", p.Op, p.Nth, err)
	} else if in.Err != nil {
		ev.Err, ev.Errno = in.Err.Error(), errnoOf(in.Err)
	}
	if s.broken == "" {
		s.after(p, in.Err, log)
	}
	ev.Msg = log[:min(len(log), maxPointLog)]
	// The kernel's ticks read with the point: kmemleak dates a leak by
	// its allocation's jiffies, and points are shorter than the drift
	// of jiffies from the guest's clock over a sweep under emulation.
	ev.Jiffies, _ = readJiffies()
	if ev.Jiffies != nil {
		s.lastTick = ev.Jiffies.Jiffies
	}
	s.a.emit(ev)
	return s.broken == ""
}

// nextTick waits for a tick of the kernel's after the one the last
// point's end was read in, and returns the jiffies read then (nil if
// unread). A leak's allocation is dated by its jiffies alone, and under
// emulation a tick can outlast the end of one point and the start of
// the next: a point that began in the tick the last one ended in had
// the leak of its load's init put on the point before it. Waiting costs
// a tick or less per point.
func (s *sweeper) nextTick() *event.Jiffies {
	deadline := time.Now().Add(time.Second)
	for {
		j, err := readJiffies()
		if err != nil || j.Jiffies > s.lastTick || time.Now().After(deadline) {
			return j
		}
		time.Sleep(time.Millisecond)
	}
}

// after checks what the point left and brings the guest back to the
// module unloaded: a load that failed must leave nothing, one that
// succeeded runs the tests where asked and is unloaded, an unload that
// failed is done again.
func (s *sweeper) after(p *event.Point, opErr error, log string) {
	loaded := moduleLoaded(s.name)
	p.Loaded = loaded
	failedLoad := p.Op == event.OpLoad && opErr != nil
	if failedLoad || (p.Op == event.OpUnload && opErr == nil) {
		p.Leftover = s.leftover(loaded, moduleCodeRan(p.Op, log))
	}
	if p.Op == event.OpLoad && opErr == nil && s.sw.Tests && len(s.cfg.Tests) > 0 && p.Site != "" {
		s.testInstance(p, p.Site)
	}
	if !loaded {
		return
	}
	if err := s.a.guarded(s.grace, func() error { return unload(s.name) }); err != nil {
		s.broken = fmt.Sprintf("unload %s after %s point %d: %v", s.name, p.Op, p.Nth, err)
	}
}

// testInstance runs the tests on the instance p's load left, its failure
// at site in the module, unless a point before it with the same site ran
// them (Point.TestedBy).
func (s *sweeper) testInstance(p *event.Point, site string) {
	if s.claimTests(p, site) {
		setRCUExpedited(s.a.rcuNormal)
		had := registered()
		s.a.runTests(pointBinaries(s.cfg.Tests, p))
		setRCUExpedited("1")
		// What the tests registered (a loop device, another module's
		// class) is not the module's to leave behind.
		s.before = append(s.before, registeredSince(had)...)
		slices.Sort(s.before)
	}
}

// claimTests marks p as the point whose instance the tests run on for
// site and says so, or names the point that ran them for site before.
func (s *sweeper) claimTests(p *event.Point, site string) bool {
	if by, ok := s.tested[site]; ok {
		p.TestedBy = by
		return false
	}
	if s.tested == nil {
		s.tested = map[string]string{}
	}
	s.tested[site] = p.Name()
	p.Tests = true
	return true
}

// pointBinaries are the binaries run on a point's instance, under names
// of their own.
func pointBinaries(tests []event.TestBinary, p *event.Point) []event.TestBinary {
	out := make([]event.TestBinary, len(tests))
	for i, tb := range tests {
		tb.Name = event.PointBinary(tb.Name, p)
		out[i] = tb
	}
	return out
}

// abandon ends the VM at once, without the Done event, after a point
// whose operation a kernel fault left hanging: the module is stuck in
// the kernel, and no later point or test could run from a known state.
// The host takes it for a VM that died in the point, which it blames,
// and boots a fresh VM that goes on after it (collect.Collector.Resume).
// The leaks of the points before it are read first: the fresh VM knows
// nothing of them.
func (a *Agent) abandon(why string) {
	a.logf("inject faults: %s; powering off for a fresh VM", why)
	if a.leaks {
		a.kmemleakCheck(event.StageAfterTests)
	}
	a.beat.stop()
	if a.kmsg != nil {
		a.kmsg.Stop()
	}
	if a.port != nil {
		drain(a.port)
	}
	powerOff()
}

// capture runs fn and returns what the kernel logged meanwhile.
func (a *Agent) capture(fn func()) string {
	if a.kmsg == nil {
		fn()
		return ""
	}
	return a.kmsg.Capture(fn)
}
