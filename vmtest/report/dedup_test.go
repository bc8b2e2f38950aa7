package report

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// badPageMap is one report of the seeded page-reference bug: the same
// title every time, no module frame in the munmap path's trace.
func badPageMap(test string, at float64) Finding {
	return Finding{Kind: "BUG", Title: "BUG: Bad page map in process mmapdrv.test", Test: test, Time: at, Module: "mmapdrv",
		Frames: []Frame{{Func: "dump_stack_lvl", Offset: 0x44, Size: 0x5c}, {Func: "print_bad_pte.cold", Offset: 0x6a, Size: 0xc5}, {Func: "zap_pte_range", Offset: 0x45d, Size: 0x840}}}
}

// kasanIn is a KASAN report whose trace passes through the module
// function fn.
func kasanIn(fn, test string, at float64) Finding {
	return Finding{Kind: "KASAN", Title: "KASAN: slab-out-of-bounds Write in mmapdrv_ioctl", Test: test, Time: at, Module: "mmapdrv",
		Frames: []Frame{{Func: "kasan_report", Offset: 0xe9, Size: 0x190}, {Func: "mmapdrv_ioctl", Offset: 0x37a, Size: 0x390, Module: "mmapdrv", Unreliable: true},
			{Func: fn, Offset: 0x10, Size: 0x80, Module: "mmapdrv"}, {Func: "mmapdrv_ioctl", Offset: 0x37a, Size: 0x390, Module: "mmapdrv"}}}
}

// flood is 60 reports of one bug, 5 in each of 12 tests.
func flood() []Finding {
	var fs []Finding
	for i := range 60 {
		fs = append(fs, badPageMap(fmt.Sprintf("mmapdrv.test: TestMap%02d", i/5), 10+float64(i)/10))
	}
	return fs
}

