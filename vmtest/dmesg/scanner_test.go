package dmesg

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		in   string
		text string
		ts   time.Duration
	}{
		{"[    2.178450] BUG: x\r\n", "BUG: x", 2178450 * time.Microsecond},
		{"<4>[   21.158309]       Tainted: G", "      Tainted: G", 21158309 * time.Microsecond},
		{"[    1.000000][  T83] WARNING: y", "WARNING: y", time.Second},
		{"4,350,1651149,-;WARNING: CPU: 0", "WARNING: CPU: 0", 1651149 * time.Microsecond},
		{"4,350,1651149,c,caller=T83;frag", "frag", 1651149 * time.Microsecond},
		{"plain text", "plain text", 0},
		{"[not a time] x", "[not a time] x", 0},
		{"a,b,c,d;e", "a,b,c,d;e", 0},
	}
	for _, tt := range tests {
		l := parseLine([]byte(tt.in))
		if l.text != tt.text || l.ts != tt.ts {
			t.Errorf("parseLine(%q) = %q at %v, want %q at %v", tt.in, l.text, l.ts, tt.text, tt.ts)
		}
	}
}

func TestCleanFunc(t *testing.T) {
	for in, want := range map[string]string{
		"faultmod_ioctl.cold":        "faultmod_ioctl",
		"foo.isra.0":                 "foo",
		"bar.constprop.0.isra.0":     "bar",
		"__check_object_size.part.0": "__check_object_size",
		"plain":                      "plain",
		"x.coldish":                  "x.coldish",
	} {
		if got := cleanFunc(in); got != want {
			t.Errorf("cleanFunc(%q) = %q, want %q", in, got, want)
		}
	}
}

// Without a guilty function the title is the header's own words.
func TestTitleWithoutFunction(t *testing.T) {
	fs := Scan([]byte("[    1.0] BUG: scheduling while atomic: swapper/0/0x00000002\n[    1.1] unrelated\n"))
	if len(fs) != 1 || fs[0].Title != "BUG: scheduling while atomic" || fs[0].Func != "" {
		t.Fatalf("findings: %+v", fs)
	}
}

// A header whose trace never comes is closed after maxPreTrace lines, and
// a report never grows past its bounds however long the trace.
func TestReportsAreBounded(t *testing.T) {
	var log bytes.Buffer
	log.WriteString("WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2\n")
	for range maxPreTrace + 10 {
		log.WriteString("some unrelated line\n")
	}
	log.WriteString("BUG: kernel NULL pointer dereference, address: 0000000000000000\nCall Trace:\n")
	for range 10 * maxReportLines {
		log.WriteString(" g+0x1/0x2 [m]\n")
	}
	fs := Scan(log.Bytes())
	if len(fs) < 2 || fs[0].Kind != KindWarning || fs[1].Kind != KindOops {
		t.Fatalf("got %s", render(fs))
	}
	for _, f := range fs {
		if n := strings.Count(f.Report, "\n") + 1; n > maxReportLines || len(f.Report) > maxReportBytes {
			t.Errorf("%s: %d lines, %d bytes", f.Title, n, len(f.Report))
		}
	}
}

func TestScannerTaint(t *testing.T) {
	var s Scanner
	s.Feed([]byte("[    1.0] CPU: 0 PID: 83 Comm: init Tainted: G        W  OE      6.1.0-57-amd64 #1"))
	if got := s.Taint(); got != "G W OE" {
		t.Errorf("Taint() = %q, want %q", got, "G W OE")
	}
	s.Feed([]byte("CPU: 0 PID: 0 Comm: swapper/0 Not tainted 6.1.0-57-amd64 #1"))
	if got := s.Taint(); got != "" {
		t.Errorf("Taint() = %q after Not tainted", got)
	}
}

func FuzzScan(f *testing.F) {
	for _, p := range reportLogs(f) {
		// Seeds are the reports, not whole logs: small inputs keep the
		// fuzzer fast, and the reports hold all the structure.
		if b, err := os.ReadFile(p); err == nil {
			for _, fd := range Scan(b) {
				f.Add([]byte(fd.Report))
			}
		}
	}
	f.Add([]byte("WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2 [m]\nCall Trace:\n ? x+0x1/0x2\n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		fs := Scan(log)
		if len(fs) > maxFindings {
			t.Fatalf("%d findings", len(fs))
		}
		lines := bytes.Count(log, []byte("\n")) + 1
		for _, fd := range fs {
			if len(fd.Report) > maxReportBytes || len(fd.Title) > maxTitle {
				t.Fatalf("unbounded finding: %d-byte report, %q", len(fd.Report), fd.Title)
			}
			if fd.Line < 0 || fd.Line >= lines {
				t.Fatalf("line %d of %d", fd.Line, lines)
			}
			if fd.Title == "" || !utf8.ValidString(fd.Title) {
				t.Fatalf("bad title %q for %s", fd.Title, fd.Kind)
			}
		}
	})
}

