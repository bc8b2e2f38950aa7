package collect

import (
	"os"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

func TestLeakInAModuleUnderTestIsItsFindingOnce(t *testing.T) {
	// A real kmemleak report (quoted by the kernel's documentation): the
	// leaking module is gone, so its frame is a bare address.
	text, err := os.ReadFile("../dmesg/testdata/report/docs/kmemleak.console")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		base      uint64
		wantOwner string
		wantStep  string
	}{
		{"module holds the address", 0xffffffffc01d0000, "", "unload leaky"},
		{"module elsewhere", 0xffffffffc0400000, report.OwnerKernel, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			col := New(Options{})
			col.Handle(event.Event{Type: event.Hello, Mono: 1e9})
			col.Handle(event.Event{Type: event.ModuleLoad, Mono: 2e9, Module: &event.Module{Name: "leaky"},
				Loaded: &event.LoadedModule{Base: c.base, Size: 0x4000}})
			for _, stage := range []string{event.StageAfterTests, event.StageAfterUnload} {
				col.Handle(event.Event{Type: event.Kmemleak, Mono: 400e9, Stage: stage, Msg: string(text)})
			}
			col.finish(nil, report.Crash)
			var leaks []report.Finding
			for _, f := range col.kernel.Findings {
				if f.Kind == "memory leak" {
					leaks = append(leaks, f)
				}
			}
			if len(leaks) != 1 {
				t.Fatalf("%d leak findings, want 1 (the same object read twice): %+v", len(leaks), leaks)
			}
			f := leaks[0]
			if f.Owner != c.wantOwner || f.Step != c.wantStep || f.Test != "" {
				t.Errorf("leak owner %q step %q test %q, want owner %q step %q", f.Owner, f.Step, f.Test, c.wantOwner, c.wantStep)
			}
			if f.Blames() != (c.wantOwner == "") {
				t.Errorf("Blames() = %v for %+v", f.Blames(), f)
			}
		})
	}
}