func TestDedup(t *testing.T) {
	var tests12 []string
	for i := range 12 {
		tests12 = append(tests12, fmt.Sprintf("mmapdrv.test: TestMap%02d", i))
	}
	leak := func(addr uint64, step string) Finding {
		return Finding{Kind: "memory leak", Title: "memory leak", Step: step, Frames: []Frame{{Func: "__kmalloc", Offset: 1, Size: 2}, {Addr: addr}}}
	}
	tests := []struct {
		name  string
		in    []Finding
		want  []string // per finding: "title | count | tests (when several) | time-lasttime"
		index []int
	}{
		{"a flood of one title in 12 tests is one finding", flood(),
			[]string{"BUG: Bad page map in process mmapdrv.test | 60 | " + strings.Join(tests12, ",") + " | 10-15.9"}, make([]int, 60)},
		{"one title in different module code is two bugs",
			[]Finding{kasanIn("mmapdrv_copy", "p: TestA", 1), kasanIn("mmapdrv_fill", "p: TestA", 2), kasanIn("mmapdrv_copy", "p: TestB", 3)},
			[]string{"KASAN: slab-out-of-bounds Write in mmapdrv_ioctl | 2 | p: TestA,p: TestB | 1-3", "KASAN: slab-out-of-bounds Write in mmapdrv_ioctl | 0 |  | 2-0"},
			[]int{0, 1, 0}},
		{"the faulting instruction is the module code when it is a module's",
			[]Finding{withPC(kasanIn("mmapdrv_copy", "p: TestA", 1), "mmapdrv_fill"), withPC(kasanIn("mmapdrv_fill", "p: TestA", 2), "mmapdrv_fill")},
			[]string{"KASAN: slab-out-of-bounds Write in mmapdrv_ioctl | 2 |  | 1-2"}, []int{0, 0}},
		{"outside any test joins the tests: a test's report stands for them, and fails the test",
			[]Finding{badPageMap("", 1), badPageMap("p: TestA", 2), badPageMap("p: TestB", 3), badPageMap("", 4)},
			[]string{"BUG: Bad page map in process mmapdrv.test | 4 | p: TestA,p: TestB | 2-4 | 2 outside"},
			[]int{0, 0, 0, 0}},
		{"a report that shows no module code joins the one that does, which stands for it",
			[]Finding{badPageMap("p: TestA", 1), withHandler(badPageMap("p: TestB", 2), "mmapdrv_fault"), badPageMap("p: TestC", 3),
				withHandler(badPageMap("p: TestD", 4), "mmapdrv_mmap")},
			[]string{"BUG: Bad page map in process mmapdrv.test | 3 | p: TestA,p: TestB,p: TestC | 2-3 | handler mmapdrv_fault",
				"BUG: Bad page map in process mmapdrv.test | 0 |  | 4-0 | handler mmapdrv_mmap"}, []int{0, 0, 0, 1}},
		{"outside any test only",
			[]Finding{badPageMap("", 1), badPageMap("", 2)},
			[]string{"BUG: Bad page map in process mmapdrv.test | 2 |  | 1-2"}, []int{0, 0}},
		{"the mapping's handler is the module code of a bad page map, whatever module code the unmap passed through",
			[]Finding{withHandler(withFrame(badPageMap("p: TestA", 1), "mmapdrv_read"), "mmapdrv_fault"), withHandler(withFrame(badPageMap("p: TestB", 2), "mmapdrv_write"), "mmapdrv_fault"),
				withHandler(badPageMap("p: TestB", 3), "mmapdrv_fault")},
			[]string{"BUG: Bad page map in process mmapdrv.test | 3 | p: TestA,p: TestB | 1-3 | handler mmapdrv_fault"}, []int{0, 0, 0}},
		{"the kernel's own and during a step are apart",
			[]Finding{{Kind: "WARNING", Title: "WARNING in f", Owner: OwnerKernel}, {Kind: "WARNING", Title: "WARNING in f", Step: "load m"},
				{Kind: "WARNING", Title: "WARNING in f", Step: "unload m"}, {Kind: "WARNING", Title: "WARNING in f", Step: "load m"}},
			[]string{"WARNING in f | 0 |  | 0-0", "WARNING in f | 2 |  | 0-0", "WARNING in f | 0 |  | 0-0"}, []int{0, 1, 2, 1}},
		{"leaks in code since unloaded group by address until named",
			[]Finding{leak(0xffffffffc0a01234, "unload m"), leak(0xffffffffc0a05678, "unload m"), leak(0xffffffffc0a01234, "unload m")},
			[]string{"memory leak | 2 |  | 0-0", "memory leak | 0 |  | 0-0"}, []int{0, 1, 0}},
		{"leaks placed in a module's instances group by their place in it",
			[]Finding{placed(leak(0xffffffffa0010066, "load m"), 0xffffffffa0010000), placed(leak(0xffffffffa0030066, "load m"), 0xffffffffa0030000),
				placed(leak(0xffffffffa0030070, "load m"), 0xffffffffa0030000)},
			[]string{"memory leak | 2 |  | 0-0", "memory leak | 0 |  | 0-0"}, []int{0, 0, 1}},
		{"findings already collapsed add up",
			[]Finding{{Kind: "WARNING", Title: "WARNING in f", Test: "p: A", Count: 3, Tests: []string{"p: A", "p: B"}, Time: 1, LastTime: 2},
				{Kind: "WARNING", Title: "WARNING in f", Test: "p: B", Count: 2, Tests: []string{"p: B", "p: C"}, Time: 3, LastTime: 4},
				{Kind: "WARNING", Title: "WARNING in f", Test: "p: C", Time: 5}},
			[]string{"WARNING in f | 6 | p: A,p: B,p: C | 1-5"}, []int{0, 0, 0}},
		{"taint notes too", []Finding{{Kind: KindTaint, Title: "m: loading out-of-tree module taints kernel", Step: "load m"},
			{Kind: KindTaint, Title: "m: loading out-of-tree module taints kernel", Step: "load m"}},
			[]string{"m: loading out-of-tree module taints kernel | 2 |  | 0-0"}, []int{0, 0}},
		{"nothing", nil, nil, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, index := Dedup(tt.in)
			var got []string
			for _, f := range out {
				row := fmt.Sprintf("%s | %d | %s | %g-%g", f.Title, f.Count, strings.Join(f.Tests, ","), f.Time, f.LastTime)
				if f.Outside > 0 {
					row += fmt.Sprintf(" | %d outside", f.Outside)
				}
				if f.Handler != nil {
					row += " | handler " + f.Handler.Func
				}
				got = append(got, row)
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(index, tt.index) {
				t.Errorf("got\n%s\nindex %v\nwant\n%s\nindex %v", strings.Join(got, "\n"), index, strings.Join(tt.want, "\n"), tt.index)
			}
			for i, f := range tt.in {
				g := out[index[i]]
				// One outside any test may join tests, which fail the kernel.
				if (g.Blames() != f.Blames() && !(f.Blames() && g.Outside > 0)) || g.KernelOwn() != f.KernelOwn() || g.Kind != f.Kind || g.Title != f.Title {
					t.Errorf("finding %d (%s) went into one that blames %v, kernel's own %v", i, f.Where(), g.Blames(), g.KernelOwn())
				}
			}
		})
	}
}

