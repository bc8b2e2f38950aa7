package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/qemu"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// The event channel (ttyS1) damaged in each way it can be: cut short,
// garbled, flooded. A real run's events go through the runner's own decode
// loop and verdict; the report must keep what arrived intact, say what did
// not, never pass a run whose results are incomplete, and hold bounded
// memory whatever the guest sends.

// repeated reads as n copies of line, made as they are read, so that a
// test can send hundreds of megabytes without holding them.
type repeated struct {
	line []byte
	n    int
	off  int
}

func (r *repeated) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := copy(p, r.line[r.off:])
	if r.off += k; r.off == len(r.line) {
		r.off, r.n = 0, r.n-1
	}
	return k, nil
}

// fixtureLines returns the real run's events, one line each, newline kept,
// and the index of the line where its first test starts running.
func fixtureLines(t *testing.T) (lines [][]byte, firstRun int, binary, test string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "collect", "testdata", "replay", "6.1-pass", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines = bytes.SplitAfter(b, []byte("\n"))
	for i, l := range lines {
		var ev event.Event
		if json.Unmarshal(l, &ev) == nil && ev.Type == event.Test && ev.Test.Action == "run" {
			return lines, i, ev.Binary, ev.Test.Test
		}
	}
	t.Fatal("the fixture runs no test")
	return
}

// withInsert returns the fixture with r read after line i.
func withInsert(lines [][]byte, i int, r io.Reader) io.Reader {
	return io.MultiReader(bytes.NewReader(bytes.Join(lines[:i+1], nil)), r, bytes.NewReader(bytes.Join(lines[i+1:], nil)))
}

// garble damages every 25th line but the first and last (hello, done) the
// ways a shared serial line does: bytes overwritten inside, a line cut and
// glued to the next, noise between lines.
func garble(lines [][]byte) io.Reader {
	var b bytes.Buffer
	for i, l := range lines {
		switch {
		case i == 0 || i == len(lines)-1 || i%25 != 0:
			b.Write(l)
		case i%75 == 0:
			b.Write(l[:len(l)/2]) // glued to the next line
		case i%50 == 0:
			b.WriteString("\x00\xff\x1b[0m noise on the line\r\n")
			b.Write(l)
		default:
			d := bytes.Clone(l)
			copy(d[len(d)/2:], "\x00\xfe}{\"")
			b.Write(d)
		}
	}
	return &b
}

// damagedBatch returns a kmsg_batch event line whose compressed records
// were damaged on the way: the line is whole JSON, its payload is not.
func damagedBatch(t *testing.T) string {
	t.Helper()
	var recs []event.KmsgRecord
	for i := range 50 {
		recs = append(recs, event.KmsgRecord{Seq: uint64(5000 + i), Level: 4, Usec: 3_000_000, Text: fmt.Sprintf("record %d of a batch", i)})
	}
	b, err := event.NewBatch(recs)
	if err != nil {
		t.Fatal(err)
	}
	z := []byte(b.Gzip)
	copy(z[len(z)/2:], "AAAAAAAAAAAA")
	b.Gzip = string(z)
	line, err := json.Marshal(event.Event{V: event.Version, Type: event.KmsgBatch, Mono: 3, Batch: b})
	if err != nil {
		t.Fatal(err)
	}
	return string(line) + "\n"
}

// settleStream runs the events in r through the runner's decode loop and
// verdict, as if QEMU ended with exit, and returns the kernel's report.
func settleStream(t *testing.T, r io.Reader, exit qemu.ExitReason) (*report.Kernel, *collect.Collector) {
	t.Helper()
	col := collect.New(collect.Options{})
	col.Decode(r, func() {})
	kr := &report.Kernel{Name: "6.1.0-57-amd64", Files: map[string]string{}}
	res := &qemu.Result{Exit: exit, ExitStatus: "exit status 0"}
	if exit == qemu.ExitCrash {
		res.ExitStatus = "signal: killed"
	}
	run := &kernelRun{r: &runner{cfg: &runcfg.Config{}}, dir: t.TempDir()}
	run.settle(vmPlan{entry: kr}, vmResult{res: res, col: col}, 1)
	return kr, col
}

