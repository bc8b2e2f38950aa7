package collect

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// Real kmemleak reports. docsLeak is the one the kernel's documentation
// quotes (dev-tools/kmemleak.rst): 32 bytes allocated 375.486 s before
// the reading by the init function of a module since unloaded
// (0xffffffffc01d2036, called by do_one_initcall). debugLeak is kmodvm's
// 6.1-debug kernel's (vmtest/dmesg/testdata/report/6.1-debug): 1024 bytes
// kmalloc'ed in an ioctl of a module since unloaded (0xffffffffa000066c),
// dated by jiffies only.
const (
	docsLeak    = "../dmesg/testdata/report/docs/kmemleak.console"
	docsAddr    = 0xffffffffc01d2036
	debugLeak   = "../dmesg/testdata/report/6.1-debug/kmemleak-unloaded.console"
	debugAddr   = 0xffffffffa000066c
	debugJiffy  = 4294938029 // the object's allocation
	readAt      = 400 * time.Second
	docsAllocAt = readAt - 375486*time.Millisecond // 24.514 s
)

// s is n seconds of guest time, as event times are.
func s(n float64) int64 { return int64(n * float64(time.Second)) }

// placeAt is a module's place: .text at text (0x2000 bytes) and, if
// init is set, .init.text at init (0x100 bytes), as the agent reads them.
func placeAt(text, init uint64) *event.LoadedModule {
	m := &event.LoadedModule{Base: text, Size: 0x3000, Sections: map[string]uint64{".text": text, ".data": text + 0x2000},
		Sizes: map[string]uint64{".text": 0x2000, ".data": 0x400}}
	if init != 0 {
		m.Sections[".init.text"], m.Sizes[".init.text"] = init, 0x100
	}
	return m
}

func load(name string, start, end int64, at *event.LoadedModule) event.Event {
	return event.Event{Type: event.ModuleLoad, Module: &event.Module{Name: name}, Start: start, Mono: end, Loaded: at}
}

func added(name string, mono int64, at *event.LoadedModule) event.Event {
	return event.Event{Type: event.ModuleAdded, Module: &event.Module{Name: name}, Mono: mono, Loaded: at}
}

func removed(name string, mono int64) event.Event {
	return event.Event{Type: event.ModuleRemoved, Module: &event.Module{Name: name}, Mono: mono}
}

// testEvents is the events of test name of binary leaky.test running from
// start to end.
func testEvents(name string, start, end int64) []event.Event {
	return []event.Event{
		{Type: event.BinaryStart, Binary: "leaky.test", Mono: start},
		{Type: event.Test, Binary: "leaky.test", Test: &event.TestEvent{Action: "run", Test: name}, Mono: start + 1},
		{Type: event.Test, Binary: "leaky.test", Test: &event.TestEvent{Action: "pass", Test: name}, Mono: end - 1},
		{Type: event.BinaryEnd, Binary: "leaky.test", Exit: &event.Exit{}, Mono: end},
	}
}

// twoTests is the events of binary leaky.test running two tests: a from
// start to mid and b from a millisecond later to end; or, when b is
// named a/..., a from start to end and its subtest b until mid.
func twoTests(a string, start, mid int64, b string, end int64) []event.Event {
	te := func(action, test string, at int64) event.Event {
		return event.Event{Type: event.Test, Binary: "leaky.test", Test: &event.TestEvent{Action: action, Test: test}, Mono: at}
	}
	evs := []event.Event{{Type: event.BinaryStart, Binary: "leaky.test", Mono: start}, te("run", a, start+1)}
	if strings.HasPrefix(b, a+"/") {
		evs = append(evs, te("run", b, start+2), te("pass", b, mid), te("pass", a, end))
	} else {
		evs = append(evs, te("pass", a, mid), te("run", b, mid+int64(time.Millisecond)), te("pass", b, end))
	}
	return append(evs, event.Event{Type: event.BinaryEnd, Binary: "leaky.test", Exit: &event.Exit{}, Mono: end + 1})
}

