package collect

import (
	"os"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// sweepLeak is a kmemleak report of an object sweepmod's init allocated
// at jiffies 4294668796 and leaked.
const sweepLeak = `unreferenced object 0xffff888004a3c8c0 (size 64):
  comm "init", pid 1, jiffies 4294668796
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace:
    [<ffffffff8146c4d1>] __kmem_cache_alloc_node+0x1d1/0x2c0
    [<ffffffff813f0a76>] kmalloc_trace+0x26/0x90
    [<ffffffffa0005021>] sweepmod_init+0x21/0x1000 [sweepmod]
    [<ffffffff81002a3f>] do_one_initcall+0x8f/0x2e0
    [<ffffffff8119e2aa>] do_init_module+0x4a/0x1d0
`

// sweepEvents are a sweep of sweepmod's load, three points 40 ms apart
// (the second leaks, the third is not reached), on a 250 Hz kernel
// whose jiffies were 4294667796 at 1 s.
func sweepEvents(t *testing.T) []event.Event {
	log, err := os.ReadFile("../dmesg/testdata/failslab-6.1.txt")
	if err != nil {
		t.Fatal(err)
	}
	point := func(nth int, at int64, injected bool, err string) []event.Event {
		p := event.Point{Op: event.OpLoad, Module: "sweepmod", Nth: nth, Calls: 2}
		begun := p
		begun.Begun = true
		p.Injected = injected
		done := event.Event{Type: event.FaultPoint, Point: &p, Start: at + 1, Mono: at + s(0.03), Err: err}
		if err != "" {
			done.Errno, done.Msg = 12, string(log)
		}
		if nth == 1 {
			done.Point.Leftover = []string{"/dev/sweepmod"}
		}
		return []event.Event{{Type: event.FaultPoint, Point: &begun, Mono: at}, done}
	}
	evs := []event.Event{
		{Type: event.Hello, Mono: s(1), Jiffies: &event.Jiffies{Jiffies: 4294667796, Mono: s(1)}},
		load("sweepmod", s(1.5), s(1.6), placeAt(0xffffffffa0010000, 0)),
	}
	evs = append(evs, point(1, s(4.96), true, "cannot allocate memory")...)
	evs = append(evs, point(2, s(5.0), true, "cannot allocate memory")...)
	evs = append(evs, point(3, s(5.04), false, "")...)
	return append(evs, event.Event{Type: event.Kmemleak, Stage: event.StageAfterTests, Msg: sweepLeak, Mono: s(21),
		Jiffies: &event.Jiffies{Jiffies: 4294667796 + 5000, Mono: s(21)}})
}

// Each point is a test; the leak allocated during the second is its
// finding, not the load's; what the first left behind fails it.
func TestSweepPoints(t *testing.T) {
	c := New(Options{})
	for _, ev := range sweepEvents(t) {
		c.Handle(ev)
	}
	kr := &report.Kernel{}
	c.Finish(kr, End{Status: report.Crash})
	byName := map[string]*report.Test{}
	for _, tt := range kr.Tests {
		byName[tt.Name] = tt
	}
	p1, p2, p3 := byName["load/sweepmod/fail-nth=1"], byName["load/sweepmod/fail-nth=2"], byName["load/sweepmod/fail-nth=3"]
	if p1 == nil || p2 == nil || p3 == nil {
		t.Fatalf("tests %v", byName)
	}
	if p1.Status != report.Fail || len(p1.Findings) != 1 || kr.Findings[p1.Findings[0]].Kind != kindLeftBehind {
		t.Errorf("point 1: %s, findings %v of %+v", p1.Status, p1.Findings, kr.Findings)
	}
	if p2.Status != report.Fail || len(p2.Findings) != 1 || kr.Findings[p2.Findings[0]].Kind != "memory leak" {
		t.Errorf("point 2: %s, findings %v of %+v", p2.Status, p2.Findings, kr.Findings)
	}
	if p3.Status != report.Pass || p3.Fault.Injected {
		t.Errorf("point 3: %s, %+v", p3.Status, p3.Fault)
	}
	if p2.Fault.Errno != 12 || p2.Fault.Site() == nil || p2.Fault.Site().Func != "sweepmod_init" {
		t.Errorf("point 2's fault %+v", p2.Fault)
	}
	if !strings.Contains(p2.Output, "failing at sweepmod_init+0x8b/0x1000 [sweepmod]") {
		t.Errorf("point 2's output:\n%s", p2.Output)
	}
}

// A VM that died in a point blames that point, whose failed call's
// stack comes from the kernel log, and one booted again resumes after it.
func TestSweepResume(t *testing.T) {
	c := New(Options{})
	evs := sweepEvents(t)
	for _, ev := range evs[:5] { // the second point begun, never done
		c.Handle(ev)
	}
	log, err := os.ReadFile("../dmesg/testdata/failslab-6.1.txt")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		c.Handle(event.Event{Type: event.Kmsg, Mono: s(5.01), Kmsg: &event.KmsgRecord{Seq: uint64(i), Usec: 5010000, Text: line}})
	}
	kr := &report.Kernel{}
	c.Finish(kr, End{Status: report.Crash})
	var crashed []string
	for _, tt := range kr.Tests {
		if tt.Status == report.Crash {
			crashed = append(crashed, tt.Name)
		}
	}
	if len(crashed) != 1 || crashed[0] != "load/sweepmod/fail-nth=2" {
		t.Fatalf("crashed %v", crashed)
	}
	var sites []string
	for _, s := range kr.FaultSites() {
		sites = append(sites, s.Site+" "+string(s.Worst))
	}
	if len(sites) != 1 || sites[0] != "sweepmod_init+0x8b/0x1000 [sweepmod] crash" {
		t.Errorf("sites %q, want the crashed point's", sites)
	}
	if !c.PointOpen() {
		t.Error("the point the VM died in is not open")
	}
	next := c.Resume(&event.FaultSweep{Tests: true, Done: []string{"unload/other"}})
	if next.From["load/sweepmod"] != 3 || !next.Tests || len(next.Done) != 1 {
		t.Errorf("resume %+v", next)
	}
	c = New(Options{})
	for _, ev := range evs {
		c.Handle(ev)
	}
	if c.PointOpen() {
		t.Error("a whole sweep has a point open")
	}
	if next := c.Resume(&event.FaultSweep{}); len(next.Done) != 1 || next.Done[0] != "load/sweepmod" {
		t.Errorf("after a whole sweep: %+v", next)
	}
	if c.Resume(nil) != nil {
		t.Error("no sweep resumed as one")
	}
}

