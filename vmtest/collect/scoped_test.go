package collect

import (
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// Under scoped faults a failed test with no finding is skipped, with a
// note of the failures logged while it ran; one with a finding fails;
// without scoped faults nothing changes.
func TestScopedFaultsExcuseOnlyInjectedFailures(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	inject := func(c *Collector, at time.Duration) {
		c.Handle(event.Event{Type: event.Kmsg, Mono: int64(at), Kmsg: &event.KmsgRecord{Level: 5, Usec: at.Microseconds(),
			Text: "FAULT_INJECTION: forcing a failure.\nname failslab, interval 1, probability 10, space 0, times -1"}})
	}
	for _, scoped := range []bool{true, false} {
		c := New(Options{Scoped: scoped})
		c.Handle(event.Event{Type: event.Hello, Mono: int64(ms(1000))})
		c.Handle(event.Event{Type: event.BinaryStart, Binary: "drv.test", Mono: int64(ms(1100))})
		at := 1200
		for _, name := range []string{"TestInjected", "TestNotInjected", "TestInjectedAndWarned", "TestPasses"} {
			c.Handle(event.Event{Type: event.Test, Binary: "drv.test", Test: &event.TestEvent{Action: "run", Test: name}, Mono: int64(ms(at))})
			if strings.HasPrefix(name, "TestInjected") {
				inject(c, ms(at+10))
			}
			if name == "TestInjectedAndWarned" {
				warnAt(c, ms(at+20), "drv_read")
			}
			action := "fail"
			if name == "TestPasses" {
				action = "pass"
			}
			c.Handle(event.Event{Type: event.Test, Binary: "drv.test", Test: &event.TestEvent{Action: action, Test: name}, Mono: int64(ms(at + 50))})
			at += 100
		}
		c.Handle(event.Event{Type: event.BinaryEnd, Binary: "drv.test", Exit: &event.Exit{Code: 1}, Mono: int64(ms(at))})
		c.finish(nil, report.Pass)
		want := map[string]report.Status{"TestInjected": report.Skip, "TestNotInjected": report.Skip,
			"TestInjectedAndWarned": report.Fail, "TestPasses": report.Pass}
		note := map[string]string{"TestInjected": "; 1 logged while it ran)", "TestNotInjected": "; none logged while it ran"}
		if !scoped {
			want["TestInjected"], want["TestNotInjected"] = report.Fail, report.Fail
		}
		for _, tt := range c.kernel.Tests {
			if w, ok := want[tt.Name]; ok && tt.Status != w {
				t.Errorf("scoped %v: %s is %s, want %s", scoped, tt.Name, tt.Status, w)
			}
			excused := strings.Contains(tt.Output, "--- kmodvm: failed under --scoped-faults") && strings.Contains(tt.Output, note[tt.Name])
			if excused != (tt.Status == report.Skip) {
				t.Errorf("scoped %v: %s (%s) output %q", scoped, tt.Name, tt.Status, tt.Output)
			}
		}
	}
}
