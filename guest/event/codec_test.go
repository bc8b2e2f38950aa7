package event

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func decodeAll(t *testing.T, r io.Reader) ([]Event, Stats) {
	t.Helper()
	d := NewDecoder(r)
	var evs []Event
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			return evs, d.Stats()
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		evs = append(evs, ev)
	}
}

func TestEncodeSetsHeaderAndRoundTrips(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	in := []Event{
		{Type: Hello, Kernel: "6.1.0-57-amd64"},
		{Type: ModuleLoad, Module: &Module{Name: "videodev", Dep: true}, Err: "file exists", Errno: 17},
		{Type: Test, Binary: "mmap", Test: &TestEvent{Action: "output", Test: "TestMap", Output: "<6>ok & done\n"}},
		{Type: Kmsg, Kmsg: &KmsgRecord{Seq: 7, Level: 4, Usec: 12, Text: "WARNING: at <x>"}},
		{Type: Heartbeat},
		{Type: Done},
	}
	for _, ev := range in {
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(buf.String(), `\u003c`) {
		t.Errorf("HTML escaping inflates kernel text: %s", buf.String())
	}
	out, st := decodeAll(t, &buf)
	if len(out) != len(in) || st.Events != uint64(len(in)) {
		t.Fatalf("got %d events, stats %+v", len(out), st)
	}
	var lastMono int64
	for i, ev := range out {
		if ev.V != Version || ev.Seq != uint64(i+1) || ev.Type != in[i].Type {
			t.Errorf("event %d: v=%d seq=%d type=%s", i, ev.V, ev.Seq, ev.Type)
		}
		if ev.Mono <= 0 || ev.Mono < lastMono {
			t.Errorf("event %d: mono %d after %d", i, ev.Mono, lastMono)
		}
		lastMono = ev.Mono
	}
	if got := out[2].Test.Output; got != in[2].Test.Output {
		t.Errorf("output = %q, want %q", got, in[2].Test.Output)
	}
}

func TestEncodeTruncatesToMaxLine(t *testing.T) {
	huge := strings.Repeat("x", 3*MaxLine)
	ctl := strings.Repeat("\x01", MaxLine) // each byte encodes as 6
	tests := []struct {
		name string
		ev   Event
		get  func(Event) string
		full string
	}{
		{"msg", Event{Type: Log, Msg: huge}, func(e Event) string { return e.Msg }, huge},
		{"test output", Event{Type: Test, Test: &TestEvent{Action: "output", Output: huge}}, func(e Event) string { return e.Test.Output }, huge},
		{"blocked tasks", Event{Type: BinaryEnd, Exit: &Exit{BlockedTasks: huge}}, func(e Event) string { return e.Exit.BlockedTasks }, huge},
		{"escaped kmsg", Event{Type: Kmsg, Kmsg: &KmsgRecord{Text: ctl}}, func(e Event) string { return e.Kmsg.Text }, ctl},
		{"two fields", Event{Type: Log, Msg: huge, Err: huge}, func(e Event) string { return e.Msg + e.Err }, huge + huge},
		{"multibyte", Event{Type: Log, Msg: strings.Repeat("é", MaxLine)}, func(e Event) string { return e.Msg }, strings.Repeat("é", MaxLine)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			orig := tt.get(tt.ev)
			if err := NewEncoder(&buf).Encode(tt.ev); err != nil {
				t.Fatal(err)
			}
			if buf.Len() > MaxLine {
				t.Fatalf("line is %d bytes, more than MaxLine", buf.Len())
			}
			if buf.Len() < MaxLine/2 {
				t.Errorf("line is %d bytes: cut far more than needed", buf.Len())
			}
			if tt.get(tt.ev) != orig {
				t.Error("Encode modified the caller's event")
			}
			out, st := decodeAll(t, &buf)
			if len(out) != 1 {
				t.Fatalf("decoded %d events, stats %+v", len(out), st)
			}
			got := tt.get(out[0])
			if !strings.Contains(got, truncMark) {
				t.Errorf("cut payload lacks the truncation mark")
			}
			prefix := strings.ReplaceAll(got, truncMark, "")
			if !strings.HasPrefix(tt.full, prefix[:min(len(prefix), 100)]) {
				t.Errorf("payload does not keep the start of the original")
			}
		})
	}
}

func TestEncoderConcurrentLinesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	enc := NewEncoder(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				if err := enc.Encode(Event{Type: Log, Msg: strings.Repeat("m", i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	out, st := decodeAll(t, &buf)
	if len(out) != 1600 || st.Garbage+st.Truncated != 0 {
		t.Fatalf("got %d events, stats %+v", len(out), st)
	}
	for i, ev := range out {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: lines out of order", i, ev.Seq)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestDecoderSkipsDamage(t *testing.T) {
	good := func(seq int, msg string) string {
		var b bytes.Buffer
		e := NewEncoder(&b)
		e.seq = uint64(seq - 1)
		if err := e.Encode(Event{Type: Log, Msg: msg}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	g1 := good(1, "one")
	tests := []struct {
		name  string
		in    string
		msgs  []string
		stats Stats
	}{
		{"clean", g1 + good(2, "two"), []string{"one", "two"}, Stats{Events: 2}},
		{"garbage line", "hello world\n" + g1, []string{"one"}, Stats{Events: 1, Garbage: 1}},
		{"blank and CRLF", "\n\r\n" + strings.TrimSuffix(g1, "\n") + "\r\n", []string{"one"}, Stats{Events: 1}},
		{"wrong version", `{"v":99,"seq":1,"type":"log"}` + "\n" + g1, []string{"one"}, Stats{Events: 1, WrongVersion: 1}},
		{"not an object", "null\n[1]\n\"s\"\n" + g1, []string{"one"}, Stats{Events: 1, Garbage: 3}},
		{"truncated then whole", g1[:20] + "\n" + good(2, "two"), []string{"two"}, Stats{Events: 1, Truncated: 1}},
		{"partial line glued to next", g1[:25] + good(2, "two"), []string{"two"}, Stats{Events: 1, Recovered: 1}},
		{"stray bytes before", "\x00\xff\x1b[0m" + g1, []string{"one"}, Stats{Events: 1, Recovered: 1}},
		{"unterminated last line", g1 + good(2, "two")[:30], []string{"one"}, Stats{Events: 1, Truncated: 1}},
		{"complete last line without newline", strings.TrimSuffix(g1, "\n"), []string{"one"}, Stats{Events: 1}},
		{"oversized line", strings.Repeat("a", MaxLine+10) + "\n" + g1, []string{"one"}, Stats{Events: 1, Oversized: 1}},
		{"oversized event-looking line", `{"v":1,"msg":"` + strings.Repeat("a", 3*MaxLine) + "\"}\n" + g1, []string{"one"}, Stats{Events: 1, Oversized: 1}},
		{"trailing junk after event", strings.TrimSuffix(g1, "\n") + "xyz\n", nil, Stats{Garbage: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st := decodeAll(t, strings.NewReader(tt.in))
			var msgs []string
			for _, ev := range out {
				msgs = append(msgs, ev.Msg)
			}
			if strings.Join(msgs, ",") != strings.Join(tt.msgs, ",") {
				t.Errorf("messages = %q, want %q", msgs, tt.msgs)
			}
			if st != tt.stats {
				t.Errorf("stats = %+v, want %+v", st, tt.stats)
			}
		})
	}
}

// endless yields one event-looking line that never ends.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		e.n++
		return copy(p, `{"v":1,"msg":"`), nil
	}
	if e.n > 4096 {
		return 0, io.EOF
	}
	e.n++
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestDecoderMemoryBoundedOnEndlessLine(t *testing.T) {
	d := NewDecoder(&endless{})
	if _, err := d.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("Next = %v, want EOF", err)
	}
	if cap(d.line) > 2*MaxLine {
		t.Errorf("line buffer grew to %d bytes", cap(d.line))
	}
	if d.Stats().Oversized != 1 {
		t.Errorf("stats = %+v, want one oversized line", d.Stats())
	}
}

func TestKUnitEventRoundTrips(t *testing.T) {
	in := Event{Type: KUnit, Suite: "mmapdrv_helpers",
		Msg: "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: mmapdrv_helpers\n    1..1\n    ok 1 range_ok\nok 1 mmapdrv_helpers\n"}
	var buf bytes.Buffer
	if err := NewEncoder(&buf).Encode(in); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"type":"kunit"`) || !strings.Contains(buf.String(), `"v":1`) {
		t.Errorf("encoded %s: want type kunit at version 1", buf.String())
	}
	out, _ := decodeAll(t, &buf)
	if len(out) != 1 || out[0].Type != KUnit || out[0].Suite != in.Suite || out[0].Msg != in.Msg {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
}

// A gcov data chunk of the largest size the agent sends fits in one line
// whatever its bytes (base64 in JSON), and comes back byte for byte.
func TestGcovChunkOfMaxSizeFitsALineAndRoundTrips(t *testing.T) {
	data := make([]byte, MaxChunk)
	for i := range data {
		data[i] = byte(i*7 + i/256) // every byte value, no run base64 shortens
	}
	path := "/root/kmodvm-out/6.1.192-debug/build/0/src/" + strings.Repeat("d/", 100) + "mmapdrv.gcda"
	var buf bytes.Buffer
	ev := Event{Type: Gcov, Stage: StageAfterUnload, Chunk: &FileChunk{Path: path, Offset: 3 * MaxChunk, Size: 5 * MaxChunk, Data: data}}
	if err := NewEncoder(&buf).Encode(ev); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > MaxLine {
		t.Fatalf("line of %d bytes, over MaxLine (%d)", buf.Len(), MaxLine)
	}
	evs, st := decodeAll(t, &buf)
	if len(evs) != 1 || st != (Stats{Events: 1}) {
		t.Fatalf("decoded %d events, stats %+v", len(evs), st)
	}
	c := evs[0].Chunk
	if evs[0].Type != Gcov || evs[0].Stage != StageAfterUnload || c == nil || c.Path != path || c.Offset != 3*MaxChunk || c.Size != 5*MaxChunk || !bytes.Equal(c.Data, data) {
		t.Errorf("decoded %+v, want the chunk back", evs[0])
	}
}

// An event of a type this side does not know (a newer agent's) decodes
// like any other, and the line after it too: a reader skips what it does
// not handle, it is not damage.
func TestUnknownTypeIsNoDamage(t *testing.T) {
	in := `{"v":1,"seq":1,"type":"from-the-future","mono":5,"msg":"x"}` + "\n" +
		`{"v":1,"seq":2,"type":"done","mono":6}` + "\n"
	out, st := decodeAll(t, strings.NewReader(in))
	if len(out) != 2 || out[0].Type != "from-the-future" || out[1].Type != Done || st.Garbage != 0 {
		t.Errorf("got %+v, stats %+v", out, st)
	}
}
