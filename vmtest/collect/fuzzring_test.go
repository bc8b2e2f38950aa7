package collect

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

// The agent's copy of the ring is read back whole from its chunks; one
// that lost a chunk, or holds another size, is an error, and none is no
// ring.
func TestFuzzRingIsReadWhole(t *testing.T) {
	ring := bytes.Repeat([]byte("KMVRING1 and an input "), event.FuzzRingBytes/22+1)[:event.FuzzRingBytes]
	zip := func(b []byte) []byte {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(b)
		w.Close()
		return z.Bytes()
	}
	chunks := func(z []byte, skip int) []event.Event {
		var evs []event.Event
		for i, off := 0, 0; off < len(z); i, off = i+1, off+100 {
			if i != skip {
				evs = append(evs, event.Event{Type: event.FuzzRing, Chunk: &event.FileChunk{Path: "fuzz",
					Offset: int64(off), Size: int64(len(z)), Data: z[off:min(off+100, len(z))]}})
			}
		}
		return evs
	}
	for _, c := range []struct {
		name    string
		events  []event.Event
		want    []byte
		wantErr bool
	}{
		{"whole", chunks(zip(ring), -1), ring, false},
		{"a chunk lost", chunks(zip(ring), 1), nil, true},
		{"another size", chunks(zip(ring[:1000]), -1), nil, true},
		{"none", nil, nil, false},
	} {
		col := New(Options{})
		for _, ev := range c.events {
			col.Handle(ev)
		}
		got, err := col.FuzzRing()
		if !bytes.Equal(got, c.want) || (err != nil) != c.wantErr {
			t.Errorf("%s: FuzzRing = %d bytes, %v; want %d bytes, error %v", c.name, len(got), err, len(c.want), c.wantErr)
		}
	}
}
