package run

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/collect"
	"github.com/kmodvm/kmodvm/vmtest/harness"
	"github.com/kmodvm/kmodvm/vmtest/report"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// TestFuzzJobReplaysADirectory: a directory as Fuzz.Replay (the ring's
// inputs replayed as one sequence) puts its files in the image and names
// each to libFuzzer, in the files' order.
func TestFuzzJobReplaysADirectory(t *testing.T) {
	a, err := arch.Lookup(arch.Default)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "harness")
	seq := t.TempDir()
	for name, data := range map[string]string{"bin": "\x7fELF", filepath.Join(seq, "001-b"): "second", filepath.Join(seq, "000-a"): "first"} {
		if name == "bin" {
			name = bin
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &runcfg.Fuzz{Binary: bin, Arch: a.Name, Replay: seq}
	layers, tb, err := fuzzJob(f, a, []event.Module{{Name: "mmapdrv"}}, machine{}, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"-error_exitcode=1", "/fuzz/replay/000-a", "/fuzz/replay/001-b"}; !slices.Equal(tb.Args, want) {
		t.Errorf("args %q, want %q", tb.Args, want)
	}
	b, err := os.ReadFile(layers[len(layers)-1])
	if err != nil || !bytes.Contains(b, []byte("first")) || !bytes.Contains(b, []byte("second")) {
		t.Errorf("the inputs' layer %s (%v) lacks the inputs", layers[len(layers)-1], err)
	}
}

// TestRingOfVM: a fuzz VM's kept ring reads back in order, and the
// finding that ended its job is found among the VM's, not the kernel's
// own.
func TestRingOfVM(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fuzz-last-inputs.reboot2.bin")
	ins := [][]byte{[]byte("a"), []byte("bc")}
	if err := os.WriteFile(p, harness.EncodeSeq(ins), 0o644); err != nil {
		t.Fatal(err)
	}
	vm := &report.Kernel{Files: map[string]string{"console.reboot2.log": "x", "fuzz-last-inputs.reboot2.bin": p},
		Findings: []report.Finding{{Title: "taint", Owner: report.OwnerKernel}, {Title: "Kernel panic - not syncing: x"}}}
	if got := lastInputs(vm); len(got) != 2 || string(got[1]) != "bc" {
		t.Errorf("lastInputs = %q", got)
	}
	for _, c := range []struct {
		findings []int
		want     string
	}{
		{[]int{0, 1}, "Kernel panic - not syncing: x"},
		{[]int{0}, ""},
		{nil, ""},
	} {
		title, ok := jobFinding(vm, &report.Test{Findings: c.findings})
		if title != c.want || ok != (c.want != "") {
			t.Errorf("jobFinding(%v) = %q, %v; want %q", c.findings, title, ok, c.want)
		}
	}
}

// TestVMFuzzTime: a job a panic cut has no time of its own; the VM's run
// counts instead.
func TestVMFuzzTime(t *testing.T) {
	vm := &report.Kernel{Timing: report.Timing{Tests: 7.5}}
	if got := vmFuzzTime(vm, &report.Test{Elapsed: 30}); got != 30*time.Second {
		t.Errorf("a job's own time: %v", got)
	}
	if got := vmFuzzTime(vm, &report.Test{Status: report.Crash}); got != 7500*time.Millisecond {
		t.Errorf("a cut job's time: %v", got)
	}
}

// TestKeepAgentRing: the ring the agent sent after the harness died is
// kept as the VM's last inputs, oldest first, when the host read none
// itself; a ring the host kept (keepRing) stays.
func TestKeepAgentRing(t *testing.T) {
	ring := make([]byte, harness.RingBytes)
	le := binary.LittleEndian
	copy(ring, "KMVRING1")
	le.PutUint32(ring[8:], 2)
	le.PutUint32(ring[12:], 4096)
	le.PutUint64(ring[16:], 3)
	for slot, in := range map[int]string{0: "third", 1: "second"} {
		s := ring[64+slot*4096:]
		le.PutUint64(s, uint64(3-slot))
		le.PutUint32(s[8:], uint32(len(in)))
		le.PutUint32(s[12:], uint32(len(in)))
		copy(s[16:], in)
	}
	col := collect.New(collect.Options{})
	z := gzipped(t, ring)
	col.Handle(event.Event{Type: event.FuzzRing, Chunk: &event.FileChunk{Path: "fuzz", Size: int64(len(z)), Data: z}})
	for _, c := range []struct {
		name string
		kept map[string]string
		want [][]byte
	}{
		{"the agent's", nil, [][]byte{[]byte("second"), []byte("third")}},
		{"the host's before", map[string]string{"fuzz-last-inputs.reboot1.bin": "host"}, nil},
	} {
		dir := t.TempDir()
		run := &kernelRun{r: &runner{cfg: &runcfg.Config{Fuzz: &runcfg.Fuzz{}}}, entry: &report.Kernel{}, dir: dir}
		vm := &report.Kernel{Files: c.kept}
		run.keepAgentRing(col, vmPlan{entry: vm, n: 1})
		if c.want == nil {
			if vm.Files["fuzz-last-inputs.reboot1.bin"] != "host" {
				t.Errorf("%s: the host's ring replaced: %v", c.name, vm.Files)
			}
			continue
		}
		if got := lastInputs(vm); !slices.EqualFunc(got, c.want, bytes.Equal) {
			t.Errorf("%s: last inputs %q, want %q", c.name, got, c.want)
		}
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}