// The objects of one leak add up, through Dedup and JSON; a finding
// without leaked bytes has none in JSON.
func TestDedupSumsLeakedBytes(t *testing.T) {
	leak := Finding{Kind: "memory leak", Title: "memory leak in mmapdrv_init", Step: "load mmapdrv", Bytes: 40960,
		Frames: []Frame{{Func: "mmapdrv_init", Offset: 0x66, Size: 0x1a0, Module: "mmapdrv"}}}
	other := leak
	other.Bytes, other.Frames = 1024, []Frame{{Func: "mmapdrv_ioctl", Offset: 0x5c, Size: 0x390, Module: "mmapdrv"}}
	k := &Kernel{Name: "6.1.192-debug", Findings: []Finding{leak, leak, other, leak, {Kind: "WARNING", Title: "WARNING in f"}}}
	k.DedupFindings()
	var got []string
	for _, f := range k.Findings {
		got = append(got, fmt.Sprintf("%s ×%d %d", f.Title, f.Occurrences(), f.Bytes))
	}
	want := []string{"memory leak in mmapdrv_init ×3 122880", "memory leak in mmapdrv_init ×1 1024", "WARNING in f ×1 0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	var buf bytes.Buffer
	if err := (&Report{Schema: SchemaVersion, Kernels: []*Kernel{k}}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), `"bytes":`); n != 2 || !strings.Contains(buf.String(), `"bytes": 122880`) {
		t.Errorf("JSON has %d byte counts:\n%s", n, buf.String())
	}
}

// placed is f with its bare address placed in module m's .init.text,
// loaded at addr.
func placed(f Finding, addr uint64) Finding {
	fr := &f.Frames[len(f.Frames)-1]
	fr.Module, fr.Section, fr.SectionAddr = "m", ".init.text", addr
	return f
}

func withPC(f Finding, fn string) Finding {
	f.PC = &Frame{Func: fn, Offset: 0x20, Size: 0x80, Module: "mmapdrv"}
	return f
}

func withHandler(f Finding, fn string) Finding {
	f.Handler = &Frame{Func: fn, Module: "mmapdrv"}
	return f
}

func withFrame(f Finding, fn string) Finding {
	f.Frames = append(f.Frames, Frame{Func: fn, Offset: 0x10, Size: 0x80, Module: "mmapdrv"})
	return f
}

