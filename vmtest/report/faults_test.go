package report

import (
	"strings"
	"testing"
)

// The stacks of 6.1-debug's failslab reports, innermost first.
var (
	initStack = []Frame{{Func: "dump_stack_lvl"}, {Func: "should_fail_ex"}, {Func: "should_failslab"},
		{Func: "__kmem_cache_alloc_node"}, {Func: "kmalloc_trace"},
		{Func: "sweepmod_init", Offset: 0x2f, Module: "sweepmod", File: "sweepmod/sweepmod.c", Line: 31},
		{Func: "do_one_initcall"}}
	loaderStack = []Frame{{Func: "dump_stack_lvl"}, {Func: "should_fail_ex"}, {Func: "should_failslab"},
		{Func: "__kmalloc"}, {Func: "? kfree", Unreliable: true}, {Func: "load_module", Offset: 0x1a2}, {Func: "__do_sys_finit_module"}}
)

func TestFaultPointSite(t *testing.T) {
	for _, c := range []struct {
		name  string
		stack []Frame
		want  string
	}{
		{"in the module, symbolized", initStack, "sweepmod/sweepmod.c:31 in sweepmod_init"},
		{"the loader's call", loaderStack, "load_module+0x1a2"},
		{"no stack", nil, noStack},
		{"an inlined allocator", []Frame{{Func: "kcalloc"}, {Func: "sweepmod_init", Module: "sweepmod", File: "include/linux/slab.h", Line: 563,
			Inline: []Source{{Func: "kmalloc", File: "include/linux/slab.h", Line: 563}, {Func: "sweepmod_init", File: "sweepmod/sweepmod.c", Line: 34}}}},
			"sweepmod/sweepmod.c:34 in sweepmod_init"},
	} {
		p := &FaultPoint{Op: "load", Module: "sweepmod", Nth: 3, Injected: true, Stack: c.stack}
		if got := p.SiteText(); got != c.want {
			t.Errorf("%s: SiteText = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestFaultPointSummary(t *testing.T) {
	for _, c := range []struct {
		p    FaultPoint
		want string
	}{
		{FaultPoint{Op: "load", Module: "m", Nth: 7, Calls: 9, Injected: true, Stack: initStack, Error: "cannot allocate memory", Errno: 12},
			"load of m with injectable call 7 of 9 failing at sweepmod/sweepmod.c:31 in sweepmod_init; returned cannot allocate memory (errno 12)"},
		{FaultPoint{Op: "load", Module: "sweepmod", Nth: 2, Injected: true, Stack: initStack},
			"load of sweepmod with injectable call 2 failing at sweepmod/sweepmod.c:31 in sweepmod_init; loaded in spite of it"},
		{FaultPoint{Op: "load", Module: "sweepmod", Nth: 5, Injected: true, Stack: initStack, Loaded: true, TestedBy: "load/sweepmod/fail-nth=2"},
			"load of sweepmod with injectable call 5 failing at sweepmod/sweepmod.c:31 in sweepmod_init; loaded in spite of it; the tests ran on the instance of load/sweepmod/fail-nth=2, its failure at the same site"},
		{FaultPoint{Op: "unload", Module: "m", Nth: 4, Calls: 3},
			"unload of m with injectable call 4 of 3 not reached: nothing failed"},
	} {
		if got := c.p.Summary(); got != c.want {
			t.Errorf("Summary = %q\nwant      %q", got, c.want)
		}
	}
}

// Points that hit one site are one site, its worst status theirs, its
// findings each once; points that injected nothing are no site's.
func TestFaultSites(t *testing.T) {
	point := func(nth int, stack []Frame, st Status, findings ...int) *Test {
		return &Test{Package: PointPackage, Status: st, Findings: findings,
			Fault: &FaultPoint{Op: "load", Module: "sweepmod", Nth: nth, Injected: stack != nil, Stack: stack}}
	}
	k := &Kernel{Tests: []*Test{
		point(1, loaderStack, Pass),
		point(2, initStack, Fail, 0),
		point(3, loaderStack, Pass),
		point(4, initStack, Fail, 0, 1),
		point(5, nil, Pass),
		{Package: "x.test", Name: "TestX", Status: Fail},
	}}
	sites := k.FaultSites()
	if len(sites) != 2 {
		t.Fatalf("%d sites: %+v", len(sites), sites)
	}
	if s := sites[0]; s.Site != "load_module+0x1a2" || s.InModule || len(s.Points) != 2 || s.Worst != Pass {
		t.Errorf("loader site %+v", s)
	}
	if s := sites[1]; !s.InModule || len(s.Points) != 2 || s.Worst != Fail || len(s.Findings) != 2 {
		t.Errorf("module site %+v", s)
	}
}

// The Markdown report has a table of the failure sites, the leak named
// with its source line on the site the points reached it from.
func TestMarkdownFaultSites(t *testing.T) {
	leak := Finding{Kind: "memory leak", Title: "memory leak in sweepmod_init", Test: PointPackage + ": load/sweepmod/fail-nth=2",
		Frames: []Frame{{Func: "sweepmod_init", Module: "sweepmod", File: "sweepmod/sweepmod.c", Line: 24}}}
	k := &Kernel{Name: "6.1.0-debug", Status: Fail, Findings: []Finding{leak}, Tests: []*Test{
		{Package: PointPackage, Name: "load/sweepmod/fail-nth=1", Status: Pass,
			Fault: &FaultPoint{Op: "load", Module: "sweepmod", Nth: 1, Injected: true, Stack: loaderStack, Error: "cannot allocate memory", Errno: 12}},
		{Package: PointPackage, Name: "load/sweepmod/fail-nth=2", Status: Fail, Findings: []int{0},
			Fault: &FaultPoint{Op: "load", Module: "sweepmod", Nth: 2, Injected: true, Stack: initStack, Error: "cannot allocate memory", Errno: 12}},
		{Package: PointPackage, Name: "load/sweepmod/fail-nth=2/pass=2", Status: Fail, Findings: []int{0},
			Fault: &FaultPoint{Op: "load", Module: "sweepmod", Nth: 2, Injected: true, Stack: initStack, Error: "cannot allocate memory", Errno: 12}},
	}}
	var b strings.Builder
	if err := (&Report{Kernels: []*Kernel{k}}).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### Failure sites (--inject-faults)",
		"| ✅ | load sweepmod: `load_module+0x1a2` (outside the module) | fail-nth=1 | nothing; load returned cannot allocate memory |",
		"| ❌ | load sweepmod: `sweepmod/sweepmod.c:31 in sweepmod_init` | fail-nth=2, fail-nth=2 (pass 2) | 🐞 memory leak in sweepmod_init at sweepmod/sweepmod.c:24 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}

// The HTML report has the failure sites' table too.
func TestHTMLFaultSites(t *testing.T) {
	k := &Kernel{Name: "6.1.0-debug", Status: Pass, Tests: []*Test{
		{Package: PointPackage, Name: "load/sweepmod/fail-nth=2", Status: Pass,
			Fault: &FaultPoint{Op: "load", Module: "sweepmod", Nth: 2, Injected: true, Stack: initStack, Error: "cannot allocate memory", Errno: 12}},
	}}
	var b strings.Builder
	if err := (&Report{Kernels: []*Kernel{k}}).WriteHTML(&b, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Failure sites (--inject-faults)", "load sweepmod: <code>sweepmod/sweepmod.c:31 in sweepmod_init</code>",
		"<td>fail-nth=2</td><td>nothing; load returned cannot allocate memory</td>"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in the HTML report", want)
		}
	}
}