// wantLeak is where a leak must be placed and attributed.
type wantLeak struct {
	module, section   string
	sectionAddr       uint64
	step, test, owner string
}

// Each leaked object's bare address is placed in the module instance that
// was loaded there when the object was allocated, and the object is
// attributed by that time, over the instance histories a run can have.
func TestLeaksPlacedInTheInstanceOfTheirAllocation(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		jiffies bool // the agent read jiffies with hello and kmemleak
		events  []event.Event
		want    wantLeak
	}{
		{"init code, then another module at its address", docsLeak, false, []event.Event{
			load("leaky", s(20), s(25), placeAt(0xffffffffc01c0000, 0xffffffffc01d2000)),
			added("leaky_kunit", s(30), placeAt(0xffffffffc01d2000, 0xffffffffc01f0000)),
			removed("leaky_kunit", s(390)), removed("leaky", s(391)),
		}, wantLeak{"leaky", ".init.text", 0xffffffffc01d2000, "load leaky", "", ""}},
		{"init code dated a tick after its load, another module there then", docsLeak, false, []event.Event{
			load("leaky", s(20), s(24.5), placeAt(0xffffffffc01c0000, 0xffffffffc01d2000)),
			added("leaky_kunit", s(24.6), placeAt(0xffffffffc01d2000, 0xffffffffc01f0000)),
		}, wantLeak{"leaky", ".init.text", 0xffffffffc01d2000, "load leaky", "", ""}},
		{"init code of a test's reload", docsLeak, false, append(append([]event.Event{
			load("leaky", s(2), s(5), placeAt(0xffffffffc01c0000, 0xffffffffc01d2000))},
			testEvents("TestReload", s(10), s(50))...),
			removed("leaky", s(20)), added("leaky", s(25), placeAt(0xffffffffc01c8000, 0xffffffffc01d2000))),
			wantLeak{"leaky", ".init.text", 0xffffffffc01d2000, "load leaky", "", ""}},
		{"init code of a module never heard of, before any module", docsLeak, false, []event.Event{
			load("leaky", s(30), s(31), placeAt(0xffffffffa0000000, 0)),
		}, wantLeak{"", "", 0, "", "", report.OwnerKernel}},
		{"reloaded at the same address", debugLeak, true, append(append([]event.Event{
			load("leaky", s(2), s(3), placeAt(0xffffffffa0000000, 0))},
			testEvents("TestIoctl", s(10), s(30))...),
			removed("leaky", s(15)), added("leaky", s(16), placeAt(0xffffffffa0000000, 0))),
			wantLeak{"leaky", ".text", 0xffffffffa0000000, "", "leaky.test: TestIoctl", ""}},
		{"another module at the freed address", debugLeak, true, append(append([]event.Event{
			load("leaky", s(2), s(3), placeAt(0xffffffffa0000000, 0)), load("leaky_kunit", s(3), s(4), placeAt(0xffffffffa0010000, 0))},
			testEvents("TestIoctl", s(10), s(30))...),
			removed("leaky", s(15)), removed("leaky_kunit", s(15.5)), added("leaky_kunit", s(16), placeAt(0xffffffffa0000000, 0))),
			wantLeak{"leaky_kunit", ".text", 0xffffffffa0000000, "", "leaky.test: TestIoctl", ""}},
		{"the module there before another", debugLeak, true, append(append([]event.Event{
			load("leaky", s(2), s(3), placeAt(0xffffffffa0000000, 0)), load("leaky_kunit", s(3), s(4), placeAt(0xffffffffa0010000, 0))},
			testEvents("TestIoctl", s(10), s(30))...),
			removed("leaky", s(25)), removed("leaky_kunit", s(25.5)), added("leaky_kunit", s(26), placeAt(0xffffffffa0000000, 0))),
			wantLeak{"leaky", ".text", 0xffffffffa0000000, "", "leaky.test: TestIoctl", ""}},
		{"a tick from the end of a test: no test", debugLeak, true, append([]event.Event{
			load("leaky", s(2), s(3), placeAt(0xffffffffa0000000, 0))},
			twoTests("TestA", s(10), s(20.005), "TestB", s(30))...),
			wantLeak{"leaky", ".text", 0xffffffffa0000000, "unload leaky", "", ""}},
		{"within a subtest and its parent", debugLeak, true, append([]event.Event{
			load("leaky", s(2), s(3), placeAt(0xffffffffa0000000, 0))},
			twoTests("TestA", s(10), s(20.005), "TestA/sub", s(30))...),
			wantLeak{"leaky", ".text", 0xffffffffa0000000, "", "leaky.test: TestA", ""}},
		{"no clock: the first module there, its unload", debugLeak, false, []event.Event{
			load("leaky", s(2), s(3), placeAt(0xffffffffa0000000, 0)), removed("leaky", s(15)),
			load("leaky_kunit", s(16), s(17), placeAt(0xffffffffa0000000, 0)),
		}, wantLeak{"leaky", ".text", 0xffffffffa0000000, "unload leaky", "", ""}},
		{"allocated before any module", debugLeak, true, []event.Event{
			load("leaky", s(30), s(31), placeAt(0xffffffffa0000000, 0)),
		}, wantLeak{"", "", 0, "", "", report.OwnerKernel}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text, err := os.ReadFile(c.fixture)
			if err != nil {
				t.Fatal(err)
			}
			col := New(Options{})
			hello, read := event.Event{Type: event.Hello, Mono: s(1)}, event.Event{Type: event.Kmemleak, Stage: event.StageAfterUnload, Mono: int64(readAt), Msg: string(text)}
			if c.jiffies {
				// HZ=100: the object was allocated 19 s after hello.
				hello.Jiffies = &event.Jiffies{Jiffies: debugJiffy - 1900, Mono: s(1)}
				read.Jiffies = &event.Jiffies{Jiffies: debugJiffy - 1900 + 39900, Mono: int64(readAt)}
			}
			col.Handle(hello)
			for _, ev := range c.events {
				col.Handle(ev)
			}
			col.Handle(read)
			col.finish(nil, report.Pass)
			leaks := leakFindings(col.kernel)
			if len(leaks) != 1 {
				t.Fatalf("%d leak findings, want 1: %+v", len(leaks), leaks)
			}
			checkLeak(t, col.kernel, leaks[0], c.want)
		})
	}
}

