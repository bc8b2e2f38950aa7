package agent

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

// The ring goes to the host after the fuzz harness died by a signal or
// did not die, never after an exit with a status (the glue printed the
// input) nor after a Go test binary.
func TestRingWanted(t *testing.T) {
	plain, gotest := event.TestBinary{Plain: true}, event.TestBinary{}
	for _, c := range []struct {
		name string
		tb   event.TestBinary
		exit *event.Exit
		err  error
		want bool
	}{
		{"killed in a system call", plain, &event.Exit{Code: -1, Signal: "SIGSEGV"}, nil, true},
		{"killed after a stall", plain, &event.Exit{Code: -1, Signal: "SIGKILL"}, nil, true},
		{"did not die", plain, &event.Exit{Code: -1}, errors.New("did not die"), true},
		{"exited after the glue's input line", plain, &event.Exit{Code: 1}, nil, false},
		{"ended its duration", plain, &event.Exit{}, nil, false},
		{"a Go test killed", gotest, &event.Exit{Code: -1, Signal: "SIGSEGV"}, nil, false},
	} {
		if got := ringWanted(c.tb, c.exit, c.err); got != c.want {
			t.Errorf("%s: ringWanted = %v, want %v", c.name, got, c.want)
		}
	}
}

// sendRing sends the shared memory's last FuzzRingBytes, whole and
// nothing before them, in chunks a line can hold, even when they do not
// compress.
func TestSendRingSendsTheTail(t *testing.T) {
	mem := make([]byte, 3*event.FuzzRingBytes/2)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range mem {
		mem[i] = byte(rng.Uint32())
	}
	var buf bytes.Buffer
	var mu sync.Mutex
	a := &Agent{enc: event.NewEncoder(lockedWriter{&mu, &buf})}
	a.sendRing("fuzz", mem)
	a.sendRing("fuzz", mem[:event.FuzzRingBytes-1])

	var z []byte
	d := event.NewDecoder(&buf)
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != event.FuzzRing || ev.Chunk.Path != "fuzz" || ev.Chunk.Offset != int64(len(z)) || len(ev.Chunk.Data) > event.MaxChunk {
			t.Fatalf("event %s of %q, chunk at %d, %d bytes", ev.Type, ev.Chunk.Path, ev.Chunk.Offset, len(ev.Chunk.Data))
		}
		z = append(z, ev.Chunk.Data...)
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, mem[len(mem)-event.FuzzRingBytes:]) {
		t.Errorf("the ring sent is %d bytes (%v), not the memory's last %d", len(got), err, event.FuzzRingBytes)
	}
}
