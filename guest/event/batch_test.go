package event

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestBatchRoundTripsThroughTheWire(t *testing.T) {
	var recs []KmsgRecord
	for i := 0; i < 400; i++ {
		recs = append(recs, KmsgRecord{Seq: uint64(i), Level: 6, Usec: int64(i) * 1000, Text: fmt.Sprintf("pci 0000:00:%02x.0: [8086:29c0] type 00 class 0x060000 record %d", i%32, i)})
	}
	b, err := NewBatch(recs)
	if err != nil {
		t.Fatal(err)
	}
	var wire bytes.Buffer
	if err := NewEncoder(&wire).Encode(Event{Type: KmsgBatch, Batch: b}); err != nil {
		t.Fatal(err)
	}
	single := 0
	for i := range recs {
		var one bytes.Buffer
		NewEncoder(&one).Encode(Event{Type: Kmsg, Kmsg: &recs[i]})
		single += one.Len()
	}
	if wire.Len()*3 > single {
		t.Errorf("batch takes %d bytes, single events %d: want at least 3x smaller", wire.Len(), single)
	}
	ev, err := NewDecoder(&wire).Next()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ev.Batch.Records()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Error("records changed on the way")
	}
}

func TestDamagedBatchesFailCleanly(t *testing.T) {
	b, _ := NewBatch([]KmsgRecord{{Seq: 1, Text: "a"}, {Seq: 2, Text: "b"}})
	cases := map[string]*Batch{
		"not base64":     {Count: 2, Gzip: "!!!"},
		"not gzip":       {Count: 2, Gzip: "aGVsbG8="},
		"truncated gzip": {Count: 2, Gzip: b.Gzip[:len(b.Gzip)/2]},
		"count too high": {Count: 3, Gzip: b.Gzip},
	}
	for name, bad := range cases {
		if _, err := bad.Records(); !errors.Is(err, ErrBadBatch) {
			t.Errorf("%s: err = %v, want ErrBadBatch", name, err)
		}
	}
}