func leakFindings(kr *report.Kernel) []report.Finding {
	var leaks []report.Finding
	for _, f := range kr.Findings {
		if f.Kind == "memory leak" {
			leaks = append(leaks, f)
		}
	}
	return leaks
}

func checkLeak(t *testing.T, kr *report.Kernel, f report.Finding, want wantLeak) {
	t.Helper()
	var placed *report.Frame
	for i := range f.Frames {
		if f.Frames[i].Addr == docsAddr || f.Frames[i].Addr == debugAddr {
			placed = &f.Frames[i]
		}
	}
	got := wantLeak{step: f.Step, test: f.Test, owner: f.Owner}
	if placed != nil {
		got.module, got.section, got.sectionAddr = placed.Module, placed.Section, placed.SectionAddr
	}
	if got != want {
		t.Errorf("leak placed and attributed as %+v, want %+v", got, want)
	}
	if f.Module != want.module {
		t.Errorf("finding's module %q, want %q", f.Module, want.module)
	}
	for _, tt := range kr.Tests {
		if failed := tt.Status == report.Fail; failed != (tt.Package+": "+tt.Name == want.test) {
			t.Errorf("test %s: %s", tt.Name, tt.Status)
		}
	}
}

// kmemleak lists an object in every reading until it is freed: each is
// one finding, and the objects of one backtrace make one bug with their
// sizes summed once the kernel's findings are collapsed.
func TestLeakedObjectsOnceEachThenOneBug(t *testing.T) {
	text, err := os.ReadFile(docsLeak)
	if err != nil {
		t.Fatal(err)
	}
	// A second object of the same backtrace, allocated by the reload of
	// the module a second later.
	second := strings.NewReplacer("0xffff89862ca702e8", "0xffff89862ca70300", "age 375.486s", "age 374.486s").Replace(string(text))
	col := New(Options{})
	for _, ev := range []event.Event{{Type: event.Hello, Mono: s(1)},
		load("leaky", s(20), s(25), placeAt(0xffffffffc01c0000, 0xffffffffc01d2000)), removed("leaky", s(25.2)),
		added("leaky", s(25.6), placeAt(0xffffffffc01c8000, 0xffffffffc01d2000)),
		{Type: event.Kmemleak, Stage: event.StageAfterTests, Mono: int64(readAt), Msg: string(text)},
		{Type: event.Kmemleak, Stage: event.StageAfterUnload, Mono: int64(readAt), Msg: string(text) + second},
	} {
		col.Handle(ev)
	}
	col.finish(nil, report.Pass)
	if n := len(leakFindings(col.kernel)); n != 2 {
		t.Fatalf("%d leak findings, want one per object (2)", n)
	}
	col.kernel.DedupFindings()
	leaks := leakFindings(col.kernel)
	if len(leaks) != 1 || leaks[0].Occurrences() != 2 || leaks[0].Bytes != 64 || leaks[0].Step != "load leaky" {
		t.Errorf("collapsed: %+v", leaks)
	}
}

