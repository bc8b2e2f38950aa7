package harness

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// ringOf lays out a ring as glue/ring.c does: slots of size bytes, count
// inputs written, the slots given (index: sequence number plus one, len,
// kept, data).
func ringOf(slots, size int, count uint64, fill map[int][]any) []byte {
	mem := make([]byte, RingBytes)
	copy(mem, ringMagic)
	le := binary.LittleEndian
	le.PutUint32(mem[8:], uint32(slots))
	le.PutUint32(mem[12:], uint32(size))
	le.PutUint64(mem[16:], count)
	for i, f := range fill {
		s := mem[ringHeader+i*size:]
		le.PutUint64(s, f[0].(uint64))
		le.PutUint32(s[8:], f[1].(uint32))
		le.PutUint32(s[12:], uint32(len(f[2].([]byte))))
		copy(s[ringSlotHeader:], f[2].([]byte))
	}
	return mem
}

// TestParseRing: the inputs come oldest first across the ring's wrap; a
// slot being written (0), a stale one and a cut input are told apart.
func TestParseRing(t *testing.T) {
	for _, c := range []struct {
		name string
		mem  []byte
		want string
	}{
		{"none", make([]byte, RingBytes), ""},
		{"empty", ringOf(4, 64, 0, nil), ""},
		{"wrapped", ringOf(4, 64, 6, map[int][]any{
			0: {uint64(5), uint32(1), []byte("e")},
			1: {uint64(6), uint32(1), []byte("f")},
			2: {uint64(3), uint32(1), []byte("c")},
			3: {uint64(4), uint32(1), []byte("d")},
		}), "2:c 3:d 4:e 5:f"},
		{"being written", ringOf(4, 64, 6, map[int][]any{
			0: {uint64(5), uint32(1), []byte("e")},
			1: {uint64(0), uint32(1), []byte("f")},
			2: {uint64(3), uint32(1), []byte("c")},
		}), "2:c 4:e"},
		{"stale and cut", ringOf(2, 64, 9, map[int][]any{
			0: {uint64(2), uint32(1), []byte("b")},
			1: {uint64(9), uint32(4000), []byte("long")},
		}), "8:long(cut)"},
	} {
		ins, err := ParseRing(c.mem)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, in := range ins {
			s := fmt.Sprintf("%d:%s", in.Seq, in.Data)
			if !in.Complete {
				s += "(cut)"
			}
			got = append(got, s)
		}
		if g := fmt.Sprint(got); g != fmt.Sprint(strings.Fields(c.want)) {
			t.Errorf("%s: %s, want %s", c.name, g, c.want)
		}
	}
	if _, err := ParseRing(ringOf(4096, 4096, 1, nil)); err == nil {
		t.Error("a ring larger than its memory parsed")
	}
}

// TestSeqRoundTrip: a sequence of inputs, empty ones among them, reads
// back as written; a cut file is an error.
func TestSeqRoundTrip(t *testing.T) {
	ins := [][]byte{[]byte("ab"), {}, []byte("\x00\xff\x10")}
	b := EncodeSeq(ins)
	got, err := DecodeSeq(b)
	if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", ins) {
		t.Fatalf("DecodeSeq = %q, %v; want %q", got, err, ins)
	}
	for _, cut := range []int{1, 5, len(b) - 1} {
		if _, err := DecodeSeq(b[:cut]); err == nil {
			t.Errorf("a file cut at %d decoded", cut)
		}
	}
}