// Records from the agent's kmsg events carry their time beside the text,
// and their text is never a prefixed console line.
func TestFeedRecord(t *testing.T) {
	var s Scanner
	recs := []string{
		"WARNING: CPU: 0 PID: 83 at drv.c:12 drv_ioctl+0x1e6/0x3c8 [drv]",
		"Call Trace:",
		" <TASK>",
		" drv_ioctl+0x1e6/0x3c8 [drv]",
		" </TASK>",
		"---[ end trace 0000000000000000 ]---",
	}
	var fs []Finding
	for i, r := range recs {
		fs = append(fs, s.FeedRecord(r, time.Duration(i+1)*time.Second)...)
	}
	if len(fs) != 1 || fs[0].Title != "WARNING in drv_ioctl" || fs[0].Module != "drv" || fs[0].Time != time.Second {
		t.Fatalf("findings: %+v", fs)
	}
}

func BenchmarkScan(b *testing.B) {
	log, err := os.ReadFile(filepath.Join("testdata", "report", "6.1", "oops.console"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(log)))
	for b.Loop() {
		Scan(log)
	}
}

// A WARN's own message, printed between "cut here" and the header, is part
// of the report.
func TestWarningReportKeepsItsMessage(t *testing.T) {
	for _, name := range []string{"5.10/warn.console", "6.1/warn.console", "6.1/warn.kmsg", "6.12/warn.console", "7.3/warn.console"} {
		log, err := os.ReadFile(filepath.Join("testdata", "report", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range Scan(log) {
			if f.Kind == KindWarning && !strings.Contains(f.Report, "faultmod: warning requested") {
				t.Errorf("%s: report lacks the WARN message:\n%s", name, f.Report)
			}
		}
	}
}

// A finding keeps where it happened as data: the guilty function, the
// registers' code location, the call trace with modules, offsets and
// unreliable frames, and the time.
func TestFindingStructure(t *testing.T) {
	tests := []struct {
		log    string
		title  string
		fn     string
		time   time.Duration
		pc     Frame
		frames []Frame // the first frames of the trace
	}{
		{log: "6.1/oops.console", title: "BUG: kernel NULL pointer dereference in faultmod_ioctl", fn: "faultmod_ioctl", time: 5151152 * time.Microsecond,
			pc: Frame{Func: "faultmod_ioctl", Offset: 0x265, Size: 0x3e2, Module: "faultmod"}},
		{log: "6.1/atomic.console", title: "BUG: scheduling while atomic in faultmod_ioctl", fn: "faultmod_ioctl", time: 1729338 * time.Microsecond,
			frames: []Frame{{Func: "dump_stack_lvl", Offset: 0x44, Size: 0x5c}, {Func: "__schedule_bug.cold", Offset: 0x42, Size: 0x4e},
				{Func: "__schedule", Offset: 0x804, Size: 0xa00}, {Func: "schedule", Offset: 0x5a, Size: 0xd0},
				{Func: "schedule_timeout", Offset: 0x94, Size: 0x150}, {Func: "__bpf_trace_tick_stop", Offset: 0x10, Size: 0x10, Unreliable: true},
				{Func: "msleep", Offset: 0x29, Size: 0x40}, {Func: "faultmod_ioctl", Offset: 0x6e, Size: 0x3e2, Module: "faultmod"}}},
		{log: "docs/kasan.console", title: "KASAN: slab-out-of-bounds Write in kmalloc_oob_right", fn: "kmalloc_oob_right",
			frames: []Frame{{Func: "dump_stack", Offset: 0x94, Size: 0xd8}}},
		{log: "docs/kmemleak.console", title: "memory leak",
			frames: []Frame{{Addr: 0xffffffffc01d2036}, {Func: "do_one_initcall", Offset: 0x41, Size: 0x1df}}},
		{log: "docs/kcsan.console", title: "KCSAN: data-race in test_kernel_read / test_kernel_write", fn: "test_kernel_write",
			frames: []Frame{{Func: "test_kernel_write", Offset: 0x1d, Size: 0x30}, {Func: "access_thread", Offset: 0x89, Size: 0xd0}}},
		{log: "docs/warning.console", title: "WARNING in module_put", fn: "module_put",
			frames: []Frame{{Func: "dump_stack", Offset: 0x44, Size: 0x64, Unreliable: true}}},
	}
	for _, tt := range tests {
		log, err := os.ReadFile(filepath.Join("testdata", "report", tt.log))
		if err != nil {
			t.Fatal(err)
		}
		var f *Finding
		for _, fd := range Scan(log) {
			if fd.Title == tt.title {
				f = &fd
				break
			}
		}
		if f == nil {
			t.Errorf("%s: no finding %q", tt.log, tt.title)
			continue
		}
		if f.Func != tt.fn || f.Time != tt.time || f.PC != tt.pc {
			t.Errorf("%s: func %q at %v, pc %+v; want %q at %v, pc %+v", tt.log, f.Func, f.Time, f.PC, tt.fn, tt.time, tt.pc)
		}
		if len(f.Frames) < len(tt.frames) || !slices.Equal(f.Frames[:len(tt.frames)], tt.frames) {
			t.Errorf("%s: frames %+v\nwant them to start with %+v", tt.log, f.Frames, tt.frames)
		}
	}
}

// arm64 prints "Call trace:" and names the faulting code "pc : f+0x/0x [m]".
func TestArm64Trace(t *testing.T) {
	log := `[   12.000000] Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP
[   12.000100] Modules linked in: faultmod(OE)
[   12.000200] CPU: 0 PID: 83 Comm: init Tainted: G           OE      6.1.0-57-arm64 #1  Debian 6.1.192-3
[   12.000300] pc : faultmod_ioctl+0x1d4/0x400 [faultmod]
[   12.000400] lr : faultmod_ioctl+0x1c8/0x400 [faultmod]
[   12.000500] sp : ffff80000a8b3d20
[   12.000600] Call trace:
[   12.000700]  faultmod_ioctl+0x1d4/0x400 [faultmod]
[   12.000800]  __arm64_sys_ioctl+0xb0/0x100
[   12.000900]  invoke_syscall+0x50/0x120
[   12.001000] Code: 52800020 f9000fe0 d2800000 b9400000 (b9400000)
[   12.001100] ---[ end trace 0000000000000000 ]---
`
	fs := Scan([]byte(log))
	if len(fs) != 1 {
		t.Fatalf("findings: %s", render(fs))
	}
	f := fs[0]
	want := Frame{Func: "faultmod_ioctl", Offset: 0x1d4, Size: 0x400, Module: "faultmod"}
	if f.Title != "Oops in faultmod_ioctl" || f.PC != want || f.LR.Offset != 0x1c8 || len(f.Frames) != 3 || f.Frames[0] != want {
		t.Errorf("got %q pc %+v lr %+v frames %+v", f.Title, f.PC, f.LR, f.Frames)
	}
}

// With kmemleak.verbose=1 the kernel log carries kmemleak's reports, each
// line after "kmemleak: "; the leak is in the first frame past the
// allocator.
func TestKmemleakInTheKernelLog(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "report", "docs", "kmemleak.console"))
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(doc)), "\n") {
		if strings.Contains(l, "0xffffffffc01d2036") {
			// The module still loaded: its frames are named.
			log.WriteString("kmemleak:     [<000000003c8e4ba1>] kmalloc_trace+0x26/0x90\n")
			l = "    [<00000000e0a73ec7>] drv_init+0x36/0x1000 [drv]"
		}
		log.WriteString("kmemleak: " + l + "\n")
	}
	log.WriteString("kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n")
	fs := Scan([]byte(log.String()))
	if len(fs) != 1 || fs[0].Title != "memory leak in drv_init" || fs[0].Module != "drv" || len(fs[0].Frames) != 8 {
		t.Fatalf("got %s%+v", render(fs), fs)
	}
}