// A kernel's tests point at the findings they now share, each once.
func TestKernelDedupFindingsRepointsTests(t *testing.T) {
	k := &Kernel{Name: "6.1.0-57-amd64", Findings: append(flood()[:10:10], Finding{Kind: KindTaint, Title: "tainted"}),
		Tests: []*Test{{Package: "mmapdrv.test", Name: "TestMap00", Findings: []int{0, 1, 2, 3, 4}},
			{Package: "mmapdrv.test", Name: "TestMap01", Findings: []int{5, 6, 7, 8, 9}}, {Package: "mmapdrv.test", Name: "TestOK"}}}
	k.DedupFindings()
	if len(k.Findings) != 2 || k.Findings[0].Count != 10 || k.Findings[1].Title != "tainted" {
		t.Fatalf("findings: %+v", k.Findings)
	}
	for i, want := range [][]int{{0}, {0}, nil} {
		if got := k.Tests[i].Findings; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: findings %v, want %v", k.Tests[i].Name, got, want)
		}
	}
	if got := k.Findings[0].Seen(); got != "×10 in 2 tests, first during mmapdrv.test: TestMap00" {
		t.Errorf("Seen() = %q", got)
	}
}

func TestTallyAndSeen(t *testing.T) {
	tests := []struct {
		f           Finding
		tally, seen string
	}{
		{Finding{Test: "p: A"}, "", "during p: A"},
		{Finding{Test: "p: A", Count: 1}, "", "during p: A"},
		{Finding{Test: "p: A", Count: 5}, "×5", "×5 during p: A"},
		{Finding{Test: "p: A", Count: 60, Tests: []string{"p: A", "p: B"}}, "×60 in 2 tests", "×60 in 2 tests, first during p: A"},
		{Finding{Step: "load m", Count: 2}, "×2", "×2 during load m"},
		{Finding{Count: 3}, "×3", "×3 outside any test"},
		{Finding{Step: "load m", Count: 12, Bytes: 491520}, "×12, 491520 bytes", "×12, 491520 bytes during load m"},
		{Finding{Step: "load m", Bytes: 40960}, "", "during load m"},
	}
	for _, tt := range tests {
		if tally, seen := tt.f.Tally(), tt.f.Seen(); tally != tt.tally || seen != tt.seen {
			t.Errorf("%+v: Tally %q, Seen %q; want %q, %q", tt.f, tally, seen, tt.tally, tt.seen)
		}
	}
}