func TestJiffiesClock(t *testing.T) {
	cases := []struct {
		name    string
		samples []event.Jiffies
		hz      float64
		at      uint64
		want    int64
	}{
		{"HZ=100 over a minute", []event.Jiffies{{Jiffies: 4294937000, Mono: s(1)}, {Jiffies: 4294943001, Mono: s(61)}}, 100, 4294938000, s(11)},
		{"HZ=250, a tick off, from the nearest reading", []event.Jiffies{{Jiffies: 1000, Mono: s(10)}, {Jiffies: 1000 + 1251, Mono: s(15)},
			{Jiffies: 1000 + 875, Mono: s(13.5)}}, 250, 1000 + 875 + 25, int64(13600 * time.Millisecond)},
		{"HZ=250, drifting: from the reading nearest in ticks, a sweep point's", []event.Jiffies{{Jiffies: 1000, Mono: s(10)},
			{Jiffies: 1000 + 2000, Mono: s(14)}, {Jiffies: 1000 + 2500 + 50, Mono: s(20)}}, 250, 1000 + 2000 + 5, int64(14020 * time.Millisecond)},
		{"HZ=1000 over half a second", []event.Jiffies{{Jiffies: 5000, Mono: s(5)}, {Jiffies: 5499, Mono: s(5.5)}}, 1000, 4499, s(4.499)},
		{"one reading", []event.Jiffies{{Jiffies: 5000, Mono: s(5)}}, 0, 5000, 0},
		{"none", nil, 0, 5000, 0},
	}
	for _, c := range cases {
		jc := jiffiesClock{}
		for _, sm := range c.samples {
			jc.note(&sm)
		}
		if hz, got := jc.hz(), jc.mono(c.at); hz != c.hz || got != c.want {
			t.Errorf("%s: hz %g, jiffies %d at %d; want %g, %d", c.name, hz, c.at, got, c.hz, c.want)
		}
	}
}

// reloadsLeak is a real reading of kmemleak on kmodvm's 6.1-debug kernel
// (pointers hashed, no age), of kmod/ with the vfree of its exit removed,
// after guest/mmapdrv's tests: the buffer of the agent's load, allocated
// by mmapdrv_init at 0xffffffffa000505d but named after the KUnit module
// loaded there since, and the buffers of two of the suite's reloads,
// whose init code lay at 0xffffffffa000a000, as bare addresses.
const reloadsLeak = "testdata/kmemleak/6.1-debug-reloads.txt"

