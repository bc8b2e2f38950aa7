package collect

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// replay feeds an events.jsonl file, as a guest sent it, to a collector.
func replay(t *testing.T, data []byte) *Collector {
	t.Helper()
	c := New(Options{})
	dec := event.NewDecoder(bytes.NewReader(data))
	for {
		ev, err := dec.Next()
		if err != nil {
			break
		}
		c.Handle(ev)
	}
	return c
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "replay", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCollectorOnARealPassingRun(t *testing.T) {
	c := replay(t, readFixture(t, "6.1-pass/events.jsonl"))
	if !c.hello || !c.done || c.doneErr != "" {
		t.Fatalf("hello=%v done=%v err=%q", c.hello, c.done, c.doneErr)
	}
	c.finish(readFixture(t, "6.1-pass/console.log"), report.Crash)
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
		data, name := cut(t, readFixture(t, "6.1-pass/events.jsonl"), 10)
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
	data, name := cut(t, readFixture(t, "6.1-pass/events.jsonl"), 5)
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
		c.Handle(event.Event{Type: event.Kmsg, Kmsg: &event.KmsgRecord{Seq: uint64(9000 + i), Level: 4, Usec: at / 1000, Text: text}})
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
	c := New(Options{})
	c.Handle(event.Event{Type: event.BinaryStart, Binary: "suite", Mono: 1})
	c.Handle(event.Event{Type: event.Test, Binary: "suite", Mono: 2, Test: &event.TestEvent{Action: "output", Output: "panic: boom\n"}})
	c.Handle(event.Event{Type: event.BinaryEnd, Binary: "suite", Mono: 3, Exit: &event.Exit{Code: 2}})
	c.finish(nil, report.Crash)
	if len(c.kernel.Tests) != 1 || c.kernel.Tests[0].Status != report.Crash || !strings.Contains(c.kernel.Tests[0].Output, "panic: boom") {
		t.Errorf("tests = %+v", c.kernel.Tests)
	}
}

// A plain binary (the fuzz harness) the agent killed, or that died by a
// signal, stays its one test, which tells how it ended and keeps the
// kernel's findings during it; no second test of its name.
func TestPlainBinaryKilledStaysOneTest(t *testing.T) {
	for _, exit := range []*event.Exit{
		{Code: -1, Signal: "SIGKILL", Stalled: true, Fault: "invalid opcode: 0000 [#1] SMP KASAN", BlockedTasks: "sysrq: Show Blocked State"},
		{Code: -1, Signal: "SIGSEGV"},
	} {
		c := New(Options{})
		c.Handle(event.Event{Type: event.BinaryStart, Binary: "fuzz", Mono: 1})
		for i, te := range []event.TestEvent{
			{Action: "run", Test: "fuzz"},
			{Action: "output", Test: "fuzz", Output: "#2\tINITED cov: 8 ft: 12\n"},
			{Action: "fail", Test: "fuzz"},
		} {
			c.Handle(event.Event{Type: event.Test, Binary: "fuzz", Mono: int64(i + 2), Test: &te})
		}
		// The fault comes after the test's last output, which stamped its
		// result, and before the binary's end.
		for i, text := range []string{
			"------------[ cut here ]------------",
			"kernel BUG at drivers/misc/mmapdrv.c:167!",
			"invalid opcode: 0000 [#1] SMP KASAN",
			"RIP: 0010:mmapdrv_ioctl+0x3af/0x420 [mmapdrv]",
			"---[ end trace 0000000000000000 ]---",
		} {
			c.Handle(event.Event{Type: event.Kmsg, Kmsg: &event.KmsgRecord{Seq: uint64(100 + i), Level: 4, Usec: 5000, Text: text}})
		}
		c.Handle(event.Event{Type: event.BinaryEnd, Binary: "fuzz", Mono: 10_000_000, Exit: exit})
		c.finish(nil, report.Crash)
		want := map[bool]report.Status{true: report.Fail, false: report.Crash}[exit.Stalled]
		if len(c.kernel.Tests) != 1 || c.kernel.Tests[0].Status != want || !strings.Contains(c.kernel.Tests[0].Output, describeExit(exit)) ||
			len(c.kernel.Tests[0].Findings) != 1 {
			t.Errorf("%s: tests = %+v, want one %s", exit.Signal, c.kernel.Tests, want)
		}
	}
}

// Output hears each test's output as it comes, a binary's own (no test)
// too, and nothing else.
func TestOutputHeardAsItComes(t *testing.T) {
	var got []string
	c := New(Options{Output: func(bin, text string) { got = append(got, bin+": "+text) }})
	c.Handle(event.Event{Type: event.BinaryStart, Binary: "fuzz", Mono: 1})
	for i, te := range []event.TestEvent{
		{Action: "run", Test: "fuzz"},
		{Action: "output", Test: "fuzz", Output: "#2\tINITED cov: 8 ft: 12\n"},
		{Action: "output", Output: "outside a test\n"},
		{Action: "fail", Test: "fuzz"},
	} {
		c.Handle(event.Event{Type: event.Test, Binary: "fuzz", Mono: int64(i + 2), Test: &te})
	}
	if want := "fuzz: #2\tINITED cov: 8 ft: 12\n|fuzz: outside a test\n"; strings.Join(got, "|") != want {
		t.Errorf("heard %q, want %q", strings.Join(got, "|"), want)
	}
}

// Heartbeats, and event types this host does not know, change nothing in
// the report; the watch hooks hear every event and every kernel log record.
func TestHeartbeatsAndUnknownTypesChangeNothing(t *testing.T) {
	data := readFixture(t, "6.1-pass/events.jsonl")
	plain := replay(t, data)
	var heard, beats, records int
	c := New(Options{Heard: func(ty event.Type) {
		heard++
		if ty == event.Heartbeat {
			beats++
		}
	}, Record: func(string) { records++ }})
	dec := event.NewDecoder(bytes.NewReader(data))
	n := 0
	for ev, err := dec.Next(); err == nil; ev, err = dec.Next() {
		c.Handle(ev)
		c.Handle(event.Event{Type: event.Heartbeat, Mono: ev.Mono})
		c.Handle(event.Event{Type: "from-the-future", Mono: ev.Mono, Msg: "x", Binary: "b"})
		n++
	}
	reportOf := func(c *Collector) string {
		var k report.Kernel
		c.Finish(&k, End{Status: report.Crash})
		k.Boot = &report.Boot{Status: report.Pass}
		k.Status, k.Error = c.Verdict(&k)
		b, _ := json.Marshal(k)
		return string(b)
	}
	if a, b := reportOf(plain), reportOf(c); a != b {
		t.Errorf("heartbeats changed the report:\n%s\nwant:\n%s", b, a)
	}
	if heard != 3*n || beats != n || records != plain.kmsgRecords || records == 0 {
		t.Errorf("heard %d events (%d heartbeats), %d records; want %d, %d, %d", heard, beats, records, 3*n, n, plain.kmsgRecords)
	}
}

// A test open when the host ended a stuck VM says why, with the dump
// taken then; one open at the deadline says the deadline.
func TestVMEndNoteSaysWhyTheHostEndedIt(t *testing.T) {
	for _, c := range []struct {
		end  End
		want []string
	}{
		{End{Status: report.Timeout, Dump: "sysrq: Show Blocked State"}, []string{"(timeout)", "CPUs at the deadline:\nsysrq: Show Blocked State"}},
		{End{Status: report.Crash, Dump: "sysrq: Show Blocked State", Why: "the guest agent sent nothing for 20s"},
			[]string{"(crash): the guest agent sent nothing for 20s", "CPUs then:\nsysrq: Show Blocked State"}},
		{End{Status: report.Crash}, []string{"(crash)"}},
	} {
		col := New(Options{})
		col.Handle(event.Event{Type: event.BinaryStart, Binary: "b", Mono: 1})
		col.Handle(event.Event{Type: event.Test, Binary: "b", Mono: 2, Test: &event.TestEvent{Action: "run", Test: "TestX"}})
		var k report.Kernel
		col.Finish(&k, c.end)
		if len(k.Tests) != 1 || k.Tests[0].Status != c.end.Status {
			t.Fatalf("%+v: tests %+v", c.end, k.Tests)
		}
		for _, w := range c.want {
			if !strings.Contains(k.Tests[0].Output, w) {
				t.Errorf("%+v: output lacks %q:\n%s", c.end, w, k.Tests[0].Output)
			}
		}
	}
}

// A kernel that dies before the agent reads a test's "=== RUN" line leaves
// its binary with no open test: the crash lands on the binary's first
// test with no result, in the order go test runs them, which then counts
// as open at the VM's end (the runner skips it on a reboot); with that
// order unknown, or nothing left in it, on the binary itself.
func TestVMEndWithNoTestOpenBlamesTheBinarysNextTest(t *testing.T) {
	abc := func(string) ([]string, bool) { return []string{"TestA", "TestB", "TestC"}, true }
	for _, c := range []struct {
		name  string
		order func(string) ([]string, bool)
		steps []string
		want  string
	}{
		{"after TestA passed", abc, []string{"run:TestA", "pass:TestA"}, "TestB"},
		{"before any test", abc, nil, "TestA"},
		{"after a subtest of TestA", abc, []string{"run:TestA", "run:TestA/x", "pass:TestA/x", "pass:TestA"}, "TestB"},
		{"order unknown", func(string) ([]string, bool) { return nil, false }, []string{"run:TestA", "pass:TestA"}, "b"},
		{"no order given", nil, []string{"run:TestA", "pass:TestA"}, "b"},
		{"every test has a result", abc, []string{"run:TestA", "pass:TestA", "run:TestB", "fail:TestB", "run:TestC", "pass:TestC"}, "b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := New(Options{Order: c.order})
			mono := int64(1000)
			col.Handle(event.Event{Type: event.BinaryStart, Binary: "b", Mono: mono})
			col.Handle(event.Event{Type: event.Test, Binary: "b", Mono: mono, Test: &event.TestEvent{Action: "output", Output: "from TestMain\n"}})
			for _, s := range c.steps {
				mono += 1000
				action, name, _ := strings.Cut(s, ":")
				col.Handle(event.Event{Type: event.Test, Binary: "b", Mono: mono, Test: &event.TestEvent{Action: action, Test: name}})
			}
			col.Handle(event.Event{Type: event.Kmsg, Kmsg: &event.KmsgRecord{Seq: 1, Level: 0, Usec: (mono + 5000) / 1000,
				Text: "Kernel panic - not syncing: faultmod: panic requested"}})
			var k report.Kernel
			col.Finish(&k, End{Status: report.Crash})
			var blamed *report.Test
			for _, tt := range k.Tests {
				if tt.Status == report.Crash {
					if blamed != nil {
						t.Fatalf("two tests blamed: %s and %s", blamed.Name, tt.Name)
					}
					blamed = tt
				}
			}
			if blamed == nil || blamed.Name != c.want || !strings.Contains(blamed.Output, "from TestMain") {
				t.Fatalf("blamed %+v, want %s with the binary's output", blamed, c.want)
			}
			if len(blamed.Findings) != 1 || k.Findings[blamed.Findings[0]].Kind != "Kernel panic" {
				t.Errorf("%s's findings %v of %+v, want the panic", blamed.Name, blamed.Findings, k.Findings)
			}
			b, _ := col.Binary("b")
			if ended, ok := b.Tests[c.want]; (c.want != "b") != (ok && !ended) {
				t.Errorf("the binary's tests %v: want %s open exactly when it is one of them", b.Tests, c.want)
			}
		})
	}
}
