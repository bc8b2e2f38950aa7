package agent

import (
	"bytes"
	"compress/gzip"

	"github.com/kmodvm/kmodvm/guest/event"
)

// ringWanted says whether the fuzz glue's ring goes to the host after tb
// ended as exit (err: it did not die): a plain binary, the fuzz harness,
// that died by a signal or not at all. The glue ends the harness through
// libFuzzer, which exits with a status, after printing the input of a
// report the kernel survives; an Oops in the harness's system call kills
// the task instead (or leaves it in the kernel), and the input with it.
func ringWanted(tb event.TestBinary, exit *event.Exit, err error) bool {
	return tb.Plain && (err != nil || exit == nil || exit.Signal != "")
}

// sendFuzzRing sends the last event.FuzzRingBytes of the shared memory,
// gzip-compressed (slots an input never filled are zeros), as FuzzRing
// events whose chunks' Path is the binary's name. Nothing when the VM shares no memory (a booted
// one: the glue keeps no ring there).
func (a *Agent) sendFuzzRing(name string) {
	share, err := openShare()
	if err != nil {
		return
	}
	defer share.Close()
	a.sendRing(name, share.mem)
}

// sendRing sends the tail of mem, the shared memory, as sendFuzzRing.
func (a *Agent) sendRing(name string, mem []byte) {
	if len(mem) < event.FuzzRingBytes {
		return
	}
	z, err := gzipped(mem[len(mem)-event.FuzzRingBytes:])
	if err != nil {
		a.logf("fuzz ring: %v", err)
		return
	}
	a.sendFile(event.FuzzRing, "", name, z)
}

func gzipped(b []byte) ([]byte, error) {
	var z bytes.Buffer
	w, err := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}