// A kmemleak report read after the module was unloaded (6.1-debug): the
// addresses in brackets are hashed, the module's frame is bare.
func TestKmemleakAfterUnloadKeepsTheBareFrame(t *testing.T) {
	b, err := os.ReadFile("testdata/report/6.1-debug/kmemleak-unloaded.console")
	if err != nil {
		t.Fatal(err)
	}
	fs := Scan(b)
	if len(fs) != 1 {
		t.Fatalf("%d findings, want 1", len(fs))
	}
	var bare []uint64
	for _, fr := range fs[0].Frames {
		if fr.Func == "" {
			bare = append(bare, fr.Addr)
		}
	}
	if len(fs[0].Frames) != 7 || len(bare) != 1 || bare[0] != 0xffffffffa000066c {
		t.Errorf("frames %+v", fs[0].Frames)
	}
}

// Debian's arm64 6.1 names the faulting code with "pc :" and "lr :" before
// its "Call trace:" (testdata/report/6.1-arm64: faultmod's NULL dereference).
func TestArm64RegistersAndTrace(t *testing.T) {
	log, err := os.ReadFile(filepath.Join("testdata", "report", "6.1-arm64", "faults.console"))
	if err != nil {
		t.Fatal(err)
	}
	var oops *Finding
	for _, f := range Scan(log) {
		if strings.HasPrefix(f.Title, "BUG: kernel NULL pointer dereference") {
			oops = &f
			break
		}
	}
	if oops == nil {
		t.Fatal("no NULL pointer dereference found")
	}
	if oops.PC.Func != "faultmod_ioctl" || oops.PC.Offset != 0x1b0 || oops.PC.Module != "faultmod" {
		t.Errorf("PC = %+v, want faultmod_ioctl+0x1b0 [faultmod]", oops.PC)
	}
	if oops.LR.Func != "__arm64_sys_ioctl" {
		t.Errorf("LR = %+v, want __arm64_sys_ioctl", oops.LR)
	}
	if len(oops.Frames) != 8 || oops.Frames[0].Func != "faultmod_ioctl" || oops.Frames[7].Func != "el0t_64_sync" {
		t.Errorf("frames = %+v, want the 8 of the call trace", oops.Frames)
	}
	if oops.Taint != "G W OE" {
		t.Errorf("taint = %q", oops.Taint)
	}
}
