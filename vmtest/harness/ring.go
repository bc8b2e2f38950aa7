package harness

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/kmodvm/kmodvm/guest/event"
)

// RingBytes is the size of the glue's ring of the last inputs
// (glue/ring.c): the last RingBytes of the memory a restored VM shares
// with the host. The host's files must end before it.
const RingBytes = event.FuzzRingBytes

// The ring's layout, as glue/ring.c writes it.
const (
	ringMagic      = "KMVRING1"
	ringHeader     = 64
	ringSlotHeader = 16
)

// The host's lines in a fuzz job's output about a finding that ended the
// guest before the glue printed its input: RingLine, then the title
// quoted, then what the host replays; SeqKeptLine, then the path of the
// sequence kept when no input alone brought the finding back, and what
// it holds.
const (
	RingLine    = "--- kmodvm: the guest ended with the kernel's report "
	SeqKeptLine = "--- kmodvm: last inputs kept: "
)

// SeqPrefix begins the name of a sequence of inputs kept when none of
// them alone brought a finding back: crash-seq-<sha1 of the file>.
const SeqPrefix = "crash-seq-"

// RingInput is an input the glue wrote into its ring before running it:
// its number among the harness's inputs (0 for the first), the bytes, and
// whether they are all of it (an input larger than a slot is cut).
type RingInput struct {
	Seq      uint64
	Data     []byte
	Complete bool
}

// ParseRing reads the glue's ring from mem (its RingBytes): the inputs
// it holds, oldest first; none when the glue never wrote one (no
// harness ran, or a glue without the ring). A slot being written when the
// guest ended is left out.
func ParseRing(mem []byte) ([]RingInput, error) {
	if len(mem) < ringHeader || string(mem[:8]) != ringMagic {
		return nil, nil
	}
	le := binary.LittleEndian
	slots, size := int(le.Uint32(mem[8:])), int(le.Uint32(mem[12:]))
	count := le.Uint64(mem[16:])
	if slots <= 0 || size <= ringSlotHeader || ringHeader+slots*size > len(mem) {
		return nil, fmt.Errorf("the inputs' ring: %d slots of %d bytes do not fit %d", slots, size, len(mem))
	}
	var ins []RingInput
	for i := range slots {
		s := mem[ringHeader+i*size : ringHeader+(i+1)*size]
		seq := le.Uint64(s)
		if seq == 0 || seq > count || count-seq >= uint64(slots) {
			continue
		}
		n, kept := le.Uint32(s[8:]), int(le.Uint32(s[12:]))
		if kept > size-ringSlotHeader {
			return nil, errors.New("the inputs' ring: a slot longer than its room")
		}
		ins = append(ins, RingInput{Seq: seq - 1, Data: bytes.Clone(s[ringSlotHeader : ringSlotHeader+kept]), Complete: int(n) == kept})
	}
	sort.Slice(ins, func(a, b int) bool { return ins[a].Seq < ins[b].Seq })
	return ins, nil
}

// EncodeSeq is a sequence of inputs as a file: each input's length (4
// bytes, little endian), then its bytes, in order.
func EncodeSeq(ins [][]byte) []byte {
	var b []byte
	for _, in := range ins {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(in)))
		b = append(b, in...)
	}
	return b
}

// DecodeSeq reads a file EncodeSeq wrote.
func DecodeSeq(b []byte) ([][]byte, error) {
	var ins [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("a sequence of inputs cut inside a length")
		}
		n := binary.LittleEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, errors.New("a sequence of inputs cut inside an input")
		}
		ins, b = append(ins, b[4:4+n]), b[4+n:]
	}
	return ins, nil
}

// SeqName is the name a sequence of inputs is kept under:
// crash-seq-<sha1 of EncodeSeq's file>.
func SeqName(file []byte) string {
	sum := sha1.Sum(file)
	return SeqPrefix + hex.EncodeToString(sum[:])
}