// A report from before the count reads as it did, each finding once; one
// with counts keeps them through JSON; shards of collapsed kernels merge.
func TestCountsInJSON(t *testing.T) {
	old := `{"schema": 1, "kernels": [{"name": "6.1", "status": "fail",
		"tests": [{"package": "p", "name": "TestA", "status": "fail", "findings": [0]}],
		"findings": [{"kind": "WARNING", "title": "WARNING in f", "test": "p: TestA", "time": 1.5}]}]}`
	r, err := ReadJSON(strings.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Kernels[0].Findings[0]; f.Occurrences() != 1 || f.Tally() != "" || !reflect.DeepEqual(f.SeenIn(), []string{"p: TestA"}) {
		t.Errorf("old finding reads as %+v", f)
	}
	shard := func(name string) *Report {
		k := &Kernel{Name: name, ID: name, Status: Fail, Findings: flood(), Tests: []*Test{{Package: "mmapdrv.test", Name: "TestMap00", Status: Fail, Findings: []int{0, 59}}}}
		k.DedupFindings()
		return &Report{Schema: SchemaVersion, Kernels: []*Kernel{k}}
	}
	var buf bytes.Buffer
	if err := Merge(shard("6.1"), shard("6.12")).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"count": 60`) || !strings.Contains(buf.String(), `"last_time": 15.9`) {
		t.Errorf("JSON lacks the count:\n%s", buf.String())
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range back.Kernels {
		if len(k.Findings) != 1 || k.Findings[0].Count != 60 || len(k.Findings[0].Tests) != 12 || !reflect.DeepEqual(k.Tests[0].Findings, []int{0}) {
			t.Errorf("%s after merge and JSON: %+v", k.Name, k.Findings)
		}
	}
}

// flooded is a run whose kernel printed one bug 60 times in 12 tests and
// 3 times outside any, collapsed; its frames have source lines.
func flooded() *Report {
	fs := append(flood(), badPageMap("", 20), badPageMap("", 21), badPageMap("", 22))
	for i := range fs {
		fs[i].Frames = append(fs[i].Frames, Frame{Func: "mmapdrv_release", Offset: 0x2a, Size: 0x60, Module: "mmapdrv", File: "kmod/mmapdrv.c", Line: 117})
	}
	k := &Kernel{Name: "6.1.0-57-amd64", Status: Fail, Boot: &Boot{Status: Pass}, Findings: fs}
	for i := range 12 {
		t := &Test{Package: "mmapdrv.test", Name: fmt.Sprintf("TestMap%02d", i), Status: Fail}
		for j := range 5 {
			t.Findings = append(t.Findings, 5*i+j)
		}
		k.Tests = append(k.Tests, t)
	}
	k.DedupFindings()
	return &Report{Schema: SchemaVersion, Kernels: []*Kernel{k}}
}

// Every rendering lists a bug once, with how often and where it happened.
func TestEachRenderingListsABugOnce(t *testing.T) {
	r := flooded()
	var md, junit, html, ann strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&html, HTMLOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteAnnotations(&ann, ""); err != nil {
		t.Fatal(err)
	}
	title := "BUG: Bad page map in process mmapdrv.test"
	for _, c := range []struct {
		name, out, want string
		n               int
	}{
		{"markdown", md.String(), "`" + title + "` (×63 in 12 tests (3 outside any test), first during mmapdrv.test: TestMap00) at `kmod/mmapdrv.c:117`", 1},
		{"markdown count", md.String(), "| findings | 1 |", 1},
		{"JUnit, the first test", junit.String(), title + " (×63 in 12 tests (3 outside any test); also during mmapdrv.test: TestMap01, mmapdrv.test: TestMap02, " +
			"mmapdrv.test: TestMap03, mmapdrv.test: TestMap04, mmapdrv.test: TestMap05, mmapdrv.test: TestMap06, mmapdrv.test: TestMap07, " +
			"mmapdrv.test: TestMap08, mmapdrv.test: TestMap09, mmapdrv.test: TestMap10 and 1 more)", 1},
		{"JUnit, the other tests", junit.String(), title + " (×63 in 12 tests (3 outside any test), first during mmapdrv.test: TestMap00)", 11},
		{"JUnit, no case of its own: the reports outside joined the tests'", junit.String(), `<testcase name="kernel log: ` + title + `"`, 0},
		{"JUnit, the trace: the first test's", junit.String(), "source lines:", 1},
		{"HTML findings", html.String(), `<article class="finding"`, 1},
		{"HTML count: what failed, the finding's entry", html.String(), ">×63 in 12 tests (3 outside any test)</span>", 2},
		{"HTML tests", html.String(), "in the tests mmapdrv.test: TestMap00, mmapdrv.test: TestMap01, ", 1},
		{"annotations, none outside", ann.String(), "title=BUG%3A Bad page map in process mmapdrv.test on 6.1.0-57-amd64::", 0},
		{"annotations, on each test", ann.String(), " fail%3A BUG%3A Bad page map in process mmapdrv.test on 6.1.0-57-amd64::", 12},
		{"annotations, told whole on the first test", ann.String(), "(×63 in 12 tests (3 outside any test), first during mmapdrv.test: TestMap00) at kmod/mmapdrv.c:117", 1},
	} {
		if got := strings.Count(c.out, c.want); got != c.n {
			t.Errorf("%s: %q %d times, want %d:\n%s", c.name, c.want, got, c.n, c.out)
		}
	}
}
