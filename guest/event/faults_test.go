package event

import (
	"bytes"
	"testing"
)

func TestPointNames(t *testing.T) {
	p := &Point{Op: OpLoad, Module: "sweepmod", Nth: 7}
	if got := p.Name(); got != "load/sweepmod/fail-nth=7" {
		t.Errorf("Name = %q", got)
	}
	if got := PointBinary("mmapdrv.test", p); got != "mmapdrv.test@load/sweepmod/fail-nth=7" {
		t.Errorf("PointBinary = %q", got)
	}
	p.Pass = 2
	if got := p.Name(); got != "load/sweepmod/fail-nth=7/pass=2" {
		t.Errorf("Name on pass 2 = %q", got)
	}
}

// A point's event keeps its point and the kernel's log across the wire.
func TestPointRoundTrips(t *testing.T) {
	var buf bytes.Buffer
	in := Event{Type: FaultPoint, Point: &Point{Op: OpUnload, Module: "m", Nth: 3, Calls: 9, Injected: true,
		Leftover: []string{"/dev/m"}}, Msg: "FAULT_INJECTION: forcing a failure.", Errno: 12, Start: 5}
	if err := NewEncoder(&buf).Encode(in); err != nil {
		t.Fatal(err)
	}
	out, _ := decodeAll(t, &buf)
	if len(out) != 1 || out[0].Point == nil || out[0].Point.Name() != "unload/m/fail-nth=3" ||
		out[0].Point.Leftover[0] != "/dev/m" || out[0].Msg != in.Msg || out[0].Errno != 12 {
		t.Errorf("got %+v", out)
	}
}