// A leak's jiffies name the point it was allocated in, where the time
// mapped from them falls in the point before: under emulation the
// agent stamps its events well after it reads the jiffies, and a tick
// outlasts the gap between two points.
func TestSweepLeakByTick(t *testing.T) {
	const j0 = 4294667796 // at 1 s, 250 Hz
	tick := func(n uint64, at float64) *event.Jiffies { return &event.Jiffies{Jiffies: j0 + n, Mono: s(at)} }
	point := func(nth int, begun, end float64, first, last *event.Jiffies) []event.Event {
		p := event.Point{Op: event.OpLoad, Module: "sweepmod", Nth: nth, Calls: 2, Injected: true}
		b := p
		b.Begun, b.Injected = true, false
		return []event.Event{
			{Type: event.FaultPoint, Point: &b, Mono: s(begun), Jiffies: first},
			{Type: event.FaultPoint, Point: &p, Start: s(begun), Mono: s(end), Err: "cannot allocate memory", Errno: 12, Jiffies: last},
		}
	}
	evs := []event.Event{
		{Type: event.Hello, Mono: s(1), Jiffies: tick(0, 1)},
		load("sweepmod", s(1.5), s(1.6), placeAt(0xffffffffa0010000, 0)),
	}
	evs = append(evs, point(1, 4.9, 5.038, tick(975, 4.899), tick(1000, 5.0))...)
	evs = append(evs, point(2, 5.043, 5.09, tick(1001, 5.004), tick(1010, 5.08))...)
	leak := strings.Replace(sweepLeak, "jiffies 4294668796", "jiffies 4294668797", 1)
	evs = append(evs, event.Event{Type: event.Kmemleak, Stage: event.StageAfterTests, Msg: leak, Mono: s(21), Jiffies: tick(5000, 21)})
	c := New(Options{})
	for _, ev := range evs {
		c.Handle(ev)
	}
	kr := &report.Kernel{}
	c.Finish(kr, End{Status: report.Pass})
	for _, tt := range kr.Tests {
		want := 0
		if tt.Name == "load/sweepmod/fail-nth=2" {
			want = 1
		}
		if len(tt.Findings) != want {
			t.Errorf("%s: findings %v, want %d (the leak is point 2's)", tt.Name, tt.Findings, want)
		}
	}
}