func memStats() runtime.MemStats {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

func TestEventChannelDamage(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a few hundred megabytes")
	}
	lines, first, binary, test := fixtureLines(t)
	const mib = 1 << 20
	logLine := []byte(`{"v":1,"seq":0,"type":"log","mono":1,"msg":"` + strings.Repeat("l", 300) + "\"}\n")
	kmsgLine := []byte(`{"v":1,"seq":0,"type":"kmsg","mono":1,"kmsg":{"seq":9,"level":6,"usec":1,"text":"` + strings.Repeat("k", 200) + "\"}}\n")
	outLine := []byte(fmt.Sprintf(`{"v":1,"seq":0,"type":"test","mono":%d,"binary":%q,"test":{"Action":"output","Test":%q,"Output":"%s\n"}}`+"\n",
		2, binary, test, strings.Repeat("o", 10<<10)))
	for _, c := range []struct {
		name   string
		stream func() io.Reader
		exit   qemu.ExitReason
		status report.Status
		says   string // in the kernel's error
		passes int    // at least this many tests still pass
		// Bounds on memory: allocated while decoding, retained after.
		maxAlloc, maxHeld uint64
	}{
		{"intact", func() io.Reader { return bytes.NewReader(bytes.Join(lines, nil)) },
			qemu.ExitPoweroff, report.Pass, "", 100, 0, 0},
		{"cut inside a line as QEMU died", func() io.Reader {
			data := bytes.Join(lines[:len(lines)/2], nil)
			return bytes.NewReader(append(data, lines[len(lines)/2][:40]...))
		}, qemu.ExitCrash, report.Error, "QEMU died", 10, 0, 0},
		{"garbled", func() io.Reader { return garble(lines) },
			qemu.ExitPoweroff, report.Error, "garbage", 50, 0, 0},
		{"an event cut and glued to the next", func() io.Reader {
			glued := append(bytes.Clone(lines[first+2][:30]), lines[first+3]...)
			parts := append(append(append([][]byte{}, lines[:first+2]...), glued), lines[first+4:]...)
			return bytes.NewReader(bytes.Join(parts, nil))
		}, qemu.ExitPoweroff, report.Error, "1 event after junk", 100, 0, 0},
		{"a damaged kernel log batch", func() io.Reader {
			return withInsert(lines, first, strings.NewReader(damagedBatch(t)))
		}, qemu.ExitPoweroff, report.Error, "kernel log records in damaged batches", 100, 0, 0},
		{"a 100 MB line", func() io.Reader {
			huge := io.MultiReader(strings.NewReader(`{"v":1,"seq":0,"type":"log","msg":"`),
				&repeated{line: bytes.Repeat([]byte("x"), mib), n: 100}, strings.NewReader("\"}\n"))
			return withInsert(lines, first, huge)
		}, qemu.ExitPoweroff, report.Error, "1 oversized line", 100, 32 * mib, 0},
		{"100 MB of agent log lines", func() io.Reader {
			return withInsert(lines, first, &repeated{line: logLine, n: 100 * mib / len(logLine)})
		}, qemu.ExitPoweroff, report.Pass, "", 100, 0, 16 * mib},
		{"100 MB of kernel log lines", func() io.Reader {
			return withInsert(lines, first, &repeated{line: kmsgLine, n: 100 * mib / len(kmsgLine)})
		}, qemu.ExitPoweroff, report.Pass, "", 100, 0, 16 * mib},
		{"100 MB of output from one test", func() io.Reader {
			return withInsert(lines, first, &repeated{line: outLine, n: 100 * mib / len(outLine)})
		}, qemu.ExitPoweroff, report.Pass, "", 100, 0, 16 * mib},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := memStats()
			kr, col := settleStream(t, c.stream(), c.exit)
			after := memStats()
			runtime.KeepAlive(col)
			t.Logf("%s: %q; stats %+v; allocated %d MiB, held %d MiB", kr.Status, kr.Error, col.Stats(),
				(after.TotalAlloc-before.TotalAlloc)/mib, int64(after.HeapAlloc-before.HeapAlloc)/mib)
			if kr.Status != c.status || !strings.Contains(kr.Error, c.says) {
				t.Errorf("kernel %s %q, want %s saying %q", kr.Status, kr.Error, c.status, c.says)
			}
			if n := kr.Counts().Pass; n < c.passes {
				t.Errorf("%d tests pass, want at least %d: what arrived intact must count", n, c.passes)
			}
			if c.maxAlloc > 0 && after.TotalAlloc-before.TotalAlloc > c.maxAlloc {
				t.Errorf("decoding allocated %d MiB, want at most %d", (after.TotalAlloc-before.TotalAlloc)/mib, c.maxAlloc/mib)
			}
			if c.maxHeld > 0 && after.HeapAlloc > before.HeapAlloc+c.maxHeld {
				t.Errorf("the collector holds %d MiB, want at most %d", (after.HeapAlloc-before.HeapAlloc)/mib, c.maxHeld/mib)
			}
		})
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
				lost = lost || (f.Kind == "kernel log lost" && strings.Contains(f.Title, c.says) && f.Test == "")
			}
			if !lost {
				t.Errorf("findings %+v, want one of kind %q saying %q", kr.Findings, "kernel log lost", c.says)
			}
		})
	}
}
