package event

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzDecoder feeds arbitrary streams to the Decoder: it must never panic,
// never return an event of another version, and never hold more than MaxLine
// bytes of a line.
func FuzzDecoder(f *testing.F) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for _, ev := range []Event{
		{Type: Hello, Kernel: "6.1.0-57-amd64"},
		{Type: Test, Test: &TestEvent{Action: "pass", Test: "TestX", Elapsed: 0.5}},
		{Type: Kmsg, Kmsg: &KmsgRecord{Seq: 1, Level: 6, Text: "hi"}},
	} {
		if err := enc.Encode(ev); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(buf.Bytes())
	f.Add([]byte("junk\n{\"v\":1,\"seq\":1,\"type\":\"do{\"v\":1,\"seq\":2,\"type\":\"done\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		for {
			ev, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if ev.V != Version {
				t.Fatalf("returned event of version %d", ev.V)
			}
			if cap(d.line) > 2*MaxLine {
				t.Fatalf("line buffer grew to %d", cap(d.line))
			}
		}
		st := d.Stats()
		if st.Recovered > st.Events {
			t.Fatalf("stats inconsistent: %+v", st)
		}
	})
}