// A VM that died in a later pass's point hands the next VM the hits of
// every pass, the pass and point to go on after, and the sites the tests
// ran for; the operation is not done, though its first pass ended. An
// operation before it, whose sweep ended when the next one's began, is.
func TestSweepResumeInALaterPass(t *testing.T) {
	c := New(Options{})
	c.Handle(event.Event{Type: event.Hello, Mono: s(1)})
	at := s(2)
	point := func(p event.Point, end bool) {
		begun := p
		begun.Begun = true
		c.Handle(event.Event{Type: event.FaultPoint, Point: &begun, Mono: at})
		at += s(0.05)
		if end {
			c.Handle(event.Event{Type: event.FaultPoint, Point: &p, Mono: at})
			at += s(0.05)
		}
	}
	const a, b = "sweepmod_init+0x21/0x1000 [sweepmod]", "sweepmod_init+0x8b/0x1000 [sweepmod]"
	point(event.Point{Op: event.OpLoad, Module: "other", Nth: 1}, true) // not injected: done
	point(event.Point{Op: event.OpLoad, Module: "sweepmod", Nth: 1, Injected: true}, true)
	point(event.Point{Op: event.OpLoad, Module: "sweepmod", Nth: 2, Injected: true, Site: a}, true)
	point(event.Point{Op: event.OpLoad, Module: "sweepmod", Nth: 3, Injected: true, Loaded: true, Tests: true, Site: b}, true)
	point(event.Point{Op: event.OpLoad, Module: "sweepmod", Nth: 4}, true) // the first pass's end
	point(event.Point{Op: event.OpLoad, Module: "sweepmod", Nth: 2, Pass: 2, Injected: true, Site: a}, true)
	point(event.Point{Op: event.OpLoad, Module: "sweepmod", Nth: 3, Pass: 2}, false) // died in it
	if !c.PointOpen() {
		t.Fatal("the point the VM died in is not open")
	}
	before := &event.FaultSweep{Tests: true, Passes: map[string]event.PassState{
		"load/sweepmod": {Hits: []event.Hit{{N: 7, Site: b}}}}, Tested: map[string]string{"x": "load/x/fail-nth=1"}}
	next := c.Resume(before)
	ps := next.Passes["load/sweepmod"]
	if ps.Pass != 2 || ps.After != 3 || len(ps.Killed) != 1 || ps.Killed[0] != 3 || len(ps.Hits) != 4 || ps.Hits[0].N != 7 || ps.Hits[3] != (event.Hit{N: 2, Site: a}) {
		t.Errorf("passes %+v", ps)
	}
	if len(next.Done) != 1 || next.Done[0] != "load/other" {
		t.Errorf("done %q, want load/other only", next.Done)
	}
	if next.Tested[b] != "load/sweepmod/fail-nth=3" || next.Tested["x"] == "" || len(next.Tested) != 2 {
		t.Errorf("tested %v", next.Tested)
	}
	if len(before.Passes["load/sweepmod"].Hits) != 1 || len(before.Tested) != 1 {
		t.Errorf("the sweep resumed changed: %+v", before)
	}
}
