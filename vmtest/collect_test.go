package vmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// replay feeds an events.jsonl file, as a guest sent it, to a collector.
func replay(t *testing.T, data []byte) *collector {
	t.Helper()
	k := &report.Kernel{Name: "k"}
	c := newCollector(k, nil, nil)
	dec := event.NewDecoder(bytes.NewReader(data))
	for {
		ev, err := dec.Next()
		if err != nil {
			break
		}
		c.handle(ev)
	}
	return c
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCollectorOnARealPassingRun(t *testing.T) {
	c := replay(t, readFixture(t, "events-6.1-pass.jsonl"))
	if !c.hello || !c.done || c.doneErr != "" {
		t.Fatalf("hello=%v done=%v err=%q", c.hello, c.done, c.doneErr)
	}
	c.finish(readFixture(t, "console-6.1-pass.log"), report.Crash)
	k := c.kernel
	cnt := k.Counts()
	if cnt.Pass < 100 || cnt.Fail != 0 || cnt.Other != 0 {
		t.Errorf("counts = %+v, want 100+ passes and nothing else", cnt)
	}
	if len(k.Modules) != 1 || k.Modules[0].Load != report.Pass || k.Modules[0].Unload != report.Pass {
		t.Errorf("modules = %+v", k.Modules)
	}
	if len(k.Bugs()) != 0 {
		t.Errorf("bugs found in a clean run: %+v", k.Bugs())
	}
	for _, tt := range k.Tests {
		if strings.Contains(tt.Name, "/") && !strings.HasPrefix(tt.Name, strings.SplitN(tt.Name, "/", 2)[0]) {
			t.Errorf("odd subtest name %q", tt.Name)
		}
	}
}

// cut returns the events up to and including the n-th test "run" event
// of the fixture: the stream as a guest that died there left it.
func cut(t *testing.T, data []byte, runs int) ([]byte, string) {
	t.Helper()
	var out bytes.Buffer
	seen := 0
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		out.Write(line)
		var ev event.Event
		if json.Unmarshal(line, &ev) == nil && ev.Type == event.Test && ev.Test.Action == "run" {
			seen++
			if seen == runs {
				return out.Bytes(), ev.Test.Test
			}
		}
	}
	t.Fatalf("fixture has fewer than %d tests", runs)
	return nil, ""
}

func TestTestsCutOffByTheVMEndAsTheVMDid(t *testing.T) {
	for _, end := range []report.Status{report.Crash, report.Timeout} {
		data, name := cut(t, readFixture(t, "events-6.1-pass.jsonl"), 10)
		c := replay(t, data)
		c.finish(nil, end)
		var got *report.Test
		for _, tt := range c.kernel.Tests {
			if tt.Name == name {
				got = tt
			}
		}
		if got == nil || got.Status != end {
			t.Errorf("VM ended (%s) during %s: test status %+v, want %s", end, name, got, end)
		}
	}
}

func TestFindingDuringATestFailsThatTest(t *testing.T) {
	data, name := cut(t, readFixture(t, "events-6.1-pass.jsonl"), 5)
	c := replay(t, data)
	var running *testRun
	for _, tr := range c.order {
		if tr.t.Name == name {
			running = tr
		}
	}
	if running == nil {
		t.Fatal("test not found")
	}
	at := running.start + 1000 // 1 µs after it started, in guest time
	warn := []string{
		"------------[ cut here ]------------",
		"WARNING: CPU: 0 PID: 90 at drivers/misc/mmapdrv.c:120 drv_read+0x50/0x90 [mmapdrv]",
		"Modules linked in: mmapdrv(OE)",
		"CPU: 0 PID: 90 Comm: mmapdrv.test Tainted: G           OE      6.1.0-57-amd64 #1  Debian 6.1.192-3",
		"RIP: 0010:drv_read+0x50/0x90 [mmapdrv]",
		"Call Trace:",
		" <TASK>",
		" vfs_read+0xa8/0x2b0",
		" ksys_read+0x6b/0xf0",
		" do_syscall_64+0x55/0xb0",
		" </TASK>",
		"---[ end trace 0000000000000000 ]---",
	}
	for i, text := range warn {
		c.handle(event.Event{Type: event.Kmsg, Kmsg: &event.KmsgRecord{Seq: uint64(9000 + i), Level: 4, Usec: at / 1000, Text: text}})
	}
	c.finish(nil, report.Crash)
	var got *report.Test
	for _, tt := range c.kernel.Tests {
		if tt.Name == name {
			got = tt
		}
	}
	if got == nil || len(got.Findings) != 1 {
		t.Fatalf("finding not attributed to %s: %+v", name, got)
	}
	f := c.kernel.Findings[got.Findings[0]]
	if f.Kind != "WARNING" || !strings.Contains(f.Title, "drv_read") || f.Test == "" {
		t.Errorf("finding = %+v", f)
	}
}

