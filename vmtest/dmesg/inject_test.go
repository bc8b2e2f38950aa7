package dmesg

import (
	"os"
	"testing"
)

// A failslab report of 6.1-debug (a sweep of testdata/sweepmod): the
// stack is read up to its end, the module's frame included, and lines
// before it (CPU, hardware) skipped.
func TestInjectedStack(t *testing.T) {
	log, err := os.ReadFile("testdata/failslab-6.1.txt")
	if err != nil {
		t.Fatal(err)
	}
	frames, ok := InjectedStack(string(log))
	if !ok || len(frames) < 5 {
		t.Fatalf("ok %v, %d frames: %+v", ok, len(frames), frames)
	}
	var mod *Frame
	for i := range frames {
		if frames[i].Module == "sweepmod" {
			mod = &frames[i]
			break
		}
	}
	if mod == nil || mod.Func != "sweepmod_init" {
		t.Errorf("no sweepmod_init frame in %+v", frames)
	}
	if last := frames[len(frames)-1]; last.Func == "" {
		t.Errorf("last frame %+v", last)
	}
	if _, ok := InjectedStack("sweepmod: loaded\n"); ok {
		t.Error("a log without an injected failure has its stack")
	}
}