// The history of that run: the agent's loads, then the suite's reloads
// around the two (the module_added and module_removed events it sent).
func reloadsHistory() []event.Event {
	mmapdrv := func(init uint64) *event.LoadedModule {
		return &event.LoadedModule{Base: 0xffffffffa0000000, Size: 16384,
			Sections: map[string]uint64{".text": 0xffffffffa0000000, ".init.text": init},
			Sizes:    map[string]uint64{".text": 0xb4f, ".init.text": 0x108}}
	}
	kunit := &event.LoadedModule{Base: 0xffffffffa0005000, Size: 16384,
		Sections: map[string]uint64{".text": 0xffffffffa0005000}, Sizes: map[string]uint64{".text": 0x2a1}}
	return []event.Event{
		{Type: event.Hello, Mono: 13139837573, Jiffies: &event.Jiffies{Jiffies: 4294938609, Mono: 13133910660}},
		added("mmapdrv", 13607053243, mmapdrv(0xffffffffa0005000)),
		load("mmapdrv", 13555475802, 13788362746, mmapdrv(0xffffffffa0005000)),
		added("mmapdrv_kunit", 13964853258, kunit),
		load("mmapdrv_kunit", 13799283694, 14167922637, kunit),
		removed("mmapdrv", 24373147305), added("mmapdrv", 24504319763, mmapdrv(0xffffffffa000a000)),
		removed("mmapdrv", 25429770061), added("mmapdrv", 25537181249, mmapdrv(0xffffffffa000a000)),
		removed("mmapdrv", 39320932391), added("mmapdrv", 40747287713, mmapdrv(0xffffffffa000a000)),
		removed("mmapdrv", 40851428777), added("mmapdrv", 40962451967, mmapdrv(0xffffffffa000a000)),
	}
}

// The kernel named the agent's buffer after the KUnit module's function
// at its address when read; placed again by that function's address and
// the time of the allocation, it is the driver's init's, like the
// reloads' buffers: one bug of three objects.
func TestLeakNamedAfterALaterModuleIsPlacedAgain(t *testing.T) {
	text, err := os.ReadFile(reloadsLeak)
	if err != nil {
		t.Fatal(err)
	}
	col := New(Options{})
	for _, ev := range reloadsHistory() {
		col.Handle(ev)
	}
	col.Handle(event.Event{Type: event.Kmemleak, Stage: event.StageAfterTests, Mono: 94164210343, Msg: string(text),
		Jiffies: &event.Jiffies{Jiffies: 4294946708, Mono: 94126171792},
		Symbols: map[string]uint64{"mmapdrv_write_len_test [mmapdrv_kunit]": 0xffffffffa0005010}})
	col.finish(nil, report.Pass)
	leaks := leakFindings(col.kernel)
	want := []uint64{0xffffffffa0005000, 0xffffffffa000a000, 0xffffffffa000a000}
	if len(leaks) != len(want) {
		t.Fatalf("%d leak findings, want %d", len(leaks), len(want))
	}
	for i, f := range leaks {
		fr := f.Frames[2]
		if f.Title != "memory leak" || f.Module != "mmapdrv" || f.Step != "load mmapdrv" || fr.Func != "" ||
			fr.Module != "mmapdrv" || fr.Section != ".init.text" || fr.SectionAddr != want[i] || fr.Addr-fr.SectionAddr != 0x5d {
			t.Errorf("leak %d: %q module %q %s, frame %+v", i, f.Title, f.Module, f.Where(), fr)
		}
	}
	col.kernel.DedupFindings()
	if leaks := leakFindings(col.kernel); len(leaks) != 1 || leaks[0].Occurrences() != 3 || leaks[0].Bytes != 40960+40960+67108864 {
		t.Errorf("collapsed: %+v", leaks)
	}
}