func TestBinaryCrashWithoutTestsBecomesATest(t *testing.T) {
	c := newCollector(&report.Kernel{}, nil, nil)
	c.handle(event.Event{Type: event.BinaryStart, Binary: "suite", Mono: 1})
	c.handle(event.Event{Type: event.Test, Binary: "suite", Mono: 2, Test: &event.TestEvent{Action: "output", Output: "panic: boom\n"}})
	c.handle(event.Event{Type: event.BinaryEnd, Binary: "suite", Mono: 3, Exit: &event.Exit{Code: 2}})
	c.finish(nil, report.Crash)
	if len(c.kernel.Tests) != 1 || c.kernel.Tests[0].Status != report.Crash || !strings.Contains(c.kernel.Tests[0].Output, "panic: boom") {
		t.Errorf("tests = %+v", c.kernel.Tests)
	}
}

func TestConsoleTailIsBounded(t *testing.T) {
	tb := &tailBuffer{max: 100}
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(tb, "line %d\n", i)
	}
	got := string(tb.Bytes())
	if len(got) > 100 || !strings.HasSuffix(got, "line 999\n") || !strings.HasPrefix(got, "line ") {
		t.Errorf("tail = %q", got)
	}
}

func TestRunPatternNarrowsKernelsAndGuestTests(t *testing.T) {
	cases := []struct {
		pat      string
		kernels  []string
		testArgs []string
	}{
		{"TestMatrix", nil, nil},
		{"TestMatrix/7.3", []string{"7.3"}, nil},
		{"TestMatrix/6.1", []string{"6.1", "6.12"}, nil}, // unanchored, as go test matches
		{"TestMatrix/^6.1$/TestMmap/private", []string{"6.1"}, []string{"-test.run=TestMmap/private"}},
		{"TestMatrix//TestSize", nil, []string{"-test.run=TestSize"}},
		{"TestMatrix/7.3/build", []string{"7.3"}, nil},
		{"TestMatrix/6.1.0-57-amd64/TestSize", nil, []string{"-test.run=TestSize"}}, // an ABI: checked after the run
		{"TestMatrix/[67]\\.\\d/TestA", []string{"6.1", "6.12", "7.3"}, []string{"-test.run=TestA"}},
	}
	for _, c := range cases {
		cfg := Config{Kernels: []string{"5.10", "6.1", "6.12", "7.3"}}
		narrowTo(c.pat, "TestMatrix", &cfg)
		want := c.kernels
		if want == nil {
			want = []string{"5.10", "6.1", "6.12", "7.3"}
		}
		if strings.Join(cfg.Kernels, ",") != strings.Join(want, ",") || strings.Join(cfg.TestArgs, " ") != strings.Join(c.testArgs, " ") {
			t.Errorf("%q: kernels %v, args %v; want %v, %v", c.pat, cfg.Kernels, cfg.TestArgs, want, c.testArgs)
		}
	}
}

// A record missing from the kernel log's sequence may have been a KASAN or
// lockdep report: the run must not pass, and the loss must say how much.
func TestLostKernelLogRecordsFailTheRun(t *testing.T) {
	lines, _, _, _ := fixtureLines(t)
	for _, c := range []struct {
		name string
		drop func(seq uint64) bool // kernel log records the guest lost
		says string
	}{
		{"none", func(uint64) bool { return false }, ""},
		{"three in the middle", func(s uint64) bool { return s >= 100 && s < 103 }, "3 kernel log records lost"},
		{"the oldest ones, before the agent read any", func(s uint64) bool { return s < 7 }, "7 kernel log records lost"},
		{"two gaps", func(s uint64) bool { return s == 50 || s == 200 }, "2 kernel log records lost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var kept [][]byte
			for _, l := range lines {
				var ev event.Event
				if json.Unmarshal(l, &ev) == nil && ev.Type == event.Kmsg && c.drop(ev.Kmsg.Seq) {
					continue
				}
				kept = append(kept, l)
			}
			if c.says != "" && len(kept) == len(lines) {
				t.Fatal("the fixture has no such records to drop")
			}
			kr, _ := settleStream(t, bytes.NewReader(bytes.Join(kept, nil)), qemu.ExitPoweroff)
			if c.says == "" {
				if kr.Status != report.Pass {
					t.Errorf("kernel %s %q, want pass", kr.Status, kr.Error)
				}
				return
			}
			if kr.Status == report.Pass || !strings.Contains(kr.Error, c.says) {
				t.Errorf("kernel %s %q, want a failure saying %q", kr.Status, kr.Error, c.says)
			}
			lost := false
			for _, f := range kr.Findings {
				lost = lost || (f.Kind == kindKmsgLost && strings.Contains(f.Title, c.says) && f.Test == "")
			}
			if !lost {
				t.Errorf("findings %+v, want one of kind %q saying %q", kr.Findings, kindKmsgLost, c.says)
			}
		})
	}
}
